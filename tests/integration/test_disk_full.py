"""A validator whose data sits on a small real filesystem that fills up under load.

It must stop signing and say so (`health` in /v1/status, metrics, a log line at ERROR),
the other three keep committing, and when space returns it checks its store and votes
again by itself — no restart. Nothing acknowledged is lost or duplicated, no fork, no
double-sign evidence. Needs permission to mount a tmpfs (root); skipped otherwise.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tianfu.bench.netcheck import Load, check_chains, free_base_ports, height
from tianfu.identity import Identity
from tianfu.node.localnet import LocalNetwork
from tianfu.testing.storefaults import SmallDisk, certificate_signers, double_sign_reports

pytestmark = pytest.mark.timeout(300)

WHY_NOT = SmallDisk.available()
DISK_MB = 24


def status(url: str) -> dict:
    try:
        return httpx.get(url + "/v1/status", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return {}


def metric(url: str, name: str) -> float | None:
    text = httpx.get(url + "/metrics", timeout=3).text
    m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    return None if m is None else float(m.group(1))


def wait_for(pred, timeout: float, what: str) -> float:
    """Wait until `pred()` is true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def net_on_small_disk(tmp_path) -> Iterator[tuple[LocalNetwork, SmallDisk]]:
    if WHY_NOT is not None:
        pytest.skip(WHY_NOT)
    api, p2p = free_base_ports(5)
    net, _ = LocalNetwork.prepare(tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p)
    disk = SmallDisk(net.configs[3].data, DISK_MB).mount()
    try:
        net.start()
        net.wait_ready(timeout=120)
        yield net, disk
    finally:
        net.stop()
        disk.unmount()


@pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))
def test_full_disk_stops_signing_says_so_and_recovers_without_restart(net_on_small_disk) -> None:
    net, disk = net_on_small_disk
    urls = [net.url(c) for c in net.configs]
    victim = urls[3]
    key4 = Identity.load(net.configs[3].identity).keypair.public_key.hex()
    ids = [Identity.load(net.home / c.org / "identities" / "user") for c in net.configs]
    load = Load(urls, ids, net.genesis, "governance", "get_identity", ("x",), threads=4).start()
    try:
        wait_for(lambda: height(victim) >= 5, 60, "a few blocks on the victim")
        filler = disk.fill()
        filled_at = height(urls[0])

        # It stops signing and says so.
        wait_for(lambda: status(victim).get("health", "ok").startswith("degraded"), 90, "degraded")
        health = status(victim)["health"]
        assert "not signing: cannot store decided block" in health, health
        assert "full" in health, health
        assert metric(victim, "tianfu_health_ok") == 0.0
        assert metric(victim, "tianfu_signing_halted") == 1.0
        log = net.log_path(net.configs[3]).read_text(errors="replace")
        assert re.search(r" ERROR .*not signing: cannot store decided block", log), log[-3000:]
        stuck = height(victim)
        # The other three keep deciding without it.
        wait_for(lambda: height(urls[0]) >= stuck + 5, 60, "the others to go on")
        # (Its precommit of the block it then failed to store, stuck + 1, is legitimate.)
        during = [
            h
            for h in range(stuck + 2, height(urls[0]) + 1)
            if key4 in certificate_signers(urls[0], h)
        ]
        assert not during, f"node4 signed certificates of heights {during} while it could not store"

        # Space returns: it checks its store, catches up and votes again by itself.
        filler.unlink()
        freed = time.monotonic()
        wait_for(lambda: status(victim).get("health") == "ok", 90, "health ok again")
        back = height(urls[0])

        def signs_again() -> bool:
            top = height(urls[0])
            return any(key4 in certificate_signers(urls[0], h) for h in range(back + 1, top + 1))

        wait_for(signs_again, 90, "node4's signature in a new certificate")
        recovery_s = time.monotonic() - freed
        assert metric(victim, "tianfu_signing_halted") == 0.0
        assert "store writable again" in net.log_path(net.configs[3]).read_text(errors="replace")
    finally:
        acked = load.stop()
    top = max(height(u) for u in urls)
    wait_for(lambda: min(height(u) for u in urls) >= top, 90, "every node at the same height")
    check = check_chains(urls, top)
    signed_after = sum(key4 in certificate_signers(urls[0], h) for h in range(back + 1, top + 1))
    lost = check.missing(acked)
    evidence = double_sign_reports([net.log_path(c) for c in net.configs])
    print(
        f"\ndisk full: filled at height {filled_at}, victim stuck at {stuck}; acknowledged "
        f"{len(acked)}, lost {len(lost)}, duplicated {len(check.duplicates)}, forks "
        f"{len(check.forks)}, double-sign reports {evidence}; recovered (health ok and "
        f"signing) {recovery_s:.1f} s after space returned; node4 signed {signed_after} of "
        f"{top - back} certificates after recovery"
    )
    assert not check.forks, check.forks
    assert not lost, f"{len(lost)} acknowledged transactions lost"
    assert not check.duplicates, check.duplicates
    assert evidence == 0
    assert len(acked) > 0
