"""Settings for the whole test suite.

Hypothesis: no per-example deadline and no "too slow" health check — both measure wall time,
which on a busy machine says nothing about the code (a test that needs a bound on work
asserts it on a count, not a clock).

pytest-xdist (`make test`: two workers, `--dist loadfile --no-loadscope-reorder`): a work
unit is a test file (its module fixtures start one network, chain or browser per file), and
the units are handed out in collection order, which `pytest_collection_modifyitems` makes
longest first by the seconds in `FILE_SECONDS`: the long files start at once and the short
ones fill in at the end, so the two workers finish together. A file not listed counts as
short and keeps its place (tests/integration, whose files start real node processes, is
collected first); the order never changes what a test asserts.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("tianfu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tianfu")

# Seconds per file (setup included) on the shared two-core machine under load (25-45):
# the wall time of `-n 0` runs of the longest files after this round's changes, and
# `--junitxml` sums of an earlier loaded run for the others (the tamper sweeps, which timed
# out in that run: 3.5 times their time on a quiet machine). Only the order they give
# matters. The two network files with every application's scenario go first: collected in
# its place (the 34th of tests/integration's files), the SM2 one started after most other
# network files and could end the run alone.
FILE_SECONDS: dict[str, float] = {
    "tests/integration/test_apps_network.py": 756.0,
    "tests/integration/test_sm2_network.py": 709.0,
    "tests/integration/test_console_browser.py": 498.0,
    "tests/sim/test_consensus_sim.py": 467.0,
    "tests/unit/test_tamper_sweep_independent.py": 280.0,
    "tests/unit/test_store.py": 219.0,
    "tests/unit/test_console_verify_valsets.py": 218.0,
    "tests/property/test_verifiers_agree.py": 172.0,
    "tests/unit/test_cli.py": 172.0,
    "tests/sim/test_time_and_recovery.py": 163.0,
    "tests/integration/test_network.py": 162.0,
    "tests/unit/test_gas_calibration.py": 158.0,
    "tests/unit/test_tamper_sweep.py": 140.0,
    "tests/integration/test_open_network.py": 119.0,
    "tests/unit/test_sandbox_audit.py": 113.0,
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (a stable sort: tests keep their order within a file)."""
    items.sort(key=lambda item: -FILE_SECONDS.get(item.nodeid.split("::", 1)[0], 0.0))
