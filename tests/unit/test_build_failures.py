"""A block that cannot be built or stored never halts the chain: the proposer finds the
transaction that causes it, drops it with a log line, and goes on (dev chain and network)."""

import asyncio
import errno
import logging
import os
import sqlite3
import time
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dynamic_params import make_driver, tx_with_expiry
from test_governance_admission import Chain

from tianfu.consensus.culprit import build_dropping_culprit, host_fault
from tianfu.consensus.messages import CreateProposalBlock, ProposalBlockReady
from tianfu.consensus.solo import SoloDriver
from tianfu.execution.contract_api import ContractError, state_key
from tianfu.execution.errors import HostReadError, HostResourceError
from tianfu.ledger import InvalidBlock
from tianfu.ledger import ledger as ledger_module
from tianfu.mempool import Mempool
from tianfu.node.health import NodeHealth, wire_health
from tianfu.store import StoreBusy, StoreDamaged, StoreWriteError

WRITER = "def put(ctx, key, size):\n    ctx.put(key, 'v' * size)\n    return size\n"


def _run_until_drained(driver: Any, mempool: Any) -> None:
    """Run a solo driver until its mempool is empty (or 60 s pass), then stop it."""

    async def run() -> None:
        task = asyncio.create_task(driver.run())
        driver.notify()
        deadline = time.monotonic() + 60
        while len(mempool) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        await driver.drain()

    asyncio.run(run())


def _pool(txs: list[Any]) -> Mempool:
    """A mempool holding `txs`, in order."""
    mempool = Mempool()
    for tx in txs:
        mempool.add(tx)
    return mempool


def _solo(chain: Any, mempool: Mempool, **kw: Any) -> SoloDriver:
    """The dev chain's driver on `chain`'s ledger and node key: blocks of at most 100
    transactions and 1 MiB, made at once (`kw`: more of its options)."""
    (node,) = chain.keys.values()
    return SoloDriver(
        chain.ledger,
        mempool,
        node,
        max_block_txs=100,
        max_block_bytes=1 << 20,
        interval_ms=0,
        **kw,
    )


# -- the search ---------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 300),
    data=st.data(),
    stop_at_success=st.booleans(),
)
def test_the_search_finds_the_first_culprit(n, data, stop_at_success):
    bad = set(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=4)))
    txs = list(range(n))
    tried = []

    def attempt(candidates):
        tried.append(len(candidates))
        if bad & set(candidates):
            raise RuntimeError(f"cannot store {sorted(bad & set(candidates))}")
        return list(candidates)

    built = build_dropping_culprit(attempt, txs, stop_at_success=stop_at_success)
    first = min(bad)
    assert built.result == txs[: built.used]
    assert not bad & set(built.result)
    assert built.attempts == len(tried) <= 2 + n.bit_length()
    if stop_at_success and built.culprit is None:
        assert 0 < built.used <= first  # a shorter block went in; the rest is retried
        assert built.error == ""
    else:
        assert built.culprit == first and built.used == first
        assert "cannot store" in built.error


def test_the_search_blames_no_transaction_when_an_empty_block_fails():
    def attempt(candidates):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        build_dropping_culprit(attempt, [1, 2, 3])
    assert build_dropping_culprit(lambda c: c, []).result == []


def test_the_search_raises_a_failure_that_is_no_transactions_fault_from_any_attempt():
    """A nearly full disk stores a small block where it refuses a larger one: the search
    blamed the transaction after the prefix that fitted. A `not_a_tx_fault` failure is
    raised from whichever attempt meets it, and no transaction is blamed."""
    tried = []

    class DiskFull(Exception):  # a failure the search knows nothing of
        pass

    def attempt(candidates, fault=DiskFull):
        tried.append(len(candidates))
        if len(candidates) > 1:  # (room for a block of one transaction, not of two)
            raise fault(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return list(candidates)

    blamed = build_dropping_culprit(attempt, [1, 2], stop_at_success=True)
    assert blamed.culprit == 2  # what the search makes of it without being told
    tried.clear()
    with pytest.raises(DiskFull, match="No space left"):
        build_dropping_culprit(attempt, [1, 2], stop_at_success=True, not_a_tx_fault=(DiskFull,))
    assert tried == [2]
    tried.clear()
    with pytest.raises(DiskFull, match="No space left"):  # met in the middle of a search
        build_dropping_culprit(
            lambda c: attempt(c) if len(c) < 4 else 1 / 0, [1, 2, 3, 4], not_a_tx_fault=(DiskFull,)
        )
    assert tried == [2]
    # The host's own failures (an OSError, ...) are raised without being named.
    for fault in (OSError, sqlite3.OperationalError, MemoryError):
        tried.clear()
        with pytest.raises(fault):
            build_dropping_culprit(
                lambda c, f=fault: attempt(c, f) if len(c) < 4 else 1 / 0, [1, 2, 3, 4]
            )
        assert tried == [2]


# -- the dev chain (solo driver) ------------------------------------------------------------
@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path, validator_orgs=("org1",))  # one validator: the solo driver's key
    c.block()
    yield c
    c.close()


def _txs(chain, n):
    user = chain.cas["org2"].issue("user", "member")
    expiry = chain.ledger.height + 50
    return [tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(n)]


def test_dev_chain_drops_a_transaction_whose_block_cannot_be_stored(chain, caplog):
    ledger = chain.ledger
    txs = _txs(chain, 6)
    poison = txs[3].hash
    save_block = ledger.store.save_block

    def failing_save_block(block, *args, **kw):
        if any(t.hash == poison for t in block.txs):
            raise sqlite3.DataError("string or blob too big")
        return save_block(block, *args, **kw)

    ledger.store.save_block = failing_save_block
    mempool = _pool(txs)
    committed: list[Any] = []
    driver = _solo(chain, mempool, on_commit=committed.append)
    start = ledger.height

    with caplog.at_level(logging.WARNING, logger="tianfu.consensus.solo"):
        _run_until_drained(driver, mempool)
    assert len(mempool) == 0, "the chain stopped making progress"
    stored = [
        t.hash for h in range(start + 1, ledger.height + 1) for t in ledger.store.load_block(h).txs
    ]
    assert stored == [t.hash for t in txs if t.hash != poison]
    assert not ledger.store.has_tx(poison)
    assert f"dropping transaction {poison.hex()}" in caplog.text
    assert "string or blob too big" in caplog.text
    # The chain goes on afterwards.
    more = _txs(chain, 1)
    executed, done = driver.produce(more)
    assert [t.hash for t in executed.block.txs] == done == [more[0].hash]


# -- the network driver ----------------------------------------------------------------------
def _build(driver, chain, height):
    posted = []
    driver._post = posted.append

    async def go():
        driver._ledger_lock = asyncio.Lock()
        driver.core = driver._default_core(height, chain.ledger.validator_set(height))
        await driver._build(CreateProposalBlock(height, 0))

    asyncio.run(go())
    return posted


def test_network_proposer_drops_a_transaction_that_makes_building_fail(chain, tmp_path, caplog):
    txs = _txs(chain, 7)
    poison = txs[4].hash
    ledger = chain.ledger
    build_block = ledger.build_block

    def failing_build(candidates, *args, **kw):
        if any(t.hash == poison for t in candidates):  # (a MemoryError is the host's)
            raise RuntimeError("out of memory in execution")
        return build_block(candidates, *args, **kw)

    ledger.build_block = failing_build
    mempool = _pool(txs)
    node = chain.cas["org1"].issue("org1-node", "node")
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = node.keypair.public_key
    height = ledger.height + 1
    with caplog.at_level(logging.WARNING, logger="tianfu.consensus.driver"):
        posted = _build(driver, chain, height)
    (ready,) = [e for e in posted if isinstance(e, ProposalBlockReady)]
    executed = driver.blocks.executed[ready.block_hash]
    assert [t.hash for t in executed.block.txs] == [t.hash for t in txs[:4]]
    assert poison not in mempool  # dropped
    assert all(t.hash in mempool for t in txs[5:])  # waiting for the next block
    assert f"dropping transaction {poison.hex()}" in caplog.text
    assert "out of memory" in caplog.text
    # Validators accept the block proposed without it.
    assert chain.replica.execute(executed.block).batch.root == executed.block.header.state_root


def test_network_proposer_checks_the_block_is_storable_before_proposing(
    chain, tmp_path, caplog, monkeypatch
):
    pid = chain.ok(chain.admins["org1"], "propose_contract", "writer", WRITER)
    chain.pass_proposal(pid)
    user = chain.cas["org2"].issue("writer", "member")
    expiry = chain.ledger.height + 50
    sizes = [10, 20, 5000, 30]
    txs = [
        tx_with_expiry(chain, user, expiry, "put", f"k{i}", n, contract="writer")
        for i, n in enumerate(sizes)
    ]
    # A state value too large to store (the store's limit made small for the test).
    monkeypatch.setattr(ledger_module, "MAX_STATE_VALUE_BYTES", 1000)
    with pytest.raises(InvalidBlock, match="state value"):
        chain.ledger.build_block(txs, b"")
    mempool = _pool(txs)
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = chain.cas["org1"].issue("org1-node", "node").keypair.public_key
    with caplog.at_level(logging.WARNING, logger="tianfu.consensus.driver"):
        posted = _build(driver, chain, chain.ledger.height + 1)
    (ready,) = [e for e in posted if isinstance(e, ProposalBlockReady)]
    assert [t.hash for t in driver.blocks.executed[ready.block_hash].block.txs] == [
        txs[0].hash,
        txs[1].hash,
    ]
    assert txs[2].hash not in mempool and txs[3].hash in mempool
    assert "state value of" in caplog.text
    # A validator refuses a block holding it, before it votes.
    monkeypatch.setattr(ledger_module, "MAX_STATE_VALUE_BYTES", 64 << 20)
    over = chain.replica.build_block(txs[:3], b"")
    monkeypatch.setattr(ledger_module, "MAX_STATE_VALUE_BYTES", 1000)
    with pytest.raises(InvalidBlock, match="state value"):
        chain.ledger.execute(over.block)


@pytest.mark.parametrize("failure", ["ENOSPC", "store write error"])
def test_dev_chain_drops_nothing_while_its_store_cannot_be_written(chain, caplog, failure):
    """The dev chain on a nearly full disk: a block of two transactions cannot be stored, a
    block of one can. The search stored the first alone and dropped the second as the
    culprit ("dropping transaction ...: a block holding it cannot be built or stored
    (StoreWriteError: write failed: database or disk is full)"): an acknowledged
    transaction lost to a full disk, and a traceback logged every 0.1 s while it lasted.
    Now nothing is dropped: one ERROR line naming the cause and the fix, retries with a
    backoff, and both transactions in one block once the disk has room."""
    ledger = chain.ledger
    txs = _txs(chain, 2)
    save_block = ledger.store.save_block
    refused = []

    def nearly_full(block, *args, **kw):
        if len(block.txs) > 1 and len(refused) < 2:  # room returns after two refusals
            refused.append(block.header.height)
            if failure == "ENOSPC":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise StoreWriteError("write failed: database or disk is full")
        return save_block(block, *args, **kw)

    ledger.store.save_block = nearly_full
    mempool = _pool(txs)
    extra = {} if failure == "ENOSPC" else {"write_failures": (OSError, StoreWriteError)}
    driver = _solo(chain, mempool, **extra)
    start = ledger.height

    with caplog.at_level(logging.INFO, logger="tianfu.consensus.solo"):
        _run_until_drained(driver, mempool)
    stored = [
        t.hash for h in range(start + 1, ledger.height + 1) for t in ledger.store.load_block(h).txs
    ]
    assert "dropping transaction" not in caplog.text
    assert stored == [t.hash for t in txs]  # both, in one block, once there was room
    with_txs = [h for h in range(start + 1, ledger.height + 1) if ledger.store.load_block(h).txs]
    assert len(refused) == 2 and len(with_txs) == 1  # (empty blocks date a stale time)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info, caplog.text
    assert f"cannot store block {refused[0]}" in errors[0].getMessage()
    assert "free disk space" in errors[0].getMessage()
    assert "store writable again: block" in caplog.text


# -- the network proposer when the host fails, not a transaction ------------------------------
HOST_FAULTS = {
    "EIO": lambda: OSError(errno.EIO, os.strerror(errno.EIO)),
    "ENOSPC": lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    "MemoryError": lambda: MemoryError(),
    "database is locked": lambda: sqlite3.OperationalError("database is locked"),
    "disk I/O error": lambda: sqlite3.OperationalError("disk I/O error"),
    "store busy": lambda: StoreBusy("read failed: database is locked"),
    "store write error": lambda: StoreWriteError("write failed: database or disk is full"),
    "store damaged": lambda: StoreDamaged("read failed: disk I/O error"),
}


def _failing_once(store, method, fault):
    """`store.method` raising `fault()` on its first call, then as before."""
    real = getattr(store, method)
    calls = []

    def once(*args, **kw):
        calls.append(args)
        if len(calls) == 1:
            raise fault()
        return real(*args, **kw)

    setattr(store, method, once)
    return calls


@pytest.mark.parametrize("fault", sorted(HOST_FAULTS))
def test_network_proposer_drops_nothing_when_a_store_read_fails_once(
    chain, tmp_path, caplog, fault
):
    """A store read that fails once while the proposer builds (the lookup of committed
    transactions: "database is locked", an I/O error, no memory) made the block of three
    fail and the shorter ones build: the culprit search dropped the last transaction
    ("dropping transaction ...: a block holding it cannot be built"), acknowledged by the
    API and now lost. The host's failure is no transaction's: nothing is dropped, the
    height gets no proposal from this node (one ERROR line, the health says why), and the
    next build proposes all three."""
    txs = _txs(chain, 3)
    ledger = chain.ledger
    calls = _failing_once(ledger.store, "committed_txs", HOST_FAULTS[fault])
    mempool = _pool(txs)
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = chain.cas["org1"].issue("org1-node", "node").keypair.public_key
    height = ledger.height + 1
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        posted = _build(driver, chain, height)
    assert calls, "the fault was never met"
    assert "dropping transaction" not in caplog.text
    assert all(t.hash in mempool for t in txs), "an acknowledged transaction was dropped"
    assert not [e for e in posted if isinstance(e, ProposalBlockReady)]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info, caplog.text
    assert f"cannot build block {height}" in errors[0].getMessage()
    assert driver.stats["build_host_failures"] == 1
    health = _health(driver)
    assert health.text().startswith("degraded: cannot build proposal blocks: "), health.text()
    # The store answers again: the next build proposes all three, and says so.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        posted = _build(driver, chain, height)
    (ready,) = [e for e in posted if isinstance(e, ProposalBlockReady)]
    executed = driver.blocks.executed[ready.block_hash]
    assert [t.hash for t in executed.block.txs] == [t.hash for t in txs]
    assert health.text() == "ok"
    assert "building proposals again" in caplog.text


def _health(driver):
    """The node's health of `driver`, the other parts healthy."""
    health = NodeHealth()
    idle = SimpleNamespace(store_error=None, fatal=None, stats={}, peers=list)
    wire_health(health, store=idle, driver=driver, syncer=idle, transport=idle, guard=idle)
    return health


class _LockedOnce:
    """A read connection whose next statement fails as SQLite does when another connection
    holds the database locked past the busy timeout (SQLITE_BUSY)."""

    def __init__(self, conn, met):
        self._conn, self._met = conn, met

    def execute(self, *args):
        if not self._met:
            self._met.append(args[0])
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode = 5  # type: ignore[attr-defined]
            exc.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
            raise exc
        return self._conn.execute(*args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_locked_database_is_the_stores_busy_error_and_no_transactions_fault(
    chain, tmp_path, caplog
):
    """SQLite's "database is locked" met by a read of a real store while the proposer
    builds: the store calls it `StoreBusy` (it was a bare StoreError, which the culprit
    search took for a transaction's failure), and nothing is dropped."""
    store = chain.ledger.store
    met = []
    conn = store._conn
    store._conn = lambda: _LockedOnce(conn(), met)
    with pytest.raises(StoreBusy, match="database is locked"):
        store.load_header(1)
    assert met and host_fault(StoreBusy("x"))
    txs = _txs(chain, 3)
    met.clear()
    mempool = _pool(txs)
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = chain.cas["org1"].issue("org1-node", "node").keypair.public_key
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        posted = _build(driver, chain, chain.ledger.height + 1)
    assert met, "the build read nothing from the store"
    assert "dropping transaction" not in caplog.text
    assert all(t.hash in mempool for t in txs)
    assert not [e for e in posted if isinstance(e, ProposalBlockReady)]
    assert "StoreBusy: read failed: database is locked" in caplog.text


READER = "def get(ctx, key):\n    return ctx.get(key, 'none')\n"
CATCHER = (
    "def get(ctx, key):\n"
    "    try:\n"
    "        return ctx.get(key, 'none')\n"
    "    except ValueError:\n"
    "        return 'caught'\n"
)


@pytest.mark.parametrize(
    ("source", "fault"),
    [
        (READER, lambda: StoreBusy("read failed: database is locked")),
        (CATCHER, lambda: ValueError("a read the host failed, of a type a contract catches")),
    ],
    ids=["reads", "catches"],
)
def test_a_state_read_that_fails_in_a_contract_is_no_failed_receipt(
    chain, tmp_path, caplog, source, fault
):
    """A contract's state read that the store failed once ("database is locked") became a
    failed receipt ("ContractError: operation failed"), or, caught by the contract, another
    outcome: the proposer proposed a block other validators compute differently (and a dev
    chain would commit the acknowledged transaction as failed). The read's failure now
    ends the call as it is, caught or not: the proposer drops nothing and proposes
    nothing, and the next build gives the receipt every node computes."""
    pid = chain.ok(chain.admins["org1"], "propose_contract", "reader", source)
    chain.pass_proposal(pid)
    user = chain.cas["org2"].issue("reader", "member")
    tx = tx_with_expiry(chain, user, chain.ledger.height + 50, "get", "k", contract="reader")
    store = chain.ledger.store
    real = store.get_latest
    failed = []

    def locked_once(key):
        if b"reader" in key and not failed:
            failed.append(key)
            raise fault()
        return real(key)

    store.get_latest = locked_once
    with pytest.raises(HostReadError):  # a validator's execution: no verdict on the block
        chain.ledger.execute(chain.replica.build_block([tx], b"").block)
    failed.clear()
    mempool = Mempool()
    mempool.add(tx)
    driver = make_driver(chain, tmp_path, mempool=mempool)
    driver.my_key = chain.cas["org1"].issue("org1-node", "node").keypair.public_key
    height = chain.ledger.height + 1
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.driver"):
        posted = _build(driver, chain, height)
        assert failed, "the contract read nothing from the store"
        assert not [e for e in posted if isinstance(e, ProposalBlockReady)]
        assert tx.hash in mempool and "dropping transaction" not in caplog.text
        (ready,) = [e for e in _build(driver, chain, height) if isinstance(e, ProposalBlockReady)]
    executed = driver.blocks.executed[ready.block_hash]
    assert [r.status for r in executed.result.receipts] == [0]
    assert executed.result.receipts[0].result == "none"
    assert chain.replica.execute(executed.block).batch.root == executed.block.header.state_root


def test_a_query_whose_state_read_fails_says_so_and_names_no_store(chain):
    """A view's state read the store failed was answered as the contract's failure
    ("operation failed"); it is the node's: a query error saying so, without the store's
    own message (its path, SQLite's words)."""
    source = "@view\ndef get(ctx, key):\n    return ctx.get(key, 'none')\n"
    pid = chain.ok(chain.admins["org1"], "propose_contract", "viewer", source)
    chain.pass_proposal(pid)
    ledger = chain.ledger

    def locked(key):
        if key == state_key("viewer", "k"):
            raise StoreBusy("/data/chain.db: read failed: database is locked")
        return ledger.latest.get(key)

    assert (
        ledger.executor.query(
            "viewer", "get", ["k"], ledger.latest.get, ledger.height, chain.time_ms
        )
        == "none"
    )
    with pytest.raises(ContractError) as err:
        ledger.executor.query("viewer", "get", ["k"], locked, ledger.height, chain.time_ms)
    assert str(err.value) == "the node cannot read its state now; try again later"


def test_dev_chain_drops_nothing_when_a_store_read_fails_once(chain, caplog):
    """The dev chain's search, stopping at the first block that stores, took a read that
    failed once ("database is locked") for the second transaction's fault and dropped it;
    now nothing is dropped, one ERROR line says why (no traceback), and both are stored."""
    ledger = chain.ledger
    txs = _txs(chain, 2)
    calls = _failing_once(ledger.store, "committed_txs", HOST_FAULTS["store busy"])
    mempool = _pool(txs)
    driver = _solo(chain, mempool)
    start = ledger.height
    with caplog.at_level(logging.INFO, logger="tianfu.consensus.solo"):
        _run_until_drained(driver, mempool)
    assert calls
    assert "dropping transaction" not in caplog.text
    stored = [
        t.hash for h in range(start + 1, ledger.height + 1) for t in ledger.store.load_block(h).txs
    ]
    assert stored == [t.hash for t in txs]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info, caplog.text
    assert "StoreBusy: read failed: database is locked" in errors[0].getMessage()


def test_a_contract_that_drives_the_host_out_of_stack_is_still_dropped():
    """A contract can drive every host out of memory or stack (`HostResourceError`): a
    block holding it never builds, so the search still blames it, or the chain would
    halt with it at the head of every proposer's mempool."""

    def attempt(candidates):
        if 3 in candidates:
            raise HostResourceError("the host ran out of stack executing a contract")
        return list(candidates)

    built = build_dropping_culprit(attempt, [1, 2, 3, 4])
    assert built.culprit == 3 and built.result == [1, 2]
    assert not host_fault(HostResourceError("x"))
