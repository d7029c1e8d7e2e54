"""Real node processes: a lost or damaged signer state never leads to a double sign, a
missing signer file is refused, and a validator whose clock is 30 s off still helps the
network commit (BFT time).

`make test` runs a few signer-damage attempts; the 100-attempt run is behind `slow`:
    .venv/bin/python -m pytest tests/integration/test_signer_and_clock.py -m slow
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.codec import decode
from tianfu.consensus.privval import SIGNER_FILE, SLOT, decode_slot
from tianfu.node import faults
from tianfu.node.localnet import LocalNetwork
from tianfu.testing.signcheck import SignatureLog
from tianfu.types import CommitCertificate

pytestmark = pytest.mark.timeout(900)


def make_net(tmp_path: Path, skews: dict[int, int] | None = None) -> LocalNetwork:
    api, p2p = free_base_ports(4)
    net, _ = LocalNetwork.prepare(tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p)
    for i in range(len(net.configs)):
        start_node(net, i, (skews or {}).get(i))
    ready(net)
    return net


def ready(net: LocalNetwork) -> None:
    """`wait_ready`, reporting the log tail of a node that exited."""
    try:
        net.wait_ready(timeout=120)
    except (RuntimeError, TimeoutError) as exc:
        tails = {c.name: net.log_path(c).read_text(errors="replace")[-1500:] for c in net.configs}
        msg = "\n".join(f"--- {k}\n{v}" for k, v in tails.items())
        raise AssertionError(f"{exc}\n{msg}") from None


def start_node(net: LocalNetwork, i: int, skew_ms: int | None = None) -> None:
    """Start node i, its clock shifted by `skew_ms` (fault injection, never in production)."""
    if skew_ms is not None:
        os.environ[faults.CLOCK_SKEW_ENV] = str(skew_ms)
    try:
        net.start_node(net.configs[i])
    finally:
        os.environ.pop(faults.CLOCK_SKEW_ENV, None)


@pytest.fixture
def faulty(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv(faults.ENV, "1")
    yield


def urls(net: LocalNetwork, skip: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    return [net.url(c) for i, c in enumerate(net.configs) if i not in skip]


def top(us: list[str]) -> int:
    return max(height(u) for u in us)


# ------------------------------------------------------------------ clock skew


@pytest.mark.parametrize("skew_ms", [-30_000, 30_000])
def test_validator_30s_off_with_another_stopped_the_other_three_commit(tmp_path, faulty, skew_ms):
    """Before BFT time a validator 30 s behind prevoted nil on every other proposer's block
    (dated "in the future" by its clock): with one more validator stopped, 0 blocks."""
    net = make_net(tmp_path, skews={0: skew_ms})
    try:
        net.stop_node(net.configs[3].name)
        live = urls(net, {3})
        start = top(live)
        wait_height(live, start + 6, timeout=90)
        assert_identical(live)
        status = httpx.get(live[0] + "/v1/status", timeout=5).json()
        assert abs(status["clock_offset_ms"] - skew_ms) < 10_000, status
        assert abs(httpx.get(live[1] + "/v1/status", timeout=5).json()["clock_offset_ms"]) < 10_000
        metrics = httpx.get(live[0] + "/metrics", timeout=5).text
        assert "tianfu_clock_offset_ms" in metrics
        log = net.log_path(net.configs[0]).read_text(errors="replace")
        side = "ahead of" if skew_ms > 0 else "behind"
        assert "WARNING tianfu.consensus.driver: this node's clock is" in log and side in log
        # Block times follow the correct clocks, not the skewed one.
        now_ms = time.time() * 1000
        head = httpx.get(live[1] + "/v1/status", timeout=5).json()["time_ms"]
        assert abs(head - now_ms) < 15_000
    finally:
        net.stop()


# ------------------------------------------------------------------ signer state


def damage_newest_slot(path: Path, rng: random.Random) -> None:
    """Flip bytes in the slot holding the newest state (the first written of a save)."""
    data = bytearray(path.read_bytes())
    slots = [decode_slot(bytes(data[i * SLOT : (i + 1) * SLOT])) for i in range(2)]
    seqs = [s[0] if s else -1 for s in slots]
    # both slots hold the newest state; the one written first by the last save is seq % 2
    newest = seqs.index(max(seqs)) if seqs[0] != seqs[1] else seqs[0] % 2
    for _ in range(4):
        data[newest * SLOT + rng.randrange(64, SLOT)] ^= 0xFF
    path.write_bytes(bytes(data))


def lose_wal_tail(path: Path, rng: random.Random) -> None:
    """Cut the consensus WAL: its last records (our newest votes among them) are lost."""
    size = path.stat().st_size
    if size:
        with open(path, "r+b") as f:
            f.truncate(rng.randrange(size // 2, size))


def collect(log: SignatureLog, net: LocalNetwork, us: list[str]) -> None:
    for cfg in net.configs:
        log.add_wal(cfg.data / "consensus.wal")
    for u in us:
        h = height(u)
        for k in range(1, h + 1):
            r = httpx.get(f"{u}/v1/blocks/{k}/commit", timeout=5)
            if r.status_code == 200:
                log.add_certificate(
                    decode(bytes.fromhex(r.json()["certificate"]["raw"]), CommitCertificate)
                )


def run_attempts(tmp_path: Path, attempts: int) -> SignatureLog:
    """Kill a validator, damage its newest signer slot and cut its WAL tail, restart it at
    once; repeat. Every node's WAL and every certificate is checked for double signs."""
    rng = random.Random(17)
    net = make_net(tmp_path)
    log = SignatureLog()
    try:
        every = urls(net)
        for _ in range(attempts):
            i = rng.randrange(4)
            cfg = net.configs[i]
            wait_height(every, top(every) + 1, timeout=90)
            time.sleep(rng.uniform(0.0, 0.6))  # somewhere inside a height (not a timed assert)
            net.stop_node(cfg.name, signal.SIGKILL)
            log.add_wal(cfg.data / "consensus.wal")  # what it had signed, before the loss
            damage_newest_slot(cfg.data / SIGNER_FILE, rng)
            lose_wal_tail(cfg.data / "consensus.wal", rng)
            start_node(net, i)
            ready(net)
            others = [u for k, u in enumerate(every) if k != i]
            wait_height(every, top(others) + 2, timeout=120)
            for c in net.configs:
                log.add_wal(c.data / "consensus.wal")
        collect(log, net, every)
        assert_identical(every)
    finally:
        net.stop()
    return log


def test_damaged_newest_slot_and_lost_wal_tail_never_double_sign(tmp_path, faulty):
    log = run_attempts(tmp_path, 3)
    assert log.count > 100
    assert log.conflicts() == []


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_damaged_newest_slot_and_lost_wal_tail_100_attempts(tmp_path, faulty):
    log = run_attempts(tmp_path, 100)
    assert log.conflicts() == []


def test_missing_signer_file_refuses_to_start_unless_asked(tmp_path, faulty):
    net = make_net(tmp_path)
    try:
        cfg = net.configs[1]
        net.stop_node(cfg.name)
        (cfg.data / SIGNER_FILE).unlink()
        r = subprocess.run(
            [sys.executable, "-m", "tianfu", "node", "start", "--home", str(cfg.home)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 1
        err = r.stderr.strip().splitlines()
        assert err and err[-1].startswith("error: signer state") and "--new-signer-state" in err[-1]
        # With the flag it starts, waits out what it may have signed, then votes again.
        net.log_path(cfg).unlink(missing_ok=True)
        net.procs[cfg.name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tianfu",
                "node",
                "start",
                "--home",
                str(cfg.home),
                "--new-signer-state",
            ],
            stdout=open(net.log_path(cfg), "ab"),  # noqa: SIM115 - owned by the child
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        net.wait_ready(timeout=120)
        every = urls(net)
        wait_height(every, top(every) + 4, timeout=120)
        log = net.log_path(cfg).read_text(errors="replace")
        assert "signer state recovery" in log
        check = SignatureLog()
        collect(check, net, every)
        assert check.conflicts() == []
    finally:
        net.stop()
