"""Python SDK and light client for Tianfu Chain nodes."""

from __future__ import annotations

from typing import Any

from tianfu.client.client import DEFAULT_URL, Client, Result, TxInfo
from tianfu.client.errors import (
    ApiError,
    ClientError,
    ConnectionFailed,
    InvalidUrl,
    TxFailed,
    TxTimeout,
)
from tianfu.client.verify import (
    LightClient,
    VerificationError,
    VerifiedBlockEvents,
    VerifiedTx,
    VerifiedValue,
    verify_block_events,
    verify_state_json,
    verify_state_read,
    verify_tx_proof,
    verify_tx_proof_json,
)
from tianfu.proofs.documents import VerifiedDocument

__all__ = [
    "DEFAULT_URL",
    "ApiError",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "Identity",
    "InvalidUrl",
    "LightClient",
    "Result",
    "TxFailed",
    "TxInfo",
    "TxTimeout",
    "VerificationError",
    "VerifiedBlockEvents",
    "VerifiedDocument",
    "VerifiedTx",
    "VerifiedValue",
    "verify_block_events",
    "verify_state_json",
    "verify_state_read",
    "verify_tx_proof",
    "verify_tx_proof_json",
]


def __getattr__(name: str) -> Any:
    if name == "Identity":  # re-exported lazily: tianfu.identity pulls in X.509 tooling
        from tianfu.identity import Identity

        return Identity
    raise AttributeError(f"module 'tianfu.client' has no attribute {name!r}")
