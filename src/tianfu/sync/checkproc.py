"""Signature checks of synced blocks in a worker process, ahead of their execution.

The checks of `sync/precheck.py` (certificates, headers' `last_commit`s, transactions'
`Executor.check_static`) run here in one child process instead of a thread: a thread of
the node's own process needs the GIL for the Python around every signature check, and the
applying thread, which holds it nearly all the time, then waits for it after each of its
SQLite calls, so the two took turns rather than using two cores. The child gets each
batch's blocks (their canonical bytes) and the validator sets and parameters to check
them against, and sends back, block by block, which checks passed. The applying thread
reads those answers itself, when it needs them (no third thread wakes per block), and
turns them into the same `Prechecked` the thread gives, with its own objects: a
transaction counts as checked only if the hash the child computed from the same
canonical bytes is that of the node's transaction at that place.

Like the thread, the child only ever saves work: a check it did not confirm is made in
line, with the same outcome and error. If the child is not running yet (it starts in the
background when a sync session starts: nothing waits for its start-up; until it is ready
the thread checks ahead), has died, or does not answer a batch's first block within the
syncer's `check_wait_s` (waited for before the commit lock is taken), the blocks are checked
in line and a child that did not answer in time is killed; a later block's answer is waited
for at most `LOCKED_WAIT_S` under the commit lock, then the rest of the batch is checked in
line. A child that is gone is replaced after `RESTART_PAUSE_S`. The child exits when the node's process does
(it watches its parent) and ignores SIGINT (the node's shutdown stops it).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import pickle
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

import msgspec

from tianfu.codec import encode
from tianfu.execution.executor import Executor
from tianfu.stacks import set_stacks
from tianfu.sync.messages import BlockWithCert
from tianfu.sync.precheck import Checks, Guess, Prechecked, Verified, precheck
from tianfu.types import ConsensusParams, ValidatorSet
from tianfu.types.genesis import decode_genesis

log = logging.getLogger(__name__)

T = TypeVar("T")

# One block's answer from the child: certificate passed, last_commit passed, the hashes
# of the transactions that passed `check_static`.
_Answer = tuple[bool, bool, list[bytes]]

# After a child that failed to start, died or was killed, none is started for this long
# (the checking thread checks ahead meanwhile): a child that cannot work costs one start
# per pause, not one per batch.
RESTART_PAUSE_S = 60.0
# The child sends the answers of a batch's first two blocks one by one (the applying thread
# waits for them), then in groups of this many (fewer messages for that thread to read).
ANSWER_GROUP = 4

# How long the applying thread, holding the commit lock that consensus stores its blocks
# under, waits for a block's answer after the first (which it waits for before taking the
# lock, up to the syncer's `check_wait_s`); then the batch's other blocks are checked in line.
LOCKED_WAIT_S = 2.0

# What reading from a child that died (or sent something else than an answer) raises.
_CHILD_GONE = (EOFError, OSError, ValueError, TypeError, pickle.UnpicklingError)


@dataclass
class _Child:
    """One incarnation of the checking process."""

    process: Any  # multiprocessing's SpawnProcess
    tasks: Connection  # node -> child (written by the sender thread only)
    answers: Connection  # child -> node (read by the applying threads, one at a time)
    outbox: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    ready: bool = False
    dead: bool = False
    # Answers read but not yet asked for: (batch id, block index) -> answer, kept only
    # for the batches still being applied (`live`).
    unread: dict[tuple[int, int], _Answer] = field(default_factory=dict)
    live: set[int] = field(default_factory=set)


class CheckProcess:
    """The node's checking process (see the module doc); thread-safe."""

    def __init__(self, restart_pause_s: float = RESTART_PAUSE_S) -> None:
        self.restart_pause_s = restart_pause_s
        self._lock = threading.Lock()  # the child's incarnation and the batch ids
        self._reading = threading.Lock()  # one thread reads the answers at a time
        self._child: _Child | None = None
        self._next = 0
        self._failed_at: float | None = None  # when the last child failed (see RESTART_PAUSE_S)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None when there is none)."""
        child = self._child
        return None if child is None or child.dead else child.process.pid

    def ready(self) -> bool:
        """Whether the child is running and ready; starts one (in the background) if none
        is running."""
        with self._lock:
            child = self._child
            if child is None or child.dead:
                child = self._child = self._start()
            if child is None:
                return False
        if not child.ready:
            with self._reading:
                try:
                    if not child.ready and not child.dead and child.answers.poll():
                        self._read_one(child)
                except _CHILD_GONE:  # it died starting (e.g. could not import)
                    log.warning("the sync checking process exited at its start")
                    self._gone(child)
        return child.ready and not child.dead

    def submit(
        self,
        items: list[BlockWithCert],
        from_height: int,
        guesses: list[Guess],
        executor: Executor,
        wait_s: float,
    ) -> Checks:
        """The checks of `items` (heights from `from_height`), made in the child (in line
        if it is not ready); a block not answered within `wait_s` seconds is checked in
        line, and the child killed."""
        with self._lock:
            child = self._child
            if child is None or child.dead or not child.ready:
                return Checks()
            batch_id = self._next
            self._next += 1
            child.live.add(batch_id)
        # Each distinct validator set / parameters object encoded once per batch.
        table: dict[int, int] = {}
        values: list[bytes] = []

        def ref(value: ValidatorSet | ConsensusParams | None) -> int:
            if value is None:
                return -1
            at = table.get(id(value))
            if at is None:
                at = table[id(value)] = len(values)
                values.append(encode(value))
            return at

        refs = [(ref(g.validators), ref(g.prev_validators), ref(g.params)) for g in guesses]
        raw = [encode(item) for item in items]
        # Sent by the sender thread: a child that stopped reading cannot block this one.
        child.outbox.put((batch_id, encode(executor.genesis), from_height, raw, values, refs))
        return _ProcessChecks(self, child, batch_id, items, guesses, wait_s)

    def stop(self) -> None:
        """Kill the child (if any): the checks still pending on it are made in line; the
        next `ready()` starts a new one."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            self._gone(child, failed=False)

    def answer(
        self, child: _Child, batch_id: int, index: int, timeout: float, kill: bool = True
    ) -> _Answer | None:
        """Block `index` of batch `batch_id`'s answer, or None if the child cannot give it
        within `timeout` seconds (then it is killed, if `kill`)."""
        deadline = time.monotonic() + timeout
        key = (batch_id, index)
        while True:
            if not self._reading.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
                break
            try:
                found = child.unread.pop(key, None)
                if found is not None or child.dead:
                    return found
                if child.answers.poll(max(deadline - time.monotonic(), 0.0)):
                    self._read_one(child)
                    continue
            except _CHILD_GONE:  # it died, or sent what it never sends
                self._gone(child, why="exited or broke its pipe")
                return None
            finally:
                self._reading.release()
            break
        if kill:
            log.warning("the sync checking process did not answer in %.1f s: killed", timeout)
            self._gone(child)
        return None

    # -- the node's side ---------------------------------------------------------------------
    def _start(self) -> _Child | None:  # under the lock
        failed = self._failed_at
        if failed is not None and time.monotonic() - failed < self.restart_pause_s:
            return None
        ctx = multiprocessing.get_context("spawn")
        try:
            task_out, task_in = ctx.Pipe(duplex=False)  # (receiving end, sending end)
            answer_out, answer_in = ctx.Pipe(duplex=False)
            process = ctx.Process(
                target=_serve, args=(task_out, answer_in), name="sync-check", daemon=True
            )
            process.start()
        except (OSError, RuntimeError) as exc:  # no processes (limits, not from a main module)
            self._failed_at = time.monotonic()
            log.warning("cannot start the sync checking process (checks in line): %s", exc)
            return None
        task_out.close()
        answer_in.close()
        child = _Child(process, task_in, answer_out)
        threading.Thread(target=_send, args=(child,), name="sync-check-send", daemon=True).start()
        return child

    def _read_one(self, child: _Child) -> None:  # holding `_reading`
        message = child.answers.recv()
        if message == "ready":
            child.ready = True
            return
        batch_id, first, group = message
        if batch_id in child.live:
            for offset, answer in enumerate(group):
                child.unread[(batch_id, first + offset)] = answer

    def _gone(self, child: _Child, failed: bool = True, why: str = "") -> None:
        """`child` is dead or given up on: kill it, stop its sender (and, if it `failed`,
        start no other for `restart_pause_s`); `why`, if given, is logged in one line."""
        with self._lock:
            if child.dead:
                return
            child.dead = True
            if self._child is child:
                self._child = None
            if failed:
                self._failed_at = time.monotonic()
        child.process.kill()
        child.outbox.put(None)
        if why:
            child.process.join(1.0)
            code = child.process.exitcode
            log.warning(
                "the sync checking process (pid %s) %s (exit code %s): checks are made in "
                "line, a new process starts in %.0f s",
                child.process.pid,
                why,
                code,
                self.restart_pause_s if failed else 0.0,
            )


class _ProcessChecks(Checks):
    def __init__(
        self,
        owner: CheckProcess,
        child: _Child,
        batch_id: int,
        items: list[BlockWithCert],
        guesses: list[Guess],
        wait_s: float,
    ) -> None:
        self.owner, self.child, self.batch_id = owner, child, batch_id
        self.items, self.guesses = items, guesses
        self.wait_s = wait_s
        self.gone = False
        self._first: _Answer | None = None

    def first(self) -> None:
        """Wait (up to `wait_s`; then the child is killed) for the first block's answer."""
        if not self.gone and self._first is None:
            self._first = self.owner.answer(self.child, self.batch_id, 0, self.wait_s)
            self.gone = self._first is None

    def get(self, index: int) -> Prechecked:
        if self.gone:
            return Prechecked()
        if index == 0:
            self.first()
            answer: _Answer | None = self._first
        else:  # under the commit lock: a child that lags is not waited for long
            answer = self.owner.answer(
                self.child, self.batch_id, index, min(self.wait_s, LOCKED_WAIT_S), kill=False
            )
        if answer is None:
            self.gone = True
            return Prechecked()
        cert_ok, last_commit_ok, hashes = answer
        guess = self.guesses[index]
        out = Prechecked(
            guess.validators if cert_ok else None, guess.prev_validators if last_commit_ok else None
        )
        passed = set(hashes)
        txs = out.txs
        for tx in self.items[index].block.txs:
            tx_hash = tx.hash
            if tx_hash in passed and tx_hash not in txs:
                txs[tx_hash] = tx
        return out

    def cancel(self) -> None:
        """Drop the answers of this batch read so far (the rest are dropped when read)."""
        child = self.child
        with self.owner._reading:
            child.live.discard(self.batch_id)
            for key in [k for k in child.unread if k[0] == self.batch_id]:
                del child.unread[key]


def _send(child: _Child) -> None:
    """(the sender thread) Pass the tasks to the child until it is gone."""
    while (task := child.outbox.get()) is not None:
        try:
            child.tasks.send(task)
        except (OSError, ValueError):  # the child is gone
            break
    child.tasks.close()


@functools.cache  # a race may build two; one is kept (a CheckProcess starts no child itself)
def shared() -> CheckProcess:
    """The process's one checking process (shared by every syncer; started on first use)."""
    return CheckProcess()


# -- the child's side ------------------------------------------------------------------------
def _serve(tasks: Connection, answers: Connection) -> None:
    """The checking process: answer batches until the node closes the pipe or exits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_stacks()  # the node's stacks: the child decodes the peers' blocks
    parent = multiprocessing.parent_process()
    watch: list[Any] = [tasks] + ([parent.sentinel] if parent is not None else [])
    try:
        answers.send("ready")
        _answer_batches(tasks, answers, watch)
    except (EOFError, OSError):  # the node closed the pipes or is gone (SIGKILL): exit quietly
        return


def _answer_batches(tasks: Connection, answers: Connection, watch: list[Any]) -> None:
    executors: dict[bytes, Executor] = {}
    while True:
        if tasks not in wait(watch):
            return  # the node's process is gone
        batch_id, genesis_raw, from_height, raw, values, refs = tasks.recv()
        executor = executors.get(genesis_raw)
        if executor is None:
            from tianfu.ledger.ledger import executor_for  # the ledger's own construction

            executors.clear()
            executor = executors[genesis_raw] = executor_for(decode_genesis(genesis_raw))
        group: list[_Answer] = []
        with executor.suite.use():
            for i, answer in enumerate(_check(raw, values, refs, from_height, executor)):
                group.append(answer)
                if i < 2 or len(group) == ANSWER_GROUP or i == len(raw) - 1:
                    answers.send((batch_id, i + 1 - len(group), group))
                    group = []


_item_decoder = msgspec.msgpack.Decoder(BlockWithCert)


def _check(
    raw: list[bytes],
    values: list[bytes],
    refs: list[tuple[int, int, int]],
    from_height: int,
    executor: Executor,
) -> Iterator[_Answer]:
    """Each block's answer (see `_Answer`)."""
    # The node encoded these from objects it decoded and validated from the peer's bytes
    # (`codec.decode`): plain decoding gives them back, without that check again.
    decoded: dict[int, Any] = {}
    verified = Verified()

    def value(at: int, typ: type[T]) -> T:
        if at not in decoded:
            decoded[at] = msgspec.msgpack.decode(values[at], type=typ)
        found: T = decoded[at]
        return found

    for i, data in enumerate(raw):
        item = _item_decoder.decode(data)
        v, p, c = refs[i]
        guess = Guess(
            value(v, ValidatorSet),
            None if p < 0 else value(p, ValidatorSet),
            value(c, ConsensusParams),
        )
        got = precheck(item, from_height + i, guess, executor.vote_domain, executor, verified)
        yield (
            got.cert_validators is not None,
            got.last_commit_validators is not None,
            list(got.txs),
        )
