"""Supply-chain finance application: receivables issued, split, transferred, pledged and repaid."""

from __future__ import annotations

from pathlib import Path

NAME = "supply_finance"
ROLES = ("core_enterprise", "bank", "regulator")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return Path(__file__).with_name("contract.py").read_text(encoding="utf-8")
