"""Supply-chain finance application: receivables issued, split, transferred, pledged and repaid."""

from __future__ import annotations

from tianfu.apps.common.source import PARTIES, contract_source

NAME = "supply_finance"
ROLES = ("core_enterprise", "bank", "regulator")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return contract_source(
        __file__, "contract.py", "contract_views.py", "contract_pledges.py", PARTIES
    )
