"""Pipelined heights in the running driver (ADR 0030), with a real ledger and signer.

One validator decides alone, so it proposes every height: each time a block is decided
with more transactions waiting than a block takes, the next (full) block is built while
the decided one is stored, and used at the next height; with fewer, the next block is
built at its height and holds what arrived meanwhile. Checked: the chain holds every
transaction exactly once and another node re-executes it block by block; with the
setting off nothing is built ahead;
a crash after the build ahead started and before the decided block was stored loses
nothing, and the restarted node decides the same block again and goes on; a store that
fails beside a build ahead halts signing, recovers, and the block built ahead is used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from test_dynamic_params import tx_with_expiry
from test_governance_admission import Chain

from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.wal import ConsensusWAL
from tianfu.ledger import Ledger
from tianfu.mempool import Mempool
from tianfu.node.config import CONFIG_FILE, ConfigError, NodeConfig
from tianfu.store import Store
from tianfu.types import ConsensusParams

WAIT_S = 60.0  # a deadline only: every wait ends as soon as its condition holds
PARAMS = ConsensusParams(
    max_block_txs=3,
    block_interval_ms=1,
    empty_block_interval_ms=100,
    timeout_propose_ms=2000,
    timeout_vote_ms=200,
)
N_TXS = 14


class Net:
    def broadcast(self, kind, payload):
        pass

    def send(self, peer, kind, payload):
        pass


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path, params=PARAMS, validator_orgs=("org1",))
    c.block()
    yield c
    c.close()


def _txs(chain):
    user = chain.cas["org2"].issue("user", "member")
    return [tx_with_expiry(chain, user, 500, "list_orgs") for _ in range(N_TXS)]


def _driver(ledger, mempool, tmp_path, chain, **kw):
    (key,) = chain.keys.values()
    path = tmp_path / "pv.json"
    if not path.exists():
        FilePrivValidator.initialise(key, path)
    return ConsensusDriver(
        ledger,
        mempool,
        FilePrivValidator(key, path),
        ConsensusWAL(tmp_path / "cs.wal"),
        Net(),
        gossip_interval_ms=50,
        **kw,
    )


async def _until(cond):
    deadline = time.monotonic() + WAIT_S
    while not cond():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.005)


def _committed(ledger):
    """Every transaction hash of the stored chain, in order; each block re-executed and
    stored by an independent ledger."""
    hashes = []
    for h in range(1, ledger.height + 1):
        hashes += [t.hash for t in ledger.store.load_block(h).txs]
    return hashes


def _replay_on(chain, ledger):
    for h in range(chain.replica.height + 1, ledger.height + 1):
        block = ledger.store.load_block(h)
        executed = chain.replica.execute(block)
        assert executed.batch.root == block.header.state_root
        chain.replica.commit(executed, ledger.store.load_cert(h))


def _run_until_committed(driver, ledger, wanted) -> None:
    """Run `driver` until every transaction hash in `wanted` is committed in `ledger`."""

    async def go():
        await driver.start()
        try:
            await _until(lambda: wanted <= set(_committed(ledger)))
        finally:
            await driver.stop()

    asyncio.run(go())


def _run(chain, tmp_path, txs, **kw):
    mempool = Mempool()
    for t in txs:
        mempool.add(t)
    driver = _driver(chain.ledger, mempool, tmp_path, chain, **kw)
    wanted = {t.hash for t in txs}
    _run_until_committed(driver, chain.ledger, wanted)
    return driver


@pytest.mark.parametrize("pipeline", [True, False])
def test_blocks_built_ahead_are_used_and_the_chain_is_the_same(chain, tmp_path, pipeline):
    txs = _txs(chain)
    driver = _run(chain, tmp_path, txs, pipeline=pipeline)
    assert driver.failed is None
    hashes = _committed(chain.ledger)
    assert sorted(hashes) == sorted(t.hash for t in txs)  # each exactly once
    _replay_on(chain, chain.ledger)
    per_block = PARAMS.max_block_txs
    blocks = -(-N_TXS // per_block)  # all are waiting at the start: every block is full
    # After block k, N_TXS - k * per_block wait: built ahead only while more than a block.
    full_after = sum(1 for k in range(1, blocks) if N_TXS - k * per_block > per_block)
    assert full_after == 3 and blocks == 5  # the last block (2 transactions) is not
    if pipeline:
        assert driver.stats["prepared"] == full_after
        assert driver.stats["prepared_used"] == full_after
        assert driver.stats["prepared_discarded"] == 0
        assert driver.stats["prepare_not_full"] == 1
    else:
        assert driver.stats["prepared"] == driver.stats["prepared_used"] == 0
        assert driver.stats["prepare_not_full"] == 0


def _blocks(ledger):
    return [[t.hash for t in ledger.store.load_block(h).txs] for h in range(1, ledger.height + 1)]


@pytest.mark.parametrize("waiting", [4, 10])
def test_only_a_full_block_is_built_ahead(chain, tmp_path, waiting):
    """`waiting` transactions, then one more arrives once the first block is decided
    (after the driver's build-ahead decision, before the store). With 4 waiting (1 after
    a block of 3) the next block is built at its height and holds the late one too; with
    10 (7 after) it is built ahead and full, and the late one waits."""
    txs = _txs(chain)[: waiting + 1]
    early, late = txs[:waiting], txs[waiting]
    mempool = Mempool()
    for t in early:
        mempool.add(t)
    driver = _driver(chain.ledger, mempool, tmp_path, chain)
    plain_prepare = driver.blocks.prepare
    calls = []

    def prepare_then_arrive(*args):
        started = plain_prepare(*args)
        if not calls:
            mempool.add(late)
        calls.append(started)
        return started

    driver.blocks.prepare = prepare_then_arrive
    _run_until_committed(driver, chain.ledger, {t.hash for t in txs})
    assert driver.failed is None
    ours = {t.hash for t in txs}
    blocks = [b for b in _blocks(chain.ledger) if ours & set(b)]
    early_hashes = [t.hash for t in early]
    assert blocks[0] == early_hashes[:3]
    if waiting == 4:
        assert calls[0] is False and driver.stats["prepared"] == 0
        assert blocks[1:] == [[early_hashes[3], late.hash]]  # the late one did not wait
    else:
        assert calls[:2] == [True, True] and driver.stats["prepared"] == 2
        assert driver.stats["prepared_used"] == 2
        assert blocks[1:] == [early_hashes[3:6], early_hashes[6:9], [early_hashes[9], late.hash]]
    _replay_on(chain, chain.ledger)


class Crash(BaseException):
    """The process dies here (not an error the driver handles)."""


def test_a_crash_between_the_build_ahead_and_the_store_loses_nothing(chain, tmp_path):
    txs = _txs(chain)
    mempool = Mempool()
    for t in txs:
        mempool.add(t)
    ledger = chain.ledger
    driver = _driver(ledger, mempool, tmp_path, chain)
    work = driver.work
    plain_commit = work.commit

    def commit_or_crash(executed, a):
        if driver.blocks.prepared is None:
            return plain_commit(executed, a)
        # The block after this one is being built: the process dies before the store.
        asyncio.run_coroutine_threadsafe(_wait(driver.blocks.prepared.work), loop).result()
        raise Crash

    async def _wait(fut):
        await asyncio.wait([fut])

    work.commit = commit_or_crash

    loop = None

    async def main():
        nonlocal loop
        loop = asyncio.get_running_loop()
        await driver.start()
        await _until(lambda: driver._tasks[0].done())
        died = driver._tasks.pop(0)
        assert isinstance(died.exception(), Crash)
        await driver.stop()

    asyncio.run(main())
    assert driver.stats["prepared"] == 1 and driver.stats["prepared_used"] == 0
    crashed_at = ledger.height + 1  # decided, signed, never stored
    signed = driver.privval.last_hrs()
    assert signed is not None and signed[0] == crashed_at  # nothing signed at the next height
    ledger.store.close()

    # The restart: a new process with the same files; the clients submit again.
    again = Ledger(Store(tmp_path / "a.db"), chain.genesis)
    chain.ledger = again
    assert again.height == crashed_at - 1
    mempool2 = Mempool()
    for t in txs:
        mempool2.add(t)
    driver2 = _driver(again, mempool2, tmp_path, chain)
    wanted = {t.hash for t in txs}

    async def second_life():
        await driver2.start()
        try:
            await _until(lambda: wanted <= set(_committed(again)))
        finally:
            await driver2.stop()

    asyncio.run(second_life())
    assert driver2.failed is None
    hashes = _committed(again)
    assert sorted(hashes) == sorted(wanted)  # nothing lost, nothing twice
    _replay_on(chain, again)


def test_the_node_setting_is_on_by_default_and_read_from_node_toml(tmp_path, monkeypatch):
    monkeypatch.delenv("TIANFU_PIPELINE", raising=False)
    cfg = NodeConfig(
        tmp_path, "n1", "org1", True, tmp_path / "g.bin", tmp_path / "id", tmp_path / "data"
    )
    cfg.save()
    assert NodeConfig.load(tmp_path).pipeline is True
    assert "[consensus]" not in (tmp_path / CONFIG_FILE).read_text()
    dataclasses.replace(cfg, pipeline=False).save()
    assert NodeConfig.load(tmp_path).pipeline is False
    text = (tmp_path / CONFIG_FILE).read_text()
    for bad in ('pipeline = "no"', "pipeline = 1"):
        (tmp_path / CONFIG_FILE).write_text(text.replace("pipeline = false", bad))
        with pytest.raises(ConfigError, match="consensus.pipeline must be true or false"):
            NodeConfig.load(tmp_path)
    top_level = "consensus = 3\n" + text.replace("[consensus]\npipeline = false", "")
    (tmp_path / CONFIG_FILE).write_text(top_level)
    with pytest.raises(ConfigError, match="must be a table"):
        NodeConfig.load(tmp_path)
    # The environment overrides the file (a benchmark's nodes).
    (tmp_path / CONFIG_FILE).write_text(text)
    monkeypatch.setenv("TIANFU_PIPELINE", "1")
    assert NodeConfig.load(tmp_path).pipeline is True
    cfg.save()
    monkeypatch.setenv("TIANFU_PIPELINE", "0")
    assert NodeConfig.load(tmp_path).pipeline is False
    monkeypatch.setenv("TIANFU_PIPELINE", "yes")
    with pytest.raises(ConfigError, match="TIANFU_PIPELINE must be 1 or 0"):
        NodeConfig.load(tmp_path)


def test_a_store_that_fails_beside_a_build_ahead_recovers_and_loses_nothing(chain, tmp_path):
    txs = _txs(chain)
    mempool = Mempool()
    for t in txs:
        mempool.add(t)
    driver = _driver(chain.ledger, mempool, tmp_path, chain)
    plain_store = driver.work.store
    failed = []

    def store_or_fail(executed, certificate):
        if driver.blocks.prepared is not None and not failed:
            failed.append(executed.block.header.height)
            raise OSError("database or disk is full")
        return plain_store(executed, certificate)

    driver.work.store = store_or_fail
    wanted = {t.hash for t in txs}
    _run_until_committed(driver, chain.ledger, wanted)
    assert failed and driver.stats["store_failures"] == 1 and driver.failed is None
    assert driver.halted is None  # signing resumed once the block was stored
    assert sorted(_committed(chain.ledger)) == sorted(wanted)
    # The block built ahead beside the failed store was used once the block was stored:
    # every block built ahead was used, none discarded.
    assert driver.stats["prepared_used"] == driver.stats["prepared"] >= 1
    assert driver.stats["prepared_discarded"] == 0
    _replay_on(chain, chain.ledger)


def test_a_store_behind_what_the_key_signed_without_wal_entries_says_what_to_do(
    chain, tmp_path, caplog
):
    """The signer signed heights the store no longer holds and the WAL has no entry left
    to decide them again from: the start names the heights and the remedy."""
    (key,) = chain.keys.values()
    path = tmp_path / "pv.json"
    FilePrivValidator.initialise(key, path)
    ahead = chain.ledger.height + 4
    pv = FilePrivValidator(key, path)
    pv.sign(ahead, 0, 2, b"a precommit the store lost")
    pv.close()
    driver = _driver(chain.ledger, Mempool(), tmp_path, chain)

    async def go():
        await driver.start()
        await driver.stop()

    with caplog.at_level("ERROR", logger="tianfu.consensus.driver"):
        asyncio.run(go())
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(
        f"this key signed at height {ahead}" in m and "restore chain.db" in m for m in errors
    ), errors
