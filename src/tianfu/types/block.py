"""Block headers, blocks, votes, commit certificates and validator sets."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tianfu.codec import check_version, encode, hash_domain
from tianfu.types.tx import ChainId, PubKey, Sig, Transaction

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
