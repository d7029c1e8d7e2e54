"""Manufacturing collaboration: purchase orders, subcontracting trees, inspections, delivery."""

from __future__ import annotations

from pathlib import Path

NAME = "manufacturing"
ROLES = ("buyer", "supplier", "inspector")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return Path(__file__).with_name("contract.py").read_text(encoding="utf-8")
