"""A validator's damaged store, with real node processes of a 4-organisation network.

- Garbage pages, or a `chain.db` cut short by 64 KiB, while the node is stopped: it refuses
  to start with ONE line naming `tianfu node repair` (exit code 1, no traceback);
  `tianfu node repair` rebuilds the store from the peers and leaves the signer state
  byte for byte; restarted, the node catches up and signs again.
- Pages damaged while it runs: the node notices at a read, stops signing, checks the
  store, and stops with the same one-line refusal.
- `chain.db-wal` deleted after a kill -9 under load: every height the node had served is
  still in its store.

Every scenario ends with the chains compared (no fork), every acknowledged transaction
present exactly once, and no double-sign evidence in any log.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tianfu.bench.netcheck import Load, check_chains, free_base_ports, height
from tianfu.identity import Identity
from tianfu.node.config import NodeConfig
from tianfu.node.localnet import LocalNetwork
from tianfu.store import Store
from tianfu.testing.storefaults import (
    certificate_signers,
    damage_pages,
    double_sign_reports,
    truncate,
)

pytestmark = pytest.mark.timeout(400)


def tianfu(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tianfu", *args], capture_output=True, text=True, timeout=timeout
    )


def wait_for(pred, timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def health(url: str) -> str:
    try:
        return str(httpx.get(url + "/v1/status", timeout=3).json().get("health"))
    except (httpx.HTTPError, ValueError):
        return ""


class Scenario:
    def __init__(self, tmp_path: Path) -> None:
        api, p2p = free_base_ports(5)
        self.net, _ = LocalNetwork.prepare(
            tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p
        )
        self.urls = [self.net.url(c) for c in self.net.configs]
        self.victim: NodeConfig = self.net.configs[3]
        self.key = Identity.load(self.victim.identity).keypair.public_key.hex()
        self.load: Load | None = None

    def start(self) -> None:
        self.net.start()
        self.net.wait_ready(timeout=120)
        ids = [
            Identity.load(self.net.home / c.org / "identities" / "user") for c in self.net.configs
        ]
        # Clients use the three healthy nodes: the victim is down for part of the test.
        self.load = Load(
            self.urls[:3],
            ids[:3],
            self.net.genesis,
            "governance",
            "get_identity",
            ("x",),
            threads=3,
        ).start()
        wait_for(lambda: height(self.urls[3]) >= 6, 60, "some blocks on the victim")

    @property
    def db(self) -> Path:
        return self.victim.data / "chain.db"

    def signer_files(self) -> dict[str, bytes]:
        return {n: (self.victim.data / n).read_bytes() for n in ("privval.json", "consensus.wal")}

    def refused_start(self) -> str:
        """Start the victim in the foreground: it must refuse at once, in one line."""
        r = tianfu("node", "start", "--home", str(self.victim.home), timeout=120)
        assert r.returncode == 1, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
        assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1, r.stderr[-3000:]
        assert f"tianfu node repair --home {self.victim.home}" in lines[0], lines[0]
        return lines[0]

    def repair_and_rejoin(self) -> tuple[dict, float]:
        """`tianfu node repair`, then start the node; (repair JSON, seconds until it signs)."""
        before = self.signer_files()
        started = time.monotonic()
        r = tianfu("node", "repair", "--home", str(self.victim.home), "--json", timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        doc = json.loads(r.stdout)
        assert "repair: height" in r.stderr  # progress lines
        assert self.signer_files() == before, "repair touched the signer state"
        self.net.start_node(self.victim)
        wait_for(lambda: health(self.urls[3]) == "ok", 90, "the repaired node up and healthy")
        back = height(self.urls[0])

        def signs() -> bool:
            top = height(self.urls[0])
            return any(
                self.key in certificate_signers(self.urls[0], h) for h in range(back + 1, top + 1)
            )

        wait_for(signs, 90, "the repaired node's signature in a new certificate")
        return doc, time.monotonic() - started

    def finish(self) -> str:
        assert self.load is not None
        acked = self.load.stop()
        top = max(height(u) for u in self.urls)
        wait_for(lambda: min(height(u) for u in self.urls) >= top, 90, "all nodes at one height")
        check = check_chains(self.urls, top)
        lost = check.missing(acked)
        evidence = double_sign_reports([self.net.log_path(c) for c in self.net.configs])
        assert not check.forks, check.forks
        assert not lost, f"{len(lost)} acknowledged transactions lost"
        assert not check.duplicates, check.duplicates
        assert evidence == 0
        assert acked
        return (
            f"acknowledged {len(acked)}, lost {len(lost)}, duplicated {len(check.duplicates)}, "
            f"forks {len(check.forks)}, double-sign reports {evidence}"
        )


@pytest.fixture
def scenario(tmp_path) -> Iterator[Scenario]:
    s = Scenario(tmp_path)
    try:
        s.start()
        yield s
    finally:
        if s.load is not None:
            s.load.stop()
        s.net.stop()


@pytest.mark.parametrize("damage", ["garbage-pages", "truncated-64k", "header-replaced"])
def test_damaged_store_refuses_to_start_and_repair_rebuilds_it(scenario, damage) -> None:
    s = scenario
    s.net.stop_node(s.victim.name)  # clean stop: the WAL is checkpointed and removed
    if damage == "garbage-pages":
        pages = damage_pages(s.db, 4, seed=11)
        what = f"pages {pages} overwritten"
    elif damage == "truncated-64k":
        truncate(s.db, 64 << 10)
        what = "64 KiB cut off"
    else:  # a well-formed SQLite file whose chain is wrong: only the chain check sees it
        conn = sqlite3.connect(s.db)
        row = conn.execute("SELECT hash, header FROM blocks WHERE height = 3").fetchone()
        conn.execute("UPDATE blocks SET hash = ?, header = ? WHERE height = 4", row)
        conn.commit()
        conn.close()
        what = "block 4's header replaced by block 3's"
    line = s.refused_start()
    doc, recovery_s = s.repair_and_rejoin()
    assert doc["moved_aside"] and Path(doc["moved_aside"]).is_dir()
    assert doc["height"] >= 6
    counts = s.finish()
    print(
        f"\n{damage} ({what}): refused with {line!r}; repair to height {doc['height']} "
        f"({doc['blocks_fetched']} blocks); signing again {recovery_s:.1f} s after the "
        f"repair began; {counts}"
    )


def test_damage_found_while_running_stops_the_node_with_the_repair_command(scenario) -> None:
    s = scenario
    proc = s.net.procs[s.victim.name]
    count = s.db.stat().st_size // 4096
    # Every page but the header: a read that is not answered from the WAL or from a page
    # cache finds damage (with half of them, the few pages the early blocks sit on could
    # all be spared, and the node rightly never noticed).
    damage_pages(s.db, count - 1, seed=5)
    stuck = height(s.urls[3])

    def reads() -> bool:  # what clients and peers do anyway; here, all of it at once
        for h in range(1, stuck + 1):
            try:
                httpx.get(f"{s.urls[3]}/v1/blocks/{h}", timeout=3)
            except httpx.HTTPError:
                pass
        return proc.poll() is not None

    try:
        wait_for(reads, 120, "the node to stop on its damaged store")
    except AssertionError as exc:
        tail = s.net.log_path(s.victim).read_text(errors="replace")[-4000:]
        raise AssertionError(f"{exc}; the victim's log ends:\n{tail}") from None
    assert proc.returncode == 1
    log = s.net.log_path(s.victim).read_text(errors="replace")
    errors = [ln for ln in log.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "tianfu node repair --home" in errors[0], log[-3000:]
    assert "not signing: store read error" in log
    doc, recovery_s = s.repair_and_rejoin()
    counts = s.finish()
    print(
        f"\nrun-time damage: stopped with {errors[0]!r}; signing again {recovery_s:.1f} s "
        f"after the repair began; {counts}"
    )


def test_committed_heights_survive_kill_9_and_the_loss_of_the_wal(scenario) -> None:
    s = scenario
    served = 0

    def serve_some() -> bool:
        nonlocal served
        served = max(served, height(s.urls[3]))
        return served >= 12

    wait_for(serve_some, 60, "the victim to serve a few more heights")
    s.net.stop_node(s.victim.name, sig=signal.SIGKILL)
    wal = Path(str(s.db) + "-wal")
    assert wal.exists()
    wal.unlink()
    Path(str(s.db) + "-shm").unlink(missing_ok=True)
    store = Store(s.db)
    try:
        kept = store.height()
    finally:
        store.close()
    assert kept >= served, f"served height {served}, only {kept} left without the WAL"
    s.net.start_node(s.victim)
    wait_for(lambda: health(s.urls[3]) == "ok" and height(s.urls[3]) >= kept, 90, "restart")
    counts = s.finish()
    print(f"\nWAL lost after kill -9: had served {served}, store kept {kept}; {counts}")
