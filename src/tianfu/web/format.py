"""Readable values for the console's pages: dates in the node's time zone, yuan, short hex.

The node's time zone is `TIANFU_TZ` (an IANA name; default Asia/Shanghai), as on the
command line. Every readable date keeps its raw value (milliseconds since the epoch) for
the page to show on hover.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tianfu.apps.common import readable
from tianfu.apps.common.readable import DEFAULT_TZ, TZ_ENV
from tianfu.proofs import values
from tianfu.web.i18n import N_

MAX_MS = (1 << 53) - 1


def node_zone() -> tzinfo:
    """`TIANFU_TZ`, or Asia/Shanghai when it is unset or not a known zone."""
    name = os.environ.get(TZ_ENV) or DEFAULT_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def date(ms: Any, tz: tzinfo) -> str:
    """Milliseconds since the epoch as 'YYYY-MM-DD HH:MM:SS ZONE'; other values as text."""
    if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= MAX_MS:
        return str(ms)
    try:
        return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (OverflowError, OSError, ValueError):
        return str(ms)


def yuan(fen: Any) -> str:
    """An amount in fen as yuan with two decimals: 100000050 -> '1,000,000.50'."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        return str(fen)
    return readable.yuan(fen)


def short(value: Any, n: int = 10) -> str:
    """A long hex string shortened for a table cell: 'abcdef0123…89ab'."""
    text = value.hex() if isinstance(value, bytes) else str(value)
    return text if len(text) <= n + 6 else f"{text[:n]}…{text[-4:]}"


# A duration's units, largest first, in the catalogue: '1d 1h 1m 1s' / '1天 1小时 1分 1秒'.
DURATION_UNITS = (
    (N_("%(n)sd"), 86_400),
    (N_("%(n)sh"), 3600),
    (N_("%(n)sm"), 60),
    (N_("%(n)ss"), 1),
)


def duration(ms: Any, gettext: Callable[[str], str] = str) -> str:
    """90_061_000 -> '1d 1h 1m 1s' (its units in `gettext`'s language); under a second,
    in ms."""
    if not isinstance(ms, int) or isinstance(ms, bool):
        return str(ms)
    sign = "-" if ms < 0 else ""
    rest = abs(ms)
    if rest < 1000:
        return sign + gettext("%(n)s ms") % {"n": rest}
    rest //= 1000
    parts = []
    for unit, size in DURATION_UNITS:
        n, rest = divmod(rest, size)
        if n:
            parts.append(gettext(unit) % {"n": n})
    return sign + " ".join(parts)


def as_json(value: Any) -> str:
    """A contract value as indented JSON text (bytes as hex), for a <pre> block."""
    return json.dumps(
        values.readable(value), indent=2, ensure_ascii=False, sort_keys=True, default=str
    )
