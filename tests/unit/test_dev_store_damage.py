"""The dev chain's store damaged while it was stopped (truncated, pages overwritten, not a
database at all): `tianfu dev` printed a Python traceback ending in `StoreDamaged: ...
database disk image is malformed` and named nothing to do. It now checks the store as a
node does at start and refuses in one line naming the fix (a dev chain has no peers to
rebuild from: move the data directory aside for a new chain, or put back a copy)."""

from __future__ import annotations

import shutil

import pytest

from tianfu.consensus.solo import SoloDriver
from tianfu.identity import Identity
from tianfu.mempool import Mempool
from tianfu.node.dev import init_dev, load_genesis
from tianfu.node.runner import open_ledger
from tianfu.node.storeguard import StoreRefused
from tianfu.testing.storefaults import damage_pages, truncate


@pytest.fixture
def dev_home(tmp_path):
    home = tmp_path / "dev"
    init_dev(home)
    genesis = load_genesis(home)
    ledger = open_ledger(home / "data", genesis)
    node = Identity.load(home / "identities" / "node")
    solo = SoloDriver(
        ledger, Mempool(), node.keypair, max_block_txs=10, max_block_bytes=1 << 20, interval_ms=0
    )
    for _ in range(40):
        solo.produce([])
    assert ledger.height == 40
    ledger.store.close()
    return home


@pytest.mark.parametrize("damage", ["truncated", "pages", "not a database"])
def test_a_damaged_dev_store_is_refused_in_one_line_naming_the_fix(dev_home, damage):
    data = dev_home / "data"
    db = data / "chain.db"
    if damage == "truncated":
        truncate(db, db.stat().st_size // 2)
    elif damage == "pages":
        damage_pages(db, 3, seed=1)
    else:
        db.write_bytes(b"this is not a database " * 400)
    with pytest.raises(StoreRefused) as err:
        open_ledger(data, load_genesis(dev_home))
    msg = str(err.value)
    assert "\n" not in msg and str(db) in msg
    assert "no peers to rebuild it from" in msg and f"tianfu dev --home {dev_home}" in msg
    assert "tianfu node repair" not in msg  # (a dev chain has no node.toml, no peers)
    # The fix it names works: the data directory moved aside, the chain starts afresh.
    shutil.move(data, dev_home / "damaged-data")
    ledger = open_ledger(data, load_genesis(dev_home))
    assert ledger.height == 0
    ledger.store.close()
