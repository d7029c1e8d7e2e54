"""A host fault that one transaction causes on every attempt does not halt the chain: after
`HOST_FAULT_REPEATS` failures in a row on the same transactions, and only if the store
answers its probe, the culprit search blames the transaction; a real outage (the probe
fails too) still drops nothing (network proposer and dev chain)."""

import asyncio
import errno
import logging
import os
import sqlite3
import time
from typing import Any

import pytest
from test_build_failures import _build, _pool, _solo, _txs, chain  # noqa: F401 - fixture
from test_dynamic_params import make_driver

from tianfu.consensus.culprit import (
    HOST_FAULT_REPEATS,
    HostFaultStreak,
    build_dropping_culprit,
    host_fault,
    store_answers,
)
from tianfu.consensus.messages import ProposalBlockReady
from tianfu.store import Store, StoreBusy, StoreClosed, StoreWriteError

POISONS = {
    "MemoryError": lambda: MemoryError(),
    "OperationalError": lambda: sqlite3.OperationalError("database is locked"),
    "StoreBusy": lambda: StoreBusy("read failed: database is locked"),
    "OSError": lambda: OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG)),
}


def _poisoned(ledger: Any, poison: bytes, fault: Any) -> list[int]:
    """`ledger.build_block` raising `fault()` for any block holding `poison` (as a
    transaction whose execution raises a host-fault type on every attempt would)."""
    real = ledger.build_block
    met: list[int] = []

    def build_block(candidates, *args, **kw):
        if any(t.hash == poison for t in candidates):
            met.append(len(candidates))
            raise fault()
        return real(candidates, *args, **kw)

    ledger.build_block = build_block
    return met


def test_the_streak_counts_failures_on_transactions_every_one_of_them_held():
    streak = HostFaultStreak(3)
    assert not streak.failed([b"a", b"b"])
    assert not streak.failed([b"a", b"c"])  # `a` was in both
    assert streak.failed([b"a", b"d"])
    streak.reset()
    assert not streak.failed([b"a"]) and not streak.failed([b"b"])  # nothing shared
    assert not streak.failed([b"b"]) and streak.failed([b"b"])
    assert not HostFaultStreak(1).failed([])  # an empty block blames no one


def test_the_search_blames_a_host_fault_only_when_told_and_never_a_refused_write():
    def attempt(candidates):
        if 3 in candidates:
            raise MemoryError()
        return list(candidates)

    with pytest.raises(MemoryError):
        build_dropping_culprit(attempt, [1, 2, 3, 4])
    built = build_dropping_culprit(attempt, [1, 2, 3, 4], blame_host=True)
    assert built.culprit == 3 and built.result == [1, 2]
    for refused in (OSError(errno.ENOSPC, "full"), StoreWriteError("disk full")):

        def full(candidates, refused=refused):
            if len(candidates) > 1:
                raise refused
            return list(candidates)

        with pytest.raises(type(refused)):
            build_dropping_culprit(full, [1, 2], blame_host=True)


def test_the_store_answers_its_probe_until_it_is_closed(chain, tmp_path):  # noqa: F811
    store = chain.ledger.store
    assert store_answers(store)
    assert store.get_meta("probe") == b"\x01"
    assert not store_answers(object())  # no probe: never taken as healthy
    other = Store(tmp_path / "other.db")
    assert store_answers(other)
    other.close()
    assert not store_answers(other)
    with pytest.raises(StoreClosed) as err:
        other.load_header(1)
    assert host_fault(err.value)  # no transaction's fault, whoever meets it


@pytest.mark.parametrize("fault", sorted(POISONS))
def test_network_proposer_drops_a_transaction_that_fails_every_build_on_the_host(
    chain,  # noqa: F811
    tmp_path,
    caplog,
    fault,
):
    """A transaction whose execution raises a host-fault type on every attempt: the
    proposer dropped nothing and proposed nothing, build after build, forever (and so did
    every other proposer: the chain halted). Now the `HOST_FAULT_REPEATS`-th failure on
    the same transactions, with the store answering its probe, runs the search: the
    block holds the others, the poison is dropped."""
    txs = _txs(chain, 4)
    poison = txs[2].hash
    met = _poisoned(chain.ledger, poison, POISONS[fault])
    mempool = _pool(txs)
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = chain.cas["org1"].issue("org1-node", "node").keypair.public_key
    height = chain.ledger.height + 1
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        for attempt in range(HOST_FAULT_REPEATS - 1):
            assert not [
                e for e in _build(driver, chain, height) if isinstance(e, ProposalBlockReady)
            ]
            assert all(t.hash in mempool for t in txs), f"dropped at attempt {attempt + 1}"
        posted = _build(driver, chain, height)
    assert len(met) >= HOST_FAULT_REPEATS
    (ready,) = [e for e in posted if isinstance(e, ProposalBlockReady)]
    executed = driver.blocks.executed[ready.block_hash]
    assert [t.hash for t in executed.block.txs] == [t.hash for t in txs[:2]]
    assert poison not in mempool and txs[3].hash in mempool
    assert f"dropping transaction {poison.hex()}" in caplog.text
    assert driver.stats["host_fault_searches"] == 1
    assert chain.replica.execute(executed.block).batch.root == executed.block.header.state_root


def test_network_proposer_drops_nothing_while_the_store_does_not_answer(
    chain,  # noqa: F811
    tmp_path,
    caplog,
):
    """The same repeated failure while the store's probe fails too (a real outage): no
    search, nothing dropped, however long it lasts."""
    txs = _txs(chain, 3)
    met = _poisoned(chain.ledger, txs[1].hash, POISONS["StoreBusy"])
    store = chain.ledger.store

    def locked():
        raise StoreBusy("write failed: database is locked")

    store.probe = locked
    mempool = _pool(txs)
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = chain.cas["org1"].issue("org1-node", "node").keypair.public_key
    height = chain.ledger.height + 1
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        for _ in range(2 * HOST_FAULT_REPEATS + 1):
            assert not [
                e for e in _build(driver, chain, height) if isinstance(e, ProposalBlockReady)
            ]
    assert len(met) == 2 * HOST_FAULT_REPEATS + 1
    assert all(t.hash in mempool for t in txs)
    assert "dropping transaction" not in caplog.text
    assert driver.stats["host_fault_searches"] == 0
    assert driver.blocks.build_failure is not None


def _run_until(driver: Any, done: Any, seconds: float = 60) -> None:
    """Run a solo driver until `done()` (or `seconds` pass), then stop it."""

    async def run() -> None:
        task = asyncio.create_task(driver.run())
        driver.notify()
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        await driver.drain()

    asyncio.run(run())


@pytest.mark.parametrize("fault", ["MemoryError", "OSError"])
def test_dev_chain_drops_a_transaction_that_fails_every_block_on_the_host(
    chain,  # noqa: F811
    caplog,
    fault,
):
    """The dev chain met the poison's host fault on every attempt and retried forever
    with its backoff, storing nothing after it; now the search runs once the store
    answers its probe, the others are stored, the poison dropped."""
    ledger = chain.ledger
    txs = _txs(chain, 3)
    poison = txs[1].hash
    met = _poisoned(ledger, poison, POISONS[fault])
    mempool = _pool(txs)
    driver = _solo(chain, mempool)
    start = ledger.height
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.solo"):
        _run_until(driver, lambda: not len(mempool))
    assert len(met) >= HOST_FAULT_REPEATS
    assert len(mempool) == 0, "the dev chain halted on the poisoned transaction"
    stored = [
        t.hash for h in range(start + 1, ledger.height + 1) for t in ledger.store.load_block(h).txs
    ]
    assert stored == [txs[0].hash, txs[2].hash]
    assert f"dropping transaction {poison.hex()}" in caplog.text


def test_dev_chain_drops_nothing_while_the_store_does_not_answer(chain, caplog):  # noqa: F811
    ledger = chain.ledger
    txs = _txs(chain, 2)
    met = _poisoned(ledger, txs[0].hash, POISONS["StoreBusy"])

    def closed():
        raise StoreClosed("the store is closed")

    ledger.store.probe = closed
    mempool = _pool(txs)
    driver = _solo(chain, mempool)
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.solo"):
        _run_until(driver, lambda: len(met) > HOST_FAULT_REPEATS + 1)
    assert len(met) > HOST_FAULT_REPEATS + 1, "too few attempts to tell"
    assert len(mempool) == 2 and "dropping transaction" not in caplog.text


class _FailingOnce:
    """A read connection whose next statement fails with SQLite result `code`."""

    def __init__(self, conn: Any, code: int, message: str) -> None:
        self._conn, self._code, self._message, self.met = conn, code, message, False

    def execute(self, *args: Any) -> Any:
        if not self.met:
            self.met = True
            exc = sqlite3.OperationalError(self._message)
            exc.sqlite_errorcode = self._code  # type: ignore[attr-defined]
            raise exc
        return self._conn.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (13, "database or disk is full"),  # a read's temporary space
        (14, "unable to open database file"),  # a read's temporary file
        (7, "out of memory"),
    ],
)
def test_a_read_the_host_cannot_do_is_no_transactions_fault(chain, code, message):  # noqa: F811
    """A read SQLite could not do for want of the host's resources (a sort's temporary
    space on a full disk, its temporary file, memory) was a bare StoreError, which the
    culprit search took for a transaction's failure: a proposer met by it once dropped an
    acknowledged transaction. It is now a host fault (StoreWriteError, StoreNoMemory)."""
    store = chain.ledger.store
    conn = store._conn()
    failing = _FailingOnce(conn, code, message)
    store._conn = lambda: failing
    with pytest.raises(Exception) as err:
        store.load_header(1)
    assert failing.met and message in str(err.value)
    assert host_fault(err.value), type(err.value)
    assert store.load_header(1) is not None
