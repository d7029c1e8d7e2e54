"""Settings for the whole test suite.

Hypothesis: no per-example deadline and no "too slow" health check — both measure wall time,
which on a busy machine says nothing about the code (a test that needs a bound on work
asserts it on a count, not a clock)."""

from hypothesis import HealthCheck, settings

settings.register_profile("tianfu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tianfu")
