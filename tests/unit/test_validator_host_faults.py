"""A validator whose own host fails while it executes a proposed block (its store locked or
failing, no memory) gives no verdict on the block: it does not call it invalid (a verdict
the WAL keeps, so the core prevotes nil for it at that height even after a restart), it
tries again, and its health says why meanwhile."""

import asyncio
import logging
import sqlite3
from types import SimpleNamespace
from typing import Any

import pytest
from test_build_failures import _health, _txs, chain  # noqa: F401 - fixture
from test_dynamic_params import make_driver

from tianfu.codec import encode
from tianfu.consensus.messages import BlockExecuted, ExecuteBlock
from tianfu.execution.errors import HostReadError
from tianfu.store import StoreBusy, StoreClosed

FAULTS = {
    "StoreBusy": lambda: StoreBusy("read failed: database is locked"),
    "HostReadError": lambda: HostReadError("reading state failed: StoreBusy: locked"),
    "OperationalError": lambda: sqlite3.OperationalError("disk I/O error"),
    "MemoryError": lambda: MemoryError(),
    "StoreClosed": lambda: StoreClosed("the store is closed"),
}


def _execute(driver: Any, chain: Any, a: ExecuteBlock) -> list[Any]:  # noqa: F811
    posted: list[Any] = []
    driver._post = posted.append

    async def go() -> None:
        driver._ledger_lock = asyncio.Lock()
        driver.core = driver._default_core(a.height, chain.ledger.validator_set(a.height))
        await driver._execute(a)

    asyncio.run(go())
    return posted


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_validator_whose_store_fails_gives_no_verdict_and_tries_again(
    chain,  # noqa: F811
    tmp_path,
    caplog,
    fault,
):
    """The proposed block is valid; this validator's execution fails twice on its own
    host. It answered `BlockExecuted(valid=False)` (logged with a traceback as 'executing
    block H failed'): the core prevoted nil for a valid block, and kept that verdict for
    the height. Now it answers valid once its host lets it execute, and its health read
    degraded in between."""
    ledger = chain.ledger
    txs = _txs(chain, 2)
    block = chain.replica.build_block(txs, b"").block
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    driver = make_driver(chain, tmp_path)
    health = _health(driver)
    real = ledger.execute
    seen: list[str] = []

    def failing(*args: Any, **kw: Any) -> Any:
        seen.append(health.text())
        if len(seen) <= 2:
            raise FAULTS[fault]()
        return real(*args, **kw)

    ledger.execute = failing
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        posted = _execute(driver, chain, a)
    assert posted == [BlockExecuted(a.height, a.block_hash, True)], posted
    assert len(seen) == 3
    assert seen[0] == "ok"
    assert seen[2].startswith("degraded: cannot execute proposed blocks: "), seen
    assert health.text() == "ok"
    assert driver.stats["execute_host_failures"] == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info, caplog.text
    assert f"cannot execute block {a.height}" in errors[0].getMessage()


def test_a_validator_still_calls_an_invalid_block_invalid(chain, tmp_path):  # noqa: F811
    """The ledger's verdict (InvalidBlock) is still answered at once, without retrying."""
    txs = _txs(chain, 1)
    block = chain.replica.build_block(txs, b"").block
    ledger = chain.ledger

    def invalid(*args: Any, **kw: Any) -> Any:
        from tianfu.ledger import InvalidBlock

        raise InvalidBlock("state root mismatch: this node computes a different state")

    ledger.execute = invalid
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    posted = _execute(make_driver(chain, tmp_path), chain, a)
    assert posted == [BlockExecuted(a.height, a.block_hash, False)]


def test_a_validator_stops_retrying_when_the_height_moves_on(chain, tmp_path):  # noqa: F811
    """The height was decided without this validator while its store failed: the retries
    end, no verdict is posted, and the health no longer names the failure."""
    ledger = chain.ledger
    block = chain.replica.build_block(_txs(chain, 1), b"").block
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    driver = make_driver(chain, tmp_path)
    calls: list[int] = []

    def failing(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        driver.core = SimpleNamespace(height=a.height + 1, blocks={})  # decided meanwhile
        raise StoreBusy("read failed: database is locked")

    ledger.execute = failing
    posted: list[Any] = []
    driver._post = posted.append

    async def go() -> None:
        driver._ledger_lock = asyncio.Lock()
        driver.core = driver._default_core(a.height, ledger.validator_set(a.height))
        await driver._execute(a)

    asyncio.run(go())
    assert calls == [1] and posted == []
    assert driver.blocks.execute_failure is None


def test_a_block_that_fails_every_execution_while_the_store_answers_is_invalid(
    chain,  # noqa: F811
    tmp_path,
    caplog,
):
    """A block holding a transaction that raises a host-fault type on every node (a
    Byzantine proposer's): with no verdict ever, every validator would wait at its
    proposal for good and the chain would halt. After `HOST_FAULT_REPEATS` failures in a
    row, with the store answering its probe, the block is invalid."""
    from tianfu.consensus.culprit import HOST_FAULT_REPEATS

    block = chain.replica.build_block(_txs(chain, 1), b"").block
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    driver = make_driver(chain, tmp_path)
    calls: list[int] = []

    def poisoned(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        raise MemoryError()

    chain.ledger.execute = poisoned
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        posted = _execute(driver, chain, a)
    assert posted == [BlockExecuted(a.height, a.block_hash, False)]
    assert len(calls) == HOST_FAULT_REPEATS
    assert "while the store answers" in caplog.text
    assert driver.blocks.execute_failure is None


def test_no_verdict_while_the_store_itself_does_not_answer(chain, tmp_path):  # noqa: F811
    """The same repeated failure during a real outage (the probe fails too): no verdict,
    however many attempts, until the height is decided without this validator."""
    from tianfu.consensus.culprit import HOST_FAULT_REPEATS

    ledger = chain.ledger
    block = chain.replica.build_block(_txs(chain, 1), b"").block
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    driver = make_driver(chain, tmp_path)
    calls: list[int] = []

    def locked(*args: Any, **kw: Any) -> Any:
        raise StoreBusy("write failed: database is locked")

    def failing(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) > HOST_FAULT_REPEATS + 1:
            driver.core = SimpleNamespace(height=a.height + 1, blocks={})  # decided meanwhile
        raise StoreBusy("read failed: database is locked")

    ledger.store.probe = locked
    ledger.execute = failing
    posted: list[Any] = []
    driver._post = posted.append

    async def go() -> None:
        driver._ledger_lock = asyncio.Lock()
        driver.core = driver._default_core(a.height, ledger.validator_set(a.height))
        await driver._execute(a)

    asyncio.run(go())
    assert len(calls) == HOST_FAULT_REPEATS + 2 and posted == []


def test_a_failure_met_before_the_store_answered_again_is_no_verdict(
    chain,  # noqa: F811
    tmp_path,
):
    """A real outage (the store locked: executions and probes fail) ends just after an
    execution failed, before the probe: the probe answers. That failure was the outage's,
    not the block's: the block, valid, is executed again and answered valid. It was
    answered invalid (the core prevoted nil for a valid block, kept that verdict for the
    height, and the WAL across a restart): two honest validators disagreed on it."""
    ledger = chain.ledger
    block = chain.replica.build_block(_txs(chain, 1), b"").block
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    driver = make_driver(chain, tmp_path)
    real_execute, real_probe = ledger.execute, ledger.store.probe
    outage = {"on": True, "probes": 0}
    calls: list[bool] = []

    def probe() -> None:
        outage["probes"] += 1
        if outage["probes"] >= 2:
            outage["on"] = False  # the outage ends now
        if outage["on"]:
            raise StoreBusy("write failed: database is locked")
        real_probe()

    def execute(*args: Any, **kw: Any) -> Any:
        calls.append(outage["on"])
        if outage["on"]:
            raise StoreBusy("read failed: database is locked")
        return real_execute(*args, **kw)

    ledger.store.probe = probe
    ledger.execute = execute
    posted = _execute(driver, chain, a)
    assert posted == [BlockExecuted(a.height, a.block_hash, True)], (posted, calls)
    assert calls[-1] is False and all(calls[:-1]), calls
    assert driver.blocks.execute_failure is None


def test_a_verdict_after_host_failures_ends_the_degraded_health(chain, tmp_path):  # noqa: F811
    """The store failed twice, then the block executed far enough to be found invalid:
    a verdict was given, so the host's failure no longer stops this node's verdicts. The
    health still read 'degraded: cannot execute proposed blocks: StoreBusy ...' until
    some other block executed."""
    from tianfu.ledger import InvalidBlock

    ledger = chain.ledger
    block = chain.replica.build_block(_txs(chain, 1), b"").block
    a = ExecuteBlock(block.header.height, 0, block.hash, encode(block))
    driver = make_driver(chain, tmp_path)
    health = _health(driver)
    calls: list[int] = []

    def failing(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) <= 2:
            raise StoreBusy("read failed: database is locked")
        raise InvalidBlock("state root mismatch: this node computes a different state")

    ledger.execute = failing
    posted = _execute(driver, chain, a)
    assert posted == [BlockExecuted(a.height, a.block_hash, False)]
    assert len(calls) == 3
    assert driver.blocks.execute_failure is None
    assert health.text() == "ok"
