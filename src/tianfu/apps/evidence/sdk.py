"""SDK helpers for the evidence contract: deposit files, attest, record court checks, certificates."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tianfu.apps.common.inputs import sha256_file
from tianfu.apps.common.sdk import ContractSDK, view, walk_log
from tianfu.apps.evidence.certificate import CERTIFICATE, CONTRACT, verify_certificate


def file_sha256(data: bytes | Path) -> str:
    """The hex SHA-256 of bytes or of a file's content."""
    if isinstance(data, Path):
        return sha256_file(data)
    return hashlib.sha256(data).hexdigest()


class Evidence(ContractSDK):
    """Operations and queries of the `evidence` contract through an SDK `Client`."""

    CONTRACT = CONTRACT

    # -- operations -------------------------------------------------------------------------
    def deposit_hash(self, file_hash: str, title: str, meta: dict[str, Any] | None = None) -> str:
        """Deposit a SHA-256 hex digest; returns the deposit id."""
        return str(self._invoke("deposit", file_hash, title, dict(meta or {})))

    def deposit(self, data: bytes | Path, title: str, meta: dict[str, Any] | None = None) -> str:
        """Hash the file locally (it never leaves this machine) and deposit the hash."""
        return self.deposit_hash(file_sha256(data), title, meta)

    def attest(self, deposit_id: str, statement: str) -> int:
        return int(self._invoke("attest", deposit_id, statement))

    def record_verification(
        self, deposit_id: str, case_no: str, result: str = "verified", note: str = ""
    ) -> int:
        return int(self._invoke("record_verification", deposit_id, case_no, result, note))

    # -- queries ------------------------------------------------------------------------------
    get = view("deposit_id")
    by_hash = view("file_hash", returns=list)
    hash_count = view("file_hash", returns=int)
    by_hash_page = view("file_hash", returns=list, start=1, limit=200)
    attestations = view("deposit_id", returns=list)
    attestations_page = view("deposit_id", returns=dict, start=1, limit=45)
    verifications = view("deposit_id", returns=list)
    verifications_page = view("deposit_id", returns=dict, start=1, limit=45)

    def all_attestations(self, deposit_id: str, limit: int = 45) -> list[dict[str, Any]]:
        """Every attestation of a deposit, oldest first, read a page at a time."""
        return walk_log(
            lambda s: self.attestations_page(deposit_id, start=s, limit=limit), "attestations"
        )

    def all_verifications(self, deposit_id: str, limit: int = 45) -> list[dict[str, Any]]:
        """Every court verification record of a deposit, oldest first, a page at a time."""
        return walk_log(
            lambda s: self.verifications_page(deposit_id, start=s, limit=limit), "verifications"
        )

    count = view(returns=int)

    # -- certificates -------------------------------------------------------------------------
    def certificate(self, deposit_id: str) -> dict[str, Any]:
        """The evidence certificate of a deposit (verified first if the client has a genesis)."""
        return CERTIFICATE.export(self.client, deposit_id, self.contract)

    verify = staticmethod(verify_certificate)
