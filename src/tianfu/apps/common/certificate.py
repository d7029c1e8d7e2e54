"""Exporting an application record's certificate: the proofs of the transaction that wrote
the record and of the record's state at that height, merged into one `tianfu-proof/v1`
document of the application's kind (evidence deposits, photo registrations)."""

from __future__ import annotations

from typing import Any

from tianfu.client import Client, VerificationError
from tianfu.proofs.documents import make_document, merge_single_blocks


def export_record_certificate(
    client: Client,
    contract: str,
    record_id: str,
    state_key: str,
    kind: str,
    error: type[Exception],
    what: str,
) -> dict[str, Any]:
    """The certificate of record `record_id` (whose `get` view names its writing `tx`).

    The node is not trusted: the certificate is made only of what verifies against the
    client's trusted genesis. Failures raise `error` (the application's own type)."""
    record = client.query(contract, "get", record_id)
    if not isinstance(record, dict) or not isinstance(record.get("tx"), str):
        raise error(f"unknown {what} {record_id}")
    tx_doc = client.tx_proof_raw(record["tx"])
    height = tx_doc.get("height")
    if not isinstance(height, int):
        raise error("the node sent a malformed transaction proof")
    state_doc = client.state_proof_raw(contract, state_key, height)
    try:
        bundle = merge_single_blocks([tx_doc, state_doc])
    except VerificationError as exc:
        raise error(f"the node's proofs do not fit together: {exc}") from None
    genesis = client.trusted_genesis()
    try:
        return make_document(kind, bundle, genesis)
    except error:
        raise
    except VerificationError as exc:
        raise error(f"the node's proofs do not verify: {exc}") from None
