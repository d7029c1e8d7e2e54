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

# Seconds per file (setup included) measured with `--junitxml` on the shared two-core
# machine: the files that would otherwise be collected late and end the run alone.
FILE_SECONDS: dict[str, float] = {
    "tests/unit/test_tamper_sweep.py": 900.0,
    "tests/unit/test_tamper_sweep_independent.py": 600.0,
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (a stable sort: tests keep their order within a file)."""
    items.sort(key=lambda item: -FILE_SECONDS.get(item.nodeid.split("::", 1)[0], 0.0))
