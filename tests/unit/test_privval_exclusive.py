"""One signer file, one signing process: a second process that opens a signer file in use
(its data directory's `node.lock` deleted as "stale", or the file shared between two homes)
is refused before it can sign, so two processes never sign with one key from one state."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tianfu.consensus.privval import FilePrivValidator, PrivValStateError
from tianfu.crypto import generate_keypair
from tianfu.types import PREVOTE

CHAIN = "exclusive-test"
H1, H2 = b"\x01" * 32, b"\x02" * 32

_OTHER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tianfu.consensus.privval import DoubleSignRefused, FilePrivValidator, PrivValStateError
    from tianfu.crypto.keys import load_private_key_pem
    kp = load_private_key_pem(Path(sys.argv[1]).read_bytes())
    try:
        pv = FilePrivValidator(kp, sys.argv[2])
    except PrivValStateError as exc:
        print(exc)
        sys.exit(3)
    try:
        pv.sign_vote("exclusive-test", 5, 0, 1, b"\\x02" * 32)
    except DoubleSignRefused:
        sys.exit(4)
    print("SIGNED-AT-5-0")
    """
)


def _other_process(tmp_path, kp, path) -> subprocess.CompletedProcess[str]:
    key = tmp_path / "key.pem"
    key.write_bytes(kp.private_pem())
    return subprocess.run(
        [sys.executable, "-c", _OTHER, str(key), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_process_on_a_signer_file_in_use_is_refused(tmp_path):
    kp = generate_keypair()
    path = tmp_path / "privval.json"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)  # this process's signer, loaded at height 0
    try:
        other = _other_process(tmp_path, kp, path)  # loaded while this one holds the file
        assert other.returncode == 3, other.stdout + other.stderr
        assert "in use by another process" in other.stdout
        assert "SIGNED-AT-5-0" not in other.stdout
        pv.sign_vote(CHAIN, 5, 0, PREVOTE, H1)  # this one signs on
    finally:
        pv.close()
    again = _other_process(tmp_path, kp, path)  # once it is closed, the file is free
    assert again.returncode == 4, again.stdout + again.stderr  # it loads, and refuses H2 at 5/0


def test_one_process_may_open_its_signer_file_twice_and_close_either(tmp_path):
    kp = generate_keypair()
    path = tmp_path / "privval.json"
    FilePrivValidator.initialise(kp, path)
    first = FilePrivValidator(kp, path)
    second = FilePrivValidator(kp, path)  # (a restart within one process: tests, the simulator)
    first.close()
    other = _other_process(tmp_path, kp, path)
    assert other.returncode == 3, other.stdout + other.stderr  # still held by `second`
    second.sign_vote(CHAIN, 5, 0, PREVOTE, H1)
    second.close()
    with pytest.raises(PrivValStateError, match="another key"):
        FilePrivValidator(generate_keypair(), path)
