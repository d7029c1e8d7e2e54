"""The node's health: the `health` field of `/v1/status` and the health metrics.

`NodeHealth.text()` is "ok", or "degraded: " and every current problem ("not signing:
cannot store decided block 243: ... database or disk is full", "signing held: signer
state recovery, ...: it signs again from height 12 round 2 ...", "block sync: ...",
"consensus stopped: ...", "cannot build proposal blocks: StoreBusy: ...", "cannot execute
proposed blocks: StoreBusy: ..."), each read from a probe when asked; `report()` also gives
each problem's reason code (`REASONS`: the same problem has the same code whatever its
English, so a reader's language can say it). The same object is a Prometheus collector:
`tianfu_health_ok`, `tianfu_signing_halted`, `tianfu_signing_held`, `tianfu_p2p_peers`, and
counters of store write failures, incomplete checkpoints, failed handshakes and handshakes
failed on a certificate not yet valid or expired by this node's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tianfu.node.storeguard import StoreGuard
from tianfu.store import Store

# A probe's answer: None, a problem's text, or its reason code and text (a probe that
# reports more than one kind of problem).
Probe = Callable[[], "str | tuple[str, str] | None"]

# The reason code of each kind of problem the node's probes report.
REASONS = (
    "consensus_stopped",  # the consensus driver stopped on an error
    "not_signing",  # a validator signs nothing (its store or signer file cannot take a block)
    "signing_held",  # a validator cannot sign for now (restart guard, a signer ahead of it)
    "cannot_build",  # proposal blocks cannot be built (the store is busy or failing)
    "cannot_execute",  # proposed blocks cannot be executed (the store is busy or failing)
    "store_damaged",  # the store is damaged and must be repaired
    "block_sync",  # block sync cannot store what it fetched
    "probe_failed",  # a probe itself failed
    "other",  # a probe added without a code
)


class NodeHealth(Collector):
    """`"ok"` or `"degraded: <problem>; ..."` from probes, and the health metrics."""

    def __init__(self) -> None:
        self.probes: list[Probe] = []
        self.codes: dict[Probe, str] = {}  # a probe's reason code (`REASONS`); else "other"
        self.counters: dict[str, tuple[str, Callable[[], float]]] = {}
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def add(self, code: str, probe: Probe) -> None:
        """Ask `probe` for a problem, reported with the reason code `code` (of `REASONS`)."""
        self.probes.append(probe)
        self.codes[probe] = code

    def report(self) -> list[tuple[str, str]]:
        """Every current problem: its reason code and its English text, in probe order."""
        out = []
        for probe in self.probes:
            code = self.codes.get(probe, "other")
            try:
                problem = probe()
                if isinstance(problem, tuple):
                    code, problem = problem
            except Exception as exc:  # a probe's failure is a problem to report, not to raise
                code, problem = "probe_failed", f"health probe failed: {exc}"
            if problem:
                out.append((code, problem))
        return out

    def problems(self) -> list[str]:
        return [text for _, text in self.report()]

    def text(self) -> str:
        return self.state()[0]

    def state(self) -> tuple[str, list[str]]:
        """The health text and the reason code of each problem it names, from one reading
        of the probes: `("ok", [])` or `("degraded: <problem>; ...", [<code>, ...])`."""
        report = self.report()
        if not report:
            return "ok", []
        return "degraded: " + "; ".join(t for _, t in report), [c for c, _ in report]

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily("tianfu_health_ok", "1 when /v1/status says health ok, else 0")
        ok.add_metric([], 0.0 if self.problems() else 1.0)
        yield ok
        for name, (doc, read) in self.gauges.items():
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], float(read()))
            yield g
        for name, (doc, read) in self.counters.items():
            c = CounterMetricFamily(name, doc)
            c.add_metric([], float(read()))
            yield c


def wire_health(
    health: NodeHealth, *, store: Store, driver: Any, syncer: Any, transport: Any, guard: StoreGuard
) -> None:
    """The node's probes and metrics: signing, consensus, block sync, store, p2p."""

    def signing() -> tuple[str, str] | None:
        failed, halted = driver.failed, driver.halted  # read once: one answer, never none
        if failed is not None:
            return "consensus_stopped", f"consensus stopped: {failed}"
        return None if halted is None else ("not_signing", f"not signing: {halted}")

    def proposing() -> str | None:
        failure = driver.blocks.build_failure
        return None if failure is None else f"cannot build proposal blocks: {failure}"

    def executing() -> str | None:
        failure = driver.blocks.execute_failure
        return None if failure is None else f"cannot execute proposed blocks: {failure}"

    def held() -> str | None:
        if driver.failed is not None or driver.halted is not None:
            return None  # (`signing` says why)
        why = driver.signing_held
        return None if why is None else f"signing held: {why}"

    health.add("not_signing", signing)
    health.add("signing_held", held)
    health.add("cannot_build", proposing)
    health.add("cannot_execute", executing)
    health.add(
        "store_damaged", lambda: None if guard.fatal is None else f"store damaged: {guard.fatal}"
    )
    health.add(
        "block_sync",
        lambda: None if syncer.store_error is None else f"block sync: {syncer.store_error}",
    )
    health.gauges["tianfu_signing_halted"] = (
        "1 while this validator signs nothing (store or signer file failure, damage)",
        lambda: 0.0 if driver.halted is None and driver.failed is None else 1.0,
    )
    health.gauges["tianfu_signing_held"] = (
        "1 while this validator cannot sign for now and signs again by itself (the quiet "
        "start, the restart guard, a signer state ahead of the store)",
        lambda: 0.0 if held() is None else 1.0,
    )
    health.gauges["tianfu_p2p_peers"] = ("Connected peers", lambda: len(transport.peers()))
    health.counters["tianfu_store_write_failures"] = (
        "Writes the store could not do (disk full, I/O error)",
        lambda: store.write_failures,
    )
    health.counters["tianfu_store_checkpoints_incomplete"] = (
        "Commits whose WAL frames were not all copied into the database file at once",
        lambda: store.checkpoints_incomplete,
    )
    health.counters["tianfu_p2p_handshakes_failed"] = (
        "TLS handshakes or HELLO exchanges that failed",
        lambda: transport.stats["handshakes_failed"],
    )
    health.counters["tianfu_p2p_cert_time_failures"] = (
        "Handshakes failed on a certificate not yet valid or expired by this node's clock",
        lambda: transport.stats.get("cert_time_failures", 0),
    )
