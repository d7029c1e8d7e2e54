"""Light-client verification: headers against the trusted validator history, state, tx and
receipt proofs, proof documents and block event batches.

Pure functions over canonical bytes; no I/O except `LightClient.sync`, which fetches the
chain of validator-set changes through a node's API client and verifies every link. The
trust anchor is a genesis the user already trusts (or a bare validator set and chain id);
the light client follows validator-set changes from there (`tianfu.proofs.valchain`, ADR
0017). A header is believed only when a commit certificate carries precommits of more
than 2/3 of the power of the set its height is signed by; a state value, a transaction or
a receipt only when a Merkle proof links it to such a header's roots.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from tianfu.codec import CodecError, decode
from tianfu.crypto import ChainSuite, CryptoError, suite_of
from tianfu.crypto.merkle import merkle_root, verify_merkle_proof
from tianfu.execution.contract_api import state_key
from tianfu.proofs.documents import VerifiedDocument, same_json, verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.formats import MAX_PART_BYTES, MAX_STATE_KEY, ProofBundle, ValidatorLink
from tianfu.proofs.valchain import TrustedHistory, TrustError, TrustOptions, suite_of_set
from tianfu.proofs.values import check_receipt, decode_value_strict, readable
from tianfu.proofs.verify import VerifiedBundle, check_tx_scheme, decode_bundle, verify_bundle
from tianfu.state import StateProof, check_proof
from tianfu.types import (
    BlockHeader,
    CommitCertificate,
    Event,
    Genesis,
    Receipt,
    Transaction,
    ValidatorSet,
    VoteDomain,
)

__all__ = [
    "LightClient",
    "VerificationError",
    "VerifiedBlockEvents",
    "VerifiedTx",
    "VerifiedValue",
    "decode_value",
    "verify_block_events",
    "verify_header_bytes",
    "verify_state_json",
    "verify_state_read",
    "verify_tx_proof",
    "verify_tx_proof_json",
]


@dataclass(frozen=True)
class VerifiedValue:
    contract: str
    key: str
    value: Any  # None when the key is proven absent
    present: bool
    height: int
    header_hash: bytes
    state_root: bytes
    changed_at: int | None = None  # the height of the entry's last change (None: never)
    previous_change: int | None = None


@dataclass(frozen=True)
class VerifiedTx:
    tx: Transaction
    height: int
    index: int
    header_hash: bytes
    receipt: Receipt | None = None  # proven too when the proof carries it


@dataclass(frozen=True)
class VerifiedBlockEvents:
    """Every (matching) event of one block, proven complete by the block's receipts root."""

    height: int
    header_hash: bytes
    receipts: list[Receipt]
    events: list[tuple[int, Event]]  # (tx index, event), in block order


class StateSource(Protocol):
    """Where a light client fetches the validator chain (`tianfu.client.Client` is one)."""

    def validator_chain_raw(self, height: int, after: int = 0) -> dict[str, Any]: ...


F = TypeVar("F", bound=Callable[..., Any])
MAX_TX_INDEX = (1 << 31) - 1  # a proven transaction's index (proofs.md#bundle, `TxInclusion`)


def _suite_of_trust(trust: Any) -> ChainSuite:
    """The chain suite of a trust anchor: a light client's, a genesis's, or a set's keys'."""
    if isinstance(trust, LightClient):
        return trust.suite
    try:
        if isinstance(trust, Genesis):
            return suite_of(trust)
    except CryptoError as exc:
        raise VerificationError(str(exc)) from None
    if isinstance(trust, ValidatorSet):
        return suite_of_set(trust)
    raise VerificationError(f"cannot verify against a {type(trust).__name__}")


def _in_trust_suite(fn: F) -> F:
    """Run a verifier (method of `LightClient`, or function whose first argument is the trust
    anchor) with the chain's hash and signature schemes, whatever this process uses."""

    @functools.wraps(fn)
    def scoped(trust: Any, *args: Any, **kwargs: Any) -> Any:
        with _suite_of_trust(trust).use():
            return fn(trust, *args, **kwargs)

    return scoped  # type: ignore[return-value]


class LightClient:
    """Verifies headers against the validator history it trusts (`TrustedHistory`).

    The history starts at the trust anchor (the genesis set, from height 1) and grows by
    verified links of the validator chain. A header at a height up to `known_until` must
    be signed by exactly the set of its height; beyond it, by the latest trusted set
    (presumed unchanged until shown otherwise). A header naming another set is refused,
    unless the client has a `source` (a node's API client): it then fetches the chain of
    changes up to that height (`sync`), verifies every link, and checks again.
    """

    def __init__(
        self,
        validators: ValidatorSet,
        chain: VoteDomain | str,
        *,
        source: StateSource | None = None,
        history: TrustedHistory | None = None,
        genesis: Genesis | None = None,
    ) -> None:
        if history is None:
            try:
                history = TrustedHistory.from_validator_set(validators, chain)
            except TrustError as exc:
                raise VerificationError(str(exc)) from None
        self.history = history
        self._anchor = copy.deepcopy(history)  # the history before any link was applied
        self.validators = validators  # the trust anchor's set (signs from height 1)
        self.chain_id = VoteDomain.of(chain).chain_id
        self.source = source
        self.genesis = genesis

    @classmethod
    def from_genesis(
        cls,
        genesis: Genesis,
        *,
        source: StateSource | None = None,
        options: TrustOptions | None = None,
    ) -> LightClient:
        history = TrustedHistory.from_genesis(genesis, options)
        return cls(
            genesis.validator_set, genesis.chain_id, source=source, history=history, genesis=genesis
        )

    # -- the trusted history ---------------------------------------------------------------
    @property
    def suite(self) -> ChainSuite:
        """The chain's crypto suite: every check of this client runs with it."""
        return self.history.suite

    @property
    def known_until(self) -> int:
        """The validator sets of the heights up to this one are proven (but for skipped ones)."""
        return self.history.proven_until

    def trusted_sets(self) -> dict[int, ValidatorSet]:
        """The trusted sets by the height from which each signs (the anchor's from 1)."""
        return {c.effective: c.validators for c in self.history.changes}

    def validator_set_at(self, height: int) -> ValidatorSet | None:
        """The proven set that signs block `height`; None if it is not proven."""
        return self.history.exact_set(height) if height >= 1 else None

    # -- headers ---------------------------------------------------------------------------
    @_in_trust_suite
    def verify_header(self, header: BlockHeader, certificate: CommitCertificate) -> None:
        """Raise `VerificationError` unless `certificate` commits exactly `header`, signed by
        more than 2/3 of the validator set in force at its height."""
        if header.chain_id != self.chain_id:
            raise VerificationError(
                f"header is for chain {header.chain_id!r}, not {self.chain_id!r}"
            )
        hist = self.history
        if (
            self.source is not None
            and header.height > hist.proven_until
            and header.validators_hash != hist.set_at(header.height).hash
        ):
            self.sync(self.source, header.height)
        if self.source is not None and hist.skipped_over(header.height):
            # A skipping link took this client past the height: its set is proven by the
            # chain of every change from the trust anchor (this client's history is kept).
            hist = copy.deepcopy(self._anchor)
            hist.apply_links(self._fetch_links(self.source, header.height, hist.last_change))
        hist.check_header(header, certificate, hist.set_at(header.height))

    # -- following validator-set changes ------------------------------------------------------
    @_in_trust_suite
    def apply_links(self, links: list[ValidatorLink]) -> None:
        """Extend the history by the links above the last one applied (each verified)."""
        fresh = [link for link in links if _link_height(link) > self.history.last_link_height]
        self.history.apply_links(fresh)

    @_in_trust_suite
    def sync(self, source: StateSource, up_to_height: int) -> None:
        """Fetch and verify the validator chain needed for headers up to `up_to_height`."""
        self.apply_links(self._fetch_links(source, up_to_height, self.history.last_change))

    @staticmethod
    def _fetch_links(
        source: StateSource, up_to_height: int, last_change: int
    ) -> list[ValidatorLink]:
        """The links of the changes after `last_change` up to `up_to_height` (unverified)."""
        doc = source.validator_chain_raw(up_to_height, after=max(last_change, 0))
        raw = doc.get("links") if isinstance(doc, dict) else None
        if not isinstance(raw, str):
            raise VerificationError("the node sent no validator chain")
        try:
            links: list[ValidatorLink] = decode(
                bytes.fromhex(raw), list[ValidatorLink], max_size=16 << 20
            )
        except (ValueError, CodecError) as exc:
            raise VerificationError(f"malformed validator chain: {exc}") from None
        return links

    # -- bundles ---------------------------------------------------------------------------
    @_in_trust_suite
    def verify_bundle(self, bundle: ProofBundle) -> VerifiedBundle:
        """Verify a proof bundle against this client's history (extended by its chain).

        If that fails, the bundle is verified on its own from the trust anchor: links at
        or below the last one this client applied are not applied again, so a history that
        a skipping link took past some heights could not check a block there, although
        the bundle's own chain proves its set (a bundle valid from the anchor is valid)."""
        try:
            self.apply_links(list(bundle.validators))
            return verify_bundle(msgspec.structs.replace(bundle, validators=[]), self.history)
        except TrustError:
            return verify_bundle(bundle, copy.deepcopy(self._anchor))


def _link_height(link: ValidatorLink) -> int:
    try:
        return decode(link.block.header, BlockHeader).height
    except CodecError as exc:
        raise VerificationError(f"malformed validator-chain header: {exc}") from None


def as_light_client(
    trust: LightClient | Genesis | ValidatorSet, chain_id: VoteDomain | str | None = None
) -> LightClient:
    """A client trusting `trust`. With a bare validator set, `chain_id` says what the
    chain's votes sign: its `VoteDomain` (the genesis's `vote_domain`), or a bare chain id
    for a chain of a version-1 genesis."""
    if isinstance(trust, LightClient):
        return trust
    if isinstance(trust, Genesis):
        named = None if chain_id is None else VoteDomain.of(chain_id).chain_id
        if named is not None and named != trust.chain_id:
            raise VerificationError(f"genesis is for chain {trust.chain_id!r}, not {named!r}")
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
        return decode_value_strict(value_bytes)
    except ValueError as exc:
        raise VerificationError(str(exc)) from None


@_in_trust_suite
def verify_header_bytes(
    light: LightClient, header_bytes: bytes, cert_bytes: bytes, height: int | None = None
) -> BlockHeader:
    header: BlockHeader = _decode(header_bytes, BlockHeader, "header")
    cert: CommitCertificate = _decode(cert_bytes, CommitCertificate, "commit certificate")
    if height is not None and header.height != height:
        raise VerificationError(f"header is for height {header.height}, not {height}")
    light.verify_header(header, cert)
    return header


@_in_trust_suite
def verify_state_read(
    trust: LightClient | Genesis | ValidatorSet,
    chain_id: VoteDomain | str | None,
    contract: str,
    key: str,
    value_bytes: bytes | None,
    proof_bytes: bytes,
    header_bytes: bytes,
    cert_bytes: bytes,
    *,
    height: int | None = None,
) -> VerifiedValue:
    """Check a state read end to end and return the proven value (None when proven absent).

    A value of more than 1 MiB, or a state key of more than 4096 bytes, is refused, as in a
    bundle (proofs.md#bundle: every part held as bytes, a proven value too, and an
    `EntryProof`'s key): no verifier of documents could take its proof."""
    light = as_light_client(trust, chain_id)
    try:
        skey = state_key(contract, key)
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800") is no UTF-8 text
        raise VerificationError(f"{contract!r}/{key!r} is not UTF-8 text") from None
    if len(skey) > MAX_STATE_KEY:
        raise VerificationError(f"a proven state key has at most {MAX_STATE_KEY} bytes")
    if value_bytes is not None and len(value_bytes) > MAX_PART_BYTES:
        raise VerificationError(
            f"the value of {contract}/{key} has {len(value_bytes)} bytes, more than the "
            f"{MAX_PART_BYTES} a proven value may have"
        )
    header = verify_header_bytes(light, header_bytes, cert_bytes, height)
    proof = _decode(proof_bytes, StateProof, "state proof")
    entry = check_proof(header.state_root, skey, proof)
    if entry is None or not entry.holds(value_bytes):
        what = "absence" if value_bytes is None else "value"
        raise VerificationError(
            f"state proof does not prove this {what} of {contract}/{key} at height {header.height}"
        )
    if entry.height is not None and entry.height > header.height:
        # the state of block h holds no later change (proofs.md, as a document's entries)
        raise VerificationError(
            f"the state of block {header.height} shows {contract}/{key} changed at {entry.height}"
        )
    value = None if value_bytes is None else decode_value(value_bytes)
    return VerifiedValue(
        contract,
        key,
        value,
        value_bytes is not None,
        header.height,
        header.hash,
        header.state_root,
        entry.height,
        entry.prev,
    )


@_in_trust_suite
def verify_tx_proof(
    trust: LightClient | Genesis | ValidatorSet,
    chain_id: VoteDomain | str | None,
    tx_bytes: bytes,
    index: int,
    size: int,
    path: list[bytes],
    header_bytes: bytes,
    cert_bytes: bytes,
    *,
    tx_hash: bytes | None = None,
    height: int | None = None,
    receipt_bytes: bytes | None = None,
    receipt_path: list[bytes] | None = None,
) -> VerifiedTx:
    """Check that a transaction (and, if given, its receipt) is in a committed block.

    `index` is in 0 … 2^31 − 1, as in a bundle (proofs.md#bundle), whatever the block's
    tx_count."""
    light = as_light_client(trust, chain_id)
    if type(index) is not int or not 0 <= index <= MAX_TX_INDEX:
        raise VerificationError(f"a transaction index is in 0 … {MAX_TX_INDEX}, not {index!r}")
    tx: Transaction = _decode(tx_bytes, Transaction, "transaction")
    check_tx_scheme(tx)  # a proven transaction is one the chain admits (as in a document)
    if tx_hash is not None and tx.hash != tx_hash:
        raise VerificationError("the proven transaction is not the one asked for")
    header = verify_header_bytes(light, header_bytes, cert_bytes, height)
    if size != header.tx_count:
        raise VerificationError(
            f"proof is for {size} transactions, the block has {header.tx_count}"
        )
    if not verify_merkle_proof(header.tx_root, tx_bytes, index, size, path):
        raise VerificationError("transaction inclusion proof does not match the block's tx root")
    receipt = None
    if receipt_bytes is not None:
        receipt = _decode(receipt_bytes, Receipt, "receipt")
        try:
            check_receipt(receipt)  # status 0 or 1, contract values only (as in a document)
        except ValueError as exc:
            raise VerificationError(str(exc)) from None
        if not verify_merkle_proof(
            header.receipts_root, receipt_bytes, index, size, list(receipt_path or [])
        ):
            raise VerificationError("receipt proof does not match the block's receipts root")
    return VerifiedTx(tx, header.height, index, header.hash, receipt)


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


@_in_trust_suite
def verify_state_json(
    trust: LightClient | Genesis | ValidatorSet,
    doc: dict[str, Any],
    *,
    chain_id: VoteDomain | str | None = None,
    contract: str | None = None,
    key: str | None = None,
    height: int | None = None,
) -> VerifiedValue:
    """Verify a `/v1/state/...?prove=true` response from its raw fields (its readable
    fields are never looked at)."""
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


@_in_trust_suite
def verify_tx_proof_json(
    trust: LightClient | Genesis | ValidatorSet,
    doc: dict[str, Any],
    *,
    chain_id: VoteDomain | str | None = None,
    tx_hash: bytes | None = None,
) -> VerifiedTx:
    """Verify a `GET /v1/txs/{hash}/proof` document (transaction and receipt)."""
    light = as_light_client(trust, chain_id)
    if not isinstance(doc, dict) or doc.get("kind") != "tx":
        raise VerificationError("not a transaction proof document")
    bundle = decode_bundle(_hex(doc, "raw"))
    verified = light.verify_bundle(bundle)
    if len(verified.blocks) != 1 or len(verified.blocks[0].txs) != 1:
        raise VerificationError("a transaction proof holds exactly one transaction")
    block = verified.blocks[0]
    p = block.txs[0]
    if tx_hash is not None and p.tx.hash != tx_hash:
        raise VerificationError("the proven transaction is not the one asked for")
    return VerifiedTx(p.tx, block.header.height, p.index, block.header.hash, p.receipt)


def verify_document_json(
    doc: dict[str, Any] | str | bytes, genesis: Genesis, *, kind: str | None = None
) -> VerifiedDocument:
    """Verify a saved proof document strictly against `genesis` alone."""
    return verify_document(doc, genesis, kind=kind)


@_in_trust_suite
def verify_block_events(
    trust: LightClient | Genesis | ValidatorSet,
    batch: dict[str, Any],
    *,
    chain_id: VoteDomain | str | None = None,
    contract: str | None = None,
    name: str | None = None,
    height: int | None = None,
) -> VerifiedBlockEvents:
    """Verify one block's event batch (`/v1/events/blocks`, `/v1/blocks/{h}/events`): the
    header is certified (and of `height`, when given: the block asked for), the receipts
    are all of the block's (their Merkle root is the header's receipts root) and `events`
    are exactly their events matching the filter."""
    light = as_light_client(trust, chain_id)
    if not isinstance(batch, dict):
        raise VerificationError("an event batch must be a JSON object")
    header = verify_header_bytes(light, _hex(batch, "header"), _hex(batch, "certificate"), height)
    said = batch.get("height")
    if type(said) is not int or said != header.height:  # 2.0 or true is no height
        raise VerificationError("the batch's height is not its header's")
    raw = batch.get("receipts")
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise VerificationError("the batch lists no receipts")
    try:
        encoded = [bytes.fromhex(r) for r in raw]
    except ValueError:
        raise VerificationError("a receipt is not valid hex") from None
    if len(encoded) != header.tx_count or merkle_root(encoded) != header.receipts_root:
        raise VerificationError(
            f"the receipts are not all of block {header.height}'s (receipts root differs)"
        )
    receipts = [_decode(r, Receipt, "receipt") for r in encoded]
    for receipt in receipts:
        try:
            check_receipt(receipt)
        except ValueError as exc:
            raise VerificationError(str(exc)) from None
    events = [
        (i, ev)
        for i, r in enumerate(receipts)
        for ev in r.events
        if (contract is None or ev.contract == contract) and (name is None or ev.name == name)
    ]
    expected = [
        {"tx_index": i, "contract": ev.contract, "name": ev.name, "data": readable(ev.data)}
        for i, ev in events
    ]
    if not same_json(batch.get("events"), expected):
        raise VerificationError(f"the batch's events differ from block {header.height}'s receipts")
    return VerifiedBlockEvents(header.height, header.hash, receipts, events)
