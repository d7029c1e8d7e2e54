"""Evidence certificates: export a deposit's proofs as JSON, verify them offline against a genesis.

A certificate holds the deposit transaction with its Merkle inclusion proof, the block
header, the block's commit certificate and the Merkle state proof of the deposit record,
all as canonical bytes (hex). `verify_certificate` needs only the certificate, the file
and the consortium's genesis (its validator keys): no node is trusted. Readable fields in
the certificate are for people; every one of them is checked against the proven bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from tianfu.client import Client, VerificationError
from tianfu.client.verify import verify_state_read, verify_tx_proof
from tianfu.codec import decode
from tianfu.execution.api import address_of
from tianfu.types import BlockHeader, Genesis

FORMAT = "tianfu-evidence-certificate/v1"
CONTRACT = "evidence"


class EvidenceCertificateError(VerificationError):
    """An evidence certificate that does not verify (tampered, malformed or wrong genesis)."""


class FileMismatch(EvidenceCertificateError):
    """The file's SHA-256 is not the hash the certificate proves was deposited."""


@dataclass(frozen=True)
class VerifiedDeposit:
    """What a verified certificate proves."""

    deposit_id: str
    file_sha256: str
    title: str
    meta: dict[str, Any]
    depositor: str
    org: str
    name: str
    chain_id: str
    height: int
    time_ms: int
    tx_hash: str
    block_hash: str
    state_root: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def deposit_key(deposit_id: str) -> str:
    return "dep:" + deposit_id


def export_certificate(client: Client, deposit_id: str, contract: str = CONTRACT) -> dict[str, Any]:
    """Collect the proofs of deposit `deposit_id` from a node into a certificate (a dict).

    The node is not trusted here either: if the client holds a trust anchor (genesis), the
    certificate is verified before it is returned.
    """
    record = client.query(contract, "get", deposit_id)
    if record is None:
        raise EvidenceCertificateError(f"unknown deposit {deposit_id}")
    height = int(record["height"])
    proof = client.tx_proof_raw(record["tx"])
    state = client.state_raw(contract, deposit_key(deposit_id), height, prove=True)
    if int(proof["height"]) != height or int(state["height"]) != height:
        raise EvidenceCertificateError("the node returned proofs for another height")
    if proof["header"]["raw"] != state["header"]["raw"]:
        raise EvidenceCertificateError("the node returned two different headers for one height")
    if state.get("certificate") is None or state.get("value_raw") is None:
        raise EvidenceCertificateError("the node returned no commit certificate or no value")
    header = proof["header"]
    cert = {
        "format": FORMAT,
        "deposit_id": deposit_id,
        "file_sha256": record["file_hash"],
        "title": record["title"],
        "depositor": record["depositor"],
        "org": record["org"],
        "chain_id": header["chain_id"],
        "height": height,
        "time_ms": int(header["time_ms"]),
        "block_hash": header["hash"],
        "deposit": record,
        "tx": {
            "hash": proof["hash"],
            "raw": proof["tx"]["raw"],
            "index": int(proof["index"]),
            "size": int(proof["size"]),
            "path": list(proof["path"]),
        },
        "header": {"raw": header["raw"]},
        "commit_certificate": {"raw": proof["certificate"]["raw"]},
        "state_proof": {
            "contract": contract,
            "key": deposit_key(deposit_id),
            "value_raw": state["value_raw"],
            "proof": state["proof"],
        },
    }
    if client.genesis is not None:
        verify_certificate(cert, None, client.genesis)
    return cert


def _field(doc: Any, *names: str) -> Any:
    obj = doc
    for n in names:
        if not isinstance(obj, dict) or n not in obj:
            raise EvidenceCertificateError(f"malformed certificate: no field {'.'.join(names)}")
        obj = obj[n]
    return obj


def _hex(doc: Any, *names: str) -> bytes:
    value = _field(doc, *names)
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise EvidenceCertificateError(
            f"malformed certificate: {'.'.join(names)} is not hex"
        ) from None


def _int(doc: Any, *names: str) -> int:
    value = _field(doc, *names)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvidenceCertificateError(f"malformed certificate: {'.'.join(names)} is not an int")
    return value


def load_certificate(data: bytes | str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise EvidenceCertificateError(f"the certificate is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EvidenceCertificateError("the certificate is not a JSON object")
    return doc


def verify_certificate(
    cert_json: dict[str, Any] | str | bytes, file_bytes: bytes | None, genesis: Genesis
) -> VerifiedDeposit:
    """Verify an evidence certificate offline; return what it proves.

    Checks, in order: the commit certificate signs the header for the genesis' validator
    set and chain; the transaction is in that block (Merkle path to the tx root); the
    deposit record is in that block's state (Merkle proof to the state root); the record
    was written by exactly that transaction, at that height and time; every readable field
    matches the proven data; and, when `file_bytes` is given, the file's SHA-256 equals
    the deposited hash. Raises `EvidenceCertificateError` (`FileMismatch` for the file).
    """
    doc = load_certificate(cert_json) if isinstance(cert_json, str | bytes) else cert_json
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EvidenceCertificateError(f"not an evidence certificate (format is not {FORMAT})")
    deposit_id = _field(doc, "deposit_id")
    contract = _field(doc, "state_proof", "contract")
    key = _field(doc, "state_proof", "key")
    if not isinstance(deposit_id, str) or key != deposit_key(deposit_id):
        raise EvidenceCertificateError("the state proof is not for this deposit's record")
    header_raw = _hex(doc, "header", "raw")
    commit_raw = _hex(doc, "commit_certificate", "raw")
    try:
        vtx = verify_tx_proof(
            genesis,
            None,
            _hex(doc, "tx", "raw"),
            _int(doc, "tx", "index"),
            _int(doc, "tx", "size"),
            [_hex({"p": p}, "p") for p in _field(doc, "tx", "path")],
            header_raw,
            commit_raw,
        )
        vstate = verify_state_read(
            genesis,
            None,
            str(contract),
            key,
            _hex(doc, "state_proof", "value_raw"),
            _hex(doc, "state_proof", "proof"),
            header_raw,
            commit_raw,
        )
    except EvidenceCertificateError:
        raise
    except VerificationError as exc:
        raise EvidenceCertificateError(f"proof rejected: {exc}") from None
    except TypeError:
        raise EvidenceCertificateError("malformed certificate: tx.path is not a list") from None
    except ValueError as exc:  # e.g. invalid UTF-8 inside tampered bytes, missed by the codec
        raise EvidenceCertificateError(f"malformed certificate bytes: {exc}") from None
    header = decode(header_raw, BlockHeader)
    record = vstate.value
    tx = vtx.tx
    body = tx.body
    tx_hash = tx.hash.hex()
    if not isinstance(record, dict):
        raise EvidenceCertificateError("the proven deposit record is not a record")
    if body.contract != contract or body.method != "deposit" or not body.args:
        raise EvidenceCertificateError("the proven transaction is not an evidence deposit")
    checks = [
        (record.get("id") == deposit_id, "the proven record is another deposit"),
        (record.get("tx") == tx_hash, "the proven record was not written by this transaction"),
        (body.args[0] == record.get("file_hash"), "the transaction deposits another hash"),
        (record.get("height") == header.height, "the record's height is not the block's"),
        (record.get("time_ms") == header.time_ms, "the record's time is not the block's"),
        (
            record.get("depositor") == address_of(body.scheme, body.signer),
            "the transaction's signer is not the depositor",
        ),
    ]
    for ok, why in checks:
        if not ok:
            raise EvidenceCertificateError(why)
    readable = {
        "file_sha256": record["file_hash"],
        "title": record["title"],
        "depositor": record["depositor"],
        "org": record["org"],
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "block_hash": header.hash.hex(),
        "deposit": record,
    }
    for name, proven in readable.items():
        if name in doc and doc[name] != proven:
            raise EvidenceCertificateError(
                f"the certificate's readable field {name!r} differs from the proven data"
            )
    if _field(doc, "tx", "hash") != tx_hash:
        raise EvidenceCertificateError("the certificate's tx.hash differs from the proven tx")
    if file_bytes is not None:
        actual = hashlib.sha256(file_bytes).hexdigest()
        if actual != record["file_hash"]:
            raise FileMismatch(
                f"the file's SHA-256 {actual} does not match the deposited hash "
                f"{record['file_hash']}: the file was changed or is another file"
            )
    return VerifiedDeposit(
        deposit_id=deposit_id,
        file_sha256=record["file_hash"],
        title=record["title"],
        meta=dict(record.get("meta") or {}),
        depositor=record["depositor"],
        org=record["org"],
        name=record.get("name", ""),
        chain_id=header.chain_id,
        height=header.height,
        time_ms=header.time_ms,
        tx_hash=tx_hash,
        block_hash=header.hash.hex(),
        state_root=header.state_root.hex(),
    )
