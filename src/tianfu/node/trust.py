"""Who may connect over p2p, read from the committed governance state: member CAs, revocations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tianfu.codec import decode_value
from tianfu.execution.contract_api import state_key
from tianfu.ledger import Ledger


def chain_trust(ledger: Ledger) -> tuple[Callable[[], dict[str, bytes]], Callable[[str], bool]]:
    """(trusted_cas, is_revoked) for `TlsNetwork`, read anew from the ledger at each call: an
    admission or a revocation voted on chain applies to the next handshake or frame."""

    def gov(key: str) -> Any:
        raw = ledger.latest.get(state_key("governance", key))
        return None if raw is None else decode_value(raw)

    def trusted_cas() -> dict[str, bytes]:
        orgs = (gov(f"org/{name}") for name in gov("orgs") or [])
        return {o["name"]: o["ca_cert"] for o in orgs if o and o.get("status") == "active"}

    def is_revoked(address: str) -> bool:
        return gov(f"revoked/{address}") is not None

    return trusted_cas, is_revoked
