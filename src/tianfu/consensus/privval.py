"""The signing guard: signs the node's votes and proposals, never twice for one (h, r, step).

`FilePrivValidator` keeps the last signed (height, round, step) with the hash of the
signed bytes and the signature in one small file, and makes it durable before a signature
is returned. It refuses (`DoubleSignRefused`) to sign for an earlier (h, r, step), and for
the same (h, r, step) it hands back the stored signature only when the bytes are the very
same (an idempotent re-sign after a crash); anything else is refused. Steps order:
proposal < prevote < precommit (CometBFT's privval rule).

File format 2 (this version writes it): two fixed slots of `SLOT` bytes, each aligned on
its own 4 KiB block. A slot is `MAGIC2 | seq (8) | length (4) | sha256 | body | zeros`,
the sha256 over everything else of the slot (seq, length, body and padding), the body the
canonical `LastSigned`. A save writes the new state with the next seq into one slot
(`pwrite` in place) and `fdatasync`s it — one sync per signature, no metadata — then
writes it into the other slot too, without a sync of its own: the next save's sync makes
that copy durable (a sync flushes the whole file), and until then the driver's consensus
WAL holds the same signed message, fsynced before it is sent, which the driver hands back
with `advance_to` at start. So the damage of either slot (a torn save or a bad disk
block — the two look the same) does not send the signer back: the other slot holds the
newest state (or, after a power loss right after a save, the WAL does), or the save in
flight was interrupted and its signature never left. On
load the valid slot with the highest seq wins; a damaged slot or two slots of different
seq sets `recovery` (the driver then checks the network for its own signatures before it
signs again, `tianfu.consensus.signguard`), and the surviving state is written back over
the other slot at once, so the file is whole again before anything is signed. The file is created (and a format 1 file
converted) once, atomically: temp file, fsync, rename, fsync of the directory, both slots
holding the same state.

A missing file is refused (`PrivValStateError`) unless the caller passes
`allow_missing=True` (`tianfu node start --new-signer-state`): then the signer starts as
"never signed" with `recovery` set. `check_network=True` (the same option) sets `recovery`
for a file that exists too: restored from a backup with the rest of the data directory, it
is older than what the key signed, and nothing local shows it. `initialise()` writes the file of a new node (height
0: nothing signed) at `node init`. A file that exists but has no readable slot (truncated,
garbage, another key's) raises `PrivValStateError`: it is never reset to zero silently.
The refusal names the fix: a directory in the file's place is moved aside (then the flag),
a file the node may not read or open for writing is given back to the node's user.
Format 1 (`TFPV1`: one record, replaced by rename on every save) is still read; the first
save after an upgrade converts it.

A save that fails (an I/O error, a read-only or full disk) raises `OSError` and returns no
signature; `rewrite()` later puts the last returned state into both slots again, synced
(the driver halts signing until it succeeds); with nothing signed yet (a new signer state,
no file) it succeeds once a file can be written there. After each save the open file is checked to
still be the one at the path: deleted, or replaced by another file (an old copy put back)
while the node runs, it is written there again from this process's state, with an ERROR
line — else every later save would go to the unlinked file and a restart would find no
file, or the old copy. What is at the path never goes back: if the file found there holds
this key's state at or after the one being saved, it is kept and becomes this signer's
state, and the signature being saved is refused (`DoubleSignRefused`). A directory found
there fails the save (no signature) with an `OSError` naming the fix; once it is gone,
`rewrite` writes the state there again.

A precommit of a block carries a time (BFT time): re-signing the same precommit after a
crash with another clock reading returns the stored vote, time and signature unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from tianfu.codec import CodecError, decode
from tianfu.consensus import signerlock
from tianfu.consensus.messages import Proposal, proposal_signing_bytes
from tianfu.consensus.signerslots import (
    FILE_SIZE,
    MAGIC2,
    SLOT,
    LastSigned,
    decode_slot,
    encode_slot,
    latest_of,
)
from tianfu.crypto.keys import KeyPair
from tianfu.durable import fsync_dir
from tianfu.types import PRECOMMIT, PREVOTE, Vote, VoteDomain, vote_signing_bytes
from tianfu.types.block import check_vote_time

STEP_PROPOSAL = 0
STEP_PREVOTE = 1
STEP_PRECOMMIT = 2

_MAGIC = b"TFPV1\n"  # format 1: magic | sha256(body) | body
SIGNER_FILE = "privval.json"  # the signer state's name in a node's data directory
_VOTE_STEPS = {PREVOTE: STEP_PREVOTE, PRECOMMIT: STEP_PRECOMMIT}
_fdatasync = getattr(os, "fdatasync", os.fsync)  # (macOS has no fdatasync)
# What to do about a missing or unreadable signer file. A copy restored from a backup is
# older than what the key signed, and with a WAL and store of its age nothing local shows
# it: it needs the flag too.
_REMEDY = (
    "start with --new-signer-state (also after putting back a copy from a backup: it is "
    "older than what the key signed); the node then waits until the network has moved past "
    "every height it may have signed"
)

log = logging.getLogger(__name__)


class DoubleSignRefused(Exception):
    """Signing this would contradict (or go back from) something already signed."""


class PrivValStateError(Exception):
    """The last-signed state file exists but is unreadable, corrupted or another key's."""


class FilePrivValidator:
    """A key plus its durable double-sign guard. Thread-safe."""

    def __init__(
        self,
        keypair: KeyPair,
        state_path: Path | str,
        *,
        allow_missing: bool = False,
        check_network: bool = False,
    ) -> None:
        self.keypair = keypair
        self.path = Path(state_path)
        self._lock = threading.RLock()  # (sign_vote holds it around sign)
        self._fd = -1  # the format 2 file, open for in-place saves
        self._held: signerlock.FileKey | None = None  # its lock (`signerlock`), while open
        self._seq = 0  # save number of the state in the file (format 2)
        # Why the state may be older than what this key signed (None: it cannot be).
        self.recovery: str | None = None
        self._allow_missing = allow_missing
        self._last = self._load()
        if check_network and self.recovery is None:
            # The file may be an old copy (a data directory restored from a backup, with a
            # WAL and store of the same age): nothing local shows what the key signed since.
            self.recovery = "asked to check the network before signing (--new-signer-state)"

    @classmethod
    def initialise(cls, keypair: KeyPair, state_path: Path | str) -> None:
        """Create the signer file of a new validator ("nothing signed"); keep an existing one."""
        path = Path(state_path)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        pv = cls(keypair, path, allow_missing=True)
        pv._create(1, LastSigned(1, keypair.public_key, 0, 0, 0, bytes(32), b""))
        pv.close()

    def close(self) -> None:
        with self._lock:
            self._let_go()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0 or getattr(self, "_held", None) is not None:
            self._let_go()

    def _take(self, fd: int) -> None:
        """Make `fd` the open signer file, holding its lock (`signerlock`). If another
        process holds it, `fd` is closed and `OSError` raised naming the fix (the file
        open so far stays this signer's)."""
        try:
            key = signerlock.hold(fd)
        except BlockingIOError:
            os.close(fd)
            raise self._in_use() from None
        self._let_go()
        self._fd, self._held = fd, key

    def _in_use(self) -> OSError:
        """The refusal of a signer file another process holds, naming the fix."""
        return OSError(
            errno.EAGAIN,
            f"signer state {self.path} is in use by another process (another node on "
            "this data directory, or this file shared with another home): one key must "
            "never sign from two processes; stop the other one (keep the file: it holds "
            "what this key signed)",
        )

    def _let_go(self) -> None:
        """Close the open signer file and release its lock."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._held is not None:
            signerlock.release(self._held)
            self._held = None

    @property
    def public_key(self) -> bytes:
        return self.keypair.public_key

    @property
    def last_signed(self) -> LastSigned | None:
        return self._last

    def last_hrs(self) -> tuple[int, int, int] | None:
        return None if self._last is None else self._last.hrs

    # ---------------------------------------------------------------- file

    def _load(self) -> LastSigned | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            if not self._allow_missing:
                raise PrivValStateError(f"signer state {self.path} is missing: {_REMEDY}") from None
            self.recovery = "the signer file was missing (new signer state)"
            return None
        except OSError as exc:
            raise self._unreadable("read", exc) from None
        if data.startswith(MAGIC2):
            return self._load_slots()
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 32:
            raise PrivValStateError(
                f"signer state {self.path} is corrupted (bad header): move it aside; {_REMEDY}"
            )
        digest = data[len(_MAGIC) : len(_MAGIC) + 32]
        body = data[len(_MAGIC) + 32 :]
        if hashlib.sha256(body).digest() != digest:
            raise PrivValStateError(
                f"signer state {self.path} is corrupted (checksum mismatch): move it aside; "
                f"{_REMEDY}"
            )
        try:
            last = decode(body, LastSigned, max_size=4096)
        except CodecError as exc:
            raise PrivValStateError(
                f"signer state {self.path} is corrupted ({exc}): move it aside; {_REMEDY}"
            ) from None
        if last.public_key != self.keypair.public_key:
            raise self._another_key()
        return last  # format 1: the first save converts the file (self._fd stays -1)

    def _another_key(self) -> PrivValStateError:
        """The refusal of a signer file of another validator's key, naming the fix."""
        return PrivValStateError(
            f"signer state {self.path} belongs to another key, not this node's identity "
            "(another validator's file): put back this validator's own signer file; if it "
            f"is lost, move this one aside and {_REMEDY}"
        )

    def _unreadable(self, what: str, exc: OSError) -> PrivValStateError:
        """The refusal of a signer file that cannot be read or opened, naming the fix: a
        directory in its place is moved aside (then the flag); a file the node may not
        read or write is given back to the node's user, one on a read-only or failing file
        system needs that fixed (either way the file is kept: it is what the key signed)."""
        if self.path.is_dir():
            return PrivValStateError(
                f"signer state {self.path} is a directory, not the signer file: move it "
                f"aside; {_REMEDY}"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            fix = "give the node's user read and write access to it"
        else:  # (a read-only or failing file system)
            fix = "the node must read and write it there: fix the file system under it"
        return PrivValStateError(
            f"cannot {what} signer state {self.path}: {exc.strerror or exc}: {fix} (keep "
            "the file: it holds what this key signed)"
        )

    def _load_slots(self) -> LastSigned:
        """The state of a format 2 file, read through the descriptor this signer holds the
        lock of (what `_load` read before may be older: another process signing from the file
        until it let go of it, its later state written meanwhile)."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError as exc:
            raise self._unreadable("open", exc) from None
        try:
            self._take(fd)
        except OSError as exc:
            raise PrivValStateError(exc.strerror or str(exc)) from None
        try:
            return self._held_state()
        except BaseException:
            self._let_go()
            raise

    def _held_state(self) -> LastSigned:
        """The state in the open (locked) format 2 file; its damage repaired first."""
        try:
            data = os.pread(self._fd, FILE_SIZE + 1, 0)
        except OSError as exc:
            raise self._unreadable("read", exc) from None
        if len(data) != FILE_SIZE:
            raise PrivValStateError(
                f"signer state {self.path} is corrupted ({len(data)} bytes, expected "
                f"{FILE_SIZE}): move it aside; {_REMEDY}"
            )
        slots = [decode_slot(data[i * SLOT : (i + 1) * SLOT]) for i in range(2)]
        good = [s for s in slots if s is not None]
        if not good:
            raise PrivValStateError(
                f"signer state {self.path} is corrupted (no intact slot): move it aside; {_REMEDY}"
            )
        seq, last = max(good, key=lambda s: s[0])
        if any(s[1].public_key != self.keypair.public_key for s in good):
            raise self._another_key()
        if len(good) == 1:
            self.recovery = "one slot of the signer file is damaged"
            log.warning(
                "signer state %s: one slot is torn or damaged; using the intact one, last "
                "signed %s, and checking the network for this key's signatures before signing",
                self.path,
                last.hrs,
            )
        elif good[0][0] != good[1][0]:
            self.recovery = "the signer file's slots differ (an interrupted save)"
            log.warning("signer state %s: %s; last signed %s", self.path, self.recovery, last.hrs)
        self._seq = seq
        if self.recovery is not None:
            self._repair(seq, last)
        return last

    def _repair(self, seq: int, last: LastSigned) -> None:
        """Write the surviving state over the damaged (or older) slot, so that the file
        is whole again before anything is signed: a later damage of the other slot then
        still leaves one intact copy."""
        try:
            self._write_both(seq, last)
        except OSError as exc:
            raise self._unreadable("repair", exc) from None

    def _write_both(self, seq: int, last: LastSigned) -> None:
        """`last` as save `seq` into both slots of the open file, each synced."""
        slot = encode_slot(seq, last)
        for offset in (0, SLOT):
            if os.pwrite(self._fd, slot, offset) != SLOT:
                raise OSError(f"short write of signer state {self.path}")
            _fdatasync(self._fd)

    def _unlinked(self, last: LastSigned) -> bool:
        """True if the open file is no longer at `path` (deleted, or replaced by another
        file: an old copy put back while the node runs)."""
        if os.fstat(self._fd).st_nlink > 0:
            return False
        log.error(
            "signer state %s was deleted or replaced while the node runs: writing this "
            "process's state (last signed %s) there again; never touch it while the key is "
            "in use",
            self.path,
            last.hrs,
        )
        self._let_go()
        return True

    def rewrite(self) -> None:
        """Make the last signed state durable again, in both slots (a new file if it was
        deleted or replaced), after a save failed. Raises `OSError` if it still cannot."""
        with self._lock:
            last = self._last
            if last is None:  # nothing signed yet: the first signature creates the file,
                self._probe()  # so succeed only once a file can be made beside it
                return
            seq = self._seq + 1
            if self._fd >= 0 and not self._unlinked(last):
                self._write_both(seq, last)
                self._seq = seq
            elif not self._adopt_later(last):
                self._create(seq, last)
                self._seq = seq

    def _probe(self) -> None:
        """Write, sync and remove a file of the signer file's size beside it (its temporary
        name); raises `OSError` while that cannot be done (a full or read-only disk)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if os.write(fd, bytes(FILE_SIZE)) != FILE_SIZE:
                raise OSError(f"short write beside signer state {self.path}")
            os.fsync(fd)
        finally:
            os.close(fd)
            tmp.unlink(missing_ok=True)

    def _save(self, last: LastSigned) -> None:
        """Make `last` durable; raises `OSError` if it cannot, `DoubleSignRefused` if the
        file now at the path holds this key at or after it (see `_adopt_later`)."""
        seq = self._seq + 1
        if self._fd >= 0:
            # One slot, synced; then the other, written without a sync of its own: the
            # next save's sync makes it durable with the next state (a sync flushes the
            # whole file), and until then the driver's WAL holds the same signed message,
            # fsynced before it is sent (`advance_to` reads it back at start).
            slot = encode_slot(seq, last)
            for offset, sync in (((seq % 2) * SLOT, True), ((1 - seq % 2) * SLOT, False)):
                n = os.pwrite(self._fd, slot, offset)
                if n != SLOT:
                    raise OSError(f"short write of signer state {self.path} ({n} bytes)")
                if sync:
                    _fdatasync(self._fd)
            if not self._unlinked(last):
                self._seq = seq
                return
        if self._adopt_later(last):
            raise DoubleSignRefused(
                f"refusing to sign {last.hrs}: signer state {self.path} holds this key's "
                f"{self.last_hrs()}, put there while the node runs"
            )
        self._create(seq, last)
        self._seq = seq

    def _adopt_later(self, last: LastSigned) -> bool:
        """Before `last` is written as a new file at the path: if the file there now holds
        this key's state at or after `last` (a newer copy put there, or this key signing on
        elsewhere), keep that file and take its state as this signer's (True): what is at
        the path never goes back, and nothing is signed up to that position."""
        found = self._path_state()
        if found is None or found[1].hrs < last.hrs:
            return False
        seq, state = found
        log.error(
            "signer state %s now holds this key's state at %s, at or after this process's "
            "%s: keeping it and signing nothing up to it; is the key in use elsewhere?",
            self.path,
            state.hrs,
            last.hrs,
        )
        self._take(os.open(self.path, os.O_RDWR))
        # What the file holds now that this process has its lock: read before, it may be
        # older (the other process signed on until it let go of the file).
        try:
            held = latest_of(os.pread(self._fd, FILE_SIZE + 1, 0), self.public_key)
        except OSError:
            self._let_go()  # (not kept: an in-place save of this state would go back)
            raise
        if held is not None:
            if held[1].hrs > state.hrs:
                state = held[1]
            seq = max(seq, held[0])
        self._seq, self._last = seq, state
        return True

    def _path_state(self) -> tuple[int, LastSigned] | None:
        """(seq, state) of this key's latest intact slot in a format 2 file at the path."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise OSError(
                errno.EISDIR,
                f"signer state {self.path} is a directory, not the signer file: remove it or "
                "move it aside (this process then writes its state there again by itself)",
            ) from None
        return latest_of(data, self.public_key)

    def _create(self, seq: int, last: LastSigned) -> None:
        """Write a new format 2 file holding `last` in both slots, atomically and durably,
        and make it the open file: written under a name of its own and locked before it is
        renamed to the path, and renamed only while the file it replaces is not another
        process's (`signerlock.replacing`; else `OSError`, nothing replaced). A file put
        there unlocked, or over one another process signs from in place, let that process
        and this one each take the path for their own and both sign one height."""
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            key = signerlock.hold(fd)  # (a new file: no other process has it)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        try:
            data = memoryview(encode_slot(seq, last) * 2)
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
            try:
                with signerlock.replacing(self.path):
                    os.replace(tmp, self.path)
            except BlockingIOError:
                raise self._in_use() from None
        except BaseException:
            signerlock.release(key)
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._let_go()
        self._fd, self._held = fd, key
        fsync_dir(self.path.parent)  # (if it fails, the save fails: the file stays this one)

    # ---------------------------------------------------------------- signing

    def advance_to(
        self, height: int, round: int, step: int, sign_bytes: bytes, signature: bytes, time_ms: int
    ) -> bool:
        """Record a message this key signed that is newer than the stored state (read back
        from the consensus WAL after the state was damaged, at start); True if the state
        moved. `PrivValStateError` naming the fix if it cannot be written (nothing is signed
        until it is: the node does not start)."""
        hrs = (height, round, step)
        with self._lock:
            if self._last is not None and hrs <= self._last.hrs:
                return False
            digest = hashlib.sha256(sign_bytes).digest()
            new = LastSigned(
                1, self.keypair.public_key, height, round, step, digest, signature, time_ms
            )
            try:
                self._save(new)
            except DoubleSignRefused:  # the file at the path holds a later state: taken
                return True
            except OSError as exc:
                raise self._unreadable("write", exc) from None
            self._last = new
            log.warning("signer state advanced to %s from this node's consensus WAL", hrs)
            return True

    @property
    def lock(self) -> threading.RLock:
        """The lock every save holds: whoever changes what a `mark_decided` condition reads
        takes it too (`Signer.found_own`, setting a guard), so that a mark never goes
        ahead on a condition that stopped holding while it waited for the lock."""
        return self._lock

    def mark_decided(self, height: int, still: Callable[[], bool] | None = None) -> bool:
        """Height `height` was decided and this key signed nothing there (its quiet start held
        its signatures, or block sync took the height): move the state's mark to
        (`height`, 0, proposal step), with no signature, if it is below. The mark only ever
        forbids signing: nothing of an earlier height (even a re-sign of the same bytes)
        and no proposal of round 0 of `height`; votes of `height` stay allowed, as before
        (none was signed). It keeps a whole, synced file from looking older than the store
        at the next start, which `signguard` takes for a restored copy. True if the state
        moved. `still`: checked under the lock, the mark is written only if it is True."""
        with self._lock:
            hrs = (height, 0, STEP_PROPOSAL)
            if self._last is not None and self._last.hrs >= hrs:
                return False
            if still is not None and not still():
                return False
            new = LastSigned(
                1, self.keypair.public_key, height, 0, STEP_PROPOSAL, bytes(32), b"", 0
            )
            self._save(new)
            self._last = new
            return True

    def sign(
        self, height: int, round: int, step: int, sign_bytes: bytes, time_ms: int = 0
    ) -> bytes:
        """Sign `sign_bytes` as the message of (height, round, step), guarded and durable."""
        with self._lock:
            return self._sign_locked(height, round, step, sign_bytes, time_ms)

    def _sign_locked(
        self, height: int, round: int, step: int, sign_bytes: bytes, time_ms: int
    ) -> bytes:
        if step not in (STEP_PROPOSAL, STEP_PREVOTE, STEP_PRECOMMIT):
            raise ValueError(f"unknown signing step {step}")
        hrs = (height, round, step)
        digest = hashlib.sha256(sign_bytes).digest()
        last = self._last
        if last is not None:
            if hrs < last.hrs:
                raise DoubleSignRefused(
                    f"refusing to sign {hrs}: already signed {last.hrs}, which is later"
                )
            if hrs == last.hrs:
                if digest == last.sign_bytes_hash:
                    return last.signature  # idempotent re-sign (e.g. after a crash)
                raise DoubleSignRefused(
                    f"refusing to sign different bytes for {hrs}, already signed there"
                )
        signature = self.keypair.sign(sign_bytes)
        new = LastSigned(
            1, self.keypair.public_key, height, round, step, digest, signature, time_ms
        )
        self._save(new)  # durable before the signature leaves this method
        self._last = new
        return signature

    def sign_vote(
        self,
        domain: VoteDomain | str,
        height: int,
        round: int,
        type: int,
        block_hash: bytes,
        time_ms: int = 0,
    ) -> Vote:
        """Sign a vote on the chain of `domain` (a bare chain id: of a version-1 genesis;
        `time_ms`: BFT time, for a precommit of a block only).

        If this very precommit was signed already with another time (a re-sign after a
        crash), the stored vote is returned: its time and signature, not new ones.
        """
        step = _VOTE_STEPS.get(type)
        if step is None:
            raise ValueError(f"unknown vote type {type}")
        check_vote_time(type, block_hash, time_ms)
        d = VoteDomain.of(domain)
        with self._lock:
            last = self._last
            if (
                last is not None
                and last.hrs == (height, round, step)
                and last.time_ms != time_ms
                and last.time_ms > 0
            ):
                before = vote_signing_bytes(d, height, round, type, block_hash, last.time_ms)
                if hashlib.sha256(before).digest() == last.sign_bytes_hash:
                    time_ms = last.time_ms
            msg = vote_signing_bytes(d, height, round, type, block_hash, time_ms)
            sig = self.sign(height, round, step, msg, time_ms)
        return Vote(1, d.chain_id, height, round, type, block_hash, time_ms, self.public_key, sig)

    def sign_proposal(
        self,
        chain_id: str,
        height: int,
        round: int,
        pol_round: int,
        block_hash: bytes,
        block: bytes,
    ) -> Proposal:
        msg = proposal_signing_bytes(chain_id, height, round, pol_round, block_hash)
        sig = self.sign(height, round, STEP_PROPOSAL, msg)
        return Proposal(
            1, chain_id, height, round, pol_round, block_hash, block, self.public_key, sig
        )
