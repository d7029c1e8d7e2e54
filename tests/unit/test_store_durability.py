"""The store's durability and failure modes: committed heights live in `chain.db` itself (the
loss of `chain.db-wal` loses none of them), a write the disk cannot take is a typed error
that leaves the store as it was, and damage found by a read is typed and reported.

Run as a script (`python test_store_durability.py DB TXS`) this file is the child of the
WAL-loss tests: it commits one height per line read from stdin and prints each height once
`save_block` has returned.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_store import Chain, check_consistent, fill

from tianfu.store import Store, StoreDamaged, StoreError, StoreWriteError


def child_main(path: str, n_txs: int, paced: bool) -> None:
    store = Store(path)
    chain = Chain()
    h = store.height()
    print("ready", flush=True)
    while not paced or sys.stdin.readline():
        h += 1
        store.save_block(*chain.next(h, n_txs), meta={"last": str(h).encode()})
        print(h, flush=True)


def spawn(path: Path, n_txs: int, paced: bool) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, __file__, str(path), str(n_txs), "paced" if paced else "free"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready", proc.stderr.read() if proc.stderr else ""
    return proc


def lose_wal(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize("n_txs", [3, 60])
def test_every_acknowledged_height_survives_kill_9_and_the_loss_of_the_wal(tmp_path, n_txs):
    path = tmp_path / "chain.db"
    acked = 0
    for round_ in range(3):
        proc = spawn(path, n_txs, paced=True)
        assert proc.stdin is not None and proc.stdout is not None
        for _ in range(5 + round_):
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            acked = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)  # idle between heights: nothing in flight
        proc.communicate()
        assert Path(str(path) + "-wal").exists(), "the WAL should be there to lose"
        lose_wal(path)
        assert check_consistent(path) == acked


def test_wal_lost_after_a_kill_at_any_moment_is_never_silently_wrong(tmp_path):
    """Killed at random moments (possibly inside a checkpoint), then the WAL deleted: the
    store is complete and consistent up to at least the last acknowledged height, or the
    damage is detected by SQLite's check; it never opens with heights missing or mixed."""
    rng = random.Random(5)
    clean = 0
    for i in range(6):
        path = tmp_path / f"run{i}.db"
        proc = spawn(path, rng.choice([5, 60]), paced=False)
        assert proc.stdout is not None
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        lines = out.split()
        acked = int(lines[-1]) if lines else 0
        lose_wal(path)
        try:
            conn = sqlite3.connect(path)
            verdict = conn.execute("PRAGMA quick_check").fetchall()
            conn.close()
        except sqlite3.DatabaseError as exc:
            verdict = [(str(exc),)]
        if verdict != [("ok",)]:
            continue  # detected: the node refuses to start and names `tianfu node repair`
        top = check_consistent(path)
        assert top >= acked, (top, acked)
        clean += 1
    assert clean >= 1  # the kill does not always land inside a checkpoint


def test_a_write_the_disk_cannot_take_is_typed_and_changes_nothing(tmp_path):
    store = Store(tmp_path / "chain.db")
    chain = Chain()
    fill(store, chain, range(1, 4), 5)
    writer = store._writer_conn()  # noqa: SLF001 - the file boundary: make it "full"
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    writer.execute(f"PRAGMA max_page_count={pages}")
    parts = chain.next(4, 400)
    meta = {"last": b"4"}
    with pytest.raises(StoreWriteError, match="full"):
        store.save_block(*parts, meta=meta)
    assert store.height() == 3
    assert store.load_block(4) is None
    assert store.write_failures == 1
    writer.execute("PRAGMA max_page_count=1073741823")
    store.save_block(*parts, meta=meta)  # the same write, once there is room
    assert store.height() == 4 and store.load_block(4) == parts[0]
    store.close()
    assert check_consistent(tmp_path / "chain.db") == 4


def test_damage_found_by_a_read_is_typed_and_reported(tmp_path):
    path = tmp_path / "chain.db"
    store = Store(path)
    fill(store, Chain(), range(1, 30), 20)
    store.close()
    size = path.stat().st_size
    with open(path, "r+b") as f:  # garbage over every page but the header
        rng = random.Random(1)
        for p in range(1, size // 4096):
            f.seek(p * 4096)
            f.write(rng.randbytes(4096))
    heard: list[StoreDamaged] = []
    try:
        store = Store(path)
    except StoreDamaged:
        return  # refused at open: typed, as it must be
    store.on_damage = heard.append
    with pytest.raises(StoreDamaged):
        for h in range(1, 30):
            store.load_block(h)
    assert heard and isinstance(heard[0], StoreDamaged)
    assert issubclass(StoreDamaged, StoreError)
    store.close()


if __name__ == "__main__":
    child_main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "paced")
