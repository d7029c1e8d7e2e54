"""The ledger of one node: build, verify and commit blocks; read state at any height.

It composes the executor, the Merkle state and the store. A block is committed with its
certificate, receipts, new tree nodes and state updates in one store transaction.

Beside the contracts' writes, the state tree of every block records each transaction it
commits under the reserved key `0x01 ‖ tx hash` (`tianfu.state.keys`), so the absence of
a transaction up to a certified height can be proven. Those entries go to the tree only,
not to the store's table of latest contract values.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tianfu.codec import decode_value, encode
from tianfu.contracts import governance, openprofile
from tianfu.contracts.reviewed_admission import params_from_value, validator_set_from_records
from tianfu.crypto import CertificateError, CryptoError, current_suite, verify_commit
from tianfu.crypto.merkle import merkle_root
from tianfu.crypto.signing import SignatureKnown
from tianfu.execution.contract_api import state_key
from tianfu.execution.executor import BlockOverLimit, BlockResult, Executor, TxInvalid
from tianfu.ledger.blockbytes import is_block_of
from tianfu.ledger.views import _CommitGroup, _LatestCache, _never, _TreeAfter, _VersionCache
from tianfu.state import MerkleState, TreeBatch
from tianfu.state.keys import tree_updates
from tianfu.store import Store
from tianfu.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    ConsensusParams,
    Genesis,
    Transaction,
    ValidatorSet,
)
from tianfu.types.block import BlockBodyMismatch, median_time
from tianfu.types.genesis import decode_genesis

# A transaction's canonical bytes: `Transaction.encoded()` keeps them on the object (computed
# once, or taken from the bytes it was decoded from).
_tx_bytes: Callable[[Transaction], bytes] = Transaction.encoded

# The state format this ledger writes (leaves with history, committed-transaction entries),
# recorded in the store's meta table: a store written in another format is refused.
STATE_FORMAT = b"2"
STATE_FORMAT_META = "state_format"

T = TypeVar("T")

_VALSET_CACHE = 256  # validator sets kept in memory, one per recent state version
_PARAMS_CACHE = 256  # chain parameters kept in memory, one per recent state version
# The largest state value a block may write: far below SQLite's largest value (1e9 bytes),
# so a block that passes this check stores. Contracts' own caps are much lower.
MAX_STATE_VALUE_BYTES = 64 << 20


class InvalidBlock(ValueError):
    """A block whose contents or roots this node does not agree with."""


class InvalidBlockBody(InvalidBlock, BlockBodyMismatch):
    """A block whose transactions are not the ones its header commits to."""


def check_storable(
    result: BlockResult, encoded_receipts: list[bytes], params: ConsensusParams
) -> None:
    """The size rules that make a block storable, on top of execution's own budgets (a
    proposer checks them before it proposes, every validator before it votes). Raises
    InvalidBlock."""
    total = sum(map(len, encoded_receipts))
    if total > params.max_block_receipt_bytes:
        raise InvalidBlock(
            f"block receipts take {total} bytes; the limit is {params.max_block_receipt_bytes}"
        )
    for key, value in result.updates.items():
        if value is not None and len(value) > MAX_STATE_VALUE_BYTES:
            raise InvalidBlock(
                f"block writes a state value of {len(value)} bytes (key {key[:64]!r}); "
                f"the limit is {MAX_STATE_VALUE_BYTES}"
            )


@dataclass
class ExecutedBlock:
    block: Block
    result: BlockResult
    batch: TreeBatch
    # Computed once on the way (roots, size check, replay lookup) and reused by `commit`:
    # the canonical bytes of each transaction and receipt, and each transaction's hash.
    encoded_txs: list[bytes] | None = None
    encoded_receipts: list[bytes] | None = None
    tx_hashes: list[bytes] | None = None


_CONTRACT_NAME = re.compile(rb"[a-z][a-z0-9_]*")


def _encoded_receipts(result: BlockResult) -> list[bytes]:
    """The receipts' canonical bytes (execution encodes them to count the block's budget)."""
    if result.encoded_receipts is not None and len(result.encoded_receipts) == len(result.receipts):
        return result.encoded_receipts
    return list(map(encode, result.receipts))


def executor_for(genesis: Genesis) -> Executor:
    """The executor of `genesis`'s chain, as every ledger of that chain has it."""
    return Executor(
        genesis, governance, open_profile=openprofile if genesis.open is not None else None
    )


class Ledger:
    def __init__(
        self, store: Store, genesis: Genesis, initial_state: Mapping[bytes, bytes] | None = None
    ) -> None:
        """The ledger on `store` for `genesis`.

        `initial_state`: contract entries (`<contract>/<key>` -> value) the genesis state holds
        beside the genesis's own entries, written into version 0 of a new store only (a store
        that holds the genesis already keeps its state). Every node of a chain must be given
        the same entries, or their roots differ from block 1 on; the benchmark's pre-loaded
        state uses it (`tianfu.bench.preload`).
        """
        suite = current_suite()
        if suite.name != genesis.suite:  # every hash and signature check would be wrong
            raise CryptoError(
                f"the genesis names the {genesis.suite!r} crypto suite but this process "
                f"hashes and verifies with {suite.name!r}: choose the chain's suite first "
                "(tianfu.crypto.set_chain_suite, or inside suite.use())"
            )
        self.store = store
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.vote_domain = genesis.vote_domain  # what its votes sign (ADR 0039)
        self.executor = executor_for(genesis)
        self.state = MerkleState(store)
        self.latest = _LatestCache(store)
        self._valsets: _VersionCache[ValidatorSet] = _VersionCache(_VALSET_CACHE)
        self._params: _VersionCache[ConsensusParams] = _VersionCache(_PARAMS_CACHE)
        self._tip: BlockHeader | None = None  # the header this ledger committed last
        self._group: _CommitGroup | None = None  # see `grouped_commits`
        self._init_genesis(initial_state or {})
        # Admission and queries (which pass no parameters) use those of the height asked.
        self.executor.params_at = self.params

    def _init_genesis(self, initial_state: Mapping[bytes, bytes]) -> None:
        stored = self.store.load_genesis()
        if stored is not None:
            if decode_genesis(stored).hash != self.genesis.hash:
                raise InvalidBlock("the store holds a different genesis than the one configured")
            found = self.store.get_meta(STATE_FORMAT_META)
            if found != STATE_FORMAT:
                raise InvalidBlock(
                    f"the store's state tree is in format {(found or b'1').decode()!r}, this "
                    f"node writes format {STATE_FORMAT.decode()!r}: start from a new store"
                )
            return
        updates = self.executor.genesis_updates()
        for key, value in initial_state.items():
            contract, sep, _ = key.partition(b"/")
            if (
                not sep
                or _CONTRACT_NAME.fullmatch(contract) is None
                or contract.decode() in self.executor.native
            ):
                raise InvalidBlock(
                    f"initial state key {key[:64]!r} is not an ordinary contract's key"
                )
            if type(value) is not bytes:
                raise InvalidBlock(f"initial state value of {key[:64]!r} is not bytes")
        updates.update(initial_state)
        batch = self.state.apply(0, updates)
        self.store.save_state_nodes(batch.new_nodes, updates)
        self.state.committed(batch)
        self.store.set_meta(STATE_FORMAT_META, STATE_FORMAT)
        self.store.save_genesis(encode(self.genesis))

    # -- reads -----------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.store.height()

    def head(self) -> BlockHeader | None:
        h = self.store.height()
        if not h:
            return None
        tip = self._tip_at(h)
        return tip if tip is not None else self.store.load_header(h)

    def _mine(self) -> _CommitGroup | None:
        """The commit group this thread has open, if any."""
        group = self._group
        return group if group is not None and group.thread == threading.get_ident() else None

    def _tip_at(self, height: int) -> BlockHeader | None:
        """The header of `height` if it is the one this ledger committed last (as this
        thread sees the store), else None: the store has it."""
        group = self._mine()
        tip = self._tip if group is None else group.tip
        return tip if tip is not None and tip.height == height else None

    def _state_reader(self) -> Callable[[bytes], bytes | None]:
        """Latest state values as this thread sees the store (its commit group's first)."""
        group = self._mine()
        return self.latest.get if group is None else group.get_from(self.latest.get)

    def validator_set(self, height: int) -> ValidatorSet:
        """The validators that sign block `height` (ADR 0012).

        It is the `governance/validators` value of the committed state of height
        `height - 2` (the genesis state for heights 1 and 2): a change written by block H
        signs from H + 2 on. Known up to the committed height + 2; raises InvalidBlock
        beyond. Cached per state version (bounded); committed state never changes.
        """
        return self._governed(
            height,
            "validators",
            self._valsets,
            validator_set_from_records,
            self.genesis.validator_set,
            "no validator set for height {height}",
            "the validator set of height {height} is not determined yet",
        )

    def params(self, height: int) -> ConsensusParams:
        """The chain parameters in force for block `height` (ADR 0012).

        The same rule as `validator_set`: the `governance/params` value of the committed
        state of height `height - 2` (the genesis state for heights 1 and 2), so a change
        approved in block H applies from H + 2 on every node alike. Known up to the
        committed height + 2; raises InvalidBlock beyond. Cached per state version.
        """
        return self._governed(
            height,
            "params",
            self._params,
            lambda value: params_from_value(value, self.genesis.params),
            self.genesis.params,
            "no chain parameters for height {height}",
            "the parameters of height {height} are not determined yet",
        )

    def _governed(
        self,
        height: int,
        key: str,
        cache: _VersionCache[T],
        parse: Callable[[Any], T],
        genesis_value: T,
        missing: str,
        pending: str,
    ) -> T:
        """`governance/<key>` of the committed state of height `height - 2` (the genesis
        state for heights 1 and 2), parsed; `genesis_value` for a state written before the
        value was kept in governance. `missing` and `pending` (formatted with `height`) are
        the InvalidBlock messages for a height below 1 and one beyond the committed height
        + 2. Cached per state version (bounded); committed state never changes."""
        if height < 1:
            raise InvalidBlock(missing.format(height=height))
        version = max(height - 2, 0)
        cached = cache.get(version)
        if cached is not None:
            return cached
        if version > self.store.height():
            raise InvalidBlock(
                f"{pending.format(height=height)} (committed height {self.store.height()})"
            )
        raw = self.state.get(state_key(governance.NAME, key), version)
        value = genesis_value if raw is None else parse(decode_value(raw))
        cache.put(version, value)
        return value

    def prev_hash(self, height: int) -> bytes:
        if height == 1:
            return self.genesis.hash
        header = self._tip_at(height - 1) or self.store.load_header(height - 1)
        if header is None:
            raise InvalidBlock(f"no header at height {height - 1}")
        return header.hash

    # -- blocks ----------------------------------------------------------------------------
    def _committed_lookup(self, tx_hashes: list[bytes]) -> Callable[[bytes], bool]:
        """`store.has_tx` for a block's transactions, answered by one batched lookup.

        A block executes on top of the committed height it extends, whose set of committed
        transactions is fixed: the set taken here answers as per-transaction queries would.
        """
        found = self.store.committed_txs(tx_hashes)
        if not found:
            return _never
        return found.__contains__

    # -- block time (BFT time, ADR 0021) -----------------------------------------------------
    def _last_commit(self, height: int) -> CommitCertificate | None:
        """The stored certificate of `height` - 1 that a new block `height` carries."""
        if height == 1:
            return None
        cert = self.store.load_cert(height - 1)
        if cert is None:
            raise InvalidBlock(f"no certificate at height {height - 1}")
        return cert

    def block_time(self, height: int, last_commit: CommitCertificate | None) -> int:
        """The time of block `height`: the genesis time for block 1, else the weighted median
        of the precommit times in `last_commit` (the certificate of `height` - 1)."""
        if height == 1:
            return self.genesis.time_ms
        if last_commit is None:
            raise InvalidBlock(f"block {height} carries no commit of height {height - 1}")
        try:
            return median_time(last_commit, self.validator_set(height - 1))
        except ValueError as exc:
            raise InvalidBlock(f"last commit: {exc}") from None

    def next_block_time(self) -> int:
        """The time the next block will have (the BFT time of the latest certificate)."""
        height = self.store.height() + 1
        return self.block_time(height, self._last_commit(height))

    def _check_time(
        self,
        h: BlockHeader,
        head: BlockHeader | None,
        last_commit_checked: Callable[[ValidatorSet], bool] | None = None,
        signature_known: SignatureKnown | None = None,
    ) -> None:
        """The time rule: `h.time_ms` is the BFT time its last commit gives, which must be a
        valid certificate of the block before it, and times strictly increase."""
        if h.height > 1:
            if h.last_commit is None:
                raise InvalidBlock(f"block {h.height} carries no commit of height {h.height - 1}")
            validators = self.validator_set(h.height - 1)
            try:
                if last_commit_checked is None or not last_commit_checked(validators):
                    verify_commit(
                        h.last_commit,
                        h.prev_hash,
                        h.height - 1,
                        validators,
                        self.vote_domain,
                        signature_known,
                    )
            except CertificateError as exc:
                raise InvalidBlock(f"last commit: {exc}") from None
        elif h.last_commit is not None:
            raise InvalidBlock("block 1 carries no last commit")
        expected = self.block_time(h.height, h.last_commit)
        if h.time_ms != expected:
            raise InvalidBlock(f"block time {h.time_ms} is not the BFT time {expected}")
        if head is not None and h.time_ms <= head.time_ms:
            raise InvalidBlock("block time does not increase")

    def build_block(
        self,
        txs: list,
        proposer: bytes,
        verified: Callable[[Transaction], bool] | None = None,
    ) -> ExecutedBlock:
        """As proposer: execute the candidate transactions (dropping invalid ones) into a
        block dated with the BFT time of the stored certificate of the previous height."""
        height = self.store.height() + 1
        seen = self._committed_lookup([t.hash for t in txs])
        return self._build(
            height, self._last_commit(height), self.prev_hash(height), txs, proposer, verified,
            self.latest.get, seen, self.state,
        )  # fmt: skip

    def build_on(
        self,
        parent: ExecutedBlock,
        certificate: CommitCertificate,
        txs: list,
        proposer: bytes,
        verified: Callable[[Transaction], bool] | None = None,
    ) -> ExecutedBlock:
        """As proposer, ahead of the store: the block after `parent` — a block executed on
        top of the stored chain and decided with `certificate`, stored meanwhile or not —
        exactly as `build_block(txs, ...)` gives it once `parent` is stored with
        `certificate`. It reads `parent`'s writes and tree nodes before the store's, counts
        its transactions as committed, and writes nothing. Raises InvalidBlock if `parent`
        does not extend the stored chain or `certificate` is not of it."""
        head = parent.block.header
        if certificate.height != head.height or certificate.block_hash != head.hash:
            raise InvalidBlock(f"the certificate is not that of block {head.height}")
        stored = self.store.height()
        if stored == head.height:
            found = self.store.load_header(stored)
            if found is None or found.hash != head.hash:
                raise InvalidBlock(f"another block is stored at height {head.height}")
        elif stored != head.height - 1 or head.prev_hash != self.prev_hash(head.height):
            raise InvalidBlock(f"block {head.height} does not extend the stored chain")
        writes, latest = parent.result.updates, self.latest.get
        in_parent = set(parent.tx_hashes or [t.hash for t in parent.block.txs])
        committed = self._committed_lookup([t.hash for t in txs])

        def read(key: bytes) -> bytes | None:
            return writes[key] if key in writes else latest(key)

        def seen(tx_hash: bytes) -> bool:
            return tx_hash in in_parent or committed(tx_hash)

        tree = _TreeAfter(self.state, parent.batch)
        return self._build(
            head.height + 1, certificate, head.hash, txs, proposer, verified, read, seen, tree
        )

    def _build(
        self,
        height: int,
        last_commit: CommitCertificate | None,
        prev_hash: bytes,
        txs: list,
        proposer: bytes,
        verified: Callable[[Transaction], bool] | None,
        read: Callable[[bytes], bytes | None],
        seen: Callable[[bytes], bool],
        tree: MerkleState,
    ) -> ExecutedBlock:
        """Block `height` of `txs` after `prev_hash`, reading state through `read` and
        `tree` (at version `height` - 1); `seen(hash)`: already committed."""
        time_ms = self.block_time(height, last_commit)
        params = self.params(height)
        result = self.executor.execute_block(
            height,
            time_ms,
            txs,
            read,
            seen,
            proposer_mode=True,
            verified=verified,
            params=params,
        )
        encoded_receipts = _encoded_receipts(result)
        check_storable(result, encoded_receipts, params)
        tx_hashes = [t.hash for t in result.txs]
        batch = tree.apply(height, tree_updates(result.updates, tx_hashes))
        encoded_txs = list(map(_tx_bytes, result.txs))
        header = BlockHeader(
            version=1,
            chain_id=self.chain_id,
            height=height,
            time_ms=time_ms,
            prev_hash=prev_hash,
            tx_root=merkle_root(encoded_txs),
            state_root=batch.root,
            receipts_root=merkle_root(encoded_receipts),
            validators_hash=self.validator_set(height).hash,
            proposer=proposer,
            tx_count=len(result.txs),
            last_commit=last_commit,
        )
        return ExecutedBlock(
            Block(header, result.txs), result, batch, encoded_txs, encoded_receipts, tx_hashes
        )

    def is_block_of(self, block_hash: bytes, data: bytes) -> bool:
        """Whether `data` are the bytes of the block `block_hash` (`blockbytes.is_block_of`)."""
        return is_block_of(block_hash, data)

    def execute(
        self,
        block: Block,
        verified: Callable[[Transaction], bool] | None = None,
        last_commit_checked: Callable[[ValidatorSet], bool] | None = None,
        *,
        signature_known: SignatureKnown | None = None,
    ) -> ExecutedBlock:
        """As validator (or when syncing / replaying): re-execute and check every root.

        `verified(tx)` may say a transaction passed `Executor.check_static` already (its
        expiry window is checked again); `last_commit_checked(validators)` may say the
        header's `last_commit` passed `verify_commit` (for `prev_hash`, the height before)
        against exactly these validators already; `signature_known(key, bytes, signature)`
        may say one of its precommit signatures was verified already (consensus: it
        arrived as a vote), which `verify_commit` then does not verify again."""
        height = self.store.height() + 1
        h = block.header
        if h.chain_id != self.chain_id:
            raise InvalidBlock(f"block for chain {h.chain_id!r}")
        if h.height != height:
            raise InvalidBlock(f"block height {h.height}, expected {height}")
        if h.prev_hash != self.prev_hash(height):
            raise InvalidBlock("block does not extend this chain (prev_hash)")
        self._check_time(h, self.head(), last_commit_checked, signature_known)
        # The body is the header's before anything of it is judged: other transactions
        # under an honest header are other bytes, not an invalid block of this hash.
        if h.tx_count != len(block.txs):
            raise InvalidBlockBody("tx_count does not match the block body")
        params = self.params(height)
        if len(block.txs) > params.max_block_txs:
            raise InvalidBlock(
                f"block holds {len(block.txs)} transactions; the limit is {params.max_block_txs}"
            )
        encoded = list(map(_tx_bytes, block.txs))
        if h.tx_root != merkle_root(encoded):
            raise InvalidBlockBody("transaction root mismatch")
        if sum(len(e) for e in encoded) > params.max_block_bytes:
            raise InvalidBlock(f"block transactions exceed {params.max_block_bytes} bytes")
        if h.validators_hash != self.validator_set(height).hash:
            raise InvalidBlock("block names a different validator set")
        tx_hashes = [t.hash for t in block.txs]
        try:
            result = self.executor.execute_block(
                height,
                h.time_ms,
                list(block.txs),
                self._state_reader(),
                self._committed_lookup(tx_hashes),
                verified=verified,
                params=params,
            )
        except TxInvalid as exc:
            raise InvalidBlock(f"block holds an invalid transaction: {exc}") from None
        except BlockOverLimit as exc:
            raise InvalidBlock(f"block over its limits: {exc}") from None
        encoded_receipts = _encoded_receipts(result)
        check_storable(result, encoded_receipts, params)
        batch = self.state.apply(height, tree_updates(result.updates, tx_hashes))
        if batch.root != h.state_root:
            raise InvalidBlock("state root mismatch: this node computes a different state")
        if merkle_root(encoded_receipts) != h.receipts_root:
            raise InvalidBlock("receipts root mismatch")
        return ExecutedBlock(block, result, batch, encoded, encoded_receipts, tx_hashes)

    def commit(self, executed: ExecutedBlock, cert: CommitCertificate) -> None:
        """Store the block with its certificate, receipts and state, atomically."""
        self.store.save_block(
            executed.block,
            cert,
            executed.result.receipts,
            executed.batch.new_nodes,
            executed.result.updates,
            encoded_txs=executed.encoded_txs,
            encoded_receipts=executed.encoded_receipts,
            tx_hashes=executed.tx_hashes,
        )
        self.state.committed(executed.batch)
        group = self._mine()
        if group is None:
            self.latest.update(executed.result.updates)
            self._tip = executed.block.header
        else:
            group.updates.update(executed.result.updates)
            group.tip = executed.block.header
        self._carry_governed(executed.block.header.height, executed.result.updates)

    @contextmanager
    def grouped_commits(self) -> Iterator[None]:
        """Blocks this thread commits inside the block are stored in ONE store transaction
        (`Store.grouped_writes`): durable together, with one fsync, when the block exits
        normally; if it raises, or the store's COMMIT fails, none of them is stored.

        Meanwhile this thread executes each next block on top of the ones before it (the
        store and the latest values as the group wrote them); other threads see the ledger
        as of before the group until its COMMIT, but for the state tree's node cache and
        the validator sets and parameters of the group's heights, which are exact (keyed by
        height, determined by the certified blocks) and only asked for heights the reader
        knows to be stored; the latter two are dropped if the group is rolled back. Inside
        it this thread only executes and commits blocks (block sync's batches).
        """
        group = _CommitGroup(threading.get_ident())
        try:
            with self.store.grouped_writes():
                self._group = group
                try:
                    yield
                finally:
                    self._group = None
        except BaseException:
            self._valsets = _VersionCache(_VALSET_CACHE)
            self._params = _VersionCache(_PARAMS_CACHE)
            raise
        self.latest.update(group.updates)
        if group.tip is not None:
            self._tip = group.tip

    def _carry_governed(self, version: int, updates: dict[bytes, bytes | None]) -> None:
        """The validator set and parameters of state `version` are those of `version` - 1
        unless its block wrote them: cache them without reading the tree (those of
        `version` - 1 are read first if not cached, so that from then on each next block
        finds its own cached: the blocks ask for state `height` - 2, committed earlier)."""
        if state_key(governance.NAME, "validators") not in updates:
            if self._valsets.get(version - 1) is None:
                self.validator_set(version + 1)  # that of state version - 1
            self._valsets.carry(version)
        if state_key(governance.NAME, "params") not in updates:
            if self._params.get(version - 1) is None:
                self.params(version + 1)
            self._params.carry(version)
