"""The signer file's lock against a second process's timing: a process that starts on a
signer file another process is still signing from (a file shared between two homes, or
`node.lock` deleted as "stale") must sign from what the file holds once it holds the lock,
never from what it read before; and a running signer never replaces a signer file that
another process holds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tianfu.consensus.privval import DoubleSignRefused, FilePrivValidator
from tianfu.crypto import generate_keypair
from tianfu.types import PREVOTE

CHAIN = "lock-race-test"
H1, H2 = b"\x01" * 32, b"\x02" * 32

# The other process: it loads the signer file, waiting (at the lock) for the test's go.
_OTHER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tianfu.consensus import signerlock
    from tianfu.consensus.privval import DoubleSignRefused, FilePrivValidator, PrivValStateError
    from tianfu.crypto.keys import load_private_key_pem
    from tianfu.types import PREVOTE
    kp = load_private_key_pem(Path(sys.argv[1]).read_bytes())
    at_lock, go = Path(sys.argv[3]), Path(sys.argv[4])
    real = signerlock.hold
    def hold(fd):
        if not at_lock.exists():  # (the first lock only: the start's)
            at_lock.write_text("at the lock")
            deadline = time.monotonic() + 120
            while not go.exists():
                if time.monotonic() > deadline:
                    sys.exit(9)
                time.sleep(0.01)
        return real(fd)
    signerlock.hold = hold
    try:
        pv = FilePrivValidator(kp, sys.argv[2])
    except PrivValStateError as exc:
        print("REFUSED", exc)
        sys.exit(3)
    try:
        pv.sign_vote("lock-race-test", 6, 0, PREVOTE, b"\\x02" * 32)
    except DoubleSignRefused:
        sys.exit(4)
    print("SIGNED-AT-6-0")
    """
)


def _wait_for(path: Path, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the other process ended before {what}: {out}{err}")
        assert time.monotonic() < deadline, f"the other process never reached {what}"
        time.sleep(0.01)


def test_a_process_waiting_at_the_lock_signs_from_the_file_as_it_is_then(tmp_path):
    """Process B reads the shared signer file while A signs from it, and gets the lock only
    once A has signed 6/0 and stopped: B must know 6/0 is signed (the file says so), not
    sign another block there from the state it read before A's signature."""
    kp = generate_keypair()
    path = tmp_path / "privval.json"
    FilePrivValidator.initialise(kp, path)
    a = FilePrivValidator(kp, path)
    a.sign_vote(CHAIN, 5, 0, PREVOTE, H1)
    key = tmp_path / "key.pem"
    key.write_bytes(kp.private_pem())
    at_lock, go = tmp_path / "at-lock", tmp_path / "go"
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER, str(key), str(path), str(at_lock), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        _wait_for(at_lock, other, "the lock")
        a.sign_vote(CHAIN, 6, 0, PREVOTE, H1)  # A signs 6/0 (durably) and stops
        a.close()
        go.write_text("go")
        out, err = other.communicate(timeout=120)
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert "SIGNED-AT-6-0" not in out, "two signatures of one key at 6/0 for other blocks"
    assert other.returncode == 4, out + err  # B loaded 6/0 and refused the other block


# The other process for the replacement race: it loads the signer file, then signs the
# heights the test writes on its stdin (at round 0, block H2), each answer in a file
# `answer-<height>`; a rename over the signer file waits for the test's go (`go-<height>`)
# once it said `renaming-<height>`.
_SIGNER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from tianfu.consensus.privval import DoubleSignRefused, FilePrivValidator
    from tianfu.crypto.keys import load_private_key_pem
    from tianfu.types import PREVOTE
    kp = load_private_key_pem(Path(sys.argv[1]).read_bytes())
    here, path = Path(sys.argv[3]), sys.argv[2]
    now = [0]
    real_replace, real_rename = os.replace, os.rename
    def paused(real):
        def rename(src, dst, *args, **kwargs):
            if os.fspath(dst) == path:
                (here / f"renaming-{now[0]}").write_text("renaming")
                go = here / f"go-{now[0]}"
                deadline = time.monotonic() + 120
                while not go.exists():
                    if time.monotonic() > deadline:
                        sys.exit(9)
                    time.sleep(0.01)
            return real(src, dst, *args, **kwargs)
        return rename
    os.replace, os.rename = paused(real_replace), paused(real_rename)
    pv = FilePrivValidator(kp, path)
    (here / "ready").write_text("ready")
    for line in sys.stdin:
        now[0] = height = int(line)
        try:
            pv.sign_vote("lock-race-test", height, 0, PREVOTE, b"\\x02" * 32)
            answer = "SIGNED"
        except (DoubleSignRefused, OSError) as exc:
            answer = f"REFUSED {type(exc).__name__}: {exc}"
        (here / f"answer-{height}").write_text(answer)
    """
)


def _sign(pv: FilePrivValidator, height: int) -> bool:
    """Whether this process's signer signs `height`/0 (block H1)."""
    try:
        pv.sign_vote(CHAIN, height, 0, PREVOTE, H1)
    except (DoubleSignRefused, OSError):
        return False
    return True


def _a_and_b(tmp_path: Path) -> tuple[FilePrivValidator, subprocess.Popen[str], Path]:
    """Signer A in this process, which signed height 5, then its file put back at the path
    as an old copy (a new file there while A runs), and signer B on that path in a child
    process (`_SIGNER`, its files in the returned folder)."""
    kp = generate_keypair()
    path = tmp_path / "privval.json"
    FilePrivValidator.initialise(kp, path)
    a = FilePrivValidator(kp, path)
    assert _sign(a, 5)
    copy = tmp_path / "copy"
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)
    key = tmp_path / "key.pem"
    key.write_bytes(kp.private_pem())
    here = tmp_path / "b"
    here.mkdir()
    b = subprocess.Popen(
        [sys.executable, "-c", _SIGNER, str(key), str(path), str(here)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert b.stdin is not None
    return a, b, here


def test_a_signer_never_replaces_a_signer_file_another_process_holds(tmp_path):
    """A copy put back over the signer file while the node runs (A) lets a second process
    (B, `node.lock` deleted) load it and hold it. Neither may then replace the file the
    other holds: A writing its state at the path again over B's held file, and B writing
    its own over A's new one while A signs in place, gave two signatures at one height."""
    a, b, here = _a_and_b(tmp_path)  # the file put back while A runs (a new file at the path)
    assert b.stdin is not None
    signed: dict[str, set[int]] = {"A": set(), "B": set()}
    try:
        _wait_for(here / "ready", b, "its start")
        if _sign(a, 6):  # A: the file at the path (B's) is older: A writes its own there
            signed["A"].add(6)
        for height in (7, 8):
            b.stdin.write(f"{height}\n")
            b.stdin.flush()
            answer, renaming = here / f"answer-{height}", here / f"renaming-{height}"
            deadline = time.monotonic() + 120
            while not answer.exists() and not renaming.exists():
                assert b.poll() is None, b.communicate()
                assert time.monotonic() < deadline, "B never answered"
                time.sleep(0.01)
            if renaming.exists():  # B is about to put its own file at the path: A signs
                if _sign(a, height):
                    signed["A"].add(height)
                (here / f"go-{height}").write_text("go")
                _wait_for(answer, b, f"its answer at {height}")
            elif _sign(a, height):
                signed["A"].add(height)
            if answer.read_text() == "SIGNED":
                signed["B"].add(height)
    finally:
        b.stdin.close()
        try:
            b.wait(timeout=120)
        finally:
            if b.poll() is None:
                b.kill()
                b.wait()
        a.close()
    assert not signed["A"] & signed["B"], f"one key signed other blocks at {signed}"
    assert signed["A"] | signed["B"], "someone signs"


def test_a_signer_collected_inside_the_lock_table_does_not_deadlock(tmp_path, monkeypatch):
    """A signer never closed (a simulated node dropped on a restart, in a reference cycle)
    is closed by the garbage collector, which runs at any allocation: inside
    `signerlock.hold` of another signer too, whose thread holds the lock table then. Its
    `__del__` releasing its own file must not wait for that thread (itself) forever."""
    import gc
    import threading

    from tianfu.consensus import signerlock

    kp = generate_keypair()
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    FilePrivValidator.initialise(kp, first)
    FilePrivValidator.initialise(kp, second)
    was_enabled = gc.isenabled()
    gc.disable()  # (the cycle is collected where the test says, not before)
    try:
        dropped = FilePrivValidator(kp, first)
        dropped.cycle = dropped  # type: ignore[attr-defined]
        del dropped
        real_dup = os.dup

        def dup(fd: int) -> int:  # a collection at an allocation inside the lock table
            gc.collect()
            return real_dup(fd)

        monkeypatch.setattr(signerlock.os, "dup", dup)
        opened: list[FilePrivValidator] = []
        t = threading.Thread(
            target=lambda: opened.append(FilePrivValidator(kp, second)), daemon=True
        )
        t.start()
        t.join(timeout=120)
        assert not t.is_alive(), "the signer's lock table deadlocked in a collection"
        monkeypatch.undo()
        opened[0].close()
    finally:
        if was_enabled:
            gc.enable()


def test_a_signer_adopting_the_file_at_its_path_takes_its_state_once_locked(tmp_path, monkeypatch):
    """A (this process) finds its file replaced by one B signs from, holding this key's
    state at or after A's: A adopts that file. B signs 7/0 and stops between A's read of
    the file and A's lock of it: A must then know 7/0 is signed, not sign it again from
    the state it read before the lock."""
    import threading

    from tianfu.consensus import signerlock

    a, b, here = _a_and_b(tmp_path)  # the file put back while A runs: B loads it
    assert b.stdin is not None
    signed: dict[str, set[int]] = {"A": set(), "B": set()}
    at_lock, go = threading.Event(), threading.Event()
    real_hold = signerlock.hold

    def hold(fd: int) -> signerlock.FileKey:
        if not at_lock.is_set():
            at_lock.set()
            assert go.wait(timeout=120)
        return real_hold(fd)

    try:
        _wait_for(here / "ready", b, "its start")
        b.stdin.write("6\n")
        b.stdin.flush()
        _wait_for(here / "answer-6", b, "its answer at 6")
        assert (here / "answer-6").read_text() == "SIGNED"
        signed["B"].add(6)
        monkeypatch.setattr(signerlock, "hold", hold)
        first = threading.Thread(target=lambda: signed["A"].update({6} if _sign(a, 6) else ()))
        first.start()  # A: its file is gone, the one at the path holds 6/0: A adopts it
        assert at_lock.wait(timeout=120), "A never came to adopt the file"
        b.stdin.write("7\n")  # meanwhile B signs 7/0 and stops
        b.stdin.close()
        _wait_for(here / "answer-7", b, "its answer at 7")
        if (here / "answer-7").read_text() == "SIGNED":
            signed["B"].add(7)
        b.wait(timeout=120)
        go.set()
        first.join(timeout=120)
        assert not first.is_alive()
        monkeypatch.undo()
        if _sign(a, 7):
            signed["A"].add(7)
    finally:
        go.set()
        if b.poll() is None:
            b.kill()
            b.wait()
        a.close()
    assert signed["B"] == {6, 7}
    assert not signed["A"] & signed["B"], f"one key signed other blocks at {signed}"
