"""The node's health: `"ok"` or `"degraded: ..."` from its probes, and the same as metrics."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest

from tianfu.node.health import NodeHealth, wire_health


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


def test_each_problem_has_its_reason_code_in_the_texts_order() -> None:
    """`state()` gives the text and each problem's code from one reading of the probes: a
    stopped consensus is `consensus_stopped` (not also `not_signing`), a probe added
    without a code is `other`, a probe that raises is `probe_failed`."""
    driver = SimpleNamespace(
        failed=None,
        halted=None,
        signing_held=None,
        blocks=SimpleNamespace(build_failure=None, execute_failure=None),
    )
    idle = SimpleNamespace(store_error=None, fatal=None, stats={}, peers=list)
    health = NodeHealth()
    wire_health(health, store=idle, driver=driver, syncer=idle, transport=idle, guard=idle)
    assert health.state() == ("ok", [])
    driver.signing_held = "its signer refuses: ..."  # held, nothing else: its own code
    assert health.state() == (
        "degraded: signing held: its signer refuses: ...",
        ["signing_held"],
    )
    driver.halted = "signer file not writable"  # a halt says why: not held as well
    assert health.state()[1] == ["not_signing"]
    driver.signing_held = None
    driver.halted, driver.failed = "signer file not writable", RuntimeError("boom")
    idle.fatal = "page 7 damaged"
    assert health.state() == (
        "degraded: consensus stopped: boom; store damaged: page 7 damaged",
        ["consensus_stopped", "store_damaged"],
    )
    driver.failed, idle.fatal = None, None
    driver.blocks.build_failure = "StoreBusy: locked"
    health.probes.append(lambda: "a new problem")
    health.probes.append(lambda: 1 / 0)
    text, codes = health.state()
    assert text.startswith(
        "degraded: not signing: signer file not writable; cannot build proposal blocks: "
        "StoreBusy: locked; a new problem; health probe failed: "
    )
    assert codes == ["not_signing", "cannot_build", "other", "probe_failed"]
    assert text == health.text()


def test_the_console_has_a_message_for_every_reason_code() -> None:
    from tianfu.node.health import REASONS
    from tianfu.web.i18n import translations
    from tianfu.web.words import HEALTH_REASONS

    assert set(HEALTH_REASONS) == set(REASONS)
    zh = translations("zh_CN").gettext
    assert all(zh(m) != m for m in HEALTH_REASONS.values())  # each one is translated
