"""A core-only simulated validator: a `ConsensusCore` plus the driver's duties, played by hand.

The Byzantine wrappers (`tianfu.testing.byzantine`) subclass `SimNode` to misbehave: they
sign, send and answer as the real driver would, except where they equivocate, double-vote,
forget their lock or run twice. Honest validators run the real driver (`DriverNode`).
Blocks are the simulator's real blocks (`tianfu.testing.simchain`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tianfu.codec import CodecError, decode
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.messages import (
    Action,
    Broadcast,
    CommitBlock,
    CommitReceived,
    CreateProposalBlock,
    Event,
    ExecuteBlock,
    Proposal,
    ProposalReceived,
    RecordEvidence,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    Start,
    VoteReceived,
    proposal_signing_bytes,
)
from tianfu.consensus.peers import CommitFrame
from tianfu.consensus.signguard import SignGuard
from tianfu.testing.simchain import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    CommitRecord,
    Crash,
    InvalidSimBlock,
    Net,
    Restart,
    cached_sign,
    cached_verify,
    sim_block_time,
)
from tianfu.testing.simdriver import CLOCK_STEP_MS
from tianfu.types import (
    PRECOMMIT,
    Vote,
    vote_signing_bytes,
)
from tianfu.types.block import Block

if TYPE_CHECKING:
    from tianfu.testing.sim import Simulation


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
            sim.rules.domain,
            1,
            sim.rules.validator_set(1),
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
            sim.schedule(a.delay_ms, self.id, a.fired())
        elif isinstance(a, ExecuteBlock):
            block = a.block or sim.rules.known_blocks.get(a.block_hash, b"")
            ok = self.block_ok(a.height, a.block_hash, block)
            delay = sim.rng.randint(1, 10)
            sim.schedule(delay, self.id, a.executed(ok))
        elif isinstance(a, CreateProposalBlock):
            h, b = self.new_block(a.height, a.round)
            sim.schedule(sim.rng.randint(1, 5), self.id, a.ready(h, b))
        elif isinstance(a, CommitBlock):
            self.commits[a.height] = CommitRecord(a.block_hash, a.block, a.certificate)
            if a.height >= sim.target_height:
                self.done = True
                sim.done_count += self.honest
            else:
                return [a.committed(sim.rules.validator_set(a.height + 1))]
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
        return self.sim.rules.new_block(
            height, self.key.public_key, prev, f"{self.name}{tag}-r{round}"
        )

    def block_ok(self, height: int, h: bytes, block: bytes) -> bool:
        """The ledger's rule (`check_block`) on top of our commits."""
        try:
            decoded = decode(block, Block)
            if decoded.hash != h:
                return False
            if height > 1 and height - 1 not in self.commits:
                return False
            self.sim.rules.check_block(decoded, self.commits.get(height - 1))
        except (CodecError, InvalidSimBlock):
            return False
        return True

    # -------------------------------------------------------- signing

    def sign_vote(self, height: int, round: int, type: int, h: bytes) -> Vote:
        time_ms = 0
        if type == PRECOMMIT and h:
            block = self.core.blocks.get(h) or self.sim.rules.known_blocks.get(h, b"")
            time_ms = max(self.clock_ms(), sim_block_time(block) + 1)
        msg = vote_signing_bytes(self.sim.rules.domain, height, round, type, h, time_ms)
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
        if isinstance(payload, CommitFrame):
            self.on_commit_frame(item.src, payload)
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

    def on_commit_frame(self, src: int, f: CommitFrame) -> None:
        """A peer's commit (feed it to the core) or its probe (answer it if we are past)."""
        cert = f.certificate
        if cert is None:
            if f.height < self.core.height or f.height in self.commits:
                self.answer_lagging(src, f.height)
            return
        if self.guard is not None and self.guard.listening:
            if any(cs.validator == self.key.public_key for cs in cert.signatures):
                self.guard.own_signature(cert.height, cert.round)
        if not self.done:
            self.feed(CommitReceived(f.block, cert))

    def guard_skip(self) -> list[Event]:
        """As the driver: in a round it may not sign in, a recovering node moves on."""
        guard, core = self.guard, self.core
        if guard is None or core.decided is not None:
            return []
        skip = guard.skip_to(core.height, core.round, self.sim.now / 1000)
        return [] if skip is None else [skip]

    def crash(self, down_ms: int) -> None:
        """Crash: lose the core's state and every message for `down_ms`."""
        self.down_until = self.sim.now + down_ms
        self.sim.schedule(down_ms, self.id, Restart())

    def restart(self) -> None:
        """Come back with the commits (the store) only: no WAL, no signer state."""
        sim = self.sim
        height = len(self.commits) + 1
        self.core = self.core_class(
            sim.rules.domain,
            height,
            sim.rules.validator_set(height),
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
                {v.public_key: v.power for v in sim.rules.validator_set(height).validators},
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
        self.sim.send(self.id, CommitFrame(1, height, rec.block, rec.certificate), [dst])

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
                self.sim.send(self.id, CommitFrame(1, core.height), None)
            self.relay()
        self._progress = state
        self.sim.schedule(self.sim.gossip_ms, self.id, "gossip")
