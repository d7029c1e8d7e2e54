"""Building proof bundles on a node: from its stored blocks and its versioned state tree.

`ProofBuilder` reads through a `ChainReader` (the ledger's store and state on a node, or the
in-memory test chain) and assembles `ProofBundle`s; `document(...)` methods return the JSON
documents (`tianfu.proofs.documents`), verified against the genesis before they are served.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from tianfu.codec import encode
from tianfu.crypto.merkle import merkle_proof
from tianfu.execution.contract_api import state_key
from tianfu.proofs.commit import check_commit
from tianfu.proofs.documents import (
    CONSORTIUM_READS,
    MAX_DOCUMENT_BYTES,
    canonical_json,
    consortium_keys,
    make_document,
)
from tianfu.proofs.formats import (
    BUNDLE_VERSION,
    MAX_BUNDLE_BYTES,
    MAX_ITEMS,
    MAX_LINKS,
    MAX_STATE_KEY,
    BlockProof,
    EntryProof,
    LightBlock,
    ProofBundle,
    TxInclusion,
    ValidatorLink,
)
from tianfu.proofs.valchain import ACTIVATION_DELAY, VALIDATORS_KEY, TrustOptions, validators_value
from tianfu.proofs.values import decode_value_strict
from tianfu.state import MerkleState
from tianfu.state.keys import committed_tx_key
from tianfu.types import Block, BlockHeader, CommitCertificate, Genesis, Receipt, ValidatorSet

SEQUENTIAL = "sequential"
SKIPPING = "skipping"
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 256  # versions per history document (each is a certified block to check)


class ProofUnavailable(LookupError):
    """What was asked cannot be proven here (unknown height or transaction)."""


class Committed(ProofUnavailable):
    """An absence proof was asked for a transaction that is committed."""

    def __init__(self, height: int, index: int) -> None:
        super().__init__(f"the transaction is committed, in block {height} at index {index}")
        self.height = height
        self.index = index


class TooLarge(ProofUnavailable):
    """The proof asked for is more than a verifier takes (the format's size limits)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the proof would need {what}: no verifier would accept it; ask for a skipping "
            "validator chain (mode=skipping), or for an earlier height"
        )


def provable_key(contract: str, key: str) -> bytes:
    """The state key of `contract`'s `key`; ValueError if a proof bundle cannot hold it
    (a verifier refuses a key beyond `MAX_STATE_KEY` bytes, so none is built)."""
    skey = state_key(contract, key)
    if len(skey) > MAX_STATE_KEY:
        raise ValueError(f"a proven state key has at most {MAX_STATE_KEY} bytes, not {len(skey)}")
    return skey


class ChainReader(Protocol):
    """Read access to a node's committed chain."""

    genesis: Genesis
    state: MerkleState

    def height(self) -> int: ...
    def header(self, height: int) -> BlockHeader | None: ...
    def certificate(self, height: int) -> CommitCertificate | None: ...
    def block(self, height: int) -> Block | None: ...
    def receipts(self, height: int) -> list[Receipt] | None: ...
    def tx_position(self, tx_hash: bytes) -> tuple[int, int] | None: ...


@dataclass
class ProofBuilder:
    reader: ChainReader

    def __post_init__(self) -> None:
        # change height -> the change before it (None: the first), read once per change
        self._prev_change: dict[int, int | None] = {}
        # change height -> (scheme, key) of the verified signers of that block (None: not
        # certified here); each certificate is checked once, however many chains use it
        self._signed: dict[int, frozenset[tuple[int, bytes]] | None] = {}
        self._lock = threading.Lock()

    # -- parts ---------------------------------------------------------------------------------
    def check_height(self, height: int) -> None:
        top = self.reader.height()
        if not 1 <= height <= top:
            raise ProofUnavailable(f"no block at height {height} (latest is {top})")

    def light_block(self, height: int, signers: ValidatorSet | None = None) -> LightBlock:
        self.check_height(height)
        header = self.reader.header(height)
        cert = self.reader.certificate(height)
        if header is None or cert is None:
            raise ProofUnavailable(f"no certified block at height {height}")
        return LightBlock(encode(header), encode(cert), b"" if signers is None else encode(signers))

    def entry(self, key: bytes, height: int) -> EntryProof:
        state = self.reader.state
        return EntryProof(key, state.get(key, height), encode(state.prove(key, height)))

    def tx_inclusion(self, height: int, index: int) -> TxInclusion:
        block = self.reader.block(height)
        receipts = self.reader.receipts(height)
        if block is None or receipts is None or not 0 <= index < len(block.txs):
            raise ProofUnavailable(f"no transaction {index} in block {height}")
        txs = [t.encoded() for t in block.txs]
        encoded_receipts = [encode(r) for r in receipts]
        return TxInclusion(
            index,
            txs[index],
            merkle_proof(txs, index),
            encoded_receipts[index],
            merkle_proof(encoded_receipts, index),
        )

    # -- the validator chain ----------------------------------------------------------------------
    def changes_until(self, version: int) -> list[int]:
        """Heights (>= 1) of the validator-set changes in the states up to `version`,
        ascending, from the leaf history of `governance/validators`."""
        state = self.reader.state
        leaf = state.entry(VALIDATORS_KEY, max(version, 0))
        out: list[int] = []
        c = None if leaf is None else leaf.height
        while c is not None and c >= 1:
            out.append(c)
            with self._lock:
                known = c in self._prev_change
                prev = self._prev_change.get(c)
            if not known:
                at = state.entry(VALIDATORS_KEY, c)
                prev = None if at is None else at.prev
                with self._lock:
                    self._prev_change[c] = prev
            c = prev
        return out[::-1]

    def link(self, change: int, signers: ValidatorSet | None = None) -> ValidatorLink:
        e = self.entry(VALIDATORS_KEY, change)
        return ValidatorLink(self.light_block(change, signers), e.value, e.proof)

    def _set_after(self, change: int) -> ValidatorSet:
        """The set written by change `change` (0: the genesis set)."""
        gset = self.reader.genesis.validator_set
        if change <= 0:
            return gset
        return validators_value(self.reader.state.get(VALIDATORS_KEY, change), gset, "in state")

    def validator_chain(
        self,
        target: int,
        *,
        after: int = 0,
        mode: str = SEQUENTIAL,
        trust_level: tuple[int, int] = (1, 3),
    ) -> list[ValidatorLink]:
        """Links proving the validator set of block `target` from the change `after` (0: the
        genesis). Sequential: one link per change. Skipping: from each trusted set, jump to the
        furthest change whose block more than `trust_level` of that set signed."""
        changes = [c for c in self.changes_until(target - ACTIVATION_DELAY) if c > after]
        if mode == SEQUENTIAL:
            return [self.link(c) for c in changes]
        if mode != SKIPPING:
            raise ValueError(f"unknown chain mode {mode!r}")
        num, den = trust_level
        signed = [self._signers(c) for c in changes]  # one certificate check per change
        links: list[ValidatorLink] = []
        trusted = self._set_after(after)
        # the last link's height, and whether the height after it is a hole (passed over
        # by that link, a skipping one, and not proven by the one before)
        last, hole = after, False
        i = 0
        while i < len(changes):
            # The furthest change whose block more than `trust_level` of `trusted` signed
            # (set lookups only: no signature is checked again) and which a verifier takes
            # as a skipping link: not one whose own set is the set the verifier already
            # puts at its height (proofs.md, skipping link rule 2).
            power = {(v.scheme, v.public_key): v.power for v in trusted.validators}
            bar = trusted.total_power * num
            jump = None
            for j in range(len(changes) - 1, i, -1):
                s = signed[j]
                if (
                    s is not None
                    and sum(power.get(k, 0) for k in s) * den > bar
                    and self._skippable(changes[j], last, hole, trusted)
                ):
                    jump = j
                    break
            if jump is None:
                links.append(self.link(changes[i]))
                trusted = self._set_after(changes[i])
                last, hole = changes[i], False
                i += 1
            else:
                c = changes[jump]
                links.append(self.link(c, self._set_at(c)))
                trusted = self._set_after(c)
                hole = not (links[-2:-1] and links[-2].block.signers and last == c - 1)
                last = c
                i = jump + 1
        return links

    def _skippable(self, c: int, last: int, hole: bool, trusted: ValidatorSet) -> bool:
        """Whether a verifier takes a skipping link to the block of change `c`, after a link
        at height `last` (0: the genesis): not if the link's own set is the set the verifier
        already puts at that height (proofs.md, skipping link rule 2). The links so far
        proved every height up to `last + 2` except `last + 1` when it is a `hole`; beyond,
        the verifier presumes `trusted`."""
        if hole and c == last + 1:
            return True  # a height passed over: nothing is presumed there
        if c <= last + ACTIVATION_DELAY:
            return False  # proven exactly: it is the block's own set
        return self._set_at(c).hash != trusted.hash

    def _signers(self, height: int) -> frozenset[tuple[int, bytes]] | None:
        """The verified signers of block `height` (None if it is not certified here)."""
        with self._lock:
            if height in self._signed:
                return self._signed[height]
        cert, header = self.reader.certificate(height), self.reader.header(height)
        out = None
        if cert is not None and header is not None:
            own = self._set_at(height)
            out = frozenset(check_commit(cert, header, own, self.reader.genesis.vote_domain))
        with self._lock:
            self._signed[height] = out
        return out

    def _set_at(self, height: int) -> ValidatorSet:
        """The set that signs block `height` (the ledger's rule)."""
        version = max(height - ACTIVATION_DELAY, 0)
        raw = self.reader.state.get(VALIDATORS_KEY, version)
        return validators_value(raw, self.reader.genesis.validator_set, "in state")

    def _bundle(self, target: int, blocks: list[BlockProof], mode: str = SEQUENTIAL) -> ProofBundle:
        """The bundle, or `TooLarge` if a verifier would refuse its size (so none is served)."""
        links = self.validator_chain(target, mode=mode)
        if len(links) > MAX_LINKS:
            raise TooLarge(f"{len(links)} validator-set changes, more than a bundle's {MAX_LINKS}")
        bundle = ProofBundle(BUNDLE_VERSION, links, blocks)
        if len(encode(bundle)) > MAX_BUNDLE_BYTES:
            raise TooLarge(f"a bundle of more than {MAX_BUNDLE_BYTES} bytes")
        return bundle

    def _doc(self, kind: str, bundle: ProofBundle) -> dict[str, Any]:
        doc = make_document(kind, bundle, self.reader.genesis, TrustOptions())
        # (the readable part is derived from the bundle: only a large one can make the
        # document larger than the limit)
        if len(doc["raw"]) > 1 << 20 and len(canonical_json(doc).encode()) > MAX_DOCUMENT_BYTES:
            raise TooLarge(f"a document of more than {MAX_DOCUMENT_BYTES} bytes")
        return doc

    # -- bundles ------------------------------------------------------------------------------------
    def state_bundle(
        self, reads: list[tuple[str, str]], height: int | None = None, mode: str = SEQUENTIAL
    ) -> ProofBundle:
        h = self.reader.height() if height is None else height
        self.check_height(h)
        if not 1 <= len(reads) <= MAX_ITEMS:
            raise ProofUnavailable(f"a state proof holds 1 to {MAX_ITEMS} entries")
        keys = list(dict.fromkeys(provable_key(c, k) for c, k in reads))
        block = BlockProof(self.light_block(h), [], [self.entry(k, h) for k in keys])
        return self._bundle(h, [block], mode)

    def tx_bundle(self, tx_hash: bytes, mode: str = SEQUENTIAL) -> ProofBundle:
        pos = self.reader.tx_position(tx_hash)
        if pos is None:
            raise ProofUnavailable(f"transaction {tx_hash.hex()} is not committed")
        height, index = pos
        block = BlockProof(self.light_block(height), [self.tx_inclusion(height, index)], [])
        return self._bundle(height, [block], mode)

    def absence_bundle(
        self, tx_hash: bytes, height: int | None = None, mode: str = SEQUENTIAL
    ) -> ProofBundle:
        h = self.reader.height() if height is None else height
        self.check_height(h)
        key = committed_tx_key(tx_hash)
        e = self.entry(key, h)
        leaf = self.reader.state.entry(key, h)
        if leaf is not None:
            index = decode_value_strict(leaf.value) if leaf.value is not None else -1
            raise Committed(leaf.height, index if isinstance(index, int) else -1)
        return self._bundle(h, [BlockProof(self.light_block(h), [], [e])], mode)

    def history_bundle(
        self, contract: str, key: str, height: int | None = None, limit: int = DEFAULT_HISTORY_LIMIT
    ) -> ProofBundle:
        h = self.reader.height() if height is None else height
        self.check_height(h)
        limit = max(1, min(limit, MAX_HISTORY_LIMIT))
        skey = provable_key(contract, key)
        blocks = [BlockProof(self.light_block(h), [], [self.entry(skey, h)])]
        leaf = self.reader.state.entry(skey, h)
        prev = None if leaf is None else leaf.prev
        while prev is not None and len(blocks) < limit and prev >= 1:
            blocks.append(BlockProof(self.light_block(prev), [], [self.entry(skey, prev)]))
            at = self.reader.state.entry(skey, prev)
            prev = None if at is None else at.prev
        return self._bundle(h, blocks)

    def validators_bundle(self, height: int | None = None, mode: str = SEQUENTIAL) -> ProofBundle:
        h = self.reader.height() if height is None else height
        self.check_height(h)
        return self._bundle(h, [BlockProof(self.light_block(h), [], [])], mode)

    def consortium_bundle(
        self, kind: str, height: int | None = None, mode: str = SEQUENTIAL
    ) -> ProofBundle:
        """The entries the /v1/orgs or /v1/contracts answer reads at `height` (kind "orgs" or
        "contracts"): the governance list, then each listed record."""
        h = self.reader.height() if height is None else height
        self.check_height(h)
        list_key = CONSORTIUM_READS[kind][0]
        raw = self.reader.state.get(state_key("governance", list_key), h)
        names = decode_value_strict(raw) if raw is not None else []
        keys = consortium_keys(kind, names)
        if len(keys) > MAX_ITEMS:
            raise ProofUnavailable(f"the {kind} answer reads more than {MAX_ITEMS} entries")
        return self.state_bundle([("governance", k) for k in keys], h, mode)

    def consortium_document(
        self, kind: str, height: int | None = None, mode: str = SEQUENTIAL
    ) -> dict[str, Any]:
        return self._doc(kind, self.consortium_bundle(kind, height, mode))

    # -- documents ----------------------------------------------------------------------------------
    def state_document(
        self, reads: list[tuple[str, str]], height: int | None = None, mode: str = SEQUENTIAL
    ) -> dict[str, Any]:
        return self._doc("state", self.state_bundle(reads, height, mode))

    def tx_document(self, tx_hash: bytes, mode: str = SEQUENTIAL) -> dict[str, Any]:
        return self._doc("tx", self.tx_bundle(tx_hash, mode))

    def absence_document(
        self, tx_hash: bytes, height: int | None = None, mode: str = SEQUENTIAL
    ) -> dict[str, Any]:
        return self._doc("absence", self.absence_bundle(tx_hash, height, mode))

    def history_document(
        self, contract: str, key: str, height: int | None = None, limit: int = DEFAULT_HISTORY_LIMIT
    ) -> dict[str, Any]:
        return self._doc("history", self.history_bundle(contract, key, height, limit))

    def validators_document(
        self, height: int | None = None, mode: str = SEQUENTIAL
    ) -> dict[str, Any]:
        return self._doc("validators", self.validators_bundle(height, mode))
