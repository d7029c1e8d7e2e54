"""The stacks of a node process's threads: one known size, whatever the host's default.

A node decodes what peers and clients send (a transaction's arguments are any nested
value) and runs contracts in threads: block execution and the consensus driver's worker
threads, the API's (anyio), gossip's and sync's pools, asyncio's default executor. CPython
refuses nesting by counting levels (the recursion limit), not by the stack left, and each
level takes C stack: decoding a transaction nested 1,000 deep takes ~300 KB before it is
refused. A new thread's stack is the host's default (RLIMIT_STACK under glibc, 8 MiB
mostly; 128 KiB under musl; whatever `threading.stack_size` a process set): on a small one
the node crashed (SIGSEGV) on the very bytes that a node with 8 MiB refused cleanly, a
split between hosts. The main thread (the event loop's, where small requests are decoded)
grows up to the soft RLIMIT_STACK of the moment.

`set_stacks` is called once at a node process's start (`tianfu.node.loop.run`, the sync
checking process), before any thread is started: thread pools, asyncio's default executor
and anyio's worker threads are all made on first use. docs/ops/deploy.md says what a host
needs.
"""

from __future__ import annotations

import logging
import resource
import threading

# The stack of every thread a node process starts (reserved, committed only as used): twice
# glibc's usual default, far above what the deepest input takes before it is refused.
THREAD_STACK_BYTES = 16 << 20
MAIN_STACK_BYTES = 8 << 20  # the main thread's (the event loop's) at least: RLIMIT_STACK

log = logging.getLogger(__name__)


def set_stacks() -> None:
    """Give every thread the process starts from now on a stack of `THREAD_STACK_BYTES`,
    and the main thread room to grow to `MAIN_STACK_BYTES` (its soft RLIMIT_STACK raised,
    up to the hard limit: Linux grows the main stack up to the limit of the moment).
    Threads started before keep theirs. A hard limit below `MAIN_STACK_BYTES` is logged
    as an error (the operator's to raise: docs/ops/deploy.md)."""
    threading.stack_size(THREAD_STACK_BYTES)
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft >= MAIN_STACK_BYTES:
        return
    want = MAIN_STACK_BYTES if hard == resource.RLIM_INFINITY else min(hard, MAIN_STACK_BYTES)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
    if want < MAIN_STACK_BYTES:
        log.error(
            "the stack limit (ulimit -s) is %d KiB, below the %d KiB a node needs: deeply "
            "nested input can crash it; raise the hard limit (docs/ops/deploy.md)",
            want // 1024, MAIN_STACK_BYTES // 1024,
        )  # fmt: skip
