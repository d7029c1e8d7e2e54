"""The consensus write-ahead log: what the core saw and signed at the current height.

File format: a sequence of records, each `length (4 bytes, big-endian) | crc32 of the
payload (4 bytes) | payload`, the payload being the canonical msgpack of one `WalEntry`
(`tianfu.codec`). Entries: proposals and votes that changed the core's state (received,
or our own signed ones), the timeouts and execution results the core acted on, and
`EndHeight(h)` markers.

Writes go straight to the file descriptor (no user-space buffer), so a process crash
loses nothing written; `sync=True` also makes the file durable (`fdatasync`: the data and
the file's new size, all one an append needs), which the driver does for its own signed
messages before they are broadcast. On open the file is scanned; a torn or corrupted tail
(a crash in the middle of a write) fails its length or checksum and is truncated away.

At each new height `end_height(h)` appends an `EndHeight(h)` marker: `records()` is what
follows the last marker, what to replay into a core at height h+1. The marker needs no
sync of its own: the next synced append makes it durable with everything before it, and a
marker lost in a crash only leaves height-h entries after the previous marker, which the
driver skips (it replays the entries of the height it resumes at, h+1, only). Once the
file has grown past `rotate_bytes`, `end_height` instead replaces it atomically by one
holding only the marker (temp file, fsync, rename, fsync of the directory), so it stays
bounded; a crash during the rotation leaves either the old file or the new one.

After each synced append the file is checked to still be at its path: deleted or replaced
while the node runs, it is made again there, holding the record just synced (an ERROR
line), so that this node's newest signed message survives a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import zlib
from collections import Counter
from pathlib import Path

import msgspec

from tianfu.codec import CodecError, decode, encode
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.messages import (
    MAX_BLOCK_BYTES,
    BlockExecuted,
    Event,
    Proposal,
    ProposalReceived,
    Step,
    TimeoutFired,
    VoteReceived,
)
from tianfu.durable import replace_durably
from tianfu.types import Vote

log = logging.getLogger(__name__)
_driver_log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log

_HEADER = struct.Struct(">II")
MAX_RECORD = MAX_BLOCK_BYTES + (1 << 16)
ROTATE_BYTES = 8 << 20  # end_height rewrites the file once it is larger than this

_fdatasync = getattr(os, "fdatasync", os.fsync)  # (macOS has no fdatasync)


class WALError(Exception):
    """The WAL cannot be opened or written."""


class WalProposal(msgspec.Struct, array_like=True, frozen=True, tag=1):
    proposal: Proposal

    @property
    def height(self) -> int:
        return self.proposal.height


class WalVote(msgspec.Struct, array_like=True, frozen=True, tag=2):
    vote: Vote

    @property
    def height(self) -> int:
        return self.vote.height


class WalTimeout(msgspec.Struct, array_like=True, frozen=True, tag=3):
    height: int
    round: int
    step: int


class WalExecuted(msgspec.Struct, array_like=True, frozen=True, tag=4):
    height: int
    block_hash: bytes
    valid: bool


class EndHeight(msgspec.Struct, array_like=True, frozen=True, tag=5):
    """Height `height` is committed: what follows belongs to height + 1."""

    height: int


WalEntry = WalProposal | WalVote | WalTimeout | WalExecuted | EndHeight


def entry_event(entry: WalEntry) -> Event:
    """The core event that replays `entry` (not for `EndHeight`)."""
    if isinstance(entry, WalVote):
        return VoteReceived(entry.vote)
    if isinstance(entry, WalProposal):
        return ProposalReceived(entry.proposal)
    if isinstance(entry, WalTimeout):
        return TimeoutFired(entry.height, entry.round, Step(entry.step))
    if isinstance(entry, WalExecuted):
        return BlockExecuted(entry.height, entry.block_hash, entry.valid)
    raise ValueError(f"no event for WAL entry {type(entry).__name__}")


def entry_to_log(
    core: ConsensusCore, ev: Event, from_network: bool, internal: bool
) -> WalEntry | None:
    """What to log of an event before the core handles it (None: nothing to replay): a vote
    or proposal of the current height from the network that the core does not know yet, or
    the driver's own timeout of the current round or execution result while undecided."""
    if from_network:
        if isinstance(ev, VoteReceived | ProposalReceived):
            msg = ev.vote if isinstance(ev, VoteReceived) else ev.proposal
            if msg.height == core.height and not core.knows(msg):
                return WalVote(msg) if isinstance(msg, Vote) else WalProposal(msg)
    elif not internal:
        return None
    elif isinstance(ev, TimeoutFired):
        if (ev.height, ev.round) == (core.height, core.round) and core.decided is None:
            return WalTimeout(ev.height, ev.round, int(ev.step))
    elif isinstance(ev, BlockExecuted):
        if ev.height == core.height and core.decided is None:
            return WalExecuted(ev.height, ev.block_hash, ev.valid)
    return None


def kept(core: ConsensusCore, entry: WalEntry) -> bool:
    """Whether the core kept what `entry` logs (a vote or proposal it refused: no replay)."""
    if isinstance(entry, WalVote):
        return core.knows(entry.vote)
    if isinstance(entry, WalProposal):
        return core.knows(entry.proposal)
    return True


def append_kept(wal: ConsensusWAL, entry: WalEntry, stats: Counter[str]) -> None:
    """The driver's append of an entry the core kept, without fsync: a failed write is
    counted in `stats["wal_errors"]` and logged at ERROR once until a write succeeds (on a
    full disk every message fails); consensus goes on."""
    try:
        wal.append(entry, sync=False)
    except OSError as exc:
        stats["wal_errors"] += 1
        if wal.failing <= 1:
            _driver_log.error("consensus WAL write failed: %s", exc)


def encode_record(entry: WalEntry) -> bytes:
    payload = encode(entry)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def scan(data: bytes) -> tuple[list[WalEntry], int]:
    """Decode records from `data`; return them and the length of the intact prefix."""
    entries: list[WalEntry] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD or end > len(data):
            break
        payload = data[pos + _HEADER.size : end]
        if zlib.crc32(payload) != crc:
            break
        try:
            entry: WalEntry = decode(payload, WalEntry, max_size=MAX_RECORD)  # type: ignore[arg-type]
        except CodecError:
            break
        entries.append(entry)
        pos = end
    return entries, pos


class ConsensusWAL:
    """An append-only log file; see the module docstring."""

    def __init__(self, path: Path | str, *, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.truncated_bytes = 0
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise WALError(f"cannot read WAL {self.path}: {exc}") from None
        entries, good = scan(data)
        self._entries = entries
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:  # (read-only file system, no permission, ...)
            raise WALError(f"cannot open WAL {self.path} for writing: {exc}") from None
        if good < len(data):
            self.truncated_bytes = len(data) - good
            log.warning(
                "WAL %s: dropping %d bytes of torn or corrupted tail", self.path, len(data) - good
            )
            try:
                os.ftruncate(self._fd, good)
                os.fsync(self._fd)
            except OSError as exc:
                os.close(self._fd)
                raise WALError(f"cannot cut the torn tail of WAL {self.path}: {exc}") from None
        self._size = good
        self.failing = 0  # appends failed in a row (disk full, I/O error); 0 after a success

    # ---------------------------------------------------------------- reading

    def all_entries(self) -> list[WalEntry]:
        """Every intact entry found when the file was opened."""
        return list(self._entries)

    def records(self) -> tuple[int | None, list[WalEntry]]:
        """(last EndHeight or None, the entries after it), as found when opened."""
        last: int | None = None
        start = 0
        for i, e in enumerate(self._entries):
            if isinstance(e, EndHeight):
                last = e.height
                start = i + 1
        return last, self._entries[start:]

    # ---------------------------------------------------------------- writing

    def append(self, entry: WalEntry, *, sync: bool = False) -> None:
        data = encode_record(entry)
        if len(data) > MAX_RECORD + _HEADER.size:
            raise WALError(f"WAL record of {len(data)} bytes is too large")
        if self._fd < 0:
            raise WALError("WAL is closed")
        try:
            self._write(data)
            if sync:
                _fdatasync(self._fd)
                if os.fstat(self._fd).st_nlink == 0:
                    self._recreate(data)
        except OSError:
            self.failing += 1
            raise
        if self.failing:
            log.warning("WAL %s written again after %d failed writes", self.path, self.failing)
            self.failing = 0

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError:
            # (disk full, ...): cut the partial record off, so that records appended once
            # the error clears are not hidden behind it on the next scan
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def _recreate(self, record: bytes) -> None:
        """The open file was deleted (or replaced) while in use, so synced records went to
        a file no restart would read: make a new one at the path holding `record` (the
        earlier records of the height are gone with the old file)."""
        log.error(
            "WAL %s was deleted or replaced while the node runs: a new one holds the "
            "latest of this node's messages; never touch it while the node runs",
            self.path,
        )
        replace_durably(self.path, record)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        os.close(self._fd)
        self._fd = fd
        self._size = len(record)

    def sync(self) -> None:
        if self._fd >= 0:
            _fdatasync(self._fd)

    def end_height(self, height: int) -> None:
        """Mark `height` committed: append the marker, or rotate (see the module docstring)."""
        if self._fd < 0:
            raise WALError("WAL is closed")
        if self._size < self.rotate_bytes:
            self._write(encode_record(EndHeight(height)))
            self._entries = [EndHeight(height)]  # what `records()` means from here on
            return
        replace_durably(self.path, encode_record(EndHeight(height)))
        # Open the new file before closing the old one: if the open fails (out of file
        # descriptors, ...), `_fd` must not be left naming a closed descriptor, whose number
        # the next file or socket opened would take, and records be written into that.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        os.close(self._fd)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        self._entries = [EndHeight(height)]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ConsensusWAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
