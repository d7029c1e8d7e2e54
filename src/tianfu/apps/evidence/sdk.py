"""SDK helpers for the evidence contract: deposit files, attest, record court checks, certificates."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tianfu.apps.evidence.certificate import (
    CONTRACT,
    VerifiedDeposit,
    export_certificate,
    verify_certificate,
)
from tianfu.client import Client, Result
from tianfu.types import Genesis


def file_sha256(data: bytes | Path) -> str:
    """The hex SHA-256 of bytes or of a file's content."""
    if isinstance(data, Path):
        h = hashlib.sha256()
        with data.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    return hashlib.sha256(data).hexdigest()


class Evidence:
    """Operations and queries of the `evidence` contract through an SDK `Client`."""

    def __init__(self, client: Client, contract: str = CONTRACT) -> None:
        self.client = client
        self.contract = contract

    def _invoke(self, method: str, *args: Any) -> Result:
        return self.client.invoke(self.contract, method, *args)

    # -- operations -------------------------------------------------------------------------
    def deposit_hash(self, file_hash: str, title: str, meta: dict[str, Any] | None = None) -> str:
        """Deposit a SHA-256 hex digest; returns the deposit id."""
        return str(self._invoke("deposit", file_hash, title, dict(meta or {})).result)

    def deposit(self, data: bytes | Path, title: str, meta: dict[str, Any] | None = None) -> str:
        """Hash the file locally (it never leaves this machine) and deposit the hash."""
        return self.deposit_hash(file_sha256(data), title, meta)

    def attest(self, deposit_id: str, statement: str) -> int:
        return int(self._invoke("attest", deposit_id, statement).result)

    def record_verification(
        self, deposit_id: str, case_no: str, result: str = "verified", note: str = ""
    ) -> int:
        return int(self._invoke("record_verification", deposit_id, case_no, result, note).result)

    # -- queries ------------------------------------------------------------------------------
    def get(self, deposit_id: str) -> Any:
        return self.client.query(self.contract, "get", deposit_id)

    def by_hash(self, file_hash: str) -> list[str]:
        return list(self.client.query(self.contract, "by_hash", file_hash))

    def attestations(self, deposit_id: str) -> list[Any]:
        return list(self.client.query(self.contract, "attestations", deposit_id))

    def verifications(self, deposit_id: str) -> list[Any]:
        return list(self.client.query(self.contract, "verifications", deposit_id))

    def count(self) -> int:
        return int(self.client.query(self.contract, "count"))

    # -- certificates -------------------------------------------------------------------------
    def certificate(self, deposit_id: str) -> dict[str, Any]:
        """The evidence certificate of a deposit (verified first if the client has a genesis)."""
        return export_certificate(self.client, deposit_id, self.contract)

    @staticmethod
    def verify(
        cert: dict[str, Any] | str | bytes, file_bytes: bytes | None, genesis: Genesis
    ) -> VerifiedDeposit:
        return verify_certificate(cert, file_bytes, genesis)
