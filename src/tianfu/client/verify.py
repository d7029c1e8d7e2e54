"""Light-client verification: headers against a trusted validator set, state and tx proofs.

Pure functions over canonical bytes; no node, no I/O. The trust anchor is a validator set
and chain id, normally taken from a genesis the user already trusts. A header is believed
only when a commit certificate carries precommits of more than 2/3 of that set's voting
power for exactly that header's hash; a state value or a transaction is believed only
when a Merkle proof links it to such a header's state root or transaction root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from tianfu.codec import CodecError, decode, encode
from tianfu.crypto import CertificateError, verify_commit
from tianfu.crypto.merkle import verify_merkle_proof
from tianfu.execution.api import state_key
from tianfu.types import BlockHeader, CommitCertificate, Genesis, Transaction, ValidatorSet


class VerificationError(Exception):
    """Data from a node that does not verify against the trusted validator set."""


@dataclass(frozen=True)
class VerifiedValue:
    contract: str
    key: str
    value: Any  # None when the key is proven absent
    present: bool
    height: int
    header_hash: bytes
    state_root: bytes


@dataclass(frozen=True)
class VerifiedTx:
    tx: Transaction
    height: int
    index: int
    header_hash: bytes


class LightClient:
    """Verifies headers with their commit certificates against a fixed trusted validator set.

    This light client follows no validator-set changes: a header signed by a different
    validator set (its `validators_hash` differs from the trusted set's hash) is refused.
    """

    def __init__(self, validators: ValidatorSet, chain_id: str) -> None:
        if not validators.validators:
            raise VerificationError("the trusted validator set is empty")
        self.validators = validators
        self.chain_id = chain_id

    @classmethod
    def from_genesis(cls, genesis: Genesis) -> LightClient:
        return cls(genesis.validator_set, genesis.chain_id)

    def verify_header(self, header: BlockHeader, certificate: CommitCertificate) -> None:
        """Raise `VerificationError` unless `certificate` commits exactly `header`."""
        if header.chain_id != self.chain_id:
            raise VerificationError(
                f"header is for chain {header.chain_id!r}, not {self.chain_id!r}"
            )
        if header.validators_hash != self.validators.hash:
            raise VerificationError(
                "header names a validator set other than the trusted one "
                "(the validator set changed; this light client does not follow changes)"
            )
        try:
            verify_commit(certificate, header.hash, header.height, self.validators, self.chain_id)
        except CertificateError as exc:
            raise VerificationError(f"commit certificate rejected: {exc}") from None


def as_light_client(
    trust: LightClient | Genesis | ValidatorSet, chain_id: str | None = None
) -> LightClient:
    if isinstance(trust, LightClient):
        return trust
    if isinstance(trust, Genesis):
        if chain_id is not None and chain_id != trust.chain_id:
            raise VerificationError(f"genesis is for chain {trust.chain_id!r}, not {chain_id!r}")
        return LightClient.from_genesis(trust)
    if chain_id is None:
        raise VerificationError("a chain id is needed with a bare validator set")
    return LightClient(trust, chain_id)


def _decode(data: bytes, typ: type[Any], what: str) -> Any:
    try:
        return decode(data, typ)
    except CodecError as exc:
        raise VerificationError(f"malformed {what}: {exc}") from None


def decode_value(value_bytes: bytes) -> Any:
    """A contract value from its stored bytes; refuses any non-canonical encoding."""
    try:
        value = msgspec.msgpack.decode(value_bytes)
    except msgspec.DecodeError as exc:
        raise VerificationError(f"malformed value bytes: {exc}") from None
    if encode(value) != value_bytes:
        raise VerificationError("value bytes are not the canonical encoding of a value")
    return value


def verify_header_bytes(
    light: LightClient, header_bytes: bytes, cert_bytes: bytes, height: int | None = None
) -> BlockHeader:
    header: BlockHeader = _decode(header_bytes, BlockHeader, "header")
    cert: CommitCertificate = _decode(cert_bytes, CommitCertificate, "commit certificate")
    if height is not None and header.height != height:
        raise VerificationError(f"header is for height {header.height}, not {height}")
    light.verify_header(header, cert)
    return header


def verify_state_read(
    trust: LightClient | Genesis | ValidatorSet,
    chain_id: str | None,
    contract: str,
    key: str,
    value_bytes: bytes | None,
    proof_bytes: bytes,
    header_bytes: bytes,
    cert_bytes: bytes,
    *,
    height: int | None = None,
) -> VerifiedValue:
    """Check a state read end to end and return the proven value (None when proven absent)."""
    from tianfu.state import StateProof, verify_proof

    light = as_light_client(trust, chain_id)
    header = verify_header_bytes(light, header_bytes, cert_bytes, height)
    proof = _decode(proof_bytes, StateProof, "state proof")
    if not verify_proof(header.state_root, state_key(contract, key), value_bytes, proof):
        what = "absence" if value_bytes is None else "value"
        raise VerificationError(
            f"state proof does not prove this {what} of {contract}/{key} at height {header.height}"
        )
    value = None if value_bytes is None else decode_value(value_bytes)
    return VerifiedValue(
        contract, key, value, value_bytes is not None, header.height, header.hash, header.state_root
    )


def verify_tx_proof(
    trust: LightClient | Genesis | ValidatorSet,
    chain_id: str | None,
    tx_bytes: bytes,
    index: int,
    size: int,
    path: list[bytes],
    header_bytes: bytes,
    cert_bytes: bytes,
    *,
    tx_hash: bytes | None = None,
    height: int | None = None,
) -> VerifiedTx:
    """Check that a transaction is in a committed block; return it."""
    light = as_light_client(trust, chain_id)
    tx: Transaction = _decode(tx_bytes, Transaction, "transaction")
    if tx_hash is not None and tx.hash != tx_hash:
        raise VerificationError("the proven transaction is not the one asked for")
    header = verify_header_bytes(light, header_bytes, cert_bytes, height)
    if size != header.tx_count:
        raise VerificationError(
            f"proof is for {size} transactions, the block has {header.tx_count}"
        )
    if not verify_merkle_proof(header.tx_root, tx_bytes, index, size, path):
        raise VerificationError("transaction inclusion proof does not match the block's tx root")
    return VerifiedTx(tx, header.height, index, header.hash)


def _hex(doc: dict[str, Any], *names: str) -> bytes:
    obj: Any = doc
    for n in names:
        if not isinstance(obj, dict) or n not in obj:
            raise VerificationError(f"response lacks field {'.'.join(names)}")
        obj = obj[n]
    if not isinstance(obj, str):
        raise VerificationError(f"field {'.'.join(names)} is not a hex string")
    try:
        return bytes.fromhex(obj)
    except ValueError:
        raise VerificationError(f"field {'.'.join(names)} is not valid hex") from None


def verify_state_json(
    trust: LightClient | Genesis | ValidatorSet,
    doc: dict[str, Any],
    *,
    chain_id: str | None = None,
    contract: str | None = None,
    key: str | None = None,
    height: int | None = None,
) -> VerifiedValue:
    """Verify a `/v1/state/...?prove=true` response (or its saved JSON) from its raw fields."""
    if not isinstance(doc, dict):
        raise VerificationError("a state read must be a JSON object")
    c, k = doc.get("contract"), doc.get("key")
    if not isinstance(c, str) or not isinstance(k, str):
        raise VerificationError("state read lacks contract/key")
    if (contract is not None and c != contract) or (key is not None and k != key):
        raise VerificationError(f"the node answered for {c}/{k}, not {contract}/{key}")
    if doc.get("proof") is None:
        raise VerificationError("state read carries no proof (ask with prove=true)")
    if doc.get("certificate") is None:
        raise VerificationError("state read carries no commit certificate")
    value_bytes = None if doc.get("value_raw") is None else _hex(doc, "value_raw")
    return verify_state_read(
        trust,
        chain_id,
        c,
        k,
        value_bytes,
        _hex(doc, "proof"),
        _hex(doc, "header", "raw"),
        _hex(doc, "certificate", "raw"),
        height=height,
    )


def verify_tx_proof_json(
    trust: LightClient | Genesis | ValidatorSet,
    doc: dict[str, Any],
    *,
    chain_id: str | None = None,
    tx_hash: bytes | None = None,
) -> VerifiedTx:
    """Verify a `/v1/txs/{hash}/proof` response from its raw fields."""
    try:
        index, size = int(doc["index"]), int(doc["size"])
        path = [bytes.fromhex(p) for p in doc["path"]]
        height = int(doc["height"])
    except (KeyError, TypeError, ValueError):
        raise VerificationError("malformed transaction proof response") from None
    return verify_tx_proof(
        trust,
        chain_id,
        _hex(doc, "tx", "raw"),
        index,
        size,
        path,
        _hex(doc, "header", "raw"),
        _hex(doc, "certificate", "raw"),
        tx_hash=tx_hash,
        height=height,
    )
