"""The signer state's mark and a `SignGuard`: a stop between the mark and the store of its
height (a full disk, a power cut) must not leave the next start with less protection than
the guard gave."""

from __future__ import annotations

from typing import Any

from tianfu.consensus.privval import STEP_PREVOTE
from tianfu.testing.sim import NetConfig, Simulation
from tianfu.testing.simchain import Crash
from tianfu.testing.simdriver import DriverNode

NO_ROUND = 10**6  # `first_round` None: no round of the height may be signed


def _first_round(driver: Any, height: int) -> int:
    """The first round of `height` in which this node may prevote: what its `SignGuard`
    (if any) and its signer state both allow."""
    guard, last = driver.signer.guard, driver.privval.last_hrs()
    r = 0 if guard is None else guard.first_round(height)
    held = NO_ROUND if r is None else r
    if last is not None and last[0] > height:
        return NO_ROUND
    if last is not None and last[0] == height:
        held = max(held, last[1] + (1 if last[2] >= STEP_PREVOTE else 0))
    return held


class StoreFailsAfterGuard(DriverNode):
    """Comes back without signer file or WAL (`restarts`: a guard holds it), and once the
    guard has settled on its floor (H, R), the store of height H + 1 fails (a full disk)
    and the node stops at once; it comes back with its files as they were (a missing
    signer file stays missing: then it starts as a new signer state again)."""

    def start(self) -> None:
        self.failed_at: tuple[int, int] | None = getattr(self, "failed_at", None)
        super().start()
        if self.incarnation == 2:
            self._fail_store_after_guard()
        if self.incarnation == 3 and self.failed_at is not None:
            self._held_after_start(self.failed_at[0])

    def _fail_store_after_guard(self) -> None:
        ledger, driver, commit = self.ledger, self.driver, self.ledger.commit

        def failing(executed: Any, cert: Any) -> None:
            guard = driver.signer.guard if driver is not None else None
            h = cert.height
            if (
                self.failed_at is None
                and guard is not None
                and not guard.listening
                and h == guard.floor[0] + 1
            ):
                self.failed_at = (h, _first_round(driver, h))
                self.keeps_files = (self._files / "privval.bin").exists()
                self.sim.schedule(1, self.id, Crash(self.sim.down_ms))
                raise OSError(28, "No space left on device")
            commit(executed, cert)

        ledger.commit = failing  # type: ignore[method-assign]

    def _held_after_start(self, height: int) -> None:
        """Record what the start's guard and signer state hold at `height` (before the WAL
        is replayed: it may decide the height again, or may have lost its votes)."""
        driver = self.driver
        assert driver is not None
        recover = driver.signer.recover

        def recovered(*args: Any, **kw: Any) -> None:
            recover(*args, **kw)
            self.after = _first_round(driver, height)

        driver.signer.recover = recovered  # type: ignore[method-assign]


def test_a_stop_between_the_mark_and_the_store_keeps_the_guards_protection():
    """Validator 2 comes back without its signer state; its guard settles on the network's
    height H and forbids round 0 of H + 1 (its key may have signed there before). On a
    slow network the others decide H and H + 1 without it, and its store of H + 1 fails
    (a full disk); the node stops and comes back with its files. The mark written before the store put the signer state at H + 1 over
    a store at H: nothing older than the store, no guard, and round 0 of H + 1 was open
    again. Now the next start holds H + 1 at least as far as the guard and the signer
    state did."""
    happened = 0
    for seed in range(4):
        sim = Simulation(
            4,
            seed,
            net=NetConfig(min_delay_ms=75, max_delay_ms=150),
            node_classes={2: StoreFailsAfterGuard},
            restarts={2: 2000 + 97 * seed},
            down_ms=300,
            target_height=12,
            max_time_ms=60_000,
        ).run()
        assert sim.check_safety() == [] and sim.check_double_signs() == []
        v2 = sim.nodes[2]
        if v2.failed_at is None or v2.incarnation < 3:
            continue
        happened += 1
        height, held_from = v2.failed_at
        assert held_from >= 1  # (round 0 of that height was held)
        assert v2.after >= held_from, (seed, height, v2.after, held_from)
        assert sim.check_liveness() == [], seed
    assert happened >= 3
