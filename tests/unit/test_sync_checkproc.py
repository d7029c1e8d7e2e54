"""Signature checks of synced blocks made ahead in a worker process (`sync/checkproc.py`):
they refuse exactly what in-line checks refuse, they answer as the checking thread does,
a dead or stuck process means checks in line (never a hang), and a block's `last_commit`
equal to the certificate verified just before is not verified twice."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_sync_batch import MID_BATCH, Node, items, refuse_mid_batch, sync_all
from test_sync_support import CHAIN_LEN, Hub, chain_hashes

from tianfu.sync import SyncConfig, checkproc, precheck
from tianfu.sync.precheck import Prechecked


def started(proc: checkproc.CheckProcess) -> checkproc.CheckProcess:
    """`proc` once its child is ready (waited for with a deadline)."""
    deadline = time.monotonic() + 120
    while not proc.ready():
        assert time.monotonic() < deadline, "the checking process did not start"
        time.sleep(0.02)
    return proc


def summary(checked: Prechecked) -> tuple[bool, bool, set[bytes]]:
    return (
        checked.cert_validators is not None,
        checked.last_commit_validators is not None,
        set(checked.txs),
    )


def batch(world, tmp_path: Path, tamper: str | None = None):  # type: ignore[no-untyped-def]
    """Blocks 1..CHAIN_LEN (block 12 tampered as MID_BATCH[tamper] says), the guesses a
    syncer at height 0 checks them with, and the syncing ledger."""
    c, a = world
    b = c.ledger(tmp_path / "b")
    blocks = items(a, 1, CHAIN_LEN)
    if tamper is not None:
        blocks[11] = MID_BATCH[tamper][0](c, blocks[11])
    return blocks, precheck.guesses(b, blocks, 1), b


@pytest.mark.parametrize("name", list(MID_BATCH))
def test_the_process_answers_as_the_checking_thread(world, tmp_path: Path, name: str) -> None:
    proc = started(checkproc.shared())
    assert proc.pid is not None and proc.pid != os.getpid()
    blocks, guesses, b = batch(world, tmp_path, name)
    in_process = proc.submit(blocks, 1, guesses, b.executor, 60.0)
    in_thread = precheck.submit(blocks, 1, guesses, b.chain_id, b.executor)
    got = [summary(in_process.get(i)) for i in range(len(blocks))]
    assert got == [summary(in_thread.get(i)) for i in range(len(blocks))]
    assert got[11] != (True, True, set(t.hash for t in blocks[11].block.txs))  # the tampered
    for i, g in enumerate(got[:11]):
        assert g == (True, i > 0, {t.hash for t in blocks[i].block.txs})


@pytest.mark.parametrize("name", list(MID_BATCH))
def test_a_bad_signature_mid_batch_checked_in_the_process(world, tmp_path: Path, name: str) -> None:
    proc = started(checkproc.shared())
    submitted = []
    real = proc.submit

    def submit(*args, **kwargs):  # type: ignore[no-untyped-def]
        submitted.append(args[1])
        return real(*args, **kwargs)

    proc.submit = submit  # type: ignore[method-assign]
    try:
        refuse_mid_batch(world, tmp_path, name, SyncConfig())
    finally:
        del proc.submit
    assert submitted == [1]  # the batch was checked ahead in the process


def test_a_killed_process_means_checks_in_line_and_a_new_process(world, tmp_path: Path) -> None:
    proc = started(checkproc.CheckProcess(restart_pause_s=0))
    blocks, guesses, b = batch(world, tmp_path)
    pid = proc.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    checks = proc.submit(blocks, 1, guesses, b.executor, 60.0)
    assert all(summary(checks.get(i)) == (False, False, set()) for i in range(len(blocks)))
    assert proc.pid is None
    assert started(proc).pid not in (None, pid)
    again = proc.submit(blocks, 1, guesses, b.executor, 60.0)
    assert summary(again.get(len(blocks) - 1))[0]
    proc.stop()


def test_a_killed_process_is_said_in_one_line(world, tmp_path: Path, caplog) -> None:
    proc = started(checkproc.CheckProcess(restart_pause_s=60))
    blocks, guesses, b = batch(world, tmp_path)
    pid = proc.pid
    assert pid is not None
    checks = proc.submit(blocks, 1, guesses, b.executor, 60.0)
    os.kill(pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="tianfu.sync.checkproc"):
        for i in range(len(blocks)):
            checks.get(i)
    said = [r.getMessage() for r in caplog.records if str(pid) in r.getMessage()]
    assert len(said) == 1 and "\n" not in said[0], said
    assert "checks are made in line" in said[0] and "60 s" in said[0], said[0]
    assert not any(r.exc_info for r in caplog.records)


def _node_killed_mid_batch(root: str) -> None:
    """(script mode) A node that hands its checking process batches, then is SIGKILLed
    while the process is still answering them."""
    from test_sync_support import Consortium

    c = Consortium(n_validators=4)
    a = c.ledger(Path(root) / "a")
    c.grow(a, 40, txs_per_block=30)
    b = c.ledger(Path(root) / "b")
    blocks = items(a, 1, 40)
    guesses = precheck.guesses(b, blocks, 1)
    proc = started(checkproc.CheckProcess())
    checks = proc.submit(blocks, 1, guesses, b.executor, 60.0)
    checks.get(0)  # it is answering
    for _ in range(4):
        proc.submit(blocks, 1, guesses, b.executor, 60.0)
    os.kill(os.getpid(), signal.SIGKILL)


def test_the_process_exits_quietly_when_its_node_is_killed(tmp_path: Path) -> None:
    """It shares the node's stderr (the node's log): no traceback of a broken pipe there."""
    run = subprocess.run(
        [sys.executable, __file__, str(tmp_path)], capture_output=True, text=True, timeout=300
    )  # returns once the checking process has exited too (it holds the stderr pipe)
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr, run.stderr[-3000:]


def test_a_stuck_process_is_killed_after_the_wait_and_checks_go_in_line(
    world, tmp_path: Path
) -> None:
    proc = started(checkproc.CheckProcess(restart_pause_s=0))
    blocks, guesses, b = batch(world, tmp_path)
    child = proc._child
    assert child is not None
    os.kill(child.process.pid, signal.SIGSTOP)
    checks = proc.submit(blocks, 1, guesses, b.executor, 0.2)
    assert all(summary(checks.get(i)) == (False, False, set()) for i in range(len(blocks)))
    child.process.join(60)
    assert child.process.exitcode == -signal.SIGKILL
    assert proc.pid is None


class HoldTimes:
    """A lock that records how long each holder kept it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held: list[float] = []
        self._since = 0.0

    def __enter__(self) -> None:
        self._lock.acquire()
        self._since = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.held.append(time.monotonic() - self._since)
        self._lock.release()


def test_a_stopped_process_is_not_waited_for_under_the_commit_lock(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consensus stores its decided blocks under the commit lock that block sync applies
    batches under: a checking process that stopped answering (SIGSTOP, a starved CPU) kept
    it for `check_wait_s` per batch before the blocks were checked in line."""
    c, a = world
    proc = started(checkproc.CheckProcess(restart_pause_s=0))
    monkeypatch.setattr(checkproc, "shared", lambda: proc)
    child = proc._child
    assert child is not None
    hub = Hub()
    config = SyncConfig(check_wait_s=4.0)
    b = Node(hub, c.ledger(tmp_path / "b"), "b", max_batch=10, config=config)
    lock = HoldTimes()
    b.syncer.commit_lock = lock  # type: ignore[assignment]
    # Each wait for an answer of the process, and whether the commit lock was held meanwhile
    # (counted: how long applying a batch in line takes depends on the machine's load).
    waits: list[tuple[Any, int, float, bool]] = []
    answer = proc.answer

    def counted(to: Any, batch_id: int, index: int, timeout: float, kill: bool = True) -> Any:
        waits.append((to, index, timeout, lock._lock.locked()))
        return answer(to, batch_id, index, timeout, kill)

    monkeypatch.setattr(proc, "answer", counted)
    source = Node(hub, a, "a")
    os.kill(child.process.pid, signal.SIGSTOP)
    try:
        sync_all(b, source, hub, CHAIN_LEN)
    finally:
        with contextlib.suppress(ProcessLookupError):  # (killed for not answering)
            os.kill(child.process.pid, signal.SIGCONT)
        proc.stop()
    assert chain_hashes(b.ledger) == chain_hashes(a)
    # The stopped process was waited for once, outside the lock, then never again; a
    # process started again meanwhile is waited for under the lock only after a batch's
    # first answer, and briefly.
    assert [w[1:] for w in waits if w[0] is child] == [(0, config.check_wait_s, False)], waits
    assert all(i > 0 and t <= checkproc.LOCKED_WAIT_S for _, i, t, held in waits if held), waits
    assert lock.held and max(lock.held) < config.check_wait_s, lock.held


def test_sync_with_the_process_stores_the_same_chain(world, tmp_path: Path) -> None:
    c, a = world
    started(checkproc.shared())
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b", max_batch=7, config=SyncConfig())
    source = Node(hub, a, "a")
    sync_all(b, source, hub, CHAIN_LEN)
    assert chain_hashes(b.ledger) == chain_hashes(a)


def test_a_last_commit_equal_to_the_certificate_before_is_verified_once(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks, guesses, b = batch(world, tmp_path)
    calls = []
    real = precheck.verify_commit

    def counting(*args):  # type: ignore[no-untyped-def]
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(precheck, "verify_commit", counting)
    checks = precheck.submit(blocks, 1, guesses, b.chain_id, b.executor)
    got = [summary(checks.get(i)) for i in range(len(blocks))]
    assert all(g[0] for g in got) and all(g[1] for g in got[1:])
    # One verification per certificate: each block's, none for the last_commits (equal to
    # the certificate of the block before, verified just before with the same arguments).
    assert calls == list(range(1, CHAIN_LEN + 1))


def _exit_at_once(*_: object) -> None:
    """A checking process that exits before it is ready (as one that cannot import)."""


def test_a_process_that_dies_at_its_start_is_not_restarted_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checkproc, "_serve", _exit_at_once)
    proc = checkproc.CheckProcess(restart_pause_s=3600)
    assert not proc.ready()  # started, not ready yet
    child = proc._child
    assert child is not None
    child.process.join(60)
    assert child.process.exitcode == 0
    deadline = time.monotonic() + 60
    while proc._child is not None:  # its end is noticed: no exception, no hang
        assert not proc.ready()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not proc.ready() and proc._child is None  # and none started again meanwhile


def _answers_nonsense(tasks, answers) -> None:  # type: ignore[no-untyped-def]
    """A checking process that says it is ready, then answers a batch with nonsense."""
    answers.send("ready")
    tasks.recv()
    answers.send(("not", "an answer", "at all", "!"))
    tasks.recv()  # until it is killed


def test_a_process_that_answers_nonsense_is_killed_and_checks_go_in_line(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkproc, "_serve", _answers_nonsense)
    proc = started(checkproc.CheckProcess(restart_pause_s=3600))
    child = proc._child
    assert child is not None
    blocks, guesses, b = batch(world, tmp_path)
    checks = proc.submit(blocks, 1, guesses, b.executor, 60.0)
    assert all(summary(checks.get(i)) == (False, False, set()) for i in range(len(blocks)))
    child.process.join(60)
    assert child.process.exitcode == -signal.SIGKILL
    assert not proc.ready() and proc.pid is None  # and none started again for a while


def test_the_checks_of_a_batch_asked_for_ahead_start_when_it_arrives(world, tmp_path: Path) -> None:
    """They are in the checking process before the batch is applied, and the batch is
    applied with them: the same chain as with checks started at the batch's start."""
    c, a = world
    proc = started(checkproc.shared())
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b", max_batch=7, config=SyncConfig())
    source = Node(hub, a, "a")
    submitted: list[int] = []
    real = proc.submit

    def submit(*args, **kwargs):  # type: ignore[no-untyped-def]
        submitted.append(args[1])
        return real(*args, **kwargs)

    applied_with: list[tuple[int, bool, list[int]]] = []
    apply = b.syncer._apply_items

    def apply_items(batch, from_height, ahead=None):  # type: ignore[no-untyped-def]
        applied_with.append((from_height, ahead is not None, list(submitted)))
        return apply(batch, from_height, ahead)

    proc.submit = submit  # type: ignore[method-assign]
    b.syncer._apply_items = apply_items  # type: ignore[method-assign]
    try:
        sync_all(b, source, hub, CHAIN_LEN)
    finally:
        del proc.submit
    assert chain_hashes(b.ledger) == chain_hashes(a)
    # Batches 1 and 2 are asked for when due (their checks start with them); from batch
    # 3 on each was asked for ahead and its checks submitted before it was applied.
    assert [(h, ahead) for h, ahead, _ in applied_with] == [
        (1, False),
        (8, False),
        (15, True),
        (22, True),
        (29, True),
    ]
    assert all(h in before for h, ahead, before in applied_with if ahead)
    assert sorted(submitted) == [1, 8, 15, 22, 29]  # each batch's checks submitted once


if __name__ == "__main__":
    _node_killed_mid_batch(sys.argv[1])
