"""Readable values for people: amounts in yuan, block times as dates in a time zone, counts
with their nouns in the singular or the plural.

Contracts keep amounts in integer fen and times in milliseconds since the epoch; the
command line prints them as `1,234.50 yuan` and `2024-06-01 14:03:05 CST` (raw values
stay in `--json`). The time zone is `TIANFU_TZ` (an IANA name), default Asia/Shanghai.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tianfu.apps.common.errors import BadInput

DEFAULT_TZ = "Asia/Shanghai"
TZ_ENV = "TIANFU_TZ"


def yuan(fen: int) -> str:
    """100000050 -> '1,000,000.50' (integer arithmetic, no rounding)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def counted(n: int, word: str, many: str | None = None) -> str:
    """`n` and the noun for that many: "1 version", "2 versions", "0 versions";
    `many` is the plural when it is not `word` + "s" ("1 block body", "2 block bodies")."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def zone(name: str | None = None) -> tzinfo:
    """The named time zone, else `TIANFU_TZ`, else Asia/Shanghai."""
    name = name or os.environ.get(TZ_ENV) or DEFAULT_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"unknown time zone {name!r} (set {TZ_ENV} to an IANA name)") from None


def date(ms: int, tz: tzinfo | None = None) -> str:
    """Milliseconds since the epoch as 'YYYY-MM-DD HH:MM:SS ZONE'. A moment the zone cannot
    show is shown in UTC (RFC 5280's 'no expiry', 9999-12-31 23:59:59 UTC, is in the year
    10000 east of UTC), and one no date holds (past the year 9999) as its milliseconds."""
    for where in (tz or zone(), UTC):
        try:
            return datetime.fromtimestamp(ms / 1000, where).strftime("%Y-%m-%d %H:%M:%S %Z")
        except (OverflowError, OSError, ValueError):
            continue
    return str(ms)


def duration(ms: int) -> str:
    """90_061_000 -> '1d 1h 1m 1s'; under a second, in ms."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if ms < 1000:
        return f"{sign}{ms} ms"
    parts = []
    rest = ms // 1000
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n}{unit}")
    return sign + " ".join(parts)


@dataclass(frozen=True)
class Readable:
    """Which fields of an application's records are amounts (fen) and which are durations.

    Any key ending in `_fen` is an amount too; any other key ending in `_ms` is a time.
    """

    money: frozenset[str] = frozenset()
    durations: frozenset[str] = frozenset()

    def value(self, key: str, value: Any, tz: tzinfo) -> Any:
        """One field's readable form (nested records are rendered field by field)."""
        if isinstance(value, dict):
            return {k: self.value(str(k), v, tz) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(key, v, tz) for v in value]
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        if key in self.money or key.endswith("_fen"):
            return yuan(value) + " yuan"
        if key in self.durations:
            return duration(value)
        if key.endswith("_ms"):
            return date(value, tz)
        return value

    def tree(self, value: Any, tz: tzinfo | None = None) -> Any:
        """A whole result, with every amount, time and duration field made readable."""
        return self.value("", value, tz or zone())


PLAIN = Readable()
