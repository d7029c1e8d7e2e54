"""Fund supervision application: earmarked public funds allocated down a hierarchy and disbursed."""

from __future__ import annotations

from pathlib import Path

NAME = "fund_supervision"
ROLES = ("fund_authority", "fund_officer", "regulator")
LEVELS = ("province", "city", "county", "township", "village")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return Path(__file__).with_name("contract.py").read_text(encoding="utf-8")
