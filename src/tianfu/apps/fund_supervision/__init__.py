"""Fund supervision application: earmarked public funds allocated down a hierarchy and disbursed."""

from __future__ import annotations

from tianfu.apps.common.source import PARTIES, contract_source

NAME = "fund_supervision"
ROLES = ("fund_authority", "fund_officer", "regulator")
LEVELS = ("province", "city", "county", "township", "village")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return contract_source(
        __file__,
        "contract.py",
        "contract_views.py",
        "contract_accounts.py",
        "contract_refusals.py",
        PARTIES,
    )
