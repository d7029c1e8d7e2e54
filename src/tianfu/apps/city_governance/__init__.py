"""City governance: cases filed, dispatched, transferred, handled, checked, closed or reopened."""

from __future__ import annotations

from pathlib import Path

NAME = "city_governance"
ROLES = ("service_centre", "sensor", "dispatcher", "city_admin", "supervisor", "dept:<id>")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return Path(__file__).with_name("contract.py").read_text(encoding="utf-8")
