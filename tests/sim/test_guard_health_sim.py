"""A validator that cannot sign for now says so in its health, and is "ok" again by itself.

After a restart without its signer state a validator's `SignGuard` holds every signature
until the network has moved past what its key may have signed: its health said "ok" the
whole time, only the log said why it did not vote. Now the health reads "degraded: signing
held: ..." (reason code `signing_held`) while, and only while, it cannot sign. The
simulator runs the real `ConsensusDriver`; the node's health probes are read on its
virtual clock as the run goes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tianfu.node.health import NodeHealth, wire_health
from tianfu.testing.sim import NetConfig, Simulation

SAMPLE_S = 0.02  # virtual seconds between two readings of every node's health


def health_of(driver: Any) -> tuple[str, list[str]]:
    """The node's health of `driver` (the other parts healthy)."""
    health = NodeHealth()
    idle = SimpleNamespace(store_error=None, fatal=None, stats={}, peers=list)
    wire_health(health, store=idle, driver=driver, syncer=idle, transport=idle, guard=idle)
    return health.state()


class WatchedHealth(Simulation):
    """A run that reads each honest node's health every `SAMPLE_S` virtual seconds:
    (time ms, validator index, incarnation, (health text, reason codes))."""

    samples: list[tuple[int, int, int, tuple[str, list[str]]]]

    async def _main(self) -> None:
        self.samples = []
        assert self.loop is not None
        self.loop.call_later(SAMPLE_S, self._sample)
        await super()._main()

    def _sample(self) -> None:
        if self._finished.is_set() or self.loop is None:
            return
        for nd in self.honest:
            if nd.driver is not None and not nd.done:
                self.samples.append((self.now, nd.val_index, nd.incarnation, health_of(nd.driver)))
        self.loop.call_later(SAMPLE_S, self._sample)


def test_a_restarted_validator_held_by_its_guard_is_degraded_until_it_signs_again():
    restarted = 1
    sim = WatchedHealth(
        4,
        7,
        net=NetConfig(max_delay_ms=20),
        restarts={restarted: 1_500},
        down_ms=300,
        target_height=40,
    ).run()
    assert sim.check_double_signs() == [] and sim.check_safety() == []
    assert sim.check_liveness() == []
    after = [(t, s) for t, v, inc, s in sim.samples if v == restarted and inc == 2]
    held = [(t, text) for t, (text, codes) in after if "signing_held" in codes]
    assert held, "the restarted validator never said that its signing was held"
    guarded = [text for _, text in held if "signer state recovery" in text]
    assert guarded, held[:3]
    assert guarded[0].startswith(
        "degraded: signing held: signer state recovery, the signer file was missing"
    ), guarded[0]
    # It clears by itself: once the network is past what its key may have signed, "ok".
    last_held = held[-1][0]
    assert [s for t, s in after if t > last_held and s == ("ok", [])], after[-3:]
    # Before the restart a node is held only by the quiet start of its first start.
    first = [(t, s) for t, _, inc, s in sim.samples if inc == 1 and "signing_held" in s[1]]
    assert first and all(t < 1_500 for t, _ in first), first[-3:]
    assert all("signing held: it has just started" in s[0] for _, s in first), first[:1]
