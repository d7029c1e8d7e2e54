"""City governance: cases filed, dispatched, transferred, handled, checked, closed or reopened."""

from __future__ import annotations

from tianfu.apps.common.source import contract_source

NAME = "city_governance"
ROLES = ("service_centre", "sensor", "dispatcher", "city_admin", "supervisor", "dept:<id>")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return contract_source(__file__, "contract.py")
