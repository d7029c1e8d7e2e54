"""A validator's signer state after heights decided without its signature, across restarts.

The nodes restart with their signer file and WAL as they were (`DriverNode.keeps_files`):
a process restart that loses nothing. Each scenario leaves three of four validators up
with the one restarted needed for every quorum, so a restart guard that holds its
signatures for nothing halts the chain for good.
"""

from __future__ import annotations

from typing import Any

import pytest

from tianfu.codec import decode
from tianfu.testing.sim import NetConfig, Simulation
from tianfu.testing.simchain import CommitRecord, Crash, SimExecuted
from tianfu.testing.simdriver import DriverNode
from tianfu.types import Block

FOREVER_MS = 10**9


class StopsAfter(DriverNode):
    """Decides blocks up to `LAST` with the others, then is cut off for good: from then on
    every quorum needs all three others."""

    LAST = 1

    def _committed(self, height: int, record: CommitRecord) -> None:
        super()._committed(height, record)
        if height == self.LAST and self.incarnation == 1:
            self.crash(FOREVER_MS)


class StopsAfterBlockFive(StopsAfter):
    LAST = 5


class QuietOverBlockOne(DriverNode):
    """Its first start's quiet period lasts past the decision of block 1 (it signs nothing
    there), and it stops after block 1 (`STOP`: "stored", at once; "next height", once
    the driver went on to height 2); it comes back with its files."""

    keeps_files = True
    STOP = "stored"

    async def _run(self, driver: Any, restarted: bool) -> None:
        await super()._run(driver, restarted)
        if not restarted:
            driver.signer.quiet_until += 5.0

    def _committed(self, height: int, record: CommitRecord) -> None:
        super()._committed(height, record)
        if height == 1 and self.incarnation == 1:
            if self.STOP == "stored":
                self.crash(self.sim.down_ms)
            else:
                self.sim.schedule(1, self.id, Crash(self.sim.down_ms))


class QuietOverBlockOneStopsLater(QuietOverBlockOne):
    STOP = "next height"


class SyncsThenStops(DriverNode):
    """Down from the start while the others decide five blocks; back, it takes them by
    block sync (copied from the highest peer's store, then `jump_to`, as `BlockSyncer`
    does), stops a gossip tick later (still in its quiet start, nothing signed) and
    comes back with its files."""

    keeps_files = True

    def start(self) -> None:
        if self.incarnation == 0:
            self.sim.schedule(1, self.id, Crash(3_000))
            self.took_by_sync = False
        super().start()
        self.synced = False

    def sync_tick(self) -> None:
        if self.incarnation != 2 or self.driver is None:
            super().sync_tick()
            return
        if self.synced:
            self.crash(self.sim.down_ms)
            return
        peer = max((nd for nd in self.sim.honest if nd is not self), key=lambda n: n.ledger.height)
        if peer.ledger.height > self.ledger.height + 1:
            for h in range(self.ledger.height + 1, peer.ledger.height + 1):
                rec = peer.ledger.commits[h]
                executed = self.ledger.execute(decode(rec.block, Block))
                self.ledger.commit(SimExecuted(executed.block), rec.certificate)
            self.driver.jump_to(self.ledger.height)
            self.synced = self.took_by_sync = True
        self.sim.schedule(self.sim.gossip_ms, self.id, ("sync", self.incarnation))


def up_nodes_reach(sim: Simulation, down: int) -> list[str]:
    return [
        f"{nd.name} at {len(nd.commits)}"
        for nd in sim.honest
        if nd.val_index != down and len(nd.commits) < sim.target_height
    ]


@pytest.mark.parametrize("node", [QuietOverBlockOne, QuietOverBlockOneStopsLater])
def test_restart_after_a_quiet_start_over_block_one_does_not_halt(node):
    """Validator 2's quiet start held its signatures while block 1 was decided (by 0, 1
    and 3); it stopped, and validator 3 stopped for good, so 0 and 1 wait at height 2
    round 0 for a quorum. Validator 2 comes back with its intact files: its signer state
    was at height 0 and the store at 1, the restart guard took the file for an old copy
    and held its signatures until round 2 of height 2, where 0 and 1 never go (the chain
    stopped at height 1 with three of four up). It now signs at height 2 round 0 after
    its quiet start, and the three go on. Stopped at once after the store (before the
    driver went on to height 2), the file was at height 0 too: the mark now comes before
    the store."""
    for seed in range(3):
        sim = Simulation(
            4,
            seed,
            net=NetConfig(max_delay_ms=20),
            node_classes={2: node, 3: StopsAfter},
            down_ms=300,
            target_height=4,
            max_time_ms=15_000,
        ).run()
        assert sim.check_safety() == [] and sim.check_double_signs() == []
        v2 = sim.nodes[2]
        assert v2.incarnation == 2 and 1 in v2.commits  # (the sequence happened)
        assert up_nodes_reach(sim, down=3) == [], seed


def test_restart_after_catching_up_by_block_sync_does_not_halt():
    """Validator 2 was down while 0, 1 and 3 decided five blocks, then 3 stopped for good:
    0 and 1 wait at height 6 round 0. Validator 2 comes back, takes the five blocks by
    block sync, stops during its quiet start and comes back again with its intact files:
    its signer state was still at height 0 (block sync moved no mark), the store at 5,
    and the restart guard held its signatures until round 2 of height 6, where 0 and 1
    never go. Now the mark follows the heights block sync stored, and the three go on."""
    for seed in range(3):
        sim = Simulation(
            4,
            seed,
            net=NetConfig(max_delay_ms=20),
            node_classes={2: SyncsThenStops, 3: StopsAfterBlockFive},
            down_ms=300,
            target_height=8,
            max_time_ms=20_000,
        ).run()
        assert sim.check_safety() == [] and sim.check_double_signs() == []
        v2 = sim.nodes[2]
        assert v2.incarnation == 3 and v2.took_by_sync  # (the sequence happened)
        assert up_nodes_reach(sim, down=3) == [], seed


class BackWithAnOlderStore(DriverNode):
    """Restarts with its signer file and WAL as they were but its store four blocks older
    (a copy put back): its signer state, marked or signed, is past the store."""

    keeps_files = True

    def start(self) -> None:
        ledger = self.ledger
        if self.incarnation > 0:
            for h in range(max(1, ledger.height - 3), ledger.height + 1):
                del ledger.commits[h], ledger._headers[h]
            if self.done and ledger.height < self.sim.target_height:
                self.done = False
                self.sim.done_count -= 1
        super().start()


class StopsAfterBlockEight(StopsAfter):
    LAST = 8


@pytest.mark.parametrize("others", ["all up", "one stops"])
def test_a_store_put_back_older_than_the_signer_state_recovers_by_itself(others):
    """The signer refuses every height up to its state while the node takes the missing
    blocks from its peers, then signs again: no double signature, and the three up (one
    validator stopped for good after block 8) go on."""
    classes: dict[int, type[DriverNode]] = {2: BackWithAnOlderStore}
    if others == "one stops":
        classes[3] = StopsAfterBlockEight
    for seed in range(6):
        sim = Simulation(
            4,
            seed,
            net=NetConfig(max_delay_ms=30, drop=0.05 if seed % 2 else 0.0),
            node_classes=classes,
            restarts={2: 1500 + 37 * seed},
            down_ms=300,
            target_height=14,
            max_time_ms=30_000,
        ).run()
        assert sim.check_safety() == [] and sim.check_double_signs() == []
        assert sim.nodes[2].incarnation == 2
        assert up_nodes_reach(sim, down=3 if others == "one stops" else -1) == [], seed
