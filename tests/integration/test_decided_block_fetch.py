"""The consensus driver when the bytes it holds for a decided block do not execute.

A block is decided on its hash (2f+1 precommits, or a certificate): the bytes the node
holds for it may be missing or not the block (decided from a certificate or from the
WAL's votes and execution record after a restart, the proposal's copy here without its
block). Four drivers with real ledgers over the in-memory router of `test_driver`, no
block sync: one node's decided block comes with bytes that do not execute. It must not
wait for block sync to store the block: it says why it does not sign (`driver.halted`,
the log), asks its peers for the block's commit at once, stores the block it gets back
(bytes checked against the decided hash) and votes again by itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from test_driver import Cluster, run

from tianfu.consensus.messages import CommitBlock


def test_a_decided_block_whose_bytes_do_not_execute_is_fetched_from_peers(tmp_path, caplog):
    cluster = Cluster(tmp_path)
    victim = cluster.nodes[3]
    key = victim.ident.keypair.public_key
    damaged: list[int] = []
    halted: list[str] = []

    async def scenario():
        await cluster.start()
        await cluster.wait_height(3)
        driver = victim.driver
        real = driver._commit

        async def commit(a: CommitBlock):
            if not damaged:  # the bytes held for the decided block are not it
                damaged.append(a.height)
                driver.blocks.executed.clear()
                a = dataclasses.replace(a, block=a.block[:-1])
            return await real(a)

        driver._commit = commit

        real_halt = driver.signer.halt

        def halt(source: str, reason: str) -> None:  # every reason `driver.halted` shows
            halted.append(reason)
            real_halt(source, reason)

        driver.signer.halt = halt  # type: ignore[method-assign]

        deadline = time.monotonic() + 60
        while not damaged or victim.height < damaged[0] or driver.halted is not None:
            assert time.monotonic() < deadline, (
                f"the decided block {damaged} was never stored: {driver.halted}; "
                f"heights {[nd.height for nd in cluster.nodes]}"
            )
            await asyncio.sleep(0.01)
        assert driver.stats["decided_block_fetched"] == 1, driver.stats
        # It votes again past that height, and every store agrees.
        top = max(nd.height for nd in cluster.nodes)
        await cluster.wait_height(top + 2)
        votes = {h for (v, h, _r, _t) in cluster.router.votes if v == key}
        assert max(votes) > damaged[0]
        await cluster.stop_all()

    with caplog.at_level(logging.INFO, logger="tianfu.consensus"):
        run(scenario())
    assert cluster.check_agreement() >= damaged[0] + 2
    assert any("fetching it from peers" in h for h in halted), halted
    assert "fetching it from peers" in caplog.text
