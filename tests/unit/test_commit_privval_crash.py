"""Crash safety of the signer's two-slot state file: torn saves at every byte, old format."""

from __future__ import annotations

import hashlib
import random

import pytest

from tianfu.codec import encode
from tianfu.consensus.privval import (
    FILE_SIZE,
    SLOT,
    STEP_PRECOMMIT,
    STEP_PREVOTE,
    DoubleSignRefused,
    FilePrivValidator,
    LastSigned,
    decode_slot,
    encode_slot,
)
from tianfu.crypto import generate_keypair
from tianfu.types import PRECOMMIT, PREVOTE

CHAIN = "pv-crash"
H1 = b"\x01" * 32
H2 = b"\x02" * 32


@pytest.fixture
def kp():
    return generate_keypair()


def _states(pv, path, n):
    """Sign n successive votes; return the file after each save and the positions."""
    files, hrs = [], []
    for h in range(1, n + 1):
        pv.sign_vote(CHAIN, h, 0, PREVOTE, H1)
        files.append(path.read_bytes())
        hrs.append((h, 0, STEP_PREVOTE))
    return files, hrs


def test_file_is_two_fixed_slots_and_each_save_rewrites_both(tmp_path, kp):
    """Each save writes the new state into both slots (one, synced, then the other, made
    durable by the next save's sync): both slots hold it. (The format before kept the
    older state in the other slot, so the damage of the newest slot sent the signer back.)"""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    files, hrs = _states(pv, path, 4)
    assert all(len(f) == FILE_SIZE for f in files)
    for f, want in zip(files, hrs, strict=True):
        slots = [decode_slot(f[i * SLOT : (i + 1) * SLOT]) for i in range(2)]
        assert all(s is not None and s[1].hrs == want for s in slots)
        assert slots[0][0] == slots[1][0]  # same save number
    assert not (tmp_path / "pv.bin.tmp").exists()


def _torn(before: bytes, after: bytes, first: int, phase: int, cut: bytes) -> bytes:
    """The file during a save: slot `first` is written (and synced) before the other.
    Phase 0: slot `first` is torn (`cut` is its content), the other still old; phase 1:
    slot `first` holds the new state, the other is torn."""
    slots = [before[i * SLOT : (i + 1) * SLOT] for i in range(2)]
    other = 1 - first
    if phase == 0:
        slots[first] = cut
    else:
        slots[first] = after[first * SLOT : (first + 1) * SLOT]
        slots[other] = cut
    return slots[0] + slots[1]


def test_torn_save_at_every_byte_offset_never_loses_a_returned_state(tmp_path, kp):
    """A crash while saving state N+1 tears the slot being written at any byte: the
    signer comes back at N (whose signature may have left) or at N+1, never before N."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    files, hrs = _states(pv, path, 3)
    before, after = files[1], files[2]  # state N = hrs[1], being saved N+1 = hrs[2]
    pv.close()
    for first in (0, 1):
        for phase in (0, 1):
            slot = first if phase == 0 else 1 - first
            lo = slot * SLOT
            for cut in range(0, SLOT + 1, 7):
                piece = after[lo : lo + cut] + before[lo + cut : lo + SLOT]
                path.write_bytes(_torn(before, after, first, phase, piece))
                got = FilePrivValidator(kp, path)
                assert got.last_hrs() in (hrs[1], hrs[2]), (first, phase, cut)
                if phase == 1:
                    assert got.last_hrs() == hrs[2]  # the first slot was synced
                got.close()


def test_torn_save_in_any_sectors_never_loses_a_returned_state(tmp_path, kp):
    """Devices may persist any subset of a write's 512-byte sectors (of the one slot
    being written: the other was synced before, or is not written yet)."""
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    files, hrs = _states(pv, path, 6)
    pv.close()
    rng = random.Random(5)
    for k in range(1, len(files)):
        before, after = files[k - 1], files[k]
        for _ in range(100):
            first, phase = rng.randrange(2), rng.randrange(2)
            slot = first if phase == 0 else 1 - first
            piece = bytearray(before[slot * SLOT : (slot + 1) * SLOT])
            new = after[slot * SLOT : (slot + 1) * SLOT]
            for s in range(0, SLOT, 512):
                if rng.random() < 0.5:
                    piece[s : s + 512] = new[s : s + 512]
            path.write_bytes(_torn(before, after, first, phase, bytes(piece)))
            got = FilePrivValidator(kp, path)
            assert got.last_hrs() in (hrs[k - 1], hrs[k])
            # and from there it refuses anything before the last returned state
            with pytest.raises(DoubleSignRefused):
                got.sign_vote(CHAIN, hrs[k - 1][0], 0, PREVOTE, H2)
            got.close()


def test_damage_of_either_slot_never_goes_back(tmp_path, kp):
    """The newest slot damaged (the risk the one-slot-per-save format accepted: it fell
    back to the older state and could sign again where it had signed): the other slot
    holds the same newest state; the signer reports a recovery."""
    for slot in (0, 1):
        path = tmp_path / f"pv{slot}.bin"
        pv = FilePrivValidator(kp, path, allow_missing=True)
        pv.sign_vote(CHAIN, 2, 0, PREVOTE, H1)
        pv.sign_vote(CHAIN, 2, 0, PRECOMMIT, H1, 1_000)
        pv.close()
        data = bytearray(path.read_bytes())
        data[slot * SLOT + 200] ^= 0x40
        path.write_bytes(bytes(data))
        got = FilePrivValidator(kp, path)
        assert got.last_hrs() == (2, 0, STEP_PRECOMMIT)
        assert got.recovery is not None
        with pytest.raises(DoubleSignRefused):
            got.sign_vote(CHAIN, 2, 0, PREVOTE, b"")
        got.close()
        # Repaired at load: damaging the other slot now still leaves one intact copy.
        data = bytearray(path.read_bytes())
        assert all(decode_slot(bytes(data[i * SLOT : (i + 1) * SLOT])) for i in range(2))
        data[(1 - slot) * SLOT + 300] ^= 0x40
        path.write_bytes(bytes(data))
        assert FilePrivValidator(kp, path).last_hrs() == (2, 0, STEP_PRECOMMIT)


def test_crash_after_write_before_sync_returns_no_signature(tmp_path, kp, monkeypatch):
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 4, 0, PREVOTE, H1)

    def crash(_fd):
        raise OSError("power lost")

    monkeypatch.setattr("tianfu.consensus.privval._fdatasync", crash)
    with pytest.raises(OSError):
        pv.sign_vote(CHAIN, 4, 0, PRECOMMIT, H1, 1_000)
    monkeypatch.undo()
    again = FilePrivValidator(kp, path, allow_missing=True)
    assert again.last_hrs() in ((4, 0, STEP_PREVOTE), (4, 0, STEP_PRECOMMIT))
    with pytest.raises(DoubleSignRefused):
        again.sign_vote(CHAIN, 4, 0, PREVOTE, H2)


def test_one_damaged_slot_uses_the_other_and_goes_on(tmp_path, kp):
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    pv.sign_vote(CHAIN, 2, 0, PREVOTE, H1)
    pv.sign_vote(CHAIN, 2, 0, PRECOMMIT, H1, 1_000)
    pv.close()
    data = bytearray(path.read_bytes())
    data[SLOT + 200] ^= 0x40
    path.write_bytes(bytes(data))
    got = FilePrivValidator(kp, path, allow_missing=True)
    assert got.last_hrs() == (2, 0, STEP_PRECOMMIT)
    got.sign_vote(CHAIN, 3, 0, PREVOTE, H1)  # rewrites the damaged slot
    got.close()
    assert all(decode_slot(path.read_bytes()[i * SLOT : (i + 1) * SLOT]) for i in range(2))


def test_slot_codec_rejects_every_single_bit_flip(kp):
    last = LastSigned(1, kp.public_key, 9, 1, STEP_PREVOTE, b"\x07" * 32, b"\x08" * 64)
    slot = encode_slot(5, last)
    assert decode_slot(slot) == (5, last)
    rng = random.Random(1)
    for i in list(range(200)) + rng.sample(range(200, SLOT), 300):
        bad = bytearray(slot)
        bad[i] ^= 1 << rng.randrange(8)
        assert decode_slot(bytes(bad)) is None, i


def test_format_1_file_is_read_and_converted_on_the_next_save(tmp_path, kp):
    path = tmp_path / "pv.bin"
    sig = kp.sign(b"x")
    old = LastSigned(1, kp.public_key, 12, 3, STEP_PREVOTE, hashlib.sha256(b"x").digest(), sig)
    body = encode(old)
    path.write_bytes(b"TFPV1\n" + hashlib.sha256(body).digest() + body)
    pv = FilePrivValidator(kp, path, allow_missing=True)
    assert pv.last_hrs() == (12, 3, STEP_PREVOTE)
    assert pv.sign(12, 3, STEP_PREVOTE, b"x") == sig  # idempotent re-sign from the old file
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(CHAIN, 12, 2, PRECOMMIT, H1, 1_000)
    pv.sign_vote(CHAIN, 12, 3, PRECOMMIT, H1, 1_000)
    pv.close()
    assert len(path.read_bytes()) == FILE_SIZE and path.read_bytes().startswith(b"TFPV2\n")
    assert FilePrivValidator(kp, path, allow_missing=True).last_hrs() == (12, 3, STEP_PRECOMMIT)
