"""The consensus driver's side facing peers: inbound frames and gossip.

Inbound frames (`handle_frame`, the p2p handler) are untrusted: rate-limited per peer
(token bucket), decoded with size limits, dropped if malformed, of another chain, from a
non-validator, wrongly signed, for a far-future height or already known; drops are
counted in `stats`. A message from a lower height is answered with a `KIND_COMMIT` frame
(block + certificate); messages from higher heights make the node ask for its own
height's commit. Outbound: the node's own signed messages are broadcast and kept for
re-sending; while the core makes no progress for a gossip interval, `_gossip_tick`
re-sends them and relays the round's proposal and votes.

`PeerMessages` is a mixin of `tianfu.consensus.driver.ConsensusDriver`, split out to keep
modules small; it works on the driver's state (initialised by the driver's constructor).
The kind numbers equal `tianfu.p2p.protocol.KIND_*` (a test checks it): consensus does not
import p2p.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict, deque
from typing import Annotated, Any

import msgspec

from tianfu.codec import CodecError, check_version, decode, encode
from tianfu.consensus.core import MAX_FUTURE_ROUNDS, ConsensusCore
from tianfu.consensus.messages import (
    MAX_BLOCK_BYTES,
    CommitReceived,
    Event,
    Proposal,
    ProposalReceived,
    VoteReceived,
)
from tianfu.consensus.signguard import SignGuard
from tianfu.crypto.suite import verify as crypto_verify
from tianfu.types import CommitCertificate, Vote

log = logging.getLogger("tianfu.consensus.driver")  # the driver's logger, as before the split

KIND_PROPOSAL = 2  # == tianfu.p2p.protocol.KIND_PROPOSAL
KIND_VOTE = 3  # == tianfu.p2p.protocol.KIND_VOTE
KIND_COMMIT = 8  # == tianfu.p2p.protocol.KIND_COMMIT
MAX_VOTE_FRAME = 1024
MAX_PROPOSAL_FRAME = MAX_BLOCK_BYTES + 4096
MAX_COMMIT_FRAME = MAX_BLOCK_BYTES + (1 << 20)
MAX_RELAY = 64
MAX_OWN_KEPT = 12

NET, OWN, INTERNAL, REPLAY = "net", "own", "internal", "replay"


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


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.last = rate, burst, burst, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class PeerMessages:
    """Inbound frames and gossip of `ConsensusDriver` (a mixin: the driver owns the state)."""

    # State owned and initialised by ConsensusDriver.__init__.
    core: ConsensusCore | None
    chain_id: str
    ledger: Any
    network: Any
    my_key: bytes | None
    stats: Counter[str]
    peer_rate: float
    peer_burst: float
    max_inbound: int
    gossip_interval: float
    _stopping: bool
    _wake: asyncio.Event | None
    _buckets: dict[str, TokenBucket]
    _answered: dict[tuple[str, int], float]
    _requested: dict[tuple[str, int], float]
    _verify_cache: OrderedDict[tuple[bytes, bytes, bytes], bool]
    _internal: deque[tuple[Event, str]]
    _inbound: deque[tuple[Event, str]]
    _own: list[tuple[int, int, bytes]]
    _progress: tuple[int, int, int]
    _height_since: float
    timeline: Any  # HeightTimeline
    guard: SignGuard | None

    def _guard_tick(self) -> None: ...  # the driver's: a recovering node's round skip

    # ------------------------------------------------------------ inbound frames

    def handle_frame(self, peer: Any, kind: int, payload: bytes) -> None:
        """The p2p handler for KIND_PROPOSAL / KIND_VOTE / KIND_COMMIT (never raises)."""
        core = self.core
        if core is None or self._stopping or self._wake is None:
            return
        if kind not in (KIND_PROPOSAL, KIND_VOTE, KIND_COMMIT):
            self.stats["dropped_kind"] += 1
            return
        now = asyncio.get_running_loop().time()
        address = str(getattr(peer, "address", peer))
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) > 4096:
                self._buckets.clear()
            bucket = self._buckets[address] = TokenBucket(self.peer_rate, self.peer_burst, now)
        if not bucket.take(now):
            self.stats["dropped_rate_limited"] += 1
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
            self._on_commit_frame(address, msg, now)
            return
        if msg.chain_id != self.chain_id:
            self.stats["dropped_wrong_chain"] += 1
            return
        if self.guard is not None and self.guard.listening:
            self._observe(msg)
        h = core.height
        if msg.height < h:
            self.stats["dropped_old_height"] += 1
            # A vote of the height we have just decided is normally only late (the last
            # precommits arrive after the quorum): its sender decides too. Only a peer still
            # voting there a gossip interval later, or further behind, is sent the commit.
            if msg.height < h - 1 or now - self._height_since > self.gossip_interval:
                self._answer(address, msg.height, now)
            return
        if msg.height > h + 1 or (
            msg.height == h + 1 and now - self._height_since > self.gossip_interval
        ):
            self._request(address, h, now)  # the peer is ahead of us: ask for our commit
        if msg.height > h + 1:
            self.stats["dropped_future_height"] += 1
            return
        signer = msg.validator if isinstance(msg, Vote) else msg.proposer
        val = next((v for v in core.validators.validators if v.public_key == signer), None)
        if val is None:
            self.stats["dropped_not_validator"] += 1
            return
        if msg.height == h:
            if self._known(msg):
                self.stats["duplicate"] += 1
                return
            if not self._verify(val.scheme, signer, msg.signing_bytes(), msg.signature):
                self.stats["dropped_bad_signature"] += 1
                return
        if len(self._inbound) >= self.max_inbound:
            self.stats["dropped_queue_full"] += 1
            return
        if isinstance(msg, Vote):
            event: VoteReceived | ProposalReceived = VoteReceived(msg)
        else:
            event = ProposalReceived(msg)
            if msg.height == h:
                self.timeline.mark("proposal_in", now)
        self._inbound.append((event, NET))
        self.stats["accepted"] += 1
        self._wake.set()

    def _on_commit_frame(self, address: str, f: CommitFrame, now: float) -> None:
        core = self.core
        assert core is not None and self._wake is not None
        if f.certificate is None:
            if f.height < core.height:
                self._answer(address, f.height, now)
            return
        if f.height != core.height or core.decided is not None:
            self.stats["dropped_commit_frame"] += 1
            return
        if f.certificate.chain_id != self.chain_id:
            self.stats["dropped_wrong_chain"] += 1
            return
        if self.guard is not None and self.guard.listening:
            self._observe_certificate(f.certificate)
        self._internal.append((CommitReceived(f.block, f.certificate), NET))
        self.stats["commit_frames"] += 1
        self._wake.set()

    def _observe(self, msg: Vote | Proposal) -> None:
        """Tell the signer-recovery guard where a validly signed message's signer was."""
        core, guard = self.core, self.guard
        assert core is not None and guard is not None
        signer = msg.validator if isinstance(msg, Vote) else msg.proposer
        val = next((v for v in core.validators.validators if v.public_key == signer), None)
        if val is None or not self._verify(val.scheme, signer, msg.signing_bytes(), msg.signature):
            return
        guard.observe(signer, msg.height, msg.round)

    def _observe_certificate(self, cert: CommitCertificate) -> None:
        """Our own precommit in a peer's certificate: a signature the guard must know of."""
        core, guard = self.core, self.guard
        assert core is not None and guard is not None
        for cs in cert.signatures:
            if cs.validator != self.my_key:
                continue
            val = next(
                (v for v in core.validators.validators if v.public_key == cs.validator), None
            )
            if val is not None and self._verify(
                val.scheme, cs.validator, cert.signing_bytes(cs), cs.signature
            ):
                guard.own_signature(cert.height, cert.round)

    def _answer(self, address: str, height: int, now: float) -> None:
        """Send a lagging peer the committed block + certificate of `height` (rate-limited)."""
        if not self._once_per_interval(self._answered, (address, height), now):
            return
        block = self.ledger.store.load_block_encoded(height)  # its stored bytes, not re-encoded
        cert = self.ledger.store.load_cert(height)
        if block is None or cert is None:
            return
        frame = CommitFrame(1, height, block, cert)
        self.network.send(address, KIND_COMMIT, encode(frame))
        self.stats["commits_sent"] += 1

    def _request(self, address: str, height: int, now: float) -> None:
        if not self._once_per_interval(self._requested, (address, height), now):
            return
        self.network.send(address, KIND_COMMIT, encode(CommitFrame(1, height)))
        self.stats["commits_requested"] += 1

    def _once_per_interval(self, seen: dict[Any, float], key: Any, now: float) -> bool:
        last = seen.get(key)
        if last is not None and now - last < self.gossip_interval:
            return False
        if len(seen) > 4096:
            seen.clear()
        seen[key] = now
        return True

    def _known(self, msg: Vote | Proposal) -> bool:
        """Is this exact message already in the core's state (current height)?"""
        core = self.core
        assert core is not None
        if msg.height != core.height or msg.round > max(core.round, 0) + MAX_FUTURE_ROUNDS:
            return False
        if isinstance(msg, Vote):
            return core.votes.get(msg.round, msg.type).contains(msg)
        return any(q == msg for q in core.proposals.get(msg.round, ()))

    def _verify(self, scheme: int, public_key: bytes, msg: bytes, sig: bytes) -> bool:
        key = (public_key, msg, sig)
        ok = self._verify_cache.get(key)
        if ok is None:
            ok = crypto_verify(scheme, public_key, msg, sig)
            self._verify_cache[key] = ok
            if len(self._verify_cache) > 8192:
                self._verify_cache.popitem(last=False)
        return ok

    # ------------------------------------------------------------ sending and gossip

    def _broadcast(self, msg: Vote | Proposal) -> None:
        kind = KIND_VOTE if isinstance(msg, Vote) else KIND_PROPOSAL
        payload = encode(msg)
        self.network.broadcast(kind, payload)
        self._own.append((msg.round, kind, payload))
        if len(self._own) > MAX_OWN_KEPT:
            del self._own[0]

    async def _gossip(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.gossip_interval)
            try:
                self._guard_tick()
                self._gossip_tick()
            except Exception:  # a task's top level: log and keep gossiping
                log.exception("consensus gossip failed")

    def _gossip_tick(self) -> None:
        """No progress for an interval: re-send our messages, relay the round's messages."""
        core = self.core
        if core is None or core.decided is not None:
            return
        state = (core.height, core.round, int(core.step))
        stuck, self._progress = state == self._progress, state
        if not stuck:
            return
        self.stats["gossip_resends"] += 1
        for round, kind, payload in self._own:
            if round >= core.round - 1:
                self.network.broadcast(kind, payload)
        msgs: list[Vote | Proposal] = list(core.proposals.get(core.round, [])[:1])
        msgs += core.votes.prevotes(core.round).votes()
        msgs += core.votes.precommits(core.round).votes()
        for p in msgs[:1]:
            if isinstance(p, Proposal) and p.pol_round >= 0:
                msgs += core.votes.prevotes(p.pol_round).votes()
        sent = 0
        for m in msgs:
            signer = m.validator if isinstance(m, Vote) else m.proposer
            if signer == self.my_key or sent >= MAX_RELAY:
                continue
            self.network.broadcast(KIND_VOTE if isinstance(m, Vote) else KIND_PROPOSAL, encode(m))
            sent += 1
