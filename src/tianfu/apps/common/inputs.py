"""Parsing what a person types: addresses, times, document hashes, KEY=VALUE pairs."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tianfu.apps.common.errors import BadInput
from tianfu.types import ValueTypeError, check_value

ADDRESS_RE = re.compile(r"^[0-9a-f]{40}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
_UNITS_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}


def address(text: str) -> str:
    """A 40-hex address as given, or the address of an identity directory."""
    if ADDRESS_RE.match(text):
        return text
    path = Path(text)
    if path.is_dir():
        from tianfu.identity import Identity

        return str(Identity.load(path).info.address)
    raise BadInput(f"{text!r} is neither an address (40 hex) nor an identity directory")


def time_ms(text: str) -> int:
    """Milliseconds since the epoch: an integer, an ISO date/time (UTC unless it names an
    offset), or +N / -N d|h|m|s from now."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    m = re.fullmatch(r"([+-])(\d+)([dhms])", text)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return int(time.time() * 1000) + sign * int(m.group(2)) * _UNITS_MS[m.group(3)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"bad time {text!r}: use ms, YYYY-MM-DD[THH:MM], +30d or -1d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def duration_ms(text: str) -> int:
    """A duration in milliseconds: an integer (ms) or N d|h|m|s (`72h`, `3d`)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    m = re.fullmatch(r"(\d+)([dhms])", text)
    if m is None:
        raise BadInput(f"bad duration {text!r}: use ms, or N d|h|m|s such as 72h or 3d")
    return int(m.group(1)) * _UNITS_MS[m.group(2)]


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_or_file(text: str) -> str:
    """A 64-hex SHA-256 as given, or the SHA-256 of the named file."""
    if SHA256_RE.match(text):
        return text
    path = Path(text)
    if path.is_file():
        return sha256_file(path)
    raise BadInput(f"{text!r} is neither a SHA-256 (64 hex) nor a file")


def one_document(file: Path | None, digest: str | None, file_opt: str, hash_opt: str) -> str:
    """The SHA-256 of exactly one of a file and a given digest."""
    if (file is None) == (digest is None):
        raise BadInput(f"give exactly one of {file_opt} FILE or {hash_opt} HEX")
    return sha256_file(file) if file is not None else str(digest).lower()


def json_value(text: str) -> Any:
    """A contract value: JSON when the text parses as JSON, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    try:
        check_value(value)
    except ValueTypeError as exc:
        raise BadInput(f"argument {text!r}: {exc}") from None
    return value


def pairs(items: list[str] | None, what: str) -> list[tuple[str, str]]:
    """KEY=VALUE items split at the first "="."""
    out = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"{what} {item!r} must look like KEY=VALUE")
        out.append((key, value))
    return out


def fields(items: list[str] | None, what: str) -> dict[str, Any]:
    """KEY=VALUE items as a dict, each VALUE parsed as JSON or else kept as a string."""
    return {k: json_value(v) for k, v in pairs(items, what)}
