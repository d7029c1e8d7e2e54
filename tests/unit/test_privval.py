"""Unit tests: the file-backed signing guard (monotonic, refuses double signs, durable)."""

from __future__ import annotations

import errno
import os

import pytest

from tianfu.consensus.messages import proposal_signing_bytes
from tianfu.consensus.privval import (
    SLOT,
    STEP_PRECOMMIT,
    STEP_PREVOTE,
    STEP_PROPOSAL,
    DoubleSignRefused,
    FilePrivValidator,
    PrivValStateError,
)
from tianfu.crypto import generate_keypair, verify
from tianfu.types import PRECOMMIT, PREVOTE, vote_signing_bytes

CHAIN = "pv-test"
H1 = b"\x01" * 32
H2 = b"\x02" * 32


@pytest.fixture
def kp():
    return generate_keypair()


def test_signs_valid_votes_and_proposals_and_persists(tmp_path, kp):
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    assert pv.last_signed is None and not (tmp_path / "pv.bin").exists()
    p = pv.sign_proposal(CHAIN, 1, 0, -1, H1, b"block")
    assert verify(kp.scheme, kp.public_key, p.signing_bytes(), p.signature)
    assert p.signing_bytes() == proposal_signing_bytes(CHAIN, 1, 0, -1, H1)
    v = pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    assert verify(
        kp.scheme, kp.public_key, vote_signing_bytes(CHAIN, 1, 0, PREVOTE, H1), v.signature
    )
    assert pv.last_hrs() == (1, 0, STEP_PREVOTE)
    # a fresh instance (after a "crash") sees the same position
    assert FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True).last_hrs() == (
        1,
        0,
        STEP_PREVOTE,
    )
    assert not (tmp_path / "pv.bin.tmp").exists()


def test_monotonic_order_of_height_round_step(tmp_path, kp):
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    sequence = [
        (1, 0, STEP_PROPOSAL),
        (1, 0, STEP_PREVOTE),
        (1, 0, STEP_PRECOMMIT),
        (1, 1, STEP_PREVOTE),
        (1, 3, STEP_PROPOSAL),
        (2, 0, STEP_PRECOMMIT),
        (10, 0, STEP_PROPOSAL),
    ]
    for h, r, s in sequence:
        pv.sign(h, r, s, b"msg-%d-%d-%d" % (h, r, s))
        assert pv.last_hrs() == (h, r, s)
    for h, r, s in sequence[:-1] + [(9, 99, STEP_PRECOMMIT), (10, 0, STEP_PROPOSAL)]:
        msg = b"other-%d-%d-%d" % (h, r, s)
        with pytest.raises(DoubleSignRefused):
            pv.sign(h, r, s, msg)
    assert pv.last_hrs() == (10, 0, STEP_PROPOSAL)


def test_refuses_conflicting_vote_same_position(tmp_path, kp):
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    pv.sign_vote(CHAIN, 5, 2, PRECOMMIT, H1, 1_000)
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 5, 2, PRECOMMIT, H2, 1_000)
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 5, 2, PRECOMMIT, b"")  # nil is a different vote too
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 5, 2, PREVOTE, H1)  # earlier step


def test_idempotent_resign_returns_stored_signature_even_after_restart(tmp_path, kp):
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    v1 = pv.sign_vote(CHAIN, 3, 1, PREVOTE, H1)
    again = pv.sign_vote(CHAIN, 3, 1, PREVOTE, H1)
    assert again == v1
    restarted = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    assert restarted.sign_vote(CHAIN, 3, 1, PREVOTE, H1) == v1
    with pytest.raises(DoubleSignRefused):
        restarted.sign_vote(CHAIN, 3, 1, PREVOTE, H2)
    # the restarted signer goes on from there
    v2 = restarted.sign_vote(CHAIN, 3, 1, PRECOMMIT, H1, 1_000)
    assert v2.type == PRECOMMIT


def test_ecdsa_signature_is_replayed_not_recomputed(tmp_path):
    from tianfu.crypto import ECDSA_P256

    kp = generate_keypair(ECDSA_P256)
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    v = pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    # ECDSA signatures are randomised: equality proves the stored one came back
    assert (
        FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True).sign_vote(
            CHAIN, 1, 0, PREVOTE, H1
        )
        == v
    )


@pytest.mark.parametrize("damage", ["truncate", "flip_both", "garbage", "empty", "grown"])
def test_corrupted_state_file_is_a_clear_error(tmp_path, kp, damage):
    path = tmp_path / "pv.bin"
    FilePrivValidator(kp, path, allow_missing=True).sign_vote(CHAIN, 7, 0, PREVOTE, H1)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:-5])
    elif damage == "flip_both":  # one bit in each slot: no intact state left
        d = bytearray(data)
        d[100] ^= 1
        d[SLOT + 100] ^= 1
        path.write_bytes(bytes(d))
    elif damage == "garbage":
        path.write_bytes(b"hello world" * 10)
    elif damage == "grown":
        path.write_bytes(data + b"\0")
    else:
        path.write_bytes(b"")
    with pytest.raises(PrivValStateError, match="corrupted"):
        FilePrivValidator(kp, path, allow_missing=True)


def test_state_file_of_another_key_is_refused(tmp_path, kp):
    path = tmp_path / "pv.bin"
    FilePrivValidator(kp, path, allow_missing=True).sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    with pytest.raises(PrivValStateError, match="another key"):
        FilePrivValidator(generate_keypair(), path)


def test_another_validators_signer_file_is_refused_naming_the_fix(tmp_path, kp):
    """Another validator's signer file put in this data directory (a copy from the wrong
    machine) was refused with only "belongs to another key": the refusal now names what to
    do, in one line, and the file is left as it was."""
    path = tmp_path / "privval.json"
    FilePrivValidator(kp, path, allow_missing=True).sign_vote(CHAIN, 3, 0, PREVOTE, H1)
    data = path.read_bytes()
    for flag in (False, True):  # (--new-signer-state does not take another key's file)
        with pytest.raises(PrivValStateError) as err:
            FilePrivValidator(generate_keypair(), path, check_network=flag)
        msg = str(err.value)
        assert "\n" not in msg and "belongs to another key" in msg
        assert "this validator's own signer file" in msg and "--new-signer-state" in msg
        assert path.read_bytes() == data


def test_failed_persist_returns_no_signature(tmp_path, kp, monkeypatch):
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr("tianfu.consensus.privval._fdatasync", boom)
    with pytest.raises(OSError):
        pv.sign_vote(CHAIN, 1, 0, PRECOMMIT, H1, 1_000)
    monkeypatch.undo()
    assert pv.last_hrs() == (1, 0, STEP_PREVOTE)
    # the slot written before the failed sync may or may not have reached the disk; the
    # signer restarts at the last returned state or at the unreturned one, never before
    assert FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True).last_hrs() >= (
        1,
        0,
        STEP_PREVOTE,
    )
    # and a retry after the error goes through
    v = pv.sign_vote(CHAIN, 1, 0, PRECOMMIT, H1, 1_000)
    assert (
        FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True).sign_vote(
            CHAIN, 1, 0, PRECOMMIT, H1, 1_000
        )
        == v
    )


def test_missing_signer_file_is_refused_unless_a_new_state_is_asked_for(tmp_path, kp):
    """Deleting the signer file used to start the node as "never signed", silently."""
    path = tmp_path / "privval.json"
    with pytest.raises(PrivValStateError, match="missing.*--new-signer-state") as err:
        FilePrivValidator(kp, path)
    assert "\n" not in str(err.value)
    pv = FilePrivValidator(kp, path, allow_missing=True)
    assert pv.recovery is not None and pv.last_hrs() is None


def test_initialise_creates_a_never_signed_file_once(tmp_path, kp):
    path = tmp_path / "data" / "privval.json"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    assert pv.recovery is None and pv.last_hrs() == (0, 0, 0)
    pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    pv.close()
    FilePrivValidator.initialise(kp, path)  # an existing file is kept
    assert FilePrivValidator(kp, path).last_hrs() == (1, 0, STEP_PREVOTE)


def test_precommit_resigned_with_another_time_returns_the_stored_vote(tmp_path, kp):
    """BFT time: after a crash the same precommit comes back with its first time and
    signature (the signer never signs one precommit with two times)."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    first = pv.sign_vote(CHAIN, 4, 1, PRECOMMIT, H1, 5_000)
    pv.close()
    again = FilePrivValidator(kp, path).sign_vote(CHAIN, 4, 1, PRECOMMIT, H1, 9_999)
    assert again == first and again.time_ms == 5_000
    with pytest.raises(DoubleSignRefused):
        FilePrivValidator(kp, path).sign_vote(CHAIN, 4, 1, PRECOMMIT, H2, 5_000)


def test_vote_times_must_match_the_vote_kind(tmp_path, kp):
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    with pytest.raises(ValueError, match="needs a time"):
        pv.sign_vote(CHAIN, 1, 0, PRECOMMIT, H1)
    with pytest.raises(ValueError, match="only a precommit"):
        pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1, 5)


def test_advance_to_takes_a_newer_message_and_then_refuses_going_back(tmp_path, kp):
    """The driver hands the signer its newest own message from the WAL when the signer
    file's copy of it was lost: from then on the signer is at that position."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 3, 0, PREVOTE, H1)
    msg = vote_signing_bytes(CHAIN, 3, 0, PRECOMMIT, H1, 7_000)
    sig = kp.sign(msg)
    assert pv.advance_to(3, 0, STEP_PRECOMMIT, msg, sig, 7_000)
    assert not pv.advance_to(3, 0, STEP_PREVOTE, msg, sig, 0)  # older: ignored
    pv.close()
    again = FilePrivValidator(kp, path)
    assert again.last_hrs() == (3, 0, STEP_PRECOMMIT)
    assert again.sign_vote(CHAIN, 3, 0, PRECOMMIT, H1, 9_000).signature == sig  # same vote
    with pytest.raises(DoubleSignRefused):
        again.sign_vote(CHAIN, 3, 0, PRECOMMIT, b"")


def test_a_restored_file_is_checked_against_the_network_when_asked(tmp_path, kp):
    """A data directory restored from a backup holds a signer file (and WAL and store) older
    than what the key signed, and nothing local shows it: `--new-signer-state`
    (`check_network`) makes the node listen to the network before it signs again, as for a
    missing file, instead of signing at once from the old position."""
    from tianfu.consensus.signguard import restart_guard

    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 5, 0, PRECOMMIT, H1, 1_000)
    backup = path.read_bytes()
    pv.sign_vote(CHAIN, 9, 0, PREVOTE, H1)  # signed after the backup was taken
    pv.close()
    path.write_bytes(backup)  # the data directory restored
    plain = FilePrivValidator(kp, path)
    assert plain.recovery is None and plain.last_hrs() == (5, 0, STEP_PRECOMMIT)
    plain.close()
    checked = FilePrivValidator(kp, path, allow_missing=True, check_network=True)
    assert checked.recovery is not None and checked.last_hrs() == (5, 0, STEP_PRECOMMIT)
    guard = restart_guard(
        my_key=kp.public_key,
        recovery=checked.recovery,
        last_hrs=checked.last_hrs(),
        own_in_wal=[],
        store_height=4,  # the store of the same age: the signer is at its next height
        certificates=[],
        powers={kp.public_key: 1, b"other": 3},
        now=0.0,
        listen_s=1.0,
    )
    assert guard is not None and not guard.allows(6, 0, now=0.5)  # it listens first
    checked.close()


@pytest.mark.parametrize("how", ["deleted", "replaced by an older copy"])
def test_a_file_deleted_or_replaced_while_in_use_is_written_again(tmp_path, kp, how, caplog):
    """The signer keeps its file open; deleted (or an old copy renamed over it) while the
    node runs, every later save went to the unlinked file: a restart found no file, or the
    old copy, and signed from its old position. The next save writes the file again."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 2, 0, PRECOMMIT, H1, 1_000)
    backup = path.read_bytes()
    pv.sign_vote(CHAIN, 3, 0, PREVOTE, H1)
    if how == "deleted":
        path.unlink()
    else:
        (tmp_path / "old").write_bytes(backup)
        (tmp_path / "old").rename(path)
    pv.sign_vote(CHAIN, 3, 0, PRECOMMIT, H1, 2_000)
    assert "deleted or replaced while the node runs" in caplog.text
    pv.sign_vote(CHAIN, 4, 0, PREVOTE, H2)  # and saves go on to the new file
    again = FilePrivValidator(kp, path)
    assert again.recovery is None and again.last_hrs() == (4, 0, STEP_PREVOTE)
    with pytest.raises(DoubleSignRefused):
        again.sign_vote(CHAIN, 3, 0, PRECOMMIT, H2, 2_000)
    again.close()
    pv.close()


def test_a_directory_put_in_its_place_while_in_use_is_named_with_its_fix(tmp_path, kp):
    """A directory put at the signer file's path while the node runs: the save fails (no
    signature) with only the OS error ("[Errno 21] Is a directory"), which the driver
    shows as why it does not sign. The error names the fix, and once the directory is
    gone the state is written there again (`rewrite`) and signing goes on."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 3, 0, PREVOTE, H1)
    path.unlink()
    path.mkdir()
    with pytest.raises(OSError) as err:
        pv.sign_vote(CHAIN, 3, 0, PRECOMMIT, H1, 2_000)
    assert "is a directory, not the signer file: remove it or move it aside" in str(err.value)
    assert pv.last_hrs() == (3, 0, STEP_PREVOTE)  # the precommit was not signed
    with pytest.raises(OSError, match="remove it or move it aside"):
        pv.rewrite()
    path.rmdir()
    pv.rewrite()
    assert FilePrivValidator(kp, path).last_hrs() == (3, 0, STEP_PREVOTE)
    pv.sign_vote(CHAIN, 3, 0, PRECOMMIT, H1, 2_000)
    pv.close()


def test_rewrite_makes_the_last_state_durable_after_a_failed_save(tmp_path, kp, monkeypatch):
    """After a failed sync the file may hold the unreturned state in one slot and an older
    one in the other; `rewrite` puts the last returned state in both, synced."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    pv.sign_vote(CHAIN, 1, 0, PRECOMMIT, H1, 1_000)

    def boom(_fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("tianfu.consensus.privval._fdatasync", boom)
    with pytest.raises(OSError):
        pv.sign_vote(CHAIN, 2, 0, PREVOTE, H2)
    with pytest.raises(OSError):
        pv.rewrite()  # still failing: the caller keeps waiting
    monkeypatch.undo()
    pv.rewrite()
    data = path.read_bytes()
    assert data[:SLOT] == data[SLOT:]  # both slots hold the same state
    again = FilePrivValidator(kp, path)
    assert again.recovery is None and again.last_hrs() == (1, 0, STEP_PRECOMMIT)
    again.close()
    pv.close()


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "truncate", "flip_both"])
def test_a_refused_signer_file_names_the_safe_remedy(tmp_path, kp, damage):
    """The refusal said "restore it from a backup" (for a missing file: "or start with
    --new-signer-state"): a restored copy is older than what the key signed, and with a WAL
    and store of its age the node signed from its old position (ADR 0021, residual risks).
    It now names --new-signer-state, for a restored copy too, in one line."""
    path = tmp_path / "privval.json"
    FilePrivValidator(kp, path, allow_missing=True).sign_vote(CHAIN, 7, 0, PREVOTE, H1)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"hello world" * 10)
    elif damage == "truncate":
        path.write_bytes(data[:-5])
    else:
        d = bytearray(data)
        d[100] ^= 1
        d[SLOT + 100] ^= 1
        path.write_bytes(bytes(d))
    with pytest.raises(PrivValStateError) as err:
        FilePrivValidator(kp, path)
    msg = str(err.value)
    assert "\n" not in msg and "--new-signer-state" in msg and "backup" in msg
    assert "restore it from a backup" not in msg
    if damage != "missing":
        assert "move it aside" in msg


@pytest.mark.parametrize(
    "fault", ["directory", "directory, flag given", "unreadable", "read-only", "read-only fs"]
)
def test_a_signer_file_that_cannot_be_read_names_its_cause_and_fix(
    tmp_path, kp, monkeypatch, fault
):
    """A directory in the signer file's place, or a file the node may not read or open
    for writing, was refused with only the OS error ("cannot read signer state ...:
    [Errno 21] Is a directory"), naming no fix. The refusal names what to do: a directory
    is moved aside (then --new-signer-state: the state it replaced is lost); a file the
    node may not use is given back to the node's user and kept (no new state)."""
    path = tmp_path / "privval.json"
    FilePrivValidator(kp, path, allow_missing=True).sign_vote(CHAIN, 7, 0, PREVOTE, H1)
    if fault.startswith("directory"):
        path.unlink()
        path.mkdir()
    elif fault == "unreadable":
        real = type(path).read_bytes

        def read_bytes(p):
            if p == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(p))
            return real(p)

        monkeypatch.setattr(type(path), "read_bytes", read_bytes)
    else:
        real_open = os.open
        code = errno.EROFS if fault.endswith("fs") else errno.EACCES

        def opener(p, flags, *args):
            if str(p) == str(path) and flags & os.O_RDWR:
                raise OSError(code, os.strerror(code), str(p))
            return real_open(p, flags, *args)

        monkeypatch.setattr(os, "open", opener)
    with pytest.raises(PrivValStateError) as err:
        FilePrivValidator(kp, path, allow_missing=fault.endswith("flag given"))
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    if fault.startswith("directory"):
        assert "is a directory" in msg and "move it aside" in msg and "--new-signer-state" in msg
    elif fault.endswith("fs"):
        assert "Read-only file system" in msg and "fix the file system" in msg
        assert "--new-signer-state" not in msg  # the state is intact: keep it
    else:
        assert "Permission denied" in msg and "read and write access" in msg
        assert "--new-signer-state" not in msg


def test_rewrite_with_nothing_signed_yet_fails_while_no_file_can_be_made(tmp_path, kp, monkeypatch):
    """A node started with --new-signer-state and no file whose first save fails (a full or
    read-only disk) has no state to write again: `rewrite` returned at once, so the driver
    logged "written again", signed, failed, halted again — an ERROR line and health flipping
    to ok at every signature of the outage. It now fails until a file can be made there."""
    path = tmp_path / "privval.json"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    real_open = os.open

    def full(p, flags, *a):
        if str(p).startswith(str(path)) and flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(p, flags, *a)

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(OSError):
        pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    with pytest.raises(OSError, match="No space left"):
        pv.rewrite()
    monkeypatch.undo()
    pv.rewrite()
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing written in its name
    assert pv.last_hrs() is None
    pv.sign_vote(CHAIN, 1, 0, PREVOTE, H1)
    assert FilePrivValidator(kp, path).last_hrs() == (1, 0, STEP_PREVOTE)
    pv.close()


def test_a_file_put_in_its_place_holding_a_later_position_is_kept_and_refuses(tmp_path, kp):
    """The signer writes its state again at its path when the file there is replaced; it
    did so whatever the new file held. A file of this key at a later position (a newer copy
    an operator put there, the key signing on elsewhere) was overwritten by the older state,
    and the pending signature returned: the path went back and a restart signed from there.
    Now that file is kept and taken as the signer's state, and the signature is refused."""
    path = tmp_path / "privval.json"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 5, 0, PREVOTE, H1)
    other = FilePrivValidator(kp, tmp_path / "elsewhere", allow_missing=True)
    other.sign_vote(CHAIN, 7, 0, PRECOMMIT, H2, 3_000)
    other.close()
    (tmp_path / "elsewhere").rename(path)
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 6, 0, PREVOTE, H1)
    assert pv.last_hrs() == (7, 0, STEP_PRECOMMIT)
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 7, 0, PRECOMMIT, H1, 3_000)
    assert pv.sign_vote(CHAIN, 7, 0, PRECOMMIT, H2, 3_000).time_ms == 3_000  # the same vote
    pv.sign_vote(CHAIN, 8, 0, PREVOTE, H1)  # and saves go on to that file
    again = FilePrivValidator(kp, path)
    assert again.last_hrs() == (8, 0, STEP_PREVOTE)
    again.close()
    pv.close()


def test_rewrite_keeps_a_later_file_put_in_its_place(tmp_path, kp, monkeypatch):
    path = tmp_path / "privval.json"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 5, 0, PREVOTE, H1)
    other = FilePrivValidator(kp, tmp_path / "elsewhere", allow_missing=True)
    other.sign_vote(CHAIN, 9, 1, PREVOTE, H2)
    other.close()
    (tmp_path / "elsewhere").rename(path)
    pv.rewrite()
    assert pv.last_hrs() == (9, 1, STEP_PREVOTE)
    assert FilePrivValidator(kp, path).last_hrs() == (9, 1, STEP_PREVOTE)
    pv.close()


def test_a_height_decided_without_this_key_moves_the_mark_only_forward(tmp_path, kp):
    """A validator whose quiet start held its signatures while height 1 was decided kept a
    signer file at height 0; restarted, `signguard` took the whole, synced file for an old
    copy ("older than the store") and held signing past rounds the network still needed
    from it (three of four validators up, the chain halted). `mark_decided` moves the mark
    to the decided height, never back, and keeps what the key may still sign."""
    path = tmp_path / "pv.json"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    assert pv.last_hrs() == (0, 0, 0)
    assert pv.mark_decided(1)
    assert pv.last_hrs() == (1, 0, STEP_PROPOSAL)
    assert FilePrivValidator(kp, path).last_hrs() == (1, 0, STEP_PROPOSAL)  # durable
    assert not pv.mark_decided(1) and not pv.mark_decided(0)  # never back
    pv.sign_vote(CHAIN, 2, 0, PREVOTE, H1)  # the next height signs as before
    assert not pv.mark_decided(2)  # signed there: nothing to mark
    assert pv.last_hrs() == (2, 0, STEP_PREVOTE)
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 1, 3, PREVOTE, H1)  # nothing at or before a decided height


@pytest.mark.parametrize("at", ["repair of a damaged slot", "advance from the WAL"])
def test_a_signer_file_the_disk_cannot_write_at_start_is_refused_naming_it_and_the_fix(
    tmp_path, kp, monkeypatch, at
):
    """At start the signer writes its file before anything is signed: a damaged slot is
    written over from the intact one, and a message of this key newer than the file (read
    back from the consensus WAL) is saved. A disk that fails that write (an I/O error) made
    the start fail with "[Errno 5] Input/output error" (the WAL's advance: neither the file
    nor a fix named) or "cannot repair signer state ...: [Errno 5] ..." (no fix): both are
    now one line naming the file and the fix, and the file is kept as it was."""
    path = tmp_path / "privval.json"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 4, 0, PREVOTE, H1)
    pv.sign_vote(CHAIN, 4, 0, PRECOMMIT, H1, 1_000)
    newer = vote_signing_bytes(CHAIN, 5, 0, PREVOTE, H1, 0)
    sig = kp.sign(newer)
    pv.close()
    if at == "repair of a damaged slot":
        d = bytearray(path.read_bytes())
        d[SLOT + 100] ^= 1
        path.write_bytes(bytes(d))
    data = path.read_bytes()

    def eio(*_a):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "pwrite", eio)
    with pytest.raises(PrivValStateError) as err:
        pv = FilePrivValidator(kp, path)
        pv.advance_to(5, 0, STEP_PREVOTE, newer, sig, 0)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "Input/output error" in msg
    assert "fix the file system under it" in msg and "keep the file" in msg
    monkeypatch.undo()
    assert path.read_bytes() == data
    pv = FilePrivValidator(kp, path)  # once the disk writes again, the start goes on
    assert pv.advance_to(5, 0, STEP_PREVOTE, newer, sig, 0) and pv.last_hrs() == (5, 0, 1)
    pv.close()
