"""How long the quick store check takes on a large `chain.db`, and what a commit waits for it.

    .venv/bin/python benchmarks/quick_check_lock.py [--gb 1.5] [--dir DIR]

Builds a 40-block chain (`tests/unit/test_sync_support.Consortium`), grows the file with
`--gb` of filler rows (pages `PRAGMA quick_check` reads like any others), then times
`check_store` three times, and a `wal_checkpoint(FULL)` (what every block's commit ends
with) started while another connection's `quick_check` runs: it waits for that reader's
snapshot, so moving the check off the commit lock would not let blocks be stored meanwhile
(ADR 0019, "the check after a failed write stays under the commit lock").
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit"))

from test_sync_support import Consortium  # noqa: E402

from tianfu.ledger import Ledger  # noqa: E402
from tianfu.node.storeguard import certificate_check  # noqa: E402
from tianfu.store import Store  # noqa: E402
from tianfu.store.check import check_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.5)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tianfu-qc-", dir=args.dir))
    c = Consortium()
    ledger = c.ledger(root)
    c.grow(ledger, 40, txs_per_block=10)
    ledger.store.close()
    db = root / "chain.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE filler (k INTEGER PRIMARY KEY, v BLOB)")
    n = int(args.gb * (1 << 30) / 4000)
    for i in range(0, n, 5000):
        rows = ((j, os.urandom(4000)) for j in range(i, min(n, i + 5000)))
        conn.executemany("INSERT INTO filler VALUES (?, ?)", rows)
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    store = Store(db)
    ledger = Ledger(store, c.genesis)
    print(f"chain.db {os.path.getsize(db) / 1e6:.0f} MB")
    for _ in range(3):
        t = time.monotonic()
        check_store(store, c.genesis.hash, verify_certificate=certificate_check(ledger))
        print(f"quick check {time.monotonic() - t:.2f} s")
    store.close()

    def reader() -> None:
        r = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        t = time.monotonic()
        r.execute("PRAGMA quick_check(5)").fetchall()
        print(f"PRAGMA quick_check {time.monotonic() - t:.2f} s")
        r.close()

    th = threading.Thread(target=reader)
    th.start()
    time.sleep(1.0)
    w = sqlite3.connect(db, timeout=30, isolation_level=None)
    t = time.monotonic()
    w.execute("BEGIN IMMEDIATE")
    w.execute("INSERT INTO filler VALUES (NULL, x'00')")
    w.execute("COMMIT")
    print(f"commit during it {time.monotonic() - t:.3f} s")
    t = time.monotonic()
    w.execute("PRAGMA wal_checkpoint(FULL)").fetchall()
    print(f"wal_checkpoint(FULL) during it {time.monotonic() - t:.2f} s")
    th.join()
    w.close()


if __name__ == "__main__":
    main()
