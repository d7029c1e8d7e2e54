"""The consensus driver when its signer state or WAL cannot be written (I/O error, full disk).

Four drivers with real ledgers over the in-memory router of `test_driver`. Every sync of
one node's signer file fails for a while: it must sign nothing (a signature is only
returned once its state is durable), say why (`driver.halted`, hence `/v1/status` health),
keep following the chain without dropping the events whose signing failed, and sign again
by itself once the file can be written. Nobody double-signs; every store agrees.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time

from test_driver import Cluster, run

from tianfu.consensus import privval as privval_mod


def votes_of(cluster: Cluster, key: bytes, above: int) -> list[int]:
    return sorted({h for (v, h, _r, _t) in cluster.router.votes if v == key and h > above})


def test_a_validator_whose_signer_file_fails_stops_signing_and_resumes_by_itself(
    tmp_path, monkeypatch
):
    cluster = Cluster(tmp_path)
    nodes = cluster.nodes
    victim = nodes[3]
    key = victim.ident.keypair.public_key
    failing = {"on": False, "calls": 0}
    real_sync = privval_mod._fdatasync

    def sync(fd: int) -> None:
        pv = victim.driver.privval if victim.driver is not None else None
        if failing["on"] and pv is not None and fd == pv._fd:
            failing["calls"] += 1
            raise OSError(errno.EIO, "Input/output error")
        real_sync(fd)

    monkeypatch.setattr(privval_mod, "_fdatasync", sync)

    async def scenario():
        await cluster.start()
        await cluster.wait_height(3)
        failing["on"] = True
        deadline = time.monotonic() + 30
        while victim.driver.halted is None:
            assert time.monotonic() < deadline, "the victim never noticed its signer failing"
            await asyncio.sleep(0.02)
        assert "cannot write signer state" in victim.driver.halted
        assert "Input/output error" in victim.driver.halted
        failed_at = victim.height
        others = nodes[:3]
        await cluster.wait_height(failed_at + 5, others)  # 3 of 4 go on without its votes
        # It signed nothing meanwhile, follows the chain, and lost no event to the error.
        assert votes_of(cluster, key, failed_at + 1) == []
        await cluster.wait_height(failed_at + 5, [victim])
        assert victim.driver.failed is None
        assert victim.driver.stats["event_errors"] == 0
        assert victim.driver.stats["signer_write_failures"] == 1
        assert victim.driver.halted is not None and failing["calls"] > 1  # retried, in vain
        failing["on"] = False
        deadline = time.monotonic() + 30
        while victim.driver.halted is not None:
            assert time.monotonic() < deadline, victim.driver.halted
            await asyncio.sleep(0.02)
        resumed_at = victim.height
        deadline = time.monotonic() + 30
        while not votes_of(cluster, key, resumed_at):
            assert time.monotonic() < deadline, "the victim never voted again"
            await cluster.wait_height(max(nd.height for nd in cluster.nodes) + 1)
        await cluster.wait_height(max(nd.height for nd in cluster.nodes))
        await cluster.stop_all()

    run(scenario())
    assert cluster.check_agreement() > 8


def test_a_full_disk_under_the_wal_is_one_error_line_per_outage_not_a_traceback_per_message(
    tmp_path, monkeypatch, caplog
):
    """Every message a node logs to its WAL failed with its own ERROR and traceback while
    the disk was full (19 tracebacks in the disk-full run's victim log); now the first
    failure of an outage is logged, the rest counted, and the first success says so."""
    cluster = Cluster(tmp_path)
    victim = cluster.nodes[3]
    full = {"on": False}
    real_write = os.write

    def write(fd: int, data) -> int:
        if full["on"] and victim.driver is not None and fd == victim.wal._fd:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)

    async def scenario():
        await cluster.start()
        await cluster.wait_height(3)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            full["on"] = True
            await cluster.wait_height(victim.height + 3)
            full["on"] = False
            await cluster.wait_height(victim.height + 2)
        await cluster.stop_all()

    run(scenario())
    assert victim.driver is None
    failed = [r for r in caplog.records if "consensus WAL write failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert "No space left on device" in failed[0].getMessage()
    assert any("written again after" in r.getMessage() for r in caplog.records)
    assert cluster.check_agreement() > 5
