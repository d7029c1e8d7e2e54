"""The consensus WAL's per-height markers (no rewrite per height), rotation and crash recovery."""

from __future__ import annotations

import contextlib

import pytest

from tianfu.consensus.messages import sign_proposal
from tianfu.consensus.wal import (
    ConsensusWAL,
    EndHeight,
    WalExecuted,
    WalProposal,
    WalTimeout,
    WalVote,
    encode_record,
    scan,
)
from tianfu.crypto import sign_vote
from tianfu.testing.sim import opaque_block, sim_key
from tianfu.types import PRECOMMIT, PREVOTE

CHAIN = "sim"
KEYS = [sim_key(i) for i in range(4)]


def _height(h: int) -> list:
    bh, b = opaque_block(h, 0, "v0")
    return [
        WalProposal(sign_proposal(KEYS[1], CHAIN, h, 0, -1, bh, b)),
        WalExecuted(h, bh, True),
        *(WalVote(sign_vote(k, CHAIN, h, 0, PREVOTE, bh)) for k in KEYS),
        *(WalVote(sign_vote(k, CHAIN, h, 0, PRECOMMIT, bh, 1)) for k in KEYS),
        WalTimeout(h, 0, 2),
    ]


def _write(path, heights: int, rotate_bytes: int = 1 << 30) -> list:
    """Heights 1..heights, each ended, then some entries of the next; return all entries."""
    wal = ConsensusWAL(path, rotate_bytes=rotate_bytes)
    written = []
    for h in range(1, heights + 1):
        for i, e in enumerate(_height(h)):
            wal.append(e, sync=i == 2)
            written.append(e)
        wal.end_height(h)
        written.append(EndHeight(h))
    for e in _height(heights + 1)[:3]:
        wal.append(e)
        written.append(e)
    wal.close()
    return written


def test_end_height_appends_a_marker_and_records_follow_the_last_one(tmp_path):
    path = tmp_path / "cs.wal"
    written = _write(path, 3)
    wal = ConsensusWAL(path)
    assert wal.all_entries() == written
    assert wal.records() == (3, _height(4)[:3])
    wal.end_height(4)
    assert wal.records() == (4, [])  # in memory, as after a rotation
    wal.close()
    assert ConsensusWAL(path).records() == (4, [])


def test_rotation_once_the_file_is_large(tmp_path):
    path = tmp_path / "cs.wal"
    one = sum(len(encode_record(e)) for e in _height(1)) + len(encode_record(EndHeight(1)))
    wal = ConsensusWAL(path, rotate_bytes=3 * one)
    sizes = []
    for h in range(1, 10):
        for e in _height(h):
            wal.append(e)
        wal.end_height(h)
        sizes.append(path.stat().st_size)
        assert ConsensusWAL(path).records() == (h, [])
    wal.close()
    assert max(sizes) <= 4 * one  # bounded
    assert min(sizes) == len(encode_record(EndHeight(1)))  # rotated down to a marker
    assert not (tmp_path / "cs.wal.tmp").exists()


def test_truncation_at_every_byte_offset_recovers_a_prefix(tmp_path, monkeypatch):
    """A crash at any moment leaves a prefix of the file: the WAL opens with exactly the
    whole records of that prefix, appends after them, and replays what follows the last
    marker in it."""
    monkeypatch.setattr("tianfu.consensus.wal.os.fsync", lambda _fd: None)  # (speed only)
    path = tmp_path / "cs.wal"
    written = _write(path, 1)
    data = path.read_bytes()
    ends = []
    pos = 0
    for e in written:
        pos += len(encode_record(e))
        ends.append(pos)
    assert pos == len(data)
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        wal = ConsensusWAL(path)
        n = sum(1 for end in ends if end <= cut)
        assert wal.all_entries() == written[:n], cut
        assert wal.truncated_bytes == cut - (ends[n - 1] if n else 0)
        last = max((e.height for e in written[:n] if isinstance(e, EndHeight)), default=None)
        tail = written[:n]
        if last is not None:
            tail = tail[tail.index(EndHeight(last)) + 1 :]
        assert wal.records() == (last, tail)
        wal.append(WalTimeout(9, 9, 0))
        wal.close()
        assert ConsensusWAL(path).all_entries() == [*written[:n], WalTimeout(9, 9, 0)]


def test_a_damaged_byte_anywhere_never_yields_a_wrong_entry(tmp_path):
    path = tmp_path / "cs.wal"
    written = _write(path, 1)
    data = path.read_bytes()
    step = max(1, len(data) // 3000)
    for i in range(0, len(data), step):
        bad = bytearray(data)
        bad[i] ^= 0x10
        entries, good = scan(bytes(bad))
        assert entries == written[: len(entries)]  # a prefix, never a changed entry
        assert good < len(data)


def test_failed_write_is_cut_off_so_later_records_stay_readable(tmp_path, monkeypatch):
    path = tmp_path / "cs.wal"
    wal = ConsensusWAL(path)
    wal.append(WalTimeout(1, 0, 0))
    real_write = __import__("os").write
    calls = {"n": 0}

    def half_then_fail(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError("disk full")

    monkeypatch.setattr("tianfu.consensus.wal.os.write", half_then_fail)
    with pytest.raises(OSError):
        wal.append(WalTimeout(1, 1, 0))
    monkeypatch.undo()
    wal.append(WalTimeout(1, 2, 0), sync=True)
    wal.close()
    assert ConsensusWAL(path).all_entries() == [WalTimeout(1, 0, 0), WalTimeout(1, 2, 0)]


def test_a_failed_reopen_after_rotation_never_writes_into_another_file(tmp_path, monkeypatch):
    """The rotation's reopen fails (out of file descriptors): the WAL must not keep a closed
    descriptor whose number the next opened file takes, and write its records there."""
    import os

    from tianfu.consensus import wal as wal_module

    wal = ConsensusWAL(tmp_path / "cs.wal", rotate_bytes=1)
    wal.append(_height(1)[0])
    real_open = os.open

    def no_fd(path, flags, *args):
        if str(path) == str(wal.path) and not flags & os.O_CREAT:
            raise OSError(24, "Too many open files")
        return real_open(path, flags, *args)

    monkeypatch.setattr(wal_module.os, "open", no_fd)
    with pytest.raises(OSError):
        wal.end_height(1)
    monkeypatch.setattr(wal_module.os, "open", real_open)
    other = tmp_path / "other"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o600)  # may take a freed descriptor number
    try:
        with contextlib.suppress(OSError):
            wal.append(_height(2)[0])
        assert other.read_bytes() == b""
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):  # (on a reused descriptor: already closed)
            wal.close()
