"""What a command prints for people (tables, text, JSON) and what it returns for --json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fields:
    """A two-column table of a record's fields."""

    title: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Rows:
    """A table of records: one row per record, one column per key (headed `headers`)."""

    title: str
    columns: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]]
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Text:
    """Lines of text, printed as they are."""

    text: str


@dataclass(frozen=True)
class Json:
    """A value printed as indented JSON (with readable amounts and times)."""

    value: Any


Display = Fields | Rows | Text | Json


@dataclass(frozen=True)
class Output:
    """What a custom command produced: `data` for --json, `display` for people."""

    data: Any
    display: tuple[Display, ...]
