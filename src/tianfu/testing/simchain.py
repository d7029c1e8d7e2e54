"""The simulator's chain: real blocks with BFT time, an in-memory ledger, a virtual-time event loop.

Simulated blocks are real `Block`s without transactions, so that the real consensus driver
decodes, executes and stores them: the header carries the height, the proposer, the BFT
time and the certificate of the previous height, and a `tag` in its state root tells
blocks of one proposer apart (an equivocator's second block). `check_block` is the
ledger's rule for them: the right height and parent, a valid certificate of the previous
block, and the time that certificate's weighted median gives (`median_time`), later than
the previous block's. `SimRules` holds these rules for every node of a simulation (the
validator set of each height, new blocks, the certificate check); `SimLedger` keeps one
node's chain of blocks in memory under them.

`VirtualLoop` is an asyncio event loop whose clock only moves when nothing is ready to
run: it jumps to the next timer at once. `SimTimers` is the driver's `Timers` on it, with
blocking work done inline, so a seed fixes the whole run (no threads, no wall time).

Validators have deterministic Ed25519 keys (`sim_key`); signatures and verifications are
memoised by (key, message[, signature]) since the same messages recur across seeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import selectors
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519

from tianfu.codec import CodecError, decode, encode, hash_domain
from tianfu.consensus.clock import AsyncioTimers
from tianfu.crypto import CertificateError, KeyPair, verify, verify_commit
from tianfu.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    ConsensusParams,
    Genesis,
    ValidatorSet,
)
from tianfu.types.block import block_time_of, median_time, split_block

T = TypeVar("T")

CHAIN_ID = "sim"
GENESIS_TIME_MS = 1_700_000_000_000
GENESIS_HASH = hash_domain("tianfu/sim-genesis/v1", b"")
ZERO = bytes(32)


SIGN_CACHE: dict[tuple[bytes, bytes], bytes] = {}
_VERIFY_CACHE: dict[tuple[bytes, bytes, bytes], bool] = {}
_KEYS: dict[int, KeyPair] = {}


def sim_key(index: int) -> KeyPair:
    """The deterministic Ed25519 key of validator `index`."""
    kp = _KEYS.get(index)
    if kp is None:
        seed = hashlib.sha256(b"tianfu-sim-key-%d" % index).digest()
        kp = KeyPair.from_private(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        _KEYS[index] = kp
    return kp


def cached_sign(kp: KeyPair, msg: bytes) -> bytes:
    key = (kp.public_key, msg)
    sig = SIGN_CACHE.get(key)
    if sig is None:
        sig = kp.sign(msg)
        SIGN_CACHE[key] = sig
    return sig


def cached_verify(scheme: int, public_key: bytes, msg: bytes, sig: bytes) -> bool:
    key = (public_key, msg, sig)
    ok = _VERIFY_CACHE.get(key)
    if ok is None:
        ok = verify(scheme, public_key, msg, sig)
        _VERIFY_CACHE[key] = ok
    return ok


class InvalidSimBlock(ValueError):
    """A simulated block that breaks the chain's rules."""


def tag_root(tag: str) -> bytes:
    """The state root of a simulated block with `tag` (blocks have no state: the tag)."""
    return hash_domain("tianfu/sim-state/v1", tag.encode())


def make_block(
    height: int,
    proposer: bytes,
    validators: ValidatorSet,
    prev_hash: bytes,
    last_commit: CommitCertificate | None,
    tag: str = "",
    prev_validators: ValidatorSet | None = None,
) -> tuple[bytes, bytes]:
    """(hash, encoded block) of a proposer's block at `height`, signed by `validators` and
    dated with BFT time: the median of `last_commit` weighted by the set that signed it
    (`prev_validators`, the set of height - 1; by default the same set)."""
    time_ms = GENESIS_TIME_MS
    if last_commit is not None:
        time_ms = median_time(last_commit, prev_validators or validators)
    header = BlockHeader(
        1,
        CHAIN_ID,
        height,
        time_ms,
        prev_hash,
        ZERO,
        tag_root(tag),
        ZERO,
        validators.hash,
        proposer,
        0,
        last_commit,
    )
    return header.hash, encode(Block(header, []))


def sim_block_time(block: bytes) -> int:
    """The time a simulated block is dated with (-1 if it does not decode)."""
    try:
        return block_time_of(block)
    except CodecError:
        return -1


@dataclass(frozen=True)
class CommitRecord:
    block_hash: bytes
    block: bytes
    certificate: CommitCertificate


def check_block(
    header: BlockHeader,
    prev: CommitRecord | None,
    prev_validators: ValidatorSet,
    cert_error: Callable[[int, CommitRecord], str | None],
) -> None:
    """The ledger's rule for a simulated block on top of `prev`, whose certificate
    `prev_validators` signed (raises InvalidSimBlock)."""
    height = 1 if prev is None else prev.certificate.height + 1
    if header.height != height or header.chain_id != CHAIN_ID:
        raise InvalidSimBlock(f"block of height {header.height}, expected {height}")
    if prev is None:
        if header.prev_hash != GENESIS_HASH or header.last_commit is not None:
            raise InvalidSimBlock("block 1 does not start from genesis")
        if header.time_ms != GENESIS_TIME_MS:
            raise InvalidSimBlock("block 1 is not dated at the genesis time")
        return
    lc = header.last_commit
    if header.prev_hash != prev.block_hash or lc is None or lc.block_hash != prev.block_hash:
        raise InvalidSimBlock("block does not extend this chain")
    error = cert_error(height - 1, CommitRecord(prev.block_hash, prev.block, lc))
    if error is not None:
        raise InvalidSimBlock(f"the certificate it carries is invalid: {error}")
    if header.time_ms != median_time(lc, prev_validators):
        raise InvalidSimBlock("block time is not the BFT time of its certificate")
    if header.time_ms <= sim_block_time(prev.block):
        raise InvalidSimBlock("block time does not increase")


@dataclass(frozen=True)
class Crash:
    """A node crashes now and comes back after `down_ms`."""

    down_ms: int


@dataclass(frozen=True)
class Restart:
    pass


@dataclass(frozen=True)
class Net:
    """A network envelope: `payload` is a Vote, a Proposal or a `CommitFrame` (a block with
    its certificate, or a silent node's probe for the commit of a height)."""

    src: int
    payload: Any
    frame: tuple[int, bytes] | None = None  # the encoded frame, when a driver sent it


@dataclass
class SimResult:
    dropped: list[tuple[bytes, str]] = field(default_factory=list)


@dataclass
class SimExecuted:
    block: Block
    result: SimResult = field(default_factory=SimResult)


_CERT_CACHE: dict[tuple[bytes, bytes, int, bytes], str | None] = {}


class SimRules:
    """The simulated chain's rules, shared by every node of a simulation: the validator set
    of each height (here one set for the whole chain), new blocks and their check, and the
    certificate check (memoised across seeds: the same certificates recur)."""

    def __init__(
        self, validators: ValidatorSet, params: ConsensusParams, genesis_version: int = 1
    ) -> None:
        self.validators = validators
        self.params = params
        # The simulated chain's genesis (its version says what votes sign: ADR 0039).
        # Version 1 by default, so that every seed kept as a regression replays the bytes
        # it was found with; `Simulation(genesis_version=2)` runs a version-2 chain.
        self.genesis = Genesis(
            genesis_version, CHAIN_ID, GENESIS_TIME_MS, [], validators.validators, params
        )
        self.domain = self.genesis.vote_domain
        self.known_blocks: dict[bytes, bytes] = {}  # every block made, by hash

    def validator_set(self, height: int) -> ValidatorSet:
        """The set that signs block `height`."""
        return self.validators

    def new_block(
        self, height: int, proposer: bytes, prev: CommitRecord | None, tag: str = ""
    ) -> tuple[bytes, bytes]:
        """(hash, bytes) of `proposer`'s block at `height` on top of `prev` (None at 1)."""
        h, b = make_block(
            height,
            proposer,
            self.validator_set(height),
            GENESIS_HASH if prev is None else prev.block_hash,
            None if prev is None else prev.certificate,
            tag,
            self.validator_set(height - 1),
        )
        self.known_blocks[h] = b
        return h, b

    def check_block(self, block: Block, prev: CommitRecord | None) -> None:
        """The ledger's rule for `block` on top of `prev` (raises InvalidSimBlock)."""
        height = block.header.height
        check_block(block.header, prev, self.validator_set(height - 1), self.check_cert)

    def check_cert(self, height: int, rec: CommitRecord) -> str | None:
        """Why `rec` is not a valid commit of `height` (None: it is)."""
        valset = self.validator_set(height)
        key = (encode(rec.certificate), rec.block_hash + rec.block, height, valset.hash)
        if key not in _CERT_CACHE:
            try:
                verify_commit(rec.certificate, rec.block_hash, height, valset, self.domain)
                if decode(rec.block, Block).hash != rec.block_hash:
                    raise CertificateError("committed block bytes do not match the hash")
                _CERT_CACHE[key] = None
            except (CertificateError, CodecError) as exc:
                _CERT_CACHE[key] = str(exc)
        return _CERT_CACHE[key]


class SimLedger:
    """One node's chain of simulated blocks (`LedgerLike` and its store) under `rules`.

    `proposal_tag(height)` is what the node's own blocks carry in their tag (nothing by
    default; a stake simulation's evidence)."""

    chain_id = CHAIN_ID

    def __init__(
        self,
        rules: SimRules,
        on_commit: Callable[[int, CommitRecord], None],
        proposal_tag: Callable[[int], str] | None = None,
    ) -> None:
        self.rules = rules
        self.genesis = rules.genesis
        self.vote_domain = rules.domain
        self.commits: dict[int, CommitRecord] = {}
        self._headers: dict[int, BlockHeader] = {}
        self._on_commit = on_commit
        self._tag = proposal_tag

    @property
    def store(self) -> SimLedger:
        return self

    @property
    def height(self) -> int:
        return len(self.commits)

    def validator_set(self, height: int) -> ValidatorSet:
        return self.rules.validator_set(height)

    def params(self, height: int) -> ConsensusParams:
        return self.genesis.params

    def _prev(self) -> CommitRecord | None:
        return self.commits.get(self.height)

    def build_block(self, txs: list[Any], proposer: bytes, verified: Any = None) -> SimExecuted:
        height = self.height + 1
        tag = "" if self._tag is None else self._tag(height)
        _, data = self.rules.new_block(height, proposer, self._prev(), tag)
        return self.execute(_decode(data))

    def is_block_of(self, block_hash: bytes, data: bytes) -> bool:
        """Whether `data` are the simulated block `block_hash` (a header, no transactions)."""
        parts = split_block(data, max_size=1 << 24)
        return parts is not None and parts[0].hash == block_hash and not parts[1]

    def execute(
        self, block: Block, verified: Any = None, *, signature_known: Any = None
    ) -> SimExecuted:
        self.rules.check_block(block, self._prev())
        return SimExecuted(block)

    def commit(self, executed: SimExecuted, cert: CommitCertificate) -> None:
        header = executed.block.header
        if header.height != self.height + 1:
            raise InvalidSimBlock(f"cannot store height {header.height} on {self.height}")
        record = CommitRecord(header.hash, encode(executed.block), cert)
        self.commits[header.height] = record
        self._headers[header.height] = header
        self._on_commit(header.height, record)

    def load_block_encoded(self, height: int) -> bytes | None:
        rec = self.commits.get(height)
        return None if rec is None else rec.block

    def load_header(self, height: int) -> BlockHeader | None:
        return self._headers.get(height)

    def load_cert(self, height: int) -> CommitCertificate | None:
        rec = self.commits.get(height)
        return None if rec is None else rec.certificate


def _decode(data: bytes) -> Block:
    block: Block = decode(data, Block)
    return block


class SimMempool:
    """No transactions: the simulated blocks are empty."""

    def __len__(self) -> int:
        return 0

    def get(self, tx_hash: bytes) -> None:
        return None

    def take(self, max_txs: int, max_bytes: int, skip: Any = ()) -> list[Any]:
        return []

    def remove(self, hashes: Any) -> None:
        return None


class _VirtualSelector(selectors.BaseSelector):
    """A selector with no I/O: `select(timeout)` moves the loop's clock by `timeout`."""

    def __init__(self) -> None:
        self._keys: dict[Any, selectors.SelectorKey] = {}
        self.loop: VirtualLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, 0, events, data)
        self._keys[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert self.loop is not None
        if timeout is None:
            raise RuntimeError("the simulated event loop has nothing left to run")
        self.loop.advance(timeout)
        return []

    def get_map(self) -> Any:
        return self._keys


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: idle waits take no wall time."""

    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds


class SimTimers(AsyncioTimers):
    """The driver's `Timers` on the running (virtual) loop; blocking work runs inline."""

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)
