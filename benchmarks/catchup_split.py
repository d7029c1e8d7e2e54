"""Where one catch-up's CPU goes: the applying thread, the rest of the node's process, and
the checking process.

    .venv/bin/python benchmarks/catchup.py --mode inproc --blocks 3000 --keep   # a chain
    PYTHONPATH=<a tree's src>:benchmarks .venv/bin/python benchmarks/catchup_split.py \\
        <kept dir>/inproc [default|thread|inline]

Runs `catchup.sync_inproc` (node B catches up with A's kept chain through both real
`BlockSyncer`s) once, with the `tianfu` package found on `PYTHONPATH` (so that two trees can
be compared, alternating by hand). Reports per block: the thread CPU of
`BlockSyncer._apply_items` (the applying thread: certificates and checks read, execution,
commits, the batch's flush), the rest of this process's CPU during the catch-up (the event
loop decoding responses, A's serving threads, the checks' hand-off, the checking thread
before the process is ready), and the CPU of the checking process (its start-up included).
Interpreter start-up and imports are not counted, unlike `catchup.py`'s `cpu_ms_per_block`.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import catchup

from tianfu.sync import checkproc
from tianfu.sync import syncer as sync_module


def split(work: Path, checks: str = "default") -> dict[str, Any]:
    apply_cpu = [0.0]
    original = sync_module.BlockSyncer._apply_items

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            apply_cpu[0] += time.thread_time() - start

    sync_module.BlockSyncer._apply_items = timed  # type: ignore[method-assign]
    before = resource.getrusage(resource.RUSAGE_SELF)
    fig = catchup.sync_inproc(work, work / "b-run", 1800.0, checks)
    after = resource.getrusage(resource.RUSAGE_SELF)
    child = checkproc.shared()._child
    if child is not None:  # reaped, so that its CPU is counted below
        child.process.kill()
        child.process.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    n = fig["blocks"]
    own = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "blocks": n,
        "catchup_blocks_per_s": fig["catchup_blocks_per_s"],
        "identical_chains": fig["identical_chains"],
        "apply_ms_per_block": round(1000 * apply_cpu[0] / n, 3),
        "rest_of_process_ms_per_block": round(1000 * (own - apply_cpu[0]) / n, 3),
        "checking_process_ms_per_block": round(
            1000 * (children.ru_utime + children.ru_stime) / n, 3
        ),
    }


if __name__ == "__main__":
    print(json.dumps(split(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "default")))
