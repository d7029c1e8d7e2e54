"""Manufacturing collaboration: purchase orders, subcontracting trees, inspections, delivery."""

from __future__ import annotations

from tianfu.apps.common.source import contract_source

NAME = "manufacturing"
ROLES = ("buyer", "supplier", "inspector")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return contract_source(__file__, "contract.py", "contract_views.py")
