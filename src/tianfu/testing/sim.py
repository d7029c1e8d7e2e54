"""Deterministic multi-node consensus simulator: seeded faulty network, virtual clock, checkers.

Honest validators run the real `ConsensusDriver` (`DriverNode`, `tianfu.testing.simdriver`):
its `PeerGossip` checks every frame they receive, it signs through a real
`FilePrivValidator`, logs to a real `ConsensusWAL`, holds signing with `SignGuard` after a
restart and stores real blocks in a `SimLedger`. Byzantine validators are core-only
`SimNode`s that misbehave (`tianfu.testing.byzantine`). Everything runs on one
`VirtualLoop` (`tianfu.testing.simchain`): time only moves when nothing is ready, so a
seed fixes the whole run; a seeded `random.Random` network drops, delays, duplicates and
reorders messages and can partition the nodes until a heal time.

Time is BFT time as in the real chain: each node has its own clock (the simulated time
plus a per-validator `skews` offset), a precommit of a block carries the signer's clock
(at least the block's time + 1), a block carries the certificate of the previous height
and is valid only if its time is that certificate's weighted median (`median_time`) and
later than the previous block's (`check_block`). Signatures are real Ed25519.

`clock_jumps` changes clocks while running: at each (time, {validator index: offset}) the
offsets given replace those validators' skews (a wall clock set back or forward, as an
operator or a faulty time source does); `heights_at_jumps` records, at each, the lowest
height the honest nodes had committed.

A validator listed in `restarts` crashes at the given time, stays down for `down_ms` and
comes back with its commits but without its core state or any memory of what it signed
(its signer file and WAL are gone); the driver's `SignGuard` must keep it from signing
twice (`guard=False` removes the guard, to show what it prevents). With `restore=k` it comes
back instead from a backup of its whole data directory (signer file, WAL and store) made
when it stored the block k heights below its last: nothing local shows that the key signed
beyond it. A node that reached
`target_height` stops signing and only answers laggards.

`check_safety()` lists forks (two honest nodes committing different blocks at a height),
commits whose certificate fails `tianfu.crypto.verify_commit` and block times that do not
increase; `check_double_signs()` lists every (validator, height, round, type) at which an
honest validator sent two different signed messages; `check_liveness()` lists honest
nodes that did not reach the target height.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tianfu.codec import hash_domain
from tianfu.consensus.messages import Start
from tianfu.crypto import ED25519
from tianfu.testing.simchain import (
    GENESIS_TIME_MS,
    CommitRecord,
    Crash,
    Net,
    SimRules,
    VirtualLoop,
    cached_sign,
    cached_verify,
    sim_block_time,
    sim_key,
)
from tianfu.testing.simdriver import DriverNode
from tianfu.testing.simnode import SimNode
from tianfu.types import (
    ConsensusParams,
    Validator,
    ValidatorSet,
)

__all__ = [
    "GENESIS_TIME_MS",
    "CommitRecord",
    "NetConfig",
    "SimNode",
    "Simulation",
    "cached_sign",
    "sim_block_time",
    "sim_key",
]

SIM_PARAMS = ConsensusParams(
    timeout_propose_ms=300,
    timeout_vote_ms=150,
    timeout_delta_ms=100,
    block_interval_ms=0,
    empty_block_interval_ms=0,
)


def block_hash(block: bytes) -> bytes:
    """The hash of an opaque test block (`opaque_block`)."""
    return hash_domain("tianfu/sim-block/v1", block)


def opaque_block(height: int, round: int, name: str, tag: str = "") -> tuple[bytes, bytes]:
    """(hash, bytes) of a block for tests of the pure core or the WAL, which never decode
    a block: bytes like b"h3-r0-v1" (the simulator's validators use real blocks)."""
    b = f"h{height}-r{round}-{name}{tag}".encode()
    return block_hash(b), b


@dataclass
class NetConfig:
    drop: float = 0.0
    duplicate: float = 0.0
    min_delay_ms: int = 1
    max_delay_ms: int = 30
    partition: list[list[int]] = field(default_factory=list)  # node ids; healed at heal_at_ms
    heal_at_ms: int = 0
    blocked: set[tuple[int, int]] = field(default_factory=set)  # permanent, both directions


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
        restore: int = 0,
        honest_class: type[DriverNode] | type[SimNode] = DriverNode,
        clock_jumps: list[tuple[int, dict[int, int]]] | None = None,
        genesis_version: int = 1,
    ) -> None:
        self.genesis_version = genesis_version  # what votes sign (ADR 0039; see SimRules)
        self.rng = random.Random(seed)
        self.skews = dict(skews or {})  # validator index -> clock offset (ms)
        self.clock_jumps = clock_jumps or []  # (time ms, new offsets) while running
        self.heights_at_jumps: list[int] = []  # the honest nodes' lowest height at each
        self.restarts = restarts or {}  # validator index -> crash time (ms)
        self.down_ms = down_ms
        self.guard = guard
        # > 0: a restarted validator comes back from a backup of its whole data directory
        # (signer file, WAL, store) taken when it stored the block `restore` heights below
        # its last one, instead of without signer state and WAL
        self.restore = restore
        self.signed: dict[tuple[int, int, int, int], set[bytes]] = {}
        self.seed = seed
        self.target_height = target_height
        self.net = net or NetConfig()
        self.params = params
        self.max_time_ms = max_time_ms
        self.gossip_ms = gossip_ms
        self.keys = [sim_key(i) for i in range(n)]
        self.rules = self.make_rules()
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

    def make_rules(self) -> SimRules:
        """The chain's rules: here one validator set of power 1 each, for every height."""
        validators = [
            Validator(f"v{i}", f"org{i}", ED25519, k.public_key, 1) for i, k in enumerate(self.keys)
        ]
        return SimRules(ValidatorSet(validators), self.params, self.genesis_version)

    @property
    def validators(self) -> ValidatorSet:
        """The validator set of height 1."""
        return self.rules.validator_set(1)

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
        for at_ms, offsets in self.clock_jumps:
            self.loop.call_later(at_ms / 1000, self._jump_clocks, offsets)
        if self._queue:
            self._arm(self._queue[0][0])
        self.loop.call_later(self.max_time_ms / 1000 + 0.001, self._finish)
        await self._finished.wait()

    def _jump_clocks(self, offsets: dict[int, int]) -> None:
        self.heights_at_jumps.append(min(len(nd.commits) for nd in self.honest))
        self.skews.update(offsets)

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
        """Why `rec` is not a valid commit of `height` (None: it is)."""
        return self.rules.check_cert(height, rec)

    def check_liveness(self) -> list[str]:
        """Honest nodes that did not commit every height up to the target."""
        return [
            f"{nd.name} stopped at height {nd.core.height} round {nd.core.round} (t={self.now})"
            for nd in self.honest
            if len(nd.commits) < self.target_height
        ]
