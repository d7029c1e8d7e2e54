"""Application record certificates: the proofs of the transaction that wrote a record and of
the record's state at that height, as one `tianfu-proof/v1` document of the application's
kind (evidence deposits, photo registrations), exported from a node and verified offline.

An application describes its record once (`RecordSpec`: contract, key prefix, writing method,
the fields it proves, its error type and wording); `export_record_certificate`,
`proven_record`, `load_record_certificate` and `verify_record_certificate` do the rest;
its verified result is a `ProvenRecord` subclass with the record's own fields.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any, Generic, TypeVar, get_origin, get_type_hints

from tianfu.client import Client, VerificationError
from tianfu.execution.contract_api import address_of
from tianfu.proofs.documents import (
    Kind,
    VerifiedDocument,
    load_document,
    make_document,
    merge_single_blocks,
    register,
    split_state_key,
    verify_document,
)
from tianfu.proofs.values import readable
from tianfu.proofs.verify import ProvenBlock, VerifiedBundle
from tianfu.types import Genesis


@dataclass(frozen=True)
class RecordSpec:
    """How one application's record is written, proven and named in error messages."""

    kind: str  # the proof document's kind
    contract: str
    prefix: str  # the record's state key is prefix + id
    method: str  # the contract method that writes it; it returns the id
    # The writing transaction's arguments that must be the record's fields: (position, the
    # field, what the transaction did instead: "deposits another hash").
    args: tuple[tuple[int, str, str], ...]
    error: type[VerificationError]
    certificate: str  # "an evidence certificate"
    proves: str  # "evidence deposit": "verified evidence deposit"
    record: str  # "deposit": "the proven record is another deposit"; its id is "deposit_id"
    transaction: str  # "deposit": "the deposit transaction failed"
    content: str  # what the record's hash is of: "file"
    content_hash: str  # the record's field holding the content's SHA-256: "file_hash"
    mismatch: type[VerificationError]  # raised for content that is not the proven one
    written: str  # "deposited": "does not match the deposited hash"
    chain: str  # how help texts name who keeps the chain: "consortium"
    written_by: str  # "an evidence deposit": "the proven transaction is not ..."
    signer: str  # the record's field holding the signer's address: "depositor"
    text_fields: tuple[str, ...]  # fields that must be strings
    lacks: str  # "its file hash, title or organisation"
    # The record's own readable fields, after the contract and the id: a field's name, or
    # (name, the record's field) for one named otherwise. The verified result reads its own
    # fields by the same names.
    shown: tuple[str | tuple[str, str], ...]
    summary: tuple[str, ...]  # readable fields shown when a certificate is written

    def key(self, record_id: str) -> str:
        return self.prefix + record_id

    @property
    def title(self) -> str:
        """The certificate's name without its article: "evidence certificate"."""
        return self.certificate.split(" ", 1)[1]

    @property
    def id_field(self) -> str:
        """The id's name in the readable fields and the verified result: "deposit_id"."""
        return self.record + "_id"

    def named(self) -> tuple[tuple[str, str], ...]:
        """The shown fields as (name, the record's field)."""
        return tuple((f, f) if isinstance(f, str) else f for f in self.shown)

    def source(self, name: str) -> str:
        """The record's field holding the shown or verified field `name`."""
        return dict(self.named()).get(name, name)


@dataclass(frozen=True, kw_only=True)
class ProvenRecord:
    """What every verified record certificate proves besides the record's own fields: the
    writer's organisation and enrolled name, and where the record stands on the chain."""

    org: str
    name: str
    chain_id: str
    height: int
    time_ms: int
    tx_hash: str
    block_hash: str
    state_root: str
    validator_changes: int = 0  # proven membership changes between the genesis and the block

    def as_dict(self) -> dict[str, Any]:
        """The record's own fields (a subclass's), then these."""
        own = asdict(self)
        proven = {f.name: own.pop(f.name) for f in fields(ProvenRecord)}
        return {**own, **proven}


def register_record_kind(spec: RecordSpec) -> None:
    """Make `spec.kind` a proof-document kind: checked by `proven_record`, its readable
    fields rendered from the proven record."""

    def check(v: VerifiedBundle) -> None:
        proven_record(v, spec)

    def render(v: VerifiedBundle, _genesis: Genesis) -> dict[str, Any]:
        b, contract, record_id, record = proven_record(v, spec)
        header = b.header
        return {
            "contract": contract,
            spec.id_field: record_id,
            **{name: record[field] for name, field in spec.named()},
            "height": header.height,
            "time_ms": header.time_ms,
            "block_hash": header.hash.hex(),
            "tx_hash": b.txs[0].tx.hash.hex(),
            spec.record: readable(record),
        }

    register(Kind(spec.kind, check, render))


def _integer(x: Any) -> int | None:
    """`x` if it is an integer (a boolean is not one), else None."""
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def proven_record(
    v: VerifiedBundle, spec: RecordSpec
) -> tuple[ProvenBlock, str, str, dict[str, Any]]:
    """The proven block, contract, record id and record of a certificate's bundle, after
    checking that the one transaction wrote exactly that record at that height and time."""
    error = spec.error
    if len(v.blocks) != 1:
        raise error(f"{spec.certificate} proves exactly one block")
    b = v.blocks[0]
    if len(b.txs) != 1 or len(b.entries) != 1:
        raise error(f"{spec.certificate} proves one transaction and one record")
    contract, key = split_state_key(b.entries[0].key)
    if not key.startswith(spec.prefix):
        raise error(f"the state proof is not a {spec.record} record")
    record_id = key[len(spec.prefix) :]
    record = b.entries[0].value
    p = b.txs[0]
    body = p.tx.body
    header = b.header
    if not isinstance(record, dict):
        raise error(f"the proven {spec.record} record is not a record")
    min_args = max(position for position, _, _ in spec.args) + 1
    if body.contract != contract or body.method != spec.method or len(body.args) < min_args:
        raise error(f"the proven transaction is not {spec.written_by}")
    checks = [
        (
            p.receipt.ok and p.receipt.result == record_id,
            f"the {spec.transaction} transaction failed",
        ),
        (record.get("id") == record_id, f"the proven record is another {spec.record}"),
        (record.get("tx") == p.tx.hash.hex(), "the record was not written by this transaction"),
        *[
            (body.args[position] == record.get(name), f"the transaction {instead}")
            for position, name, instead in spec.args
        ],
        (_integer(record.get("height")) == header.height, "the record's height is not the block's"),
        (_integer(record.get("time_ms")) == header.time_ms, "the record's time is not the block's"),
        (
            record.get(spec.signer) == address_of(body.scheme, body.signer),
            f"the transaction's signer is not the {spec.signer}",
        ),
        (
            all(isinstance(record.get(f), str) for f in spec.text_fields),
            f"the record lacks {spec.lacks}",
        ),
    ]
    for ok, why in checks:
        if not ok:
            raise error(why)
    return b, contract, record_id, record


def export_record_certificate(
    client: Client, spec: RecordSpec, record_id: str, contract: str | None = None
) -> dict[str, Any]:
    """The certificate of record `record_id` (whose `get` view names its writing `tx`).

    The node is not trusted: the certificate is made only of what verifies against the
    client's trusted genesis. Failures raise the application's error type."""
    error = spec.error
    contract = contract or spec.contract
    record = client.query(contract, "get", record_id)
    if not isinstance(record, dict) or not isinstance(record.get("tx"), str):
        raise error(f"unknown {spec.record} {record_id}")
    tx_doc = client.tx_proof_raw(record["tx"])
    height = tx_doc.get("height")
    if not isinstance(height, int):
        raise error("the node sent a malformed transaction proof")
    state_doc = client.state_proof_raw(contract, spec.key(record_id), height)
    try:
        bundle = merge_single_blocks([tx_doc, state_doc])
    except VerificationError as exc:
        raise error(f"the node's proofs do not fit together: {exc}") from None
    genesis = client.trusted_genesis()
    try:
        return make_document(spec.kind, bundle, genesis)
    except error:
        raise
    except VerificationError as exc:
        raise error(f"the node's proofs do not verify: {exc}") from None


def load_record_certificate(data: bytes | str, spec: RecordSpec) -> dict[str, Any]:
    """A certificate's JSON document, read (not yet verified)."""
    try:
        return load_document(data)
    except VerificationError as exc:
        raise spec.error(str(exc)) from None


def verify_record_certificate(
    cert_json: dict[str, Any] | str | bytes,
    content: bytes | None,
    genesis: Genesis,
    spec: RecordSpec,
    contract: str | None = None,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Verify a certificate against `genesis` alone, that its record is one of `contract`
    (default `spec.contract`: another contract's records may say anything) and, when
    `content` is given, that its SHA-256 is the record's: the record id, the record, and the
    `ProvenRecord` fields."""
    try:
        verified: VerifiedDocument = verify_document(cert_json, genesis, kind=spec.kind)
    except spec.error:
        raise
    except VerificationError as exc:
        raise spec.error(str(exc)) from None
    b, proven_contract, record_id, record = proven_record(verified.verified, spec)
    expected = contract or spec.contract
    if proven_contract != expected:
        raise spec.error(
            f"the proven {spec.record} is in contract {proven_contract!r}, "
            f"not in the {expected} contract"
        )
    if content is not None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != record[spec.content_hash]:
            noun = spec.content
            raise spec.mismatch(
                f"the {noun}'s SHA-256 {actual} does not match the {spec.written} hash "
                f"{record[spec.content_hash]}: the {noun} was changed or is another {noun}"
            )
    header = b.header
    proven = {
        "org": record["org"],
        "name": str(record.get("name", "")),
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "tx_hash": verified.readable["tx_hash"],  # computed with the chain's hash
        "block_hash": verified.readable["block_hash"],
        "state_root": header.state_root.hex(),
        "validator_changes": len(verified.verified.changes) - 1,
    }
    return record_id, record, proven


P = TypeVar("P", bound=ProvenRecord)


@dataclass(frozen=True)
class RecordCertificate(Generic[P]):
    """One application's record certificates: `spec` says how the record is proven, `proven`
    is what a verified certificate returns (a `ProvenRecord` whose own fields are the id and
    record fields named as in `spec.shown`; a field typed as a dict is the record's mapping,
    {} if it has none). Making one registers its proof-document kind."""

    spec: RecordSpec
    proven: type[P]

    def __post_init__(self) -> None:
        register_record_kind(self.spec)

    def export(self, client: Client, record_id: str, contract: str | None = None) -> dict[str, Any]:
        """Collect the proofs of record `record_id` from a node into a certificate (a dict).

        The node is not trusted: the certificate is made only of what verifies against the
        client's trusted genesis (fetched and trusted with a warning by the CLI if none is
        given)."""
        return export_record_certificate(client, self.spec, record_id, contract)

    def verify(
        self,
        cert_json: dict[str, Any] | str | bytes,
        content: bytes | None,
        genesis: Genesis,
        contract: str | None = None,
    ) -> P:
        """Verify a certificate offline against `genesis` alone; return what it proves.

        Checks every link of the validator chain from the genesis to the block; the block's
        commit certificate by the set of its height; the writing transaction and its
        successful receipt in that block (Merkle paths to the tx and receipts roots); the
        record in that block's state (Merkle proof to the state root), written by exactly
        that transaction at that height and time by its signer; that the document's readable
        fields are exactly the proven data; and, when `content` is given, that its SHA-256
        is the record's. The record must be in `contract` (default: the application's
        contract). Raises `spec.error` (`spec.mismatch` for the content)."""
        record_id, record, proven = verify_record_certificate(
            cert_json, content, genesis, self.spec, contract
        )
        return self.result(record_id, record, proven)

    def result(self, record_id: str, record: dict[str, Any], proven: dict[str, Any]) -> P:
        """The verified result of a proven record: its id, its fields named as in
        `spec.shown` (a field typed as a dict: the record's mapping, {} if it has none) and the
        `ProvenRecord` fields."""
        own: dict[str, Any] = {}
        hints = get_type_hints(self.proven)
        for f in fields(self.proven)[len(fields(ProvenRecord)) :]:
            value = record.get(self.spec.source(f.name))
            if get_origin(hints[f.name]) is dict:
                value = dict(value) if isinstance(value, dict) else {}
            own[f.name] = record_id if f.name == self.spec.id_field else value
        return self.proven(**own, **proven)
