"""The signer file's slots (file format 2 of `tianfu.consensus.privval`): the persisted
`LastSigned` and one slot's bytes, `MAGIC2 | seq (8) | length (4) | sha256 | body | zeros`,
the sha256 over everything else of the slot (seq, length, body and padding)."""

from __future__ import annotations

import hashlib
import struct

import msgspec

from tianfu.codec import CodecError, check_version, decode, encode

MAGIC2 = b"TFPV2\n"
SLOT = 4096
FILE_SIZE = 2 * SLOT
_SLOT_HEAD = struct.Struct(">6sQI32s")  # magic, seq, body length, digest
_MAX_BODY = SLOT - _SLOT_HEAD.size


class LastSigned(msgspec.Struct, array_like=True, frozen=True):
    """What the guard persists: the last signed (h, r, step), its bytes' hash, the signature."""

    version: int
    public_key: bytes
    height: int
    round: int
    step: int
    sign_bytes_hash: bytes
    signature: bytes
    time_ms: int = 0  # the signed vote's time (a precommit of a block), else 0

    def validate(self) -> None:
        check_version(self)
        if self.height < 0 or self.round < 0 or self.step not in (0, 1, 2):
            raise ValueError("bad last-signed position")
        if len(self.sign_bytes_hash) != 32:
            raise ValueError("bad sign-bytes hash")

    @property
    def hrs(self) -> tuple[int, int, int]:
        return (self.height, self.round, self.step)


def _slot_digest(seq: int, body: bytes) -> bytes:
    """sha256 over a slot's seq, length, body and zero padding (all but magic and digest)."""
    h = hashlib.sha256(struct.pack(">QI", seq, len(body)))
    h.update(body)
    h.update(bytes(_MAX_BODY - len(body)))
    return h.digest()


def encode_slot(seq: int, last: LastSigned) -> bytes:
    """One slot's `SLOT` bytes holding `last` as save number `seq`."""
    body = encode(last)
    if len(body) > _MAX_BODY:
        raise ValueError(f"signer state of {len(body)} bytes does not fit a slot")
    head = _SLOT_HEAD.pack(MAGIC2, seq, len(body), _slot_digest(seq, body))
    return head + body + bytes(_MAX_BODY - len(body))


def decode_slot(slot: bytes) -> tuple[int, LastSigned] | None:
    """(seq, state) of an intact slot, None if it is torn or damaged in any way."""
    if len(slot) != SLOT:
        return None
    magic, seq, length, digest = _SLOT_HEAD.unpack_from(slot)
    if magic != MAGIC2 or length > _MAX_BODY:
        return None
    body = slot[_SLOT_HEAD.size : _SLOT_HEAD.size + length]
    if _slot_digest(seq, body) != digest or any(slot[_SLOT_HEAD.size + length :]):
        return None
    try:
        return seq, decode(body, LastSigned, max_size=_MAX_BODY)
    except CodecError:
        return None


def latest_of(data: bytes, public_key: bytes) -> tuple[int, LastSigned] | None:
    """(seq, state) of `public_key`'s latest intact slot in a signer file's `data`, if any."""
    if len(data) != FILE_SIZE:
        return None
    slots = (decode_slot(data[:SLOT]), decode_slot(data[SLOT:]))
    good = [s for s in slots if s is not None and s[1].public_key == public_key]
    return max(good, key=lambda s: (s[1].hrs, s[0])) if good else None
