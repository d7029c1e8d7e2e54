"""The signing guard: signs the node's votes and proposals, never twice for one (h, r, step).

`FilePrivValidator` keeps the last signed (height, round, step) with the hash of the
signed bytes and the signature in one small file. Before a signature is returned, that
file is replaced atomically and durably (temp file, fsync, rename, fsync of the
directory). It refuses (`DoubleSignRefused`) to sign for an earlier (h, r, step), and for
the same (h, r, step) it hands back the stored signature only when the bytes are the very
same (an idempotent re-sign after a crash); anything else is refused. Steps order:
proposal < prevote < precommit (CometBFT's privval rule).

A missing file means "never signed". A file that exists but cannot be read back exactly
(truncated, bit-flipped, another key's) raises `PrivValStateError`: it is never reset to
zero silently, since that would allow signing twice.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import msgspec

from tianfu.codec import CodecError, check_version, decode, encode
from tianfu.consensus.messages import Proposal, proposal_signing_bytes
from tianfu.crypto.keys import KeyPair
from tianfu.types import PRECOMMIT, PREVOTE, Vote, vote_signing_bytes

STEP_PROPOSAL = 0
STEP_PREVOTE = 1
STEP_PRECOMMIT = 2

_MAGIC = b"TFPV1\n"
_VOTE_STEPS = {PREVOTE: STEP_PREVOTE, PRECOMMIT: STEP_PRECOMMIT}


class DoubleSignRefused(Exception):
    """Signing this would contradict (or go back from) something already signed."""


class PrivValStateError(Exception):
    """The last-signed state file exists but is unreadable, corrupted or another key's."""


class LastSigned(msgspec.Struct, array_like=True, frozen=True):
    """What the guard persists: the last signed (h, r, step), its bytes' hash, the signature."""

    version: int
    public_key: bytes
    height: int
    round: int
    step: int
    sign_bytes_hash: bytes
    signature: bytes

    def validate(self) -> None:
        check_version(self)
        if self.height < 0 or self.round < 0 or self.step not in (0, 1, 2):
            raise ValueError("bad last-signed position")
        if len(self.sign_bytes_hash) != 32:
            raise ValueError("bad sign-bytes hash")

    @property
    def hrs(self) -> tuple[int, int, int]:
        return (self.height, self.round, self.step)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilePrivValidator:
    """A key plus its durable double-sign guard. Thread-safe."""

    def __init__(self, keypair: KeyPair, state_path: Path | str) -> None:
        self.keypair = keypair
        self.path = Path(state_path)
        self._lock = threading.Lock()
        self._last = self._load()

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
            return None
        except OSError as exc:
            raise PrivValStateError(f"cannot read signer state {self.path}: {exc}") from None
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 32:
            raise PrivValStateError(
                f"signer state {self.path} is corrupted (bad header); refusing to start: "
                "restore it from a backup, never delete it while the key is in use"
            )
        digest = data[len(_MAGIC) : len(_MAGIC) + 32]
        body = data[len(_MAGIC) + 32 :]
        if hashlib.sha256(body).digest() != digest:
            raise PrivValStateError(f"signer state {self.path} is corrupted (checksum mismatch)")
        try:
            last = decode(body, LastSigned, max_size=4096)
        except CodecError as exc:
            raise PrivValStateError(f"signer state {self.path} is corrupted: {exc}") from None
        if last.public_key != self.keypair.public_key:
            raise PrivValStateError(f"signer state {self.path} belongs to another key")
        return last

    def _save(self, last: LastSigned) -> None:
        body = encode(last)
        data = _MAGIC + hashlib.sha256(body).digest() + body
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    # ---------------------------------------------------------------- signing

    def sign(self, height: int, round: int, step: int, sign_bytes: bytes) -> bytes:
        """Sign `sign_bytes` as the message of (height, round, step), guarded and durable."""
        if step not in (STEP_PROPOSAL, STEP_PREVOTE, STEP_PRECOMMIT):
            raise ValueError(f"unknown signing step {step}")
        hrs = (height, round, step)
        digest = hashlib.sha256(sign_bytes).digest()
        with self._lock:
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
            new = LastSigned(1, self.keypair.public_key, height, round, step, digest, signature)
            self._save(new)  # durable before the signature leaves this method
            self._last = new
            return signature

    def sign_vote(
        self, chain_id: str, height: int, round: int, type: int, block_hash: bytes
    ) -> Vote:
        step = _VOTE_STEPS.get(type)
        if step is None:
            raise ValueError(f"unknown vote type {type}")
        msg = vote_signing_bytes(chain_id, height, round, type, block_hash)
        sig = self.sign(height, round, step, msg)
        return Vote(1, chain_id, height, round, type, block_hash, self.public_key, sig)

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
