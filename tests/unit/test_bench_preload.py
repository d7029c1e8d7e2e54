"""The benchmark's pre-loaded genesis state (`tianfu.bench.preload`): real rows and leaves of
the specified tree, the same state as minting by transactions, the same on every node."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tianfu.bench.preload import (
    BALANCE,
    CONTRACT,
    build_store,
    preload_address,
    preload_state,
    recipients,
)
from tianfu.cli.bench_cmds import bench_app
from tianfu.contracts import governance
from tianfu.contracts.examples import example_source
from tianfu.crypto import ED25519, SM2, suite_for_scheme, suite_of
from tianfu.execution.contract_api import state_key
from tianfu.execution.executor import Executor
from tianfu.identity import OrgCA
from tianfu.ledger import Ledger
from tianfu.ledger.ledger import InvalidBlock
from tianfu.state import InMemoryNodes, MerkleState, verify_proof
from tianfu.store import Store
from tianfu.store.check import check_store
from tianfu.testing import appchain
from tianfu.testing.appchain import AppChain
from tianfu.types import Genesis, OrgConfig, Validator

KEYS = 300


def _genesis(scheme: int = ED25519) -> Genesis:
    cas = [OrgCA.create(f"org{i}", scheme) for i in range(1, 3)]
    node = cas[0].issue("node1", "node", scheme)
    return Genesis(
        version=1,
        chain_id="tianfu-preload-test",
        time_ms=1_700_000_000_000,
        orgs=[OrgConfig(f"org{i}", ca.cert_der) for i, ca in enumerate(cas, 1)],
        validators=[Validator("node1", "org1", node.keypair.scheme, node.keypair.public_key, 1)],
        suite=suite_for_scheme(scheme).name,
    )


@pytest.fixture(scope="module")
def genesis() -> Genesis:
    return _genesis()


def _table_digest(path: Path, table: str) -> bytes:
    h = hashlib.sha256()
    with sqlite3.connect(path) as conn:
        for key, value in conn.execute(f"SELECT key, value FROM {table} ORDER BY key"):
            h.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
    return h.digest()


def test_preloaded_root_is_the_tree_of_the_genesis_entries_and_the_balances(tmp_path, genesis):
    report = build_store(tmp_path / "chain.db", genesis, KEYS)
    entries = Executor(genesis, governance).genesis_updates()
    entries.update(preload_state(KEYS))
    expected = MerkleState(InMemoryNodes()).apply(0, entries).root
    assert bytes.fromhex(report.root) == expected
    assert report.keys == KEYS and report.store_mb > 0
    # ... and not the root of the genesis entries alone
    alone = MerkleState(InMemoryNodes()).apply(0, Executor(genesis, governance).genesis_updates())
    assert alone.root != expected


def test_an_sm2_chain_is_preloaded_with_its_own_hash(tmp_path):
    genesis = _genesis(SM2)  # built in a process that hashes with SHA-256 by default
    report = build_store(tmp_path / "chain.db", genesis, 50)
    with suite_of(genesis).use():
        entries = Executor(genesis, governance).genesis_updates()
        entries.update(preload_state(50))
        expected = MerkleState(InMemoryNodes()).apply(0, entries).root
    assert bytes.fromhex(report.root) == expected
    assert MerkleState(InMemoryNodes()).apply(0, entries).root != expected  # SHA-256's


def test_every_preloaded_key_is_a_state_row_and_a_proven_leaf(tmp_path, genesis):
    path = tmp_path / "chain.db"
    build_store(path, genesis, KEYS)
    with Store(path) as store:
        # the full offline check: the whole tree re-hashed from its leaves, every state row
        # equal to the tree's value, as many rows as leaves
        report = check_store(store, genesis.hash, full=True)
        assert report.height == 0 and report.state_rows == KEYS + 1 + len(
            Executor(genesis, governance).genesis_updates()
        )
        state = MerkleState(store)
        root = state.root(0)
        for i in (0, 1, KEYS // 2, KEYS - 1):
            key = state_key(CONTRACT, "bal:" + preload_address(i))
            value = store.get_latest(key)
            assert value is not None and state.get(key, 0) == value
            assert verify_proof(root, key, value, state.prove(key, 0))
        absent = state_key(CONTRACT, "bal:" + preload_address(KEYS))
        assert store.get_latest(absent) is None
        assert verify_proof(root, absent, None, state.prove(absent, 0))


def test_every_node_builds_the_same_store(tmp_path, genesis):
    a = build_store(tmp_path / "a" / "chain.db", genesis, KEYS)
    b = build_store(tmp_path / "b" / "chain.db", genesis, KEYS)
    assert a.root == b.root
    for table in ("tree_nodes", "state"):
        assert _table_digest(tmp_path / "a" / "chain.db", table) == _table_digest(
            tmp_path / "b" / "chain.db", table
        )
    with pytest.raises(FileExistsError):
        build_store(tmp_path / "a" / "chain.db", genesis, KEYS)


def test_a_store_that_holds_the_genesis_keeps_its_state(tmp_path, genesis):
    path = tmp_path / "chain.db"
    report = build_store(path, genesis, KEYS)
    with Store(path) as store:
        ledger = Ledger(store, genesis, initial_state=preload_state(5))
        assert ledger.state.root(0).hex() == report.root
        assert store.get_latest(state_key(CONTRACT, "bal:" + preload_address(KEYS - 1)))


@pytest.mark.parametrize(
    "key",
    [b"governance/validators", b"governance/anything", b"\x01" + bytes(32), b"nokey", b"Asset/x"],
)
def test_initial_state_outside_an_ordinary_contract_is_refused(tmp_path, genesis, key):
    with Store(tmp_path / "chain.db") as store, pytest.raises(InvalidBlock):
        Ledger(store, genesis, initial_state={key: b"\x01"})
    with Store(tmp_path / "chain.db") as store:  # and nothing was written
        assert store.load_genesis() is None and store.get_latest(key) is None


def test_preloaded_balances_equal_minted_ones_and_take_transfers(tmp_path, monkeypatch):
    """The pre-loaded state is the asset contract's state after minting the same balances
    by transactions, and ordinary execution reads and writes it."""
    n = 20
    for name in ("minted", "loaded"):
        (tmp_path / name).mkdir()
    minted = AppChain(tmp_path / "minted")
    monkeypatch.setattr(
        appchain,
        "Ledger",
        lambda store, genesis: Ledger(store, genesis, initial_state=preload_state(n)),
    )
    loaded = AppChain(tmp_path / "loaded")
    try:
        for chain in (minted, loaded):
            chain.deploy(CONTRACT, example_source(CONTRACT))
        admin = minted.admin(minted.orgs[0])
        receipts = minted.call_many(
            [(admin, CONTRACT, "mint", (preload_address(i), BALANCE)) for i in range(n)]
        )
        assert all(r.ok for r in receipts)
        assert minted.contract_state(CONTRACT) == loaded.contract_state(CONTRACT)
        assert loaded.query(CONTRACT, "total_supply") == n * BALANCE

        member = loaded.identity(loaded.orgs[1], "alice")
        assert loaded.call(
            loaded.admin(loaded.orgs[1]), CONTRACT, "mint", member.info.address, 50
        ).ok
        assert loaded.call(member, CONTRACT, "transfer", preload_address(7), 30).ok
        assert loaded.query(CONTRACT, "balance", preload_address(7)) == BALANCE + 30
        assert loaded.query(CONTRACT, "total_supply") == n * BALANCE + 50
    finally:
        minted.close()
        loaded.close()


def test_recipients_are_distinct_preloaded_addresses():
    picked = recipients(1000, 100, seed=3)
    assert len(set(picked)) == 100
    assert set(picked) <= {preload_address(i) for i in range(1000)}
    assert picked == recipients(1000, 100, seed=3)
    assert sorted(recipients(10, 100)) == sorted(preload_address(i) for i in range(10))


def test_state_sweep_usage_errors_exit_2():
    runner = CliRunner()
    r = runner.invoke(bench_app, ["sweep", "--state-sizes", "10,20", "--rates", "10"])
    assert r.exit_code == 2 and "--state-sizes" in r.output
    r = runner.invoke(bench_app, ["sweep", "--state-sizes", "10,20", "--contract", "kv"])
    assert r.exit_code == 2 and "asset" in r.output
    r = runner.invoke(bench_app, ["sweep", "--state-sizes", "ten"])
    assert r.exit_code == 2
    r = runner.invoke(bench_app, ["sweep", "--help"])
    assert r.exit_code == 0 and "--state-sizes" in r.output
