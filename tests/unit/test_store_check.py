"""The store check (`tianfu.store.check`): a healthy chain passes both levels; each kind of
damage — garbage pages, a truncated file, a header that does not link, a certificate of
another block, a missing state root, a latest value or tx-index row that differs — is
found, with a one-line reason."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from test_sync_support import Consortium

from tianfu.crypto import verify_commit
from tianfu.ledger import Ledger
from tianfu.state.nodes import node_key
from tianfu.store import Store, StoreDamaged
from tianfu.store.check import check_store
from tianfu.testing.storefaults import damage_pages, truncate

HEIGHT = 40


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> tuple[Consortium, Path]:
    c = Consortium()
    root = tmp_path_factory.mktemp("chain")
    ledger = c.ledger(root / "good")
    c.grow(ledger, HEIGHT, txs_per_block=10)
    ledger.store.close()
    return c, root / "good" / "chain.db"


def copy(chain: tuple[Consortium, Path], tmp_path: Path) -> Path:
    dst = tmp_path / "chain.db"
    shutil.copyfile(chain[1], dst)
    return dst


def check(c: Consortium, path: Path, full: bool = False):
    store = Store(path)
    try:
        ledger = Ledger(store, c.genesis)

        def verify(h, cert):
            verify_commit(cert, cert.block_hash, h, ledger.validator_set(h), ledger.chain_id)

        return check_store(store, c.genesis.hash, full=full, verify_certificate=verify)
    finally:
        store.close()


def sql(path: Path, statement: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(statement, params)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("full", [False, True])
def test_a_healthy_store_passes(chain, tmp_path, full):
    c, _ = chain
    report = check(c, copy(chain, tmp_path), full)
    assert report.height == HEIGHT and report.headers == HEIGHT
    assert report.certificates == HEIGHT  # all 40 are among the recent ones, or all (full)
    assert report.bodies == (HEIGHT if full else 0)
    assert report.state_rows > 0


def one_line(exc: pytest.ExceptionInfo[StoreDamaged]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_garbage_pages_are_found(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    damage_pages(path, 4, seed=3)
    with pytest.raises(StoreDamaged) as exc:
        check(c, path)
    assert "damaged" in one_line(exc) or "malformed" in one_line(exc)


def test_a_truncated_file_is_found(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    truncate(path, 64 << 10)
    with pytest.raises(StoreDamaged) as exc:
        check(c, path)
    one_line(exc)


def test_a_header_that_does_not_link_is_found(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    conn = sqlite3.connect(path)
    other = conn.execute("SELECT hash, header FROM blocks WHERE height = 7").fetchone()
    conn.close()
    # block 8's row takes block 7's header and hash: SQLite sees nothing wrong
    sql(path, "UPDATE blocks SET hash = ?, header = ? WHERE height = 8", other)
    with pytest.raises(StoreDamaged, match="header stored at height 8 is of height 7"):
        check(c, path)


def test_a_certificate_of_another_block_is_found(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    conn = sqlite3.connect(path)
    cert = conn.execute("SELECT cert FROM blocks WHERE height = ?", (HEIGHT - 1,)).fetchone()[0]
    conn.close()
    sql(path, "UPDATE blocks SET cert = ? WHERE height = ?", (cert, HEIGHT))
    with pytest.raises(StoreDamaged, match=f"certificate stored at height {HEIGHT}"):
        check(c, path)


def test_a_missing_latest_state_root_is_found(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    sql(path, "DELETE FROM tree_nodes WHERE key = ?", (node_key(HEIGHT, b""),))
    with pytest.raises(StoreDamaged, match="state root"):
        check(c, path)


def test_a_latest_value_that_differs_from_the_tree_is_found_by_the_full_check(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    sql(path, "UPDATE state SET value = x'00' WHERE key = (SELECT MAX(key) FROM state)")
    with pytest.raises(StoreDamaged, match="differs from the tree"):
        check(c, path, full=True)


def test_a_missing_tx_index_row_is_found_by_the_full_check(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    sql(path, "DELETE FROM tx_recent WHERE hash = (SELECT MIN(hash) FROM tx_recent)")
    with pytest.raises(StoreDamaged, match="missing from the tx index"):
        check(c, path, full=True)


def test_latest_values_that_differ_from_the_tree_are_found_by_the_quick_sample(chain, tmp_path):
    c, _ = chain
    path = copy(chain, tmp_path)
    sql(path, "UPDATE state SET value = x'00'")
    with pytest.raises(StoreDamaged, match="differs from the tree"):
        check(c, path)
