"""Block headers, blocks, votes, commit certificates and validator sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec

from tianfu.codec import CodecError, check_version, decode, encode, encode_list, hash_domain
from tianfu.types.tx import ChainId, PubKey, Sig, Transaction, decode_tx, tx_hash_of_body

Hash = Annotated[bytes, msgspec.Meta(max_length=32)]
NO_HASH = b""

PREVOTE = 1
PRECOMMIT = 2


class BlockHeader(msgspec.Struct, array_like=True, frozen=True):
    version: int
    chain_id: ChainId
    height: int
    time_ms: int
    prev_hash: Hash  # header hash of height - 1 (genesis hash for height 1)
    tx_root: Hash
    state_root: Hash  # state after executing this block
    receipts_root: Hash
    validators_hash: Hash  # validator set that signs this block
    proposer: PubKey
    tx_count: int

    def validate(self) -> None:
        check_version(self)

    @property
    def hash(self) -> bytes:
        return hash_domain("tianfu/header/v1", encode(self))


class Block(msgspec.Struct, array_like=True, frozen=True):
    header: BlockHeader
    txs: list[Transaction]

    def validate(self) -> None:
        self.header.validate()
        for tx in self.txs:
            tx.validate()

    @property
    def hash(self) -> bytes:
        return self.header.hash


class Validator(msgspec.Struct, array_like=True, frozen=True):
    name: str
    org: str
    scheme: int
    public_key: PubKey
    power: int


class ValidatorSet(msgspec.Struct, array_like=True, frozen=True):
    validators: list[Validator]

    @property
    def hash(self) -> bytes:
        return hash_domain("tianfu/valset/v1", encode(self))

    @property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    def quorum(self) -> int:
        """Smallest voting power strictly greater than 2/3 of the total."""
        return self.total_power * 2 // 3 + 1

    def by_key(self, public_key: bytes) -> Validator | None:
        for v in self.validators:
            if v.public_key == public_key:
                return v
        return None


class VoteBody(msgspec.Struct, array_like=True, frozen=True):
    chain_id: ChainId
    height: int
    round: int
    type: int  # PREVOTE or PRECOMMIT
    block_hash: Hash  # NO_HASH for nil


def vote_signing_bytes(
    chain_id: str, height: int, round: int, type: int, block_hash: bytes
) -> bytes:
    return hash_domain(
        "tianfu/vote/v1", encode(VoteBody(chain_id, height, round, type, block_hash))
    )


class Vote(msgspec.Struct, array_like=True, frozen=True):
    version: int
    chain_id: ChainId
    height: int
    round: int
    type: int
    block_hash: Hash
    validator: PubKey
    signature: Sig

    def validate(self) -> None:
        check_version(self)
        if self.type not in (PREVOTE, PRECOMMIT):
            raise ValueError(f"unknown vote type {self.type}")
        if self.height < 1 or self.round < 0:
            raise ValueError("vote height must be >= 1 and round >= 0")

    def signing_bytes(self) -> bytes:
        return vote_signing_bytes(
            self.chain_id, self.height, self.round, self.type, self.block_hash
        )


class CommitSig(msgspec.Struct, array_like=True, frozen=True):
    validator: PubKey
    signature: Sig


class CommitCertificate(msgspec.Struct, array_like=True, frozen=True):
    """Precommits of more than 2/3 of the voting power for one block."""

    version: int
    chain_id: ChainId
    height: int
    round: int
    block_hash: Hash
    signatures: list[CommitSig]

    def validate(self) -> None:
        check_version(self)


class _BlockParts(msgspec.Struct, array_like=True):
    """A `Block` with its header and transactions left as their bytes (`decode_block`)."""

    header: msgspec.Raw
    txs: list[msgspec.Raw]


_parts_decoder = msgspec.msgpack.Decoder(_BlockParts)


def decode_block(
    data: bytes,
    known: Callable[[bytes], Transaction | None] | None = None,
    *,
    max_size: int,
) -> Block:
    """`codec.decode(data, Block, max_size=...)`, as strict, reusing transactions already held.

    A validator has nearly every transaction of a proposal in its mempool, decoded, checked
    and hashed on arrival. `known(tx_hash)` may return such a transaction: it is used in
    place of decoding the block's copy only when its canonical bytes are the very bytes in
    the block (so the result is the same object a fresh decode would equal). Every other
    transaction is decoded with `decode_tx` (strict, canonical, validated); the header with
    `codec.decode`; and the block's bytes must be exactly the canonical encoding of the
    parts, as `codec.decode` requires. Whatever `decode` refuses is refused here with its
    own message (the slow path is taken to report it).
    """
    if known is None or type(data) is not bytes or len(data) > max_size:
        return decode(data, Block, max_size=max_size)
    try:
        parts = _parts_decoder.decode(data)
        head = bytes(parts.header)
        header = decode(head, BlockHeader)
        raws = [bytes(r) for r in parts.txs]
        txs = [_known_or_decoded(raw, known) for raw in raws]
    except (msgspec.DecodeError, CodecError):
        return decode(data, Block, max_size=max_size)  # refuses, with decode's message
    if data != b"\x92" + head + encode_list(raws):  # canonical as a whole, not only in parts
        return decode(data, Block, max_size=max_size)
    return Block(header, txs)


def _known_or_decoded(raw: bytes, known: Callable[[bytes], Transaction | None]) -> Transaction:
    # The hash from the bytes: 0x92 + body + signature as msgpack bin 8 (0xc4, length).
    # A wrong guess of the layout only misses: a reused transaction must match byte for byte.
    n = raw[-65] if len(raw) > 66 and raw[-66] == 0xC4 else -1
    if n == 64:
        tx = known(tx_hash_of_body(raw[1:-66]))
        if tx is not None and tx.encoded() == raw:
            return tx
    return decode_tx(raw)
