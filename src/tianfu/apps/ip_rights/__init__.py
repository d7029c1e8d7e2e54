"""The `ip_rights` application: its contract source, SDK, CLI, demo data and scenario."""

from __future__ import annotations

from tianfu.apps.common.source import contract_source

NAME = "ip_rights"


def source() -> str:
    """The contract's source text as it is deployed (never imported as a module)."""
    return contract_source(__file__, "contract.py", "contract_views.py")
