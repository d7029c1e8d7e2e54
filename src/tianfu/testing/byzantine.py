"""Byzantine node behaviours for the simulator: equivocation, double votes, amnesia, twins.

Each is a `SimNode` subclass with `honest = False`, so the checkers ignore its own
commits. All of them sign with their real key: what they send is validly signed, only
conflicting, which is what an honest node must survive.
"""

from __future__ import annotations

from typing import Any

from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.messages import (
    Broadcast,
    Event,
    ProposalReceived,
    SignProposal,
    SignVote,
    VoteReceived,
)
from tianfu.testing.sim import NetConfig, SimNode, Simulation
from tianfu.types import NO_HASH, Vote


class ByzantineNode(SimNode):
    honest = False

    def split_peers(self) -> tuple[list[int], list[int]]:
        """Other nodes split in two halves, fixed per node and seed."""
        others = [nd.id for nd in self.sim.nodes if nd.id != self.id]
        order = sorted(others, key=lambda i: (i * 7919 + self.sim.seed * 104729 + self.id) % 1000)
        half = len(order) // 2
        return order[:half], order[half:]


class EquivocatingProposer(ByzantineNode):
    """Sends one proposal to half of the peers and a different one to the other half."""

    def on_sign_proposal(self, a: SignProposal) -> list[Event]:
        first, second = self.split_peers()
        p = self.sign_proposal(a.height, a.round, a.pol_round, a.block_hash, a.block)
        alt_hash, alt_block = self.new_block(a.height, a.round, "-alt")
        q = self.sign_proposal(a.height, a.round, -1, alt_hash, alt_block)
        self.send_own(p, first)
        self.send_own(q, second)
        return [ProposalReceived(p)]

    def act(self, a: Any) -> list[Event]:
        if isinstance(a, Broadcast) and not isinstance(a.message, Vote):
            return []  # its proposals were already sent, split
        return super().act(a)


class DoubleVoter(ByzantineNode):
    """Signs every vote twice: the core's choice to half the peers, another value to the rest."""

    def act(self, a: Any) -> list[Event]:
        if isinstance(a, SignVote):
            v = self.sign_vote(a.height, a.round, a.type, a.block_hash)
            others = [h for h in self.core.blocks if h != a.block_hash]
            alt_value = others[0] if (a.block_hash == NO_HASH and others) else NO_HASH
            if alt_value == a.block_hash:
                alt_value = self.new_block(a.height, a.round, "-ghost")[0]
            w = self.sign_vote(a.height, a.round, a.type, alt_value)
            first, second = self.split_peers()
            self.send_own(v, first)
            self.send_own(w, second)
            return [VoteReceived(v)]
        if isinstance(a, Broadcast) and isinstance(a.message, Vote):
            return []
        return super().act(a)


class AmnesiaCore(ConsensusCore):
    """A core that never keeps a lock: it prevotes as if it had never locked."""

    def _set_lock(self, block_hash: bytes, round: int) -> None:
        self.locked_value = None
        self.locked_round = -1


class AmnesiacNode(ByzantineNode):
    core_class = AmnesiaCore


class TwinNode(ByzantineNode):
    """One half of a Twins pair: two cores run the same key (use `Simulation(twins=...)`).

    `twin_links` blocks each twin from half of the other nodes, so the two see
    different partitions of the network for the whole run.
    """


def twin_links(sim_nodes: list[SimNode], seed: int) -> set[tuple[int, int]]:
    """Blocked links so that each twin of each pair talks to a different half of the rest."""
    by_val: dict[int, list[int]] = {}
    for nd in sim_nodes:
        if isinstance(nd, TwinNode):
            by_val.setdefault(nd.val_index, []).append(nd.id)
    blocked: set[tuple[int, int]] = set()
    for val, (a, b) in ((v, ids) for v, ids in by_val.items() if len(ids) == 2):
        others = [nd.id for nd in sim_nodes if nd.val_index != val]
        others.sort(key=lambda i: (i * 31 + seed * 17 + val) % 101)
        half = len(others) // 2
        blocked.update((a, o) for o in others[half:])
        blocked.update((b, o) for o in others[:half])
        blocked.add((a, b))
    return blocked


BEHAVIOURS: dict[str, type[SimNode]] = {
    "equivocate": EquivocatingProposer,
    "double_vote": DoubleVoter,
    "amnesia": AmnesiacNode,
    "twins": TwinNode,
}


def byzantine_simulation(
    n: int, seed: int, behaviours: dict[int, str], net: NetConfig | None = None, **kwargs: Any
) -> Simulation:
    """A `Simulation` where validator i runs `BEHAVIOURS[behaviours[i]]` (twins doubled)."""
    classes = {i: BEHAVIOURS[b] for i, b in behaviours.items()}
    twins = {i for i, b in behaviours.items() if b == "twins"}
    sim = Simulation(n, seed, net=net, node_classes=classes, twins=twins, **kwargs)
    sim.net.blocked |= twin_links(sim.nodes, seed)
    return sim


KINDS = ("equivocate", "double_vote", "amnesia", "twins")


def random_scenario(n: int, seed: int, byzantine: int | None = None, **kwargs: Any) -> Simulation:
    """A seeded fault scenario: up to f Byzantine validators (kinds rotate with the seed)
    and a random drop / duplicate / delay / partition-then-heal network."""
    import random

    rng = random.Random(seed * 1_000_003 + n)
    f = (n - 1) // 3
    count = f if byzantine is None else byzantine
    picked = rng.sample(range(n), count)
    behaviours = {v: KINDS[(seed + k) % len(KINDS)] for k, v in enumerate(picked)}
    net = NetConfig(
        drop=rng.choice([0.0, 0.05, 0.2, 0.35]),
        duplicate=rng.choice([0.0, 0.1, 0.3]),
        min_delay_ms=1,
        max_delay_ms=rng.choice([10, 50, 200]),
    )
    sim = byzantine_simulation(n, seed, behaviours, net, **kwargs)
    if rng.random() < 0.5:
        ids = [nd.id for nd in sim.nodes]
        rng.shuffle(ids)
        cut = rng.randint(1, len(ids) - 1)
        sim.net.partition = [ids[:cut], ids[cut:]]
        sim.net.heal_at_ms = rng.randint(200, 3000)
    return sim
