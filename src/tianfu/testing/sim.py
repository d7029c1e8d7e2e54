"""Deterministic multi-node consensus simulator: seeded faulty network, manual clock, checkers.

N validators each run a `ConsensusCore`; a seeded `random.Random` network drops, delays,
duplicates and reorders messages and can partition the nodes until a heal time; a manual
clock (a priority queue of timed deliveries, timeouts and executions) replaces real time.
The fake application's blocks are bytes like b"h3-r0-v1-t1700000000123"; their hash is
domain-tagged SHA-256. Time is BFT time as in the real chain: each node has its own clock
(the simulated time plus a per-validator `skews` offset), a precommit of a block carries
the signer's clock (at least the block's time + 1), a block "carries" the certificate of
the previous height (`Simulation.block_certs`) and is valid only if its time is that
certificate's weighted median (`median_time`) and later than the previous block's. Signatures are real Ed25519 (deterministic keys); sign and verify results are
memoised by (key, message[, signature]) since the same messages recur across seeds.

The driver role played here per node: sign and feed back own messages, broadcast what the
core says, re-send own messages of the current height when the node made no progress for
a gossip interval, and answer a message from a lower height with that height's block and
commit certificate (the sync path, `CommitReceived`).

A validator listed in `restarts` crashes at the given time, stays down for `down_ms` and
comes back with its commits but without its core state or any memory of what it signed
(a lost signer state and WAL); with `guard=True` it runs the driver's `SignGuard` first.

`check_safety()` lists forks (two honest nodes committing different blocks at a height),
commits whose certificate fails `tianfu.crypto.verify_commit` and block times that do not
increase; `check_double_signs()` lists every (validator, height, round, type) at which an
honest validator signed two different votes; `check_liveness()` lists honest nodes that
did not reach the target height.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from tianfu.codec import CodecError, decode, encode
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.messages import (
    Action,
    BlockCommitted,
    BlockExecuted,
    Broadcast,
    CommitBlock,
    CommitReceived,
    CreateProposalBlock,
    Event,
    ExecuteBlock,
    Proposal,
    ProposalBlockReady,
    ProposalReceived,
    RecordEvidence,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    SkipToRound,
    Start,
    TimeoutFired,
    VoteReceived,
    proposal_signing_bytes,
)
from tianfu.consensus.peers import CommitFrame
from tianfu.consensus.signguard import SignGuard
from tianfu.crypto import ED25519, CertificateError, KeyPair, verify, verify_commit
from tianfu.testing.simchain import (
    CHAIN_ID,
    GENESIS_HASH,
    GENESIS_TIME_MS,
    CommitRecord,
    Crash,
    InvalidSimBlock,
    Net,
    Restart,
    Status,
    VirtualLoop,
    check_block,
    make_block,
    sim_block_time,
)
from tianfu.testing.simdriver import CLOCK_STEP_MS, DriverNode
from tianfu.types import (
    PRECOMMIT,
    ConsensusParams,
    Validator,
    ValidatorSet,
    Vote,
    vote_signing_bytes,
)
from tianfu.types.block import Block

__all__ = ["GENESIS_TIME_MS", "CommitRecord", "NetConfig", "Simulation", "sim_block_time"]

SIM_PARAMS = ConsensusParams(
    timeout_propose_ms=300,
    timeout_vote_ms=150,
    timeout_delta_ms=100,
    block_interval_ms=0,
    empty_block_interval_ms=0,
)

_SIGN_CACHE: dict[tuple[bytes, bytes], bytes] = {}
_VERIFY_CACHE: dict[tuple[bytes, bytes, bytes], bool] = {}
_CERT_CACHE: dict[tuple[bytes, bytes, int, bytes], str | None] = {}
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
    sig = _SIGN_CACHE.get(key)
    if sig is None:
        sig = kp.sign(msg)
        _SIGN_CACHE[key] = sig
    return sig


def cached_verify(scheme: int, public_key: bytes, msg: bytes, sig: bytes) -> bool:
    key = (public_key, msg, sig)
    ok = _VERIFY_CACHE.get(key)
    if ok is None:
        ok = verify(scheme, public_key, msg, sig)
        _VERIFY_CACHE[key] = ok
    return ok


@dataclass
class NetConfig:
    drop: float = 0.0
    duplicate: float = 0.0
    min_delay_ms: int = 1
    max_delay_ms: int = 30
    partition: list[list[int]] = field(default_factory=list)  # node ids; healed at heal_at_ms
    heal_at_ms: int = 0
    blocked: set[tuple[int, int]] = field(default_factory=set)  # permanent, both directions


class SimNode:
    """An honest node: a core plus the driver duties. Byzantine nodes subclass this."""

    honest = True
    core_class: type[ConsensusCore] = ConsensusCore

    def __init__(self, sim: Simulation, node_id: int, val_index: int, name: str) -> None:
        self.sim = sim
        self.id = node_id
        self.val_index = val_index
        self.name = name
        self.key = sim.keys[val_index]
        self.core = self.core_class(
            CHAIN_ID,
            1,
            sim.validators,
            self.key.public_key,
            params=sim.params,
            verifier=cached_verify,
        )
        self.commits: dict[int, CommitRecord] = {}
        self.guard: SignGuard | None = None
        self.down_until = -1
        self.evidence: list[Any] = []
        self.own: dict[int, list[tuple[Any, list[int] | None]]] = {}
        self.done = False
        self._progress: tuple[int, int, int] = (0, -1, 0)
        self._answered: dict[tuple[int, int], int] = {}

    # -------------------------------------------------------- driver loop

    def feed(self, event: Event) -> None:
        queue: list[Event] = [event]
        while queue:
            ev = queue.pop(0)
            for action in self.core.handle(ev):
                queue.extend(self.act(action))

    def act(self, a: Action) -> list[Event]:
        """Carry out one action; return events to feed back to the core at once."""
        sim = self.sim
        if isinstance(a, SignVote | SignProposal) and self.guard is not None:
            if self.guard.finished(a.height):
                self.guard = None
            elif not self.guard.allows(a.height, a.round, sim.now / 1000):
                return self.guard_skip()
        if isinstance(a, SignVote):
            return [VoteReceived(self.sign_vote(a.height, a.round, a.type, a.block_hash))]
        if isinstance(a, SignProposal):
            return self.on_sign_proposal(a)
        if isinstance(a, Broadcast):
            self.send_own(a.message, None)
        elif isinstance(a, ScheduleTimeout):
            sim.schedule(a.delay_ms, self.id, TimeoutFired(a.height, a.round, a.step))
        elif isinstance(a, ExecuteBlock):
            block = a.block or sim.known_blocks.get(a.block_hash, b"")
            ok = self.block_ok(a.height, a.block_hash, block)
            delay = sim.rng.randint(1, 10)
            sim.schedule(delay, self.id, BlockExecuted(a.height, a.block_hash, ok))
        elif isinstance(a, CreateProposalBlock):
            h, b = self.new_block(a.height, a.round)
            sim.schedule(
                sim.rng.randint(1, 5), self.id, ProposalBlockReady(a.height, a.round, h, b)
            )
        elif isinstance(a, CommitBlock):
            self.commits[a.height] = CommitRecord(a.block_hash, a.block, a.certificate)
            if a.height >= sim.target_height:
                self.done = True
                sim.done_count += self.honest
            else:
                return [BlockCommitted(a.height, sim.validators)]
        elif isinstance(a, RecordEvidence):
            self.evidence.append(a.evidence)
        return []

    # -------------------------------------------------------- BFT time

    def clock_ms(self) -> int:
        """This node's clock: the simulated time, in steps of `CLOCK_STEP_MS` (so that
        signed times, hence signatures, recur across seeds and the caches keep working),
        plus its skew."""
        now = self.sim.now - self.sim.now % CLOCK_STEP_MS
        return GENESIS_TIME_MS + now + self.sim.skews.get(self.val_index, 0)

    def new_block(self, height: int, round: int, tag: str = "") -> tuple[bytes, bytes]:
        """A block of ours for (height, round), dated and carrying our last certificate."""
        prev = self.commits.get(height - 1)
        h, b = make_block(
            height,
            self.key.public_key,
            self.sim.validators,
            GENESIS_HASH if prev is None else prev.block_hash,
            None if prev is None else prev.certificate,
            f"{self.name}{tag}-r{round}",
        )
        self.sim.known_blocks[h] = b
        return h, b

    def block_ok(self, height: int, h: bytes, block: bytes) -> bool:
        """The ledger's rule (`check_block`) on top of our commits."""
        try:
            decoded = decode(block, Block)
            if decoded.hash != h:
                return False
            if height > 1 and height - 1 not in self.commits:
                return False
            check_block(
                decoded.header,
                self.commits.get(height - 1),
                self.sim.validators,
                self.sim.check_cert,
            )
        except (CodecError, InvalidSimBlock):
            return False
        return True

    # -------------------------------------------------------- signing

    def sign_vote(self, height: int, round: int, type: int, h: bytes) -> Vote:
        time_ms = 0
        if type == PRECOMMIT and h:
            block = self.core.blocks.get(h) or self.sim.known_blocks.get(h, b"")
            time_ms = max(self.clock_ms(), sim_block_time(block) + 1)
        msg = vote_signing_bytes(CHAIN_ID, height, round, type, h, time_ms)
        if self.honest:
            self.sim.signed.setdefault((self.val_index, height, round, type), set()).add(msg)
        sig = cached_sign(self.key, msg)
        return Vote(1, CHAIN_ID, height, round, type, h, time_ms, self.key.public_key, sig)

    def sign_proposal(
        self, height: int, round: int, pol_round: int, h: bytes, block: bytes
    ) -> Proposal:
        msg = proposal_signing_bytes(CHAIN_ID, height, round, pol_round, h)
        if self.honest:
            self.sim.signed.setdefault((self.val_index, height, round, -1), set()).add(msg)
        sig = cached_sign(self.key, msg)
        return Proposal(1, CHAIN_ID, height, round, pol_round, h, block, self.key.public_key, sig)

    def on_sign_proposal(self, a: SignProposal) -> list[Event]:
        p = self.sign_proposal(a.height, a.round, a.pol_round, a.block_hash, a.block)
        return [ProposalReceived(p)]

    def send_own(self, msg: Any, targets: list[int] | None) -> None:
        """Send one of our signed messages and remember it for re-sending."""
        self.own.setdefault(msg.height, []).append((msg, targets))
        self.sim.send(self.id, msg, targets)

    # -------------------------------------------------------- network input

    def receive(self, item: Any) -> None:
        if isinstance(item, Crash):
            self.crash(item.down_ms)
            return
        if isinstance(item, Restart):
            self.restart()
            return
        if self.sim.now < self.down_until:
            if item == "gossip":
                self.sim.schedule(self.sim.gossip_ms, self.id, "gossip")
            return  # down: everything addressed to it is lost
        if self.done and not isinstance(item, Net):
            return
        if isinstance(item, str):  # gossip tick
            self.gossip()
            return
        if not isinstance(item, Net):
            self.feed(item)
            return
        payload = item.payload
        if isinstance(payload, tuple):
            if self.guard is not None and self.guard.listening:
                cert = payload[1]
                if any(cs.validator == self.key.public_key for cs in cert.signatures):
                    self.guard.own_signature(cert.height, cert.round)
            if not self.done:
                self.feed(CommitReceived(payload[0], payload[1]))
            return
        if isinstance(payload, Status):
            if payload.height < self.core.height or payload.height in self.commits:
                self.answer_lagging(item.src, payload.height)
            return
        if self.guard is not None and self.guard.listening:
            signer = payload.validator if isinstance(payload, Vote) else payload.proposer
            self.guard.observe(signer, payload.height, payload.round)
        height = payload.height
        if height < self.core.height or (self.done and height in self.commits):
            self.answer_lagging(item.src, height)
            return
        if self.done:
            return
        if isinstance(payload, Vote):
            self.feed(VoteReceived(payload))
        else:
            self.feed(ProposalReceived(payload))

    def guard_skip(self) -> list[Event]:
        """As the driver: in a round it may not sign in, a recovering node moves on."""
        guard, core = self.guard, self.core
        if guard is None or core.decided is not None or not guard.settle(self.sim.now / 1000):
            return []
        r = guard.first_round(core.height)
        return [SkipToRound(core.height, r)] if r is not None and r > core.round else []

    def crash(self, down_ms: int) -> None:
        """Crash: lose the core's state and every message for `down_ms`."""
        self.down_until = self.sim.now + down_ms
        self.sim.schedule(down_ms, self.id, Restart())

    def restart(self) -> None:
        """Come back with the commits (the store) only: no WAL, no signer state."""
        sim = self.sim
        self.core = self.core_class(
            CHAIN_ID,
            len(self.commits) + 1,
            sim.validators,
            self.key.public_key,
            params=sim.params,
            verifier=cached_verify,
        )
        self.own = {}
        self._progress = (0, -1, 0)
        if sim.guard:
            self.guard = SignGuard(
                "simulated restart without signer state",
                self.key.public_key,
                {v.public_key: v.power for v in sim.validators.validators},
                started=sim.now / 1000,
                listen_s=2 * sim.gossip_ms / 1000,
            )
            for height in sorted(self.commits)[-10:]:
                cert = self.commits[height].certificate
                if any(cs.validator == self.key.public_key for cs in cert.signatures):
                    self.guard.own_signature(height, cert.round)
            if self.commits:
                self.guard.own_signature(max(self.commits), 0)
        if not self.done:
            self.feed(Start())

    def answer_lagging(self, dst: int, height: int) -> None:
        rec = self.commits.get(height)
        last = self._answered.get((dst, height))
        if rec is None or (last is not None and self.sim.now - last < self.sim.gossip_ms):
            return
        self._answered[(dst, height)] = self.sim.now
        self.sim.send(self.id, (rec.block, rec.certificate), [dst])

    def relay(self) -> None:
        """Relay what peers need to catch up in our round: its proposal, its votes, and
        the prevotes of the proposal's POL round (as Tendermint's gossip does)."""
        core = self.core
        proposals = core.proposals.get(core.round, [])[:1]
        msgs: list[Any] = list(proposals)
        msgs += core.votes.prevotes(core.round).votes()
        msgs += core.votes.precommits(core.round).votes()
        for p in proposals:
            if p.pol_round >= 0:
                msgs += core.votes.prevotes(p.pol_round).votes()
        own = self.key.public_key
        for m in msgs:
            if getattr(m, "validator", None) != own:
                self.sim.send(self.id, m, None)

    def gossip(self) -> None:
        for ev in self.guard_skip():
            self.feed(ev)
        core = self.core
        state = (core.height, core.round, int(core.step))
        if state == self._progress:
            own = self.own.get(core.height, [])
            for msg, targets in own:
                self.sim.send(self.id, msg, targets)
            if not own:  # silent (holding its signatures): ask peers where they are
                self.sim.send(self.id, Status(core.height), None)
            self.relay()
        self._progress = state
        self.sim.schedule(self.sim.gossip_ms, self.id, "gossip")


class Simulation:
    """One seeded run: nodes, network, clock. `run()` then the checkers."""

    def __init__(
        self,
        n: int,
        seed: int,
        *,
        target_height: int = 3,
        net: NetConfig | None = None,
        node_classes: dict[int, type[SimNode]] | None = None,
        twins: set[int] | frozenset[int] = frozenset(),
        params: ConsensusParams = SIM_PARAMS,
        max_time_ms: int = 120_000,
        gossip_ms: int = 250,
        skews: dict[int, int] | None = None,
        restarts: dict[int, int] | None = None,
        down_ms: int = 400,
        guard: bool = True,
        honest_class: type[DriverNode] | type[SimNode] = DriverNode,
    ) -> None:
        self.rng = random.Random(seed)
        self.skews = skews or {}  # validator index -> clock offset (ms)
        self.restarts = restarts or {}  # validator index -> crash time (ms)
        self.down_ms = down_ms
        self.guard = guard
        self.signed: dict[tuple[int, int, int, int], set[bytes]] = {}
        self.seed = seed
        self.target_height = target_height
        self.net = net or NetConfig()
        self.params = params
        self.max_time_ms = max_time_ms
        self.gossip_ms = gossip_ms
        self.keys = [sim_key(i) for i in range(n)]
        self.validators = ValidatorSet(
            [
                Validator(f"v{i}", f"org{i}", ED25519, k.public_key, 1)
                for i, k in enumerate(self.keys)
            ]
        )
        self.known_blocks: dict[bytes, bytes] = {}
        self._now = 0  # ms: the loop's time while running, where it ended after
        self.delivered = 0
        self.done_count = 0
        shm = Path("/dev/shm")
        self.files = tempfile.mkdtemp(prefix="tianfu-sim-", dir=shm if shm.is_dir() else None)
        self.loop: VirtualLoop | None = None
        self._finished: asyncio.Event | None = None
        self._queue: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._pump: asyncio.TimerHandle | None = None
        self._pump_at: int | None = None
        self._delivering = False
        self.nodes: list[Any] = []
        classes = node_classes or {}
        for i in range(n):
            cls = classes.get(i, honest_class)
            if i in twins:
                self.nodes.append(cls(self, len(self.nodes), i, f"v{i}a"))
                self.nodes.append(cls(self, len(self.nodes), i, f"v{i}b"))
            else:
                self.nodes.append(cls(self, len(self.nodes), i, f"v{i}"))

        self.honest_count = len(self.honest)

    @property
    def now(self) -> int:
        """Simulated time in ms."""
        loop = self.loop
        if loop is not None:
            self._now = int(loop._now * 1000 + 1e-6)
        return self._now

    @property
    def honest(self) -> list[Any]:
        return [nd for nd in self.nodes if nd.honest]

    # -------------------------------------------------------- clock and network

    def schedule(self, delay_ms: int, node_id: int, item: Any) -> None:
        """Deliver `item` to node `node_id` after `delay_ms` of simulated time.

        Deliveries wait in the simulation's own heap of (time, sequence, ...) tuples, in
        the order they were scheduled at equal times; one loop timer, set for the earliest,
        hands out everything due (cheaper than a loop timer per message)."""
        self._seq += 1
        due = self.now + delay_ms
        heapq.heappush(self._queue, (due, self._seq, node_id, item))
        if self.loop is not None and not self._delivering:
            if self._pump_at is None or due < self._pump_at:
                self._arm(due)

    def _arm(self, due: int) -> None:
        assert self.loop is not None
        if self._pump is not None:
            self._pump.cancel()
        self._pump_at = due
        self._pump = self.loop.call_at(due / 1000, self._deliver_due)

    def _deliver_due(self) -> None:
        self._pump = self._pump_at = None
        queue, now = self._queue, self.now
        if now > self.max_time_ms:
            self._finish()
            return
        self._delivering = True
        try:
            while queue and queue[0][0] <= now:
                _, _, node_id, item = heapq.heappop(queue)
                self.delivered += 1
                self.nodes[node_id].receive(item)
        finally:
            self._delivering = False
        if queue:
            self._arm(queue[0][0])

    def node_done(self) -> None:
        """An honest node reached the target height."""
        self.done_count += 1
        if self.done_count >= self.honest_count:
            self._finish()

    def _finish(self) -> None:
        if self._finished is not None:
            self._finished.set()

    def connected(self, a: int, b: int) -> bool:
        if (a, b) in self.net.blocked or (b, a) in self.net.blocked:
            return False
        if self.net.partition and self.now < self.net.heal_at_ms:
            for group in self.net.partition:
                if a in group:
                    return b in group
            return False
        return True

    def send(
        self,
        src: int,
        payload: Any,
        targets: list[int] | None,
        frame: tuple[int, bytes] | None = None,
    ) -> None:
        if isinstance(payload, CommitFrame):  # a driver's commit frame, for the core-only nodes
            cert = payload.certificate
            payload = Status(payload.height) if cert is None else (payload.block, cert)
        net, rng = self.net, self.rng
        dsts = targets if targets is not None else [nd.id for nd in self.nodes if nd.id != src]
        for dst in dsts:
            if not self.connected(src, dst) or rng.random() < net.drop:
                continue
            copies = 2 if rng.random() < net.duplicate else 1
            for _ in range(copies):
                delay = rng.randint(net.min_delay_ms, net.max_delay_ms)
                self.schedule(delay, dst, Net(src, payload, frame))

    def record_signed(self, val: int, height: int, round: int, type: int, msg: bytes) -> None:
        """An honest validator's signed message (type -1: a proposal), for the checker."""
        self.signed.setdefault((val, height, round, type), set()).add(msg)

    def verify(self, scheme: int, public_key: bytes, msg: bytes, sig: bytes) -> bool:
        return cached_verify(scheme, public_key, msg, sig)

    # -------------------------------------------------------- run

    def run(self) -> Simulation:
        """Run on a virtual-time event loop until every honest node reached the target
        height or `max_time_ms` passed."""
        loop = VirtualLoop()
        self.loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(self._shutdown())
            self._now = self.now
            loop.close()
            self.loop = None
            shutil.rmtree(self.files, ignore_errors=True)
        return self

    async def _main(self) -> None:
        assert self.loop is not None
        self._finished = asyncio.Event()
        for nd in self.nodes:
            if isinstance(nd, DriverNode):
                nd.start()
            else:
                self.schedule(0, nd.id, Start())
                self.schedule(self.rng.randint(1, self.gossip_ms), nd.id, "gossip")
            if nd.val_index in self.restarts:
                self.schedule(self.restarts[nd.val_index], nd.id, Crash(self.down_ms))
        if self._queue:
            self._arm(self._queue[0][0])
        self.loop.call_later(self.max_time_ms / 1000 + 0.001, self._finish)
        await self._finished.wait()

    async def _shutdown(self) -> None:
        for nd in self.nodes:
            if isinstance(nd, DriverNode):
                if nd.driver is not None:
                    await nd.driver.stop()
                nd.close()

    # -------------------------------------------------------- checkers

    def check_safety(self) -> list[str]:
        """Violations: forks between honest nodes, and commits without a valid certificate."""
        problems: list[str] = []
        first: dict[int, tuple[str, bytes]] = {}
        for nd in self.honest:
            for height, rec in sorted(nd.commits.items()):
                err = self.check_cert(height, rec)
                if err is not None:
                    problems.append(f"{nd.name} height {height}: bad certificate: {err}")
                if height not in first:
                    first[height] = (nd.name, rec.block_hash)
                elif first[height][1] != rec.block_hash:
                    problems.append(
                        f"fork at height {height}: {first[height][0]} committed "
                        f"{first[height][1].hex()[:12]}, {nd.name} committed {rec.block_hash.hex()[:12]}"
                    )
            heights = sorted(nd.commits)
            if heights != list(range(1, len(heights) + 1)):
                problems.append(f"{nd.name} committed non-contiguous heights {heights}")
            times = [sim_block_time(nd.commits[h].block) for h in heights]
            if any(b <= a for a, b in zip(times, times[1:], strict=False)):
                problems.append(f"{nd.name} committed block times that do not increase: {times}")
        return problems

    def check_double_signs(self) -> list[str]:
        """(validator, height, round, type) at which an honest validator signed two
        different messages (type -1: a proposal)."""
        return [
            f"v{val} signed {len(msgs)} different messages at height {h} round {r} type {t}"
            for (val, h, r, t), msgs in sorted(self.signed.items())
            if len(msgs) > 1
        ]

    def check_cert(self, height: int, rec: CommitRecord) -> str | None:
        key = (encode(rec.certificate), rec.block_hash + rec.block, height, self.validators.hash)
        if key not in _CERT_CACHE:
            try:
                verify_commit(rec.certificate, rec.block_hash, height, self.validators, CHAIN_ID)
                if decode(rec.block, Block).hash != rec.block_hash:
                    raise CertificateError("committed block bytes do not match the hash")
                _CERT_CACHE[key] = None
            except CertificateError as exc:
                _CERT_CACHE[key] = str(exc)
        return _CERT_CACHE[key]

    def check_liveness(self) -> list[str]:
        """Honest nodes that did not commit every height up to the target."""
        return [
            f"{nd.name} stopped at height {nd.core.height} round {nd.core.round} (t={self.now})"
            for nd in self.honest
            if len(nd.commits) < self.target_height
        ]
