"""The consensus driver when its store cannot take a decided block (disk full, I/O error).

Four drivers with real ledgers over the in-memory router of `test_driver`. One node's store
refuses every write for a while: it must sign nothing from then on (no vote for any later
height reaches the network), report why (`driver.halted`), keep running, and — once the
store takes writes again and the store check passes — store the block, catch up and vote
again by itself. The others go on meanwhile; nobody double-signs; every store agrees.
"""

from __future__ import annotations

import asyncio
import time

from test_driver import Cluster, run

from tianfu.store import StoreWriteError


class FlakyCommit:
    """Wraps a ledger's `commit`: raises StoreWriteError while `failing` is set."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger
        self.real = ledger.commit
        self.failing = False
        self.refused: list[int] = []
        ledger.commit = self

    def __call__(self, executed, cert) -> None:
        if self.failing:
            self.refused.append(executed.block.header.height)
            raise StoreWriteError("write failed: database or disk is full")
        self.real(executed, cert)


def votes_of(cluster: Cluster, key: bytes, above: int) -> list[int]:
    return sorted({h for (v, h, _r, _t) in cluster.router.votes if v == key and h > above})


def test_a_validator_that_cannot_store_stops_signing_and_resumes_by_itself(tmp_path):
    cluster = Cluster(tmp_path)
    nodes = cluster.nodes
    victim = nodes[3]
    key = victim.ident.keypair.public_key
    checks: list[float] = []

    async def scenario():
        await cluster.start()
        await cluster.wait_height(3)
        flaky = FlakyCommit(victim.ledger)
        victim.driver.committer.check_store = lambda: checks.append(time.monotonic())
        flaky.failing = True
        deadline = time.monotonic() + 60
        while victim.driver.halted is None:
            assert time.monotonic() < deadline, "the victim never noticed its store failing"
            await asyncio.sleep(0.02)
        assert "cannot store decided block" in victim.driver.halted
        assert "disk is full" in victim.driver.halted
        stuck = victim.height
        failed_height = flaky.refused[0]
        assert failed_height == stuck + 1
        others = nodes[:3]
        await cluster.wait_height(stuck + 6, others)  # 3 of 4 go on without it
        signed_while_halted = votes_of(cluster, key, failed_height)
        assert victim.driver.failed is None  # still running
        flaky.failing = False
        top = max(nd.height for nd in others)
        deadline = time.monotonic() + 60
        while victim.driver.halted is not None or victim.height < top:
            assert time.monotonic() < deadline, (victim.driver.halted, victim.height, top)
            await asyncio.sleep(0.02)
        resumed_at = victim.height
        # It votes again: its votes reach the network for a height after it resumed.
        deadline = time.monotonic() + 60
        while not votes_of(cluster, key, resumed_at):
            assert time.monotonic() < deadline, "the victim never voted again"
            await cluster.wait_height(max(nd.height for nd in cluster.nodes) + 1)
        await cluster.wait_height(max(nd.height for nd in cluster.nodes))
        await cluster.stop_all()
        return signed_while_halted, failed_height

    signed_while_halted, failed_height = run(scenario())
    assert signed_while_halted == [], f"signed at heights {signed_while_halted} while halted"
    assert checks, "the store was not checked before signing again"
    assert cluster.check_agreement() > failed_height  # includes: no double signs
