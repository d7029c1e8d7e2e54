"""The node's health: `"ok"` or `"degraded: ..."` from its probes, and the same as metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from tianfu.node.health import NodeHealth


def test_health_text_and_metrics_follow_the_probes() -> None:
    problem: list[str | None] = [None]
    health = NodeHealth()
    health.probes.append(lambda: problem[0])
    health.probes.append(lambda: 1 / 0)  # a broken probe is reported, not raised
    health.gauges["tianfu_signing_halted"] = ("doc", lambda: 1.0 if problem[0] else 0.0)
    health.counters["tianfu_store_write_failures"] = ("doc", lambda: 3)
    registry = CollectorRegistry()
    registry.register(health)
    assert health.text().startswith("degraded: health probe failed")
    health.probes.pop()
    assert health.text() == "ok"
    text = generate_latest(registry).decode()
    assert "tianfu_health_ok 1.0" in text
    assert "tianfu_signing_halted 0.0" in text
    assert "tianfu_store_write_failures_total 3.0" in text
    problem[0] = "not signing: cannot store decided block 9: database or disk is full"
    assert health.text() == f"degraded: {problem[0]}"
    text = generate_latest(registry).decode()
    assert "tianfu_health_ok 0.0" in text and "tianfu_signing_halted 1.0" in text
