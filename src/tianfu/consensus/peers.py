"""Consensus gossip with peers: checks inbound frames, answers laggards, re-sends and relays.

`PeerGossip` is the driver's component facing the network (CometBFT's reactor idea). It
keeps its own per-peer state — a token bucket per peer, when each peer was last answered
or asked for a commit, a cache of verified signatures, this node's own signed messages of
the current height — and talks to the driver only through `GossipHost`, and to the core
only through the read-only `ConsensusView` (`height`, `round`, `step`, `decided`,
`validator`, `knows`, `round_messages`).

Inbound frames (`handle_frame`, the p2p handler) are untrusted: rate-limited per peer,
decoded with size limits, dropped if malformed, of another chain, from a non-validator,
wrongly signed, for a far-future height or already known; drops are counted in `stats`.
A message from a lower height is answered with a `KIND_COMMIT` frame (block +
certificate), at most `ANSWER_RATE` a second per peer; messages from higher heights make the node ask for its own height's commit.
Outbound: the node's own signed messages are broadcast and kept for re-sending; while the
core makes no progress for a gossip interval, `tick` re-sends them and relays the round's
proposal and votes. The kind numbers equal `tianfu.p2p.protocol.KIND_*` (a test checks it):
consensus does not import p2p.

Proposals carry their block (up to `max_block_bytes`), so gossip keeps them from being
moved and decoded again and again: a proposal frame whose signed header (`ProposalHead`,
read without copying the block) names a proposal with its block already given to the core
at this height is dropped before it is decoded, and a large proposal is re-sent or relayed
on the 1st, 2nd, 4th, 8th ... tick without progress at its height, not on every one.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Protocol

import msgspec

from tianfu.codec import CodecError, check_version, decode, encode
from tianfu.consensus.clock import Timers
from tianfu.consensus.core import MAX_FUTURE_ROUNDS
from tianfu.consensus.interfaces import BytesCheck, FrameNetwork
from tianfu.consensus.messages import (
    MAX_BLOCK_BYTES,
    CommitReceived,
    Proposal,
    ProposalReceived,
    VoteReceived,
    message_signing_bytes,
)
from tianfu.consensus.signguard import SignGuard
from tianfu.crypto.suite import verify as crypto_verify
from tianfu.ratelimit import TokenBucket
from tianfu.types import PREVOTE, CommitCertificate, Validator, Vote, VoteDomain

log = logging.getLogger(__name__)

KIND_PROPOSAL = 2  # == tianfu.p2p.protocol.KIND_PROPOSAL
KIND_VOTE = 3  # == tianfu.p2p.protocol.KIND_VOTE
KIND_COMMIT = 8  # == tianfu.p2p.protocol.KIND_COMMIT
MAX_VOTE_FRAME = 1024
MAX_PROPOSAL_FRAME = MAX_BLOCK_BYTES + 4096
MAX_COMMIT_FRAME = MAX_BLOCK_BYTES + (1 << 20)
MAX_RELAY = 64
MAX_OWN_KEPT = 12
MAX_HELD_PROPOSALS = 256  # headers of proposals (with their blocks) given to the core
BACKOFF_BYTES = 64 << 10  # proposal frames at least this large are re-sent with backoff
MAX_BUCKETS = 4096  # peers kept in a `PeerBucketTable` or a `PeerHeightTimes`
MAX_HEIGHTS_PER_PEER = 64  # heights kept per peer in a `PeerHeightTimes`
EVICT_SCAN = 64  # least recently used buckets looked at for a full one to forget
# Commits (block + certificate, read from the store on the event loop) sent to one peer: a
# laggard needs one per height it is behind, once per gossip interval; a peer further
# behind catches up by block sync. Without this a peer's cheap frames naming old heights
# (votes are not checked before) would each cost a store read and a block sent back.
ANSWER_RATE = 10.0  # per second and peer
ANSWER_BURST = 10

Verifier = Callable[[int, bytes, bytes, bytes], bool]  # (scheme, public key, message, signature)


class PeerBucketTable:
    """Token buckets by peer address, at most `max_peers` of them.

    A peer's bucket is kept while it sends (each use makes it the most recently used).
    When a new peer would exceed the bound, a full bucket among the `EVICT_SCAN` least
    recently used is forgotten (a new one would be the same), else the least recently used
    one: an organisation minting many node certificates pushes out only idle peers'
    buckets, never the buckets of the peers sending now (they keep their limits).
    """

    def __init__(self, rate: float, burst: float, max_peers: int = MAX_BUCKETS) -> None:
        if max_peers < 1:
            raise ValueError("max_peers must be >= 1")
        self.rate, self.burst, self.max_peers = rate, burst, max_peers
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, address: object) -> bool:
        return address in self._buckets

    def get(self, address: str, now: float) -> TokenBucket:
        """The bucket of `address` (a new, full one if it has none)."""
        bucket = self._buckets.get(address)
        if bucket is not None:
            self._buckets.move_to_end(address)
            return bucket
        if len(self._buckets) >= self.max_peers:
            self._evict(now)
        bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, now)
        return bucket

    def _evict(self, now: float) -> None:
        for i, (address, bucket) in enumerate(self._buckets.items()):
            if i >= EVICT_SCAN:
                break
            if bucket.is_full(now):
                del self._buckets[address]
                return
        self._buckets.popitem(last=False)


class PeerHeightTimes:
    """When something was last done for each (peer, height): a commit answered to a peer,
    our own commit asked of it. At most `per_peer` heights per peer (a peer's new height
    forgets its own oldest one) and `max_peers` peers (the least recently used is
    forgotten), so that one peer, or many new addresses, cannot make the others forget.
    Forgetting an entry only lets its action happen once more."""

    def __init__(self, per_peer: int = MAX_HEIGHTS_PER_PEER, max_peers: int = MAX_BUCKETS) -> None:
        if per_peer < 1 or max_peers < 1:
            raise ValueError("per_peer and max_peers must be >= 1")
        self.per_peer, self.max_peers = per_peer, max_peers
        self._peers: OrderedDict[str, OrderedDict[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(heights) for heights in self._peers.values())

    def once_per(self, interval: float, peer: str, height: int, now: float) -> bool:
        """Whether (peer, height) was not done in the last `interval` seconds; if so, it
        is marked done at `now`."""
        heights = self._peers.get(peer)
        if heights is None:
            if len(self._peers) >= self.max_peers:
                self._peers.popitem(last=False)
            heights = self._peers[peer] = OrderedDict()
        else:
            self._peers.move_to_end(peer)
        last = heights.get(height)
        if last is not None and now - last < interval:
            return False
        heights.pop(height, None)
        if len(heights) >= self.per_peer:
            heights.popitem(last=False)
        heights[height] = now
        return True

    def forget(self, peer: str, height: int) -> None:
        """(peer, height) counts as not done."""
        heights = self._peers.get(peer)
        if heights is not None:
            heights.pop(height, None)


class CommitFrame(msgspec.Struct, array_like=True, frozen=True):
    """KIND_COMMIT payload: a committed block with its certificate, or (block=b"",
    certificate=None) a request for the commit of `height`."""

    version: int
    height: int
    block: Annotated[bytes, msgspec.Meta(max_length=MAX_BLOCK_BYTES)] = b""
    certificate: CommitCertificate | None = None

    def validate(self) -> None:
        check_version(self)
        if self.height < 1:
            raise ValueError("commit frame height must be >= 1")
        if self.certificate is None:
            if self.block:
                raise ValueError("a commit frame with a block needs its certificate")
            return
        self.certificate.validate()
        if self.certificate.height != self.height or not self.block:
            raise ValueError("commit frame certificate does not match its height or block")


class ProposalHead(msgspec.Struct, array_like=True, frozen=True):
    """A `Proposal` frame read without its block: `block` is a view of the frame's bytes."""

    version: int
    chain_id: str
    height: int
    round: int
    pol_round: int
    block_hash: bytes
    block: msgspec.Raw
    proposer: bytes
    signature: bytes


ProposalKey = tuple[str, int, int, int, bytes, bytes, bytes]


def proposal_key(p: Proposal | ProposalHead) -> ProposalKey:
    """What identifies a signed proposal apart from its block bytes (bound by the hash)."""
    return (p.chain_id, p.height, p.round, p.pol_round, p.block_hash, p.proposer, p.signature)


def head_key(payload: bytes) -> ProposalKey | None:
    """The key of a proposal frame without decoding its block (None if it does not parse)."""
    try:
        head = msgspec.msgpack.decode(payload, type=ProposalHead)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return proposal_key(head)


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class ConsensusView(Protocol):
    """The read-only part of `ConsensusCore` that gossip looks at."""

    @property
    def height(self) -> int: ...
    @property
    def round(self) -> int: ...
    @property
    def step(self) -> int: ...
    @property
    def decided(self) -> bytes | None: ...
    def validator(self, public_key: bytes) -> Validator | None: ...
    def knows(self, msg: Vote | Proposal) -> bool: ...
    def round_messages(self) -> list[Vote | Proposal]: ...


class GossipHost(Protocol):
    """What gossip asks of the driver."""

    def consensus(self) -> ConsensusView | None:
        """The core of the height being decided (None: not running)."""
        ...

    def height_started(self) -> float:
        """When (`Timers.now`) the current height began."""
        ...

    def sign_guard(self) -> SignGuard | None: ...

    def deliver(self, event: VoteReceived | ProposalReceived) -> bool:
        """Queue a checked message for the core; False if the inbound queue is full."""
        ...

    def deliver_commit(self, event: CommitReceived) -> bool:
        """Queue a peer's block + certificate of our height (checked by the core); False if
        the inbound queue is full."""
        ...

    def decided_bytes(self, height: int, block_hash: bytes, block: bytes) -> None:
        """A peer's bytes for the block decided at `height` (`block_hash`), unchecked:
        taken (after their check against the hash) only if the bytes held are unusable."""
        ...

    def load_commit(self, height: int) -> tuple[bytes, CommitCertificate] | None:
        """The stored block bytes and certificate of `height`, if stored."""
        ...


def signer_of(msg: Vote | Proposal) -> bytes:
    return msg.validator if isinstance(msg, Vote) else msg.proposer


class OwnSignatures(Protocol):
    """Where gossip reports messages signed by this node's own key (`Signer`)."""

    def beyond(self, height: int, round: int, step: int) -> bool:
        """Whether such a message is one this node's signer did not sign."""
        ...

    def found_own(self, height: int, round: int, step: int, where: str) -> None:
        """One of them, its signature verified."""
        ...


class PeerGossip:
    """Inbound consensus frames and outbound gossip, with per-peer state of its own."""

    def __init__(
        self,
        host: GossipHost,
        network: FrameNetwork,
        chain: VoteDomain | str,
        my_key: bytes | None,
        *,
        timers: Timers,
        stats: Counter[str],
        verifier: Verifier | None = None,
        peer_rate: float = 500.0,
        peer_burst: float = 1000.0,
        interval: float = 0.5,
    ) -> None:
        self.host, self.network = host, network
        self.domain = VoteDomain.of(chain)  # what votes sign (a bare chain id: genesis v1)
        self.chain_id, self.my_key = self.domain.chain_id, my_key
        self.timers, self.stats = timers, stats
        self._verifier = verifier or crypto_verify
        self.peer_rate, self.peer_burst = peer_rate, peer_burst
        self.interval = interval  # seconds without progress before re-sending
        self._buckets = PeerBucketTable(peer_rate, peer_burst)
        self._answer_buckets = PeerBucketTable(ANSWER_RATE, ANSWER_BURST)
        self._answered = PeerHeightTimes()  # commits sent to lagging peers
        self._requested = PeerHeightTimes()  # our commit asked of peers ahead
        self._verify_cache: OrderedDict[tuple[int, bytes, bytes, bytes], bool] = OrderedDict()
        self._own: list[tuple[int, int, bytes, ProposalKey | None]] = []  # of this height
        # proposals of this height whose blocks the core was given: copies are not decoded
        self._held: OrderedDict[ProposalKey, None] = OrderedDict()
        self._stuck_ticks: dict[ProposalKey, int] = {}  # large proposals: ticks while stuck
        self._progress: tuple[int, int, int] = (0, -1, 0)
        # Whether a block's bytes are the block of its hash (the driver sets the ledger's):
        # bytes that are not are stripped before the core sees them and never held.
        self.bytes_check: BytesCheck | None = None
        # Told of messages of this node's key that its signer did not sign (a stale signer
        # state: data put back from a backup, or the key in use elsewhere).
        self.own: OwnSignatures | None = None

    # ------------------------------------------------------------ inbound frames

    def handle_frame(self, peer: Any, kind: int, payload: bytes) -> None:
        """The p2p handler for KIND_PROPOSAL / KIND_VOTE / KIND_COMMIT (never raises)."""
        core = self.host.consensus()
        if core is None:
            return
        if kind not in (KIND_PROPOSAL, KIND_VOTE, KIND_COMMIT):
            self.stats["dropped_kind"] += 1
            return
        now = self.timers.now()
        address = str(getattr(peer, "address", peer))
        if not self._buckets.get(address, now).take(now):
            self.stats["dropped_rate_limited"] += 1
            return
        if kind == KIND_PROPOSAL and self._held:
            key = head_key(payload)
            if key is not None and key in self._held:
                self.stats["duplicate_proposal_frames"] += 1
                return
        msg: Vote | Proposal | CommitFrame
        try:
            if kind == KIND_VOTE:
                msg = decode(payload, Vote, max_size=MAX_VOTE_FRAME)
            elif kind == KIND_PROPOSAL:
                msg = decode(payload, Proposal, max_size=MAX_PROPOSAL_FRAME)
            else:
                msg = decode(payload, CommitFrame, max_size=MAX_COMMIT_FRAME)
        except (CodecError, ValueError):
            self.stats["dropped_malformed"] += 1
            return
        if isinstance(msg, CommitFrame):
            self._on_commit_frame(core, address, msg, now)
        elif msg.chain_id != self.chain_id:
            self.stats["dropped_wrong_chain"] += 1
        else:
            self._on_message(core, address, msg, now)

    def _on_message(
        self, core: ConsensusView, address: str, msg: Vote | Proposal, now: float
    ) -> None:
        guard = self.host.sign_guard()
        if guard is not None and guard.listening:
            self._observe(core, guard, msg)
        elif self.my_key is not None and self.my_key == signer_of(msg):
            self._own_message(core, msg)
        h = core.height
        since = now - self.host.height_started()
        if msg.height < h:
            self.stats["dropped_old_height"] += 1
            # A vote of the height we have just decided is normally only late (the last
            # precommits arrive after the quorum): its sender decides too. Only a peer still
            # voting there a gossip interval later, or further behind, is sent the commit.
            if msg.height < h - 1 or since > self.interval:
                self._answer(address, msg.height, now)
            return
        if msg.height > h + 1 or (msg.height == h + 1 and since > self.interval):
            self._request(address, h, now)  # the peer is ahead of us: ask for our commit
        if msg.height > h + 1:
            self.stats["dropped_future_height"] += 1
            return
        signer = msg.validator if isinstance(msg, Vote) else msg.proposer
        val = core.validator(signer)
        if val is None:
            self.stats["dropped_not_validator"] += 1
            return
        if msg.height == h:
            if core.knows(msg):
                self._hold(msg)
                self.stats["duplicate"] += 1
                return
            if not self.verify(val.scheme, signer, self._signed(msg), msg.signature):
                self.stats["dropped_bad_signature"] += 1
                return
            if isinstance(msg, Proposal) and not self._bytes_ok(msg.block_hash, msg.block):
                self.stats["proposal_bytes_wrong"] += 1
                msg = msgspec.structs.replace(msg, block=b"")  # the proposal, not the bytes
                if core.knows(msg):
                    self.stats["duplicate"] += 1
                    return
        event = VoteReceived(msg) if isinstance(msg, Vote) else ProposalReceived(msg)
        if not self.host.deliver(event):
            self.stats["dropped_queue_full"] += 1
            return
        if msg.height == h and msg.round <= max(core.round, 0) + MAX_FUTURE_ROUNDS:
            self._hold(msg)  # (the core keeps no proposal of a round further ahead)
        self.stats["accepted"] += 1

    def _bytes_ok(self, block_hash: bytes, block: bytes) -> bool:
        """Whether `block` (if any) may be the bytes of `block_hash` (`bytes_check`)."""
        return not block or self.bytes_check is None or self.bytes_check(block_hash, block)

    def _hold(self, msg: Vote | Proposal) -> None:
        """A validly signed proposal of our height, with its block, is the core's (queued or
        held): further copies of it are dropped before decoding until the next height."""
        if isinstance(msg, Vote) or not msg.block:
            return
        self._held[proposal_key(msg)] = None
        if len(self._held) > MAX_HELD_PROPOSALS:
            self._held.popitem(last=False)

    def release(self, block_hash: bytes) -> None:
        """The bytes a held proposal of `block_hash` carried were not its block: copies
        of it are decoded again (one of them carries the block)."""
        for key in [k for k in self._held if k[4] == block_hash]:
            del self._held[key]

    def _on_commit_frame(
        self, core: ConsensusView, address: str, f: CommitFrame, now: float
    ) -> None:
        if f.certificate is None:
            if f.height < core.height:
                self._answer(address, f.height, now)
            return
        if f.height == core.height and f.certificate.block_hash == core.decided and f.block:
            # (a commit of our decided height: its bytes, should ours not be usable)
            self.host.decided_bytes(f.height, core.decided, f.block)
            return
        if f.height != core.height or core.decided is not None:
            self.stats["dropped_commit_frame"] += 1
            return
        if f.certificate.chain_id != self.chain_id:
            self.stats["dropped_wrong_chain"] += 1
            return
        guard = self.host.sign_guard()
        if guard is not None and guard.listening:
            self._observe_certificate(core, guard, f.certificate)
        else:
            self._own_in_certificate(core, f.certificate)
        block = f.block
        if not self._bytes_ok(f.certificate.block_hash, block):
            self.stats["commit_bytes_wrong"] += 1
            block = b""  # the certificate, not these bytes
        if not self.host.deliver_commit(CommitReceived(block, f.certificate)):
            self.stats["dropped_queue_full"] += 1
            return
        self.stats["commit_frames"] += 1

    def _signed(self, msg: Vote | Proposal) -> bytes:
        return message_signing_bytes(msg, self.domain)

    def _observe(self, core: ConsensusView, guard: SignGuard, msg: Vote | Proposal) -> None:
        """Tell the signer-recovery guard where a validly signed message's signer was."""
        signer = msg.validator if isinstance(msg, Vote) else msg.proposer
        val = core.validator(signer)
        if val is None or not self.verify(val.scheme, signer, self._signed(msg), msg.signature):
            return
        guard.observe(signer, msg.height, msg.round)

    def _observe_certificate(
        self, core: ConsensusView, guard: SignGuard, cert: CommitCertificate
    ) -> None:
        """Our own precommit in a peer's certificate: a signature the guard must know of."""
        if self._holds_own_precommit(core, cert):
            guard.own_signature(cert.height, cert.round)

    def _own_message(self, core: ConsensusView, msg: Vote | Proposal) -> None:
        """A message signed by this node's key: reported if its signer did not sign it."""
        own = self.own
        step = 0 if isinstance(msg, Proposal) else (1 if msg.type == PREVOTE else 2)
        if own is None or not own.beyond(msg.height, msg.round, step):
            return
        val = core.validator(signer_of(msg))
        if val is not None and self.verify(
            val.scheme, val.public_key, self._signed(msg), msg.signature
        ):
            own.found_own(msg.height, msg.round, step, "a peer's message")

    def _own_in_certificate(self, core: ConsensusView, cert: CommitCertificate) -> None:
        """Our own precommit in a peer's certificate: reported if our signer did not sign it."""
        own = self.own
        if own is None or self.my_key is None or not own.beyond(cert.height, cert.round, 2):
            return
        if self._holds_own_precommit(core, cert):
            own.found_own(cert.height, cert.round, 2, "a peer's certificate")

    def _holds_own_precommit(self, core: ConsensusView, cert: CommitCertificate) -> bool:
        """Whether `cert` holds a precommit of this node's key whose signature verifies."""
        for cs in cert.signatures:
            if cs.validator != self.my_key:
                continue
            val = core.validator(cs.validator)
            if val is not None and self.verify(
                val.scheme, cs.validator, cert.signing_bytes(cs, self.domain), cs.signature
            ):
                return True
        return False

    def _answer(self, address: str, height: int, now: float) -> None:
        """Send a lagging peer the committed block + certificate of `height` (rate-limited)."""
        if not self._answered.once_per(self.interval, address, height, now):
            return
        if not self._answer_buckets.get(address, now).take(now):
            self._answered.forget(address, height)  # not answered: may ask again
            self.stats["answers_rate_limited"] += 1
            return
        stored = self.host.load_commit(height)
        if stored is None:
            return
        frame = CommitFrame(1, height, stored[0], stored[1])
        self.network.send(address, KIND_COMMIT, encode(frame))
        self.stats["commits_sent"] += 1

    def request_commit(self, height: int) -> None:
        """Ask every peer for the commit (block + certificate) of `height`."""
        self.network.broadcast(KIND_COMMIT, encode(CommitFrame(1, height)))
        self.stats["commits_requested"] += 1

    def _request(self, address: str, height: int, now: float) -> None:
        if not self._requested.once_per(self.interval, address, height, now):
            return
        self.network.send(address, KIND_COMMIT, encode(CommitFrame(1, height)))
        self.stats["commits_requested"] += 1

    def verify(self, scheme: int, public_key: bytes, msg: bytes, sig: bytes) -> bool:
        """Check a signature, remembering recent answers (the same vote arrives many times)."""
        key = (scheme, public_key, msg, sig)
        ok = self._verify_cache.get(key)
        if ok is None:
            ok = self._verifier(scheme, public_key, msg, sig)
            self._verify_cache[key] = ok
            if len(self._verify_cache) > 8192:
                self._verify_cache.popitem(last=False)
        return ok

    def known(self, scheme: int, public_key: bytes, msg: bytes, sig: bytes) -> bool:
        """Whether `verify` (this gossip's verifier) found this signature valid and still
        remembers it; any thread (one lookup, atomic under the GIL). For the precommits of
        a block's `last_commit`, which this node verified when they arrived as votes."""
        return self._verify_cache.get((scheme, public_key, msg, sig)) is True

    # ------------------------------------------------------------ sending and gossip

    def broadcast_own(self, msg: Vote | Proposal) -> None:
        """Send one of this node's signed messages and keep it for re-sending."""
        kind = KIND_VOTE if isinstance(msg, Vote) else KIND_PROPOSAL
        payload = encode(msg)
        self.network.broadcast(kind, payload)
        key = None
        if isinstance(msg, Proposal):
            key = proposal_key(msg)
            self._hold(msg)
        self._own.append((msg.round, kind, payload, key))
        if len(self._own) > MAX_OWN_KEPT:
            del self._own[0]

    def new_height(self) -> None:
        """The node moved to another height: its own messages are no longer re-sent, and
        proposals held or re-sent are forgotten."""
        self._own.clear()
        self._held.clear()
        self._stuck_ticks.clear()

    def _due(self, key: ProposalKey, size: int) -> bool:
        """Whether a proposal is re-sent on this tick without progress: a small one always,
        a large one on its 1st, 2nd, 4th, 8th ... such tick at this height."""
        if size < BACKOFF_BYTES:
            return True
        n = self._stuck_ticks[key] = self._stuck_ticks.get(key, 0) + 1
        if len(self._stuck_ticks) > MAX_HELD_PROPOSALS:
            del self._stuck_ticks[next(iter(self._stuck_ticks))]
        if _power_of_two(n):
            return True
        self.stats["proposal_resends_held_back"] += 1
        return False

    def tick(self) -> None:
        """No progress for an interval: re-send our messages, relay the round's messages."""
        core = self.host.consensus()
        if core is None or core.decided is not None:
            return
        state = (core.height, core.round, int(core.step))
        stuck, self._progress = state == self._progress, state
        if not stuck:
            return
        self.stats["gossip_resends"] += 1
        for round, kind, payload, key in self._own:
            if round >= core.round - 1 and (key is None or self._due(key, len(payload))):
                self.network.broadcast(kind, payload)
        sent = 0
        for m in core.round_messages():
            signer = m.validator if isinstance(m, Vote) else m.proposer
            if signer == self.my_key or sent >= MAX_RELAY:
                continue
            if isinstance(m, Proposal) and not self._due(proposal_key(m), len(m.block)):
                continue
            self.network.broadcast(KIND_VOTE if isinstance(m, Vote) else KIND_PROPOSAL, encode(m))
            sent += 1
