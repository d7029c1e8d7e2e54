"""What the consensus driver needs of the rest of the node: typed protocols it is given.

The driver is written against these and nothing else: the ledger that builds, executes
and stores blocks, the mempool it takes transactions from, the frame network it sends on,
and the timers / worker threads it waits with (`tianfu.consensus.clock`). The node wires
the real ones (`tianfu.ledger.Ledger`, `tianfu.mempool.Mempool`, `tianfu.p2p`); the
deterministic simulator wires in-memory ones. Consensus imports none of those packages.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Protocol, TypeVar, runtime_checkable

from tianfu.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    ConsensusParams,
    Genesis,
    Transaction,
    ValidatorSet,
)

# A transaction -> its signature was already checked (this very transaction: its hash
# covers the body alone, so a hash would vouch for other signature bytes too).
Verified = Callable[[Transaction], bool]
# (scheme, public key, signed bytes, signature) -> this node found the signature valid already
SignatureKnown = Callable[[int, bytes, bytes, bytes], bool]
BytesCheck = Callable[[bytes, bytes], bool]  # (block hash, bytes) -> the bytes are that block


class BlockResultLike(Protocol):
    """The part of an execution result the driver reads: the transactions a proposer
    left out of its block, with why."""

    @property
    def dropped(self) -> list[tuple[bytes, str]]: ...


class ExecutedLike(Protocol):
    """A block executed on top of the stored chain, ready to be committed."""

    @property
    def block(self) -> Block: ...
    @property
    def result(self) -> BlockResultLike: ...


class StoreLike(Protocol):
    """The store reads of the driver: a lagging peer's commit, the recent certificates."""

    def load_block_encoded(self, height: int) -> bytes | None: ...
    def load_header(self, height: int) -> BlockHeader | None: ...
    def load_cert(self, height: int) -> CommitCertificate | None: ...


E = TypeVar("E", bound=ExecutedLike)


class LedgerLike(Protocol[E]):
    """The chain the driver decides blocks for (`tianfu.ledger.Ledger`); `E` is its type
    of executed block, which only it reads."""

    @property
    def chain_id(self) -> str: ...
    @property
    def genesis(self) -> Genesis: ...
    @property
    def store(self) -> StoreLike: ...
    @property
    def height(self) -> int: ...
    def validator_set(self, height: int) -> ValidatorSet: ...
    def params(self, height: int) -> ConsensusParams: ...
    def build_block(
        self, txs: list[Transaction], proposer: bytes, verified: Verified | None = None
    ) -> E: ...
    def execute(
        self,
        block: Block,
        verified: Verified | None = None,
        *,
        signature_known: SignatureKnown | None = None,
    ) -> E: ...
    def commit(self, executed: E, cert: CommitCertificate) -> None: ...


@runtime_checkable
class PipelineLedger(Protocol[E]):
    """A ledger that builds the block after a decided one before that one is stored
    (`tianfu.ledger.Ledger.build_on`): the driver's pipelined heights use it if present."""

    def build_on(
        self,
        parent: E,
        certificate: CommitCertificate,
        txs: list[Transaction],
        proposer: bytes,
        verified: Verified | None = None,
    ) -> E: ...


@runtime_checkable
class BlockBytesLedger(Protocol):
    """A ledger that tells whether bytes are the block of a hash without executing them
    (`tianfu.ledger.Ledger.is_block_of`): a proposal's or certificate's signature covers
    the hash only, so the driver takes a relayed copy's bytes only if they pass."""

    def is_block_of(self, block_hash: bytes, data: bytes) -> bool: ...


class MempoolLike(Protocol):
    """Pending transactions (`tianfu.mempool.Mempool`)."""

    def __len__(self) -> int: ...
    def get(self, tx_hash: bytes) -> Transaction | None: ...
    def take(
        self, max_txs: int, max_bytes: int, skip: Collection[bytes] = ()
    ) -> list[Transaction]: ...
    def remove(self, hashes: Iterable[bytes]) -> None: ...


class FrameNetwork(Protocol):
    """Framed peer messages (`tianfu.p2p`): the kind numbers are in `tianfu.consensus.peers`."""

    def broadcast(self, kind: int, payload: bytes) -> None: ...
    def send(self, peer: str, kind: int, payload: bytes) -> None: ...
