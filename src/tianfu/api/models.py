"""Response models of the REST API, for its OpenAPI schema (documentation only).

The routes render their answers themselves (`tianfu.api.render`, the proof builder); these
pydantic models describe those answers so that clients learn every field from the schema,
and `tests/unit/test_api_schema.py` checks that real answers conform (no field missing,
none undocumented: every model forbids extra fields). They are attached with `documented`,
which leaves the answers unvalidated at run time (no per-request cost). Contract values
(arguments, results, state values, event data) are free JSON, with bytes as hex.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Hex = str  # lower-case hexadecimal
Value = Any  # a contract value as JSON (bytes as hex)


# -- chain objects -------------------------------------------------------------------------------
class ErrorOut(Model):
    error: str = Field(description="what was wrong with the request, or why it was refused")


class CommitSigOut(Model):
    validator: Hex
    time_ms: int = Field(description="the signer's precommit time (BFT time), signed")
    signature: Hex


class CommitCertificateOut(Model):
    version: int
    chain_id: str
    height: int
    round: int
    block_hash: Hex
    signatures: list[CommitSigOut]


class HeaderOut(Model):
    version: int
    chain_id: str
    height: int
    time_ms: int
    prev_hash: Hex
    tx_root: Hex
    state_root: Hex
    receipts_root: Hex
    validators_hash: Hex
    proposer: Hex
    tx_count: int
    last_commit: CommitCertificateOut | None = Field(
        description="the certificate of the previous block (null at height 1)"
    )
    hash: Hex = Field(description="the block hash (docs/spec/blocks.md)")
    raw: Hex = Field(description="the canonical bytes of the header: what a client verifies")


class CertificateOut(Model):
    chain_id: str
    height: int
    round: int
    block_hash: Hex
    signatures: list[CommitSigOut]
    raw: Hex = Field(description="the canonical bytes of the certificate")


class CommitOut(Model):
    height: int
    certificate: CertificateOut


# A transaction's fields (in a proof document; `TxOut` adds the signature and the bytes).
class TxDoc(Model):
    hash: Hex
    chain_id: str
    scheme: int
    signer: Hex
    nonce: int
    expiry: int
    contract: str
    method: str
    args: list[Value]
    has_cert: bool


class TxOut(TxDoc):
    signature: Hex
    raw: Hex = Field(description="the canonical bytes of the transaction")


class EventOut(Model):
    contract: str
    name: str
    data: dict[str, Value]


class ReceiptOut(Model):
    status: Literal["ok", "failed"]
    ok: bool
    gas_used: int
    result: Value
    error: str
    events: list[EventOut]
    raw: Hex = Field(description="the canonical bytes of the receipt")


class TxRecordOut(Model):
    hash: Hex
    status: Literal["committed"]
    height: int
    index: int
    tx: TxOut
    receipt: ReceiptOut


class PendingOut(Model):
    hash: Hex
    status: Literal["pending"]


class RejectedOut(Model):
    hash: Hex
    status: Literal["rejected"]
    code: int
    error: str


class BatchOut(Model):
    results: list[TxRecordOut | PendingOut | RejectedOut]
    committed: int
    pending: int
    rejected: int


class ReceiptStatusOut(Model):
    status: Literal["ok", "failed"]
    error: str


class BlockOut(Model):
    height: int
    hash: Hex
    header: HeaderOut
    txs: list[Hex] = Field(description="the transactions' hashes, in block order")
    raw: Hex = Field(description="the canonical bytes of the block")
    receipts: list[ReceiptStatusOut] | None = None


class BlocksOut(Model):
    blocks: list[HeaderOut]


class StateOut(Model):
    contract: str
    key: str
    height: int
    value: Value
    value_raw: Hex | None
    proof: Hex | None = Field(description="the canonical StateProof bytes (with prove=true)")
    header: HeaderOut
    certificate: CertificateOut | None


class QueryOut(Model):
    result: Value
    raw: Hex = Field(description="the canonical encoding of the result")


class ValidatorOut(Model):
    name: str
    org: str
    scheme: int
    public_key: Hex
    power: int


class ValidatorsOut(Model):
    validators: list[ValidatorOut]


class OrgOut(Model):
    name: str
    status: str
    ca_cert: Hex


class OrgsOut(Model):
    orgs: list[OrgOut]


class ContractsOut(Model):
    contracts: list[dict[str, Value]]


class GenesisOut(Model):
    hash: Hex
    chain_id: str
    genesis: dict[str, Value]
    raw: Hex = Field(description="the canonical genesis bytes (genesis.bin)")


class StatusOut(Model):
    chain_id: str
    height: int
    latest_hash: Hex
    time_ms: int
    node: str
    org: str
    validator: bool
    genesis_hash: Hex
    suite: Literal["standard", "sm2"]
    mempool: int
    health: str
    health_reasons: list[str] = Field(
        default_factory=list,
        description="the reason code of each problem `health` names, in its order (empty when"
        " ok): consensus_stopped, not_signing, signing_held, cannot_build, cannot_execute,"
        " store_damaged, block_sync, probe_failed, other",
    )
    clock_offset_ms: int | None


# -- proof documents (docs/spec/documents.md) ---------------------------------------------------------
class ValidatorDoc(Model):
    name: str
    org: str
    power: int
    scheme: int
    public_key: Hex


class ChangeDoc(Model):
    changed_in: int = Field(description="the height whose state wrote the set (0: genesis)")
    effective_from: int = Field(description="the first block it signs")
    skipped_to: bool = Field(description="reached by a skipping link")
    validators: list[ValidatorDoc]


class DocumentBase(Model):
    format: Literal["tianfu-proof/v1"]
    chain_id: str
    genesis_hash: Hex
    suite: Literal["standard", "sm2"]
    validator_changes: list[ChangeDoc] = Field(
        description="the genesis set, then every proven validator-set change"
    )
    raw: Hex = Field(description="the canonical ProofBundle (docs/spec/proofs.md)")


class BlockDoc(DocumentBase):
    height: int
    block_hash: Hex
    time_ms: int
    state_root: Hex


class EntryDoc(Model):
    contract: str
    key: str
    present: bool
    value: Value
    changed_at: int | None
    previous_change: int | None


class StateDocument(BlockDoc):
    kind: Literal["state"]
    entries: list[EntryDoc]


class ProvenReceiptDoc(Model):
    ok: bool
    gas_used: int
    result: Value
    error: str
    events: list[EventOut]


class TxDocument(BlockDoc):
    kind: Literal["tx"]
    index: int
    tx: TxDoc
    receipt: ProvenReceiptDoc


class AbsenceDocument(BlockDoc):
    kind: Literal["absence"]
    tx_hash: Hex
    committed: Literal[False]


class VersionDoc(Model):
    height: int
    present: bool
    value: Value
    proven_in_block: int


class HistoryDocument(DocumentBase):
    kind: Literal["history"]
    contract: str
    key: str
    height: int
    block_hash: Hex
    time_ms: int
    complete: bool
    earlier_change: int | None
    versions: list[VersionDoc]


class ValidatorsDocument(BlockDoc):
    kind: Literal["validators"]
    validators: list[ValidatorDoc]
    total_power: int


class OrgsDocument(BlockDoc):
    kind: Literal["orgs"]
    orgs: list[OrgOut] = Field(description="as /v1/orgs answers, at the proven block")


class ContractsDocument(BlockDoc):
    kind: Literal["contracts"]
    contracts: list[dict[str, Value]] = Field(description="as /v1/contracts answers")


class ChainOut(Model):
    height: int
    after: int
    links: Hex = Field(description="the canonical list of ValidatorLinks")


class BatchEventOut(Model):
    tx_index: int
    contract: str
    name: str
    data: dict[str, Value]


class EventBatchOut(Model):
    height: int
    header: Hex
    certificate: Hex
    receipts: list[Hex] = Field(description="every receipt of the block (canonical bytes)")
    events: list[BatchEventOut]


# -- private data (tianfu.api.private, ADR 0023) -------------------------------------------------
class PrivatePutOut(Model):
    contract: str
    hash: Hex = Field(description="the content's SHA-256, as recorded on chain")
    size: int
    stored: bool = Field(description="false if this node held the content already")


class PrivateReadOut(Model):
    contract: str
    hash: Hex
    size: int
    sealed: Hex = Field(description="the plaintext sealed to the request's reply key")


class PrivateWrapOut(Model):
    contract: str
    hash: Hex
    org: str = Field(description="the organisation the content key is wrapped for")
    public_key: Hex = Field(description="that organisation's registered data key (X25519)")
    wrapped: Hex = Field(description="the content key sealed to that key")


class PrivateKeyOut(Model):
    org: str
    public_key: Hex
    registered: bool = Field(description="whether the chain's registry holds this key")


class PrivateKeysOut(Model):
    keys: list[PrivateKeyOut]


class PrivateStatusOut(Model):
    orgs: list[str] = Field(description="the organisations this node keeps content for")
    records: int
    bytes: int
    by_org: dict[str, int] = Field(description="bytes kept per writing organisation")
    wanted: int = Field(description="records this node is still fetching from peers")
    stats: dict[str, int] = Field(description="counters: served, refused, fetched, ...")


class PrivateRecordOut(Model):
    contract: str
    hash: Hex
    size: int
    owner: str
    org: str
    readers: list[str]
    purged: bool
    held: bool = Field(description="whether this node holds the content")


def documented(model: type[BaseModel], *errors: int, status: int = 200) -> dict[str, Any]:
    """Route keywords that document `model` as the answer (and `errors` as `ErrorOut`),
    without validating answers at run time."""
    responses: dict[int | str, dict[str, Any]] = {status: {"model": model}}
    for code in errors:
        responses[code] = {"model": ErrorOut}
    return {"response_model": None, "responses": responses}
