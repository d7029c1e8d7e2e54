"""CPU time and memory of a process from /proc (Linux), without extra dependencies."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by `pid` (None if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces or parentheses: split after its last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


def _status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM) in MiB, over its whole life so far."""
    kb = _status_kb(pid, "VmHWM")
    return None if kb is None else kb / 1024


def rss_mb(pid: int) -> float | None:
    """The process's current resident set size (VmRSS) in MiB."""
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024


def cpu_percent(before: float | None, after: float | None, seconds: float) -> float | None:
    """CPU use between two `cpu_seconds` readings, in % of one core."""
    if before is None or after is None or seconds <= 0:
        return None
    return 100.0 * (after - before) / seconds


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, summed over all cores."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(ticks)
    return (total - ticks[3] - ticks[4]) / _TICKS, total / _TICKS
