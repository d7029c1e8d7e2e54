"""A node refuses deeply nested input the same way whatever stack size its host gives new
threads (and its main thread), instead of crashing on a host with small stacks.

A transaction's arguments are any nested value: decoding one nested 20,000 deep is refused
by CPython's recursion limit ("nested too deeply") after ~300 KB of C stack. Gossip, the
API, sync and the consensus driver decode and execute in threads whose stack was the
host's default for new threads: 8 MiB under glibc, 128 KiB under musl, whatever
`threading.stack_size` was set; with 256 KiB the node crashed (SIGSEGV) on bytes a node
on another host refused, and so on a main thread whose RLIMIT_STACK was 256 KiB. A node
process now sets its threads' stacks and raises its main thread's limit at start
(`tianfu.stacks.set_stacks`, from `tianfu.node.loop.run`).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import tianfu

MAIN_STACK_BYTES = 8 << 20  # `tianfu.stacks.MAIN_STACK_BYTES`, what the test relies on

_DEEP_TX = r"""
from tianfu.codec import encode
from tianfu.crypto import sign_tx
from tianfu.crypto.keys import generate_keypair
from tianfu.types import TxBody

k = generate_keypair()
marker = "MARKER-0123456789"
body = TxBody(1, "c", k.scheme, k.public_key, 1, 10, "kv", "put", [marker])
deep = encode(sign_tx(k, body)).replace(encode(marker), b"\x91" * 20_000 + b"\x01")
"""

_THREADS = (
    r"""
import threading
threading.stack_size(256 * 1024)  # a host whose threads get small stacks (musl: 128 KiB)
"""
    + _DEEP_TX
    + r"""
import asyncio
import anyio
from tianfu.codec import CodecError
from tianfu.consensus.clock import AsyncioTimers
from tianfu.mempool.gossip import _decode
from tianfu.node import loop as event_loop
from tianfu.sync import threads
from tianfu.types.tx import decode_tx

def refusal(raw):
    try:
        decode_tx(raw)
    except CodecError as exc:
        return str(exc)
    return "decoded"

async def main():
    # gossip's decoding thread (asyncio's default executor)
    txs, bad = await asyncio.to_thread(_decode, [deep])
    print("gossip:", len(txs), "decoded,", bad, "malformed")
    # the consensus driver's worker threads (block execution)
    print("driver:", await AsyncioTimers().run_blocking(refusal, deep))
    # the API's worker threads (anyio), e.g. a large submission's decode
    print("api:", await anyio.to_thread.run_sync(refusal, deep))
    # block sync's pools
    pool = threads.pool("sync-serve", 1)
    print("sync:", await asyncio.get_running_loop().run_in_executor(pool, refusal, deep))

event_loop.run(main())
"""
)

_MAIN = (
    _DEEP_TX
    + r"""
from tianfu.codec import CodecError
from tianfu.node import loop as event_loop
from tianfu.types.tx import decode_tx

async def main():
    try:  # on the event loop, as the API decodes a small submission
        decode_tx(deep)
    except CodecError as exc:
        print("loop:", exc)

event_loop.run(main())
"""
)

REFUSED = "malformed Transaction: nested too deeply"


def _run(script: str, preexec: object = None) -> subprocess.CompletedProcess[str]:
    src = Path(tianfu.__file__).resolve().parents[1]  # the package under test
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(src), "TIANFU_LOOP": "asyncio"},
        check=False,
        preexec_fn=preexec,  # type: ignore[arg-type]
    )


def test_deeply_nested_input_is_refused_in_every_kind_of_thread_whatever_the_hosts_stacks():
    done = _run(_THREADS)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert done.stdout.splitlines() == [
        "gossip: 0 decoded, 1 malformed",
        f"driver: {REFUSED}",
        f"api: {REFUSED}",
        f"sync: {REFUSED}",
    ]


def _small_main_stack() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    resource.setrlimit(resource.RLIMIT_STACK, (256 * 1024, hard))


def test_deeply_nested_input_is_refused_on_the_main_thread_under_a_small_stack_limit():
    """The soft RLIMIT_STACK is raised at start (the hard limit here allows it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    assert hard == resource.RLIM_INFINITY or hard >= MAIN_STACK_BYTES  # the test's premise
    done = _run(_MAIN, _small_main_stack)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert done.stdout.splitlines() == [f"loop: {REFUSED}"]


def test_set_stacks_never_lowers_a_limit() -> None:
    from tianfu.stacks import MAIN_STACK_BYTES as main_bytes
    from tianfu.stacks import set_stacks

    assert main_bytes == MAIN_STACK_BYTES
    before = resource.getrlimit(resource.RLIMIT_STACK)
    set_stacks()
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    assert hard == before[1]
    assert soft == before[0] or soft == MAIN_STACK_BYTES
