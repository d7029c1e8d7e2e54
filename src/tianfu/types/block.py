"""Block headers, blocks, votes, commit certificates and validator sets.

Block time is BFT time: a precommit for a block carries its signer's clock reading
(`Vote.time_ms`, signed), clamped by the signer to at least that block's time + 1 ms; the
header of block H carries the commit certificate of H - 1 (`last_commit`), and H's time
is the voting-power-weighted median of that certificate's times (`median_time`). Block 1
is dated at the genesis time. Every node checks a block's time from the block alone,
without its own clock, and no validator set with less than 1/3 of the power can move it
outside the range of the honest signers' clocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec

from tianfu.codec import (
    CodecError,
    HashSuite,
    check_version,
    current_hash,
    decode,
    encode,
    encode_list,
    hash_domain,
)
from tianfu.types.tx import ChainId, PubKey, Sig, Transaction, decode_tx, tx_hash_of_body

Hash = Annotated[bytes, msgspec.Meta(max_length=32)]
NO_HASH = b""

PREVOTE = 1
PRECOMMIT = 2
MAX_TIME_MS = (1 << 53) - 1  # a clock reading in ms (an exact integer in JSON clients)
# A height, round or transaction count of a header, vote or certificate (blocks.md): at most
# 2^53 - 1 as a time, so every verifier (a browser's reads numbers) reads it exactly.
MAX_COUNT = (1 << 53) - 1
MAX_COMMIT_SIGS = 1024  # signatures in one certificate (max_validators is at most this)


class BlockBodyMismatch(ValueError):
    """A block whose transactions are not the ones its header commits to (`tx_count`,
    `tx_root`): these bytes are not the block of the header's hash, which says nothing of
    that block itself."""


class BlockHeader(msgspec.Struct, array_like=True, frozen=True, dict=True):
    """A block's header.

    Its hash is computed at most once per object and hash suite and kept in the instance's
    `__dict__`, which is not a field: equality, `hash()` and the encoding see the fields
    only. The struct is frozen, so the kept hash stays its hash (its certificate's lists
    must not be mutated in place). A block's header is hashed when it is stored and again
    as the next block's `prev_hash`.
    """

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
    # The certificate of height - 1 whose median time dates this block (None at height 1;
    # always encoded: `codec.decode` refuses a header without it as non-canonical).
    last_commit: CommitCertificate | None = None

    def validate(self) -> None:
        check_version(self)
        if not (1 <= self.height <= MAX_COUNT and 0 <= self.tx_count <= MAX_COUNT):
            raise ValueError(f"header height must be 1 … {MAX_COUNT} and tx_count 0 … {MAX_COUNT}")
        if not 0 <= self.time_ms <= MAX_TIME_MS:
            raise ValueError(f"header time {self.time_ms} is out of range")
        lc = self.last_commit
        if self.height == 1:
            if lc is not None:
                raise ValueError("block 1 carries no last commit")
            return
        if lc is None:
            raise ValueError(f"block {self.height} carries no commit of height {self.height - 1}")
        lc.validate()
        if lc.height != self.height - 1 or lc.chain_id != self.chain_id:
            raise ValueError("the last commit is not of the previous height of this chain")
        if lc.block_hash != self.prev_hash:
            raise ValueError("the last commit does not commit the previous block (prev_hash)")

    @property
    def hash(self) -> bytes:
        suite = current_hash()
        kept: tuple[HashSuite, bytes] | None = self.__dict__.get("_hash")
        if kept is not None and kept[0] is suite:
            return kept[1]
        h = hash_domain("tianfu/header/v2", encode(self))
        self.__dict__["_hash"] = (suite, h)
        return h


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


class ValidatorSet(msgspec.Struct, array_like=True, frozen=True, dict=True):
    """A validator set, in order (the order is part of its hash).

    Its hash (per hash suite), total power and key indexes are computed at most once per
    object and kept in the instance's `__dict__`, which is not a field (as `BlockHeader`
    keeps its hash): a light client checks many certificates against one set, and each
    check then costs its signatures, not the set's size. The struct is frozen; its list of
    validators must not be mutated in place.
    """

    validators: list[Validator]

    @property
    def hash(self) -> bytes:
        suite = current_hash()
        kept: tuple[HashSuite, bytes] | None = self.__dict__.get("_hash")
        if kept is not None and kept[0] is suite:
            return kept[1]
        h = hash_domain("tianfu/valset/v1", encode(self))
        self.__dict__["_hash"] = (suite, h)
        return h

    @property
    def total_power(self) -> int:
        kept: int | None = self.__dict__.get("_total")
        if kept is None:
            kept = self.__dict__["_total"] = sum(v.power for v in self.validators)
        return kept

    def members(self) -> dict[bytes, Validator]:
        """Each public key's member: the last one holding it, should a key be listed twice
        (docs/spec/blocks.md#validator-sets)."""
        kept: dict[bytes, Validator] | None = self.__dict__.get("_members")
        if kept is None:
            kept = self.__dict__["_members"] = {v.public_key: v for v in self.validators}
        return kept

    def power_of_signers(self) -> dict[tuple[int, bytes], int]:
        """The power of the members holding each (scheme, public key), all of them summed."""
        kept: dict[tuple[int, bytes], int] | None = self.__dict__.get("_signer_power")
        if kept is None:
            kept = {}
            for v in self.validators:
                kept[(v.scheme, v.public_key)] = kept.get((v.scheme, v.public_key), 0) + v.power
            self.__dict__["_signer_power"] = kept
        return kept

    def quorum(self) -> int:
        """Smallest voting power strictly greater than 2/3 of the total."""
        return self.total_power * 2 // 3 + 1

    def by_key(self, public_key: bytes) -> Validator | None:
        """The member holding `public_key`: the last one, should a key be listed twice (one
        rule for the node's checks of votes and certificates and for every verifier of
        documents: docs/spec/blocks.md#validator-sets)."""
        return self.members().get(public_key)


class VoteBody(msgspec.Struct, array_like=True, frozen=True):
    chain_id: ChainId
    height: int
    round: int
    type: int  # PREVOTE or PRECOMMIT
    block_hash: Hash  # NO_HASH for nil
    time_ms: int  # the signer's time for a precommit of a block, else 0


class VoteDomain(msgspec.Struct, frozen=True):
    """What a chain's votes sign besides the vote itself, made once from its genesis
    (`Genesis.vote_domain`): the chain id, and for a genesis of version 2 its hash
    (ADR 0039), so that no vote or certificate of one chain verifies against another
    genesis of the same chain id and validator keys. `genesis_hash` is None for a genesis
    of version 1, whose votes sign the chain id alone (`tianfu/vote/v2`)."""

    chain_id: str
    genesis_hash: bytes | None = None

    @staticmethod
    def of(domain: VoteDomain | str) -> VoteDomain:
        """`domain` itself, or for a bare chain id the domain of a version-1 genesis."""
        return domain if isinstance(domain, VoteDomain) else VoteDomain(domain)


class VoteBodyV3(msgspec.Struct, array_like=True, frozen=True):
    """A vote's signed body on a chain of a version-2 genesis (`tianfu/vote/v3`)."""

    genesis_hash: Hash
    chain_id: ChainId
    height: int
    round: int
    type: int
    block_hash: Hash
    time_ms: int


def vote_signing_bytes(
    domain: VoteDomain | str,
    height: int,
    round: int,
    type: int,
    block_hash: bytes,
    time_ms: int = 0,
) -> bytes:
    """What a validator signs for a vote on the chain of `domain` (a bare chain id: of a
    version-1 genesis). `time_ms` is nonzero exactly for a precommit of a block (BFT
    time); prevotes and nil precommits sign 0."""
    d = VoteDomain.of(domain)
    if d.genesis_hash is None:
        return hash_domain(
            "tianfu/vote/v2",
            encode(VoteBody(d.chain_id, height, round, type, block_hash, time_ms)),
        )
    body = VoteBodyV3(d.genesis_hash, d.chain_id, height, round, type, block_hash, time_ms)
    return hash_domain("tianfu/vote/v3", encode(body))


def check_vote_time(type: int, block_hash: bytes, time_ms: int) -> None:
    """Raise ValueError unless `time_ms` is a clock reading iff the vote is a precommit of
    a block (and 0 otherwise), so that each vote has exactly one signed form."""
    if type == PRECOMMIT and block_hash:
        if not 0 < time_ms <= MAX_TIME_MS:
            raise ValueError(f"a precommit of a block needs a time in (0, {MAX_TIME_MS}]")
    elif time_ms != 0:
        raise ValueError("only a precommit of a block carries a time")


class Vote(msgspec.Struct, array_like=True, frozen=True):
    version: int
    chain_id: ChainId
    height: int
    round: int
    type: int
    block_hash: Hash
    time_ms: int  # BFT time: the signer's clock for a precommit of a block, else 0
    validator: PubKey
    signature: Sig

    def validate(self) -> None:
        check_version(self)
        if self.type not in (PREVOTE, PRECOMMIT):
            raise ValueError(f"unknown vote type {self.type}")
        if not (1 <= self.height <= MAX_COUNT and 0 <= self.round <= MAX_COUNT):
            raise ValueError(f"vote height must be 1 … {MAX_COUNT} and round 0 … {MAX_COUNT}")
        check_vote_time(self.type, self.block_hash, self.time_ms)

    def signing_bytes(self, domain: VoteDomain) -> bytes:
        """The bytes this vote signed on the chain of `domain` (whose chain id it names:
        checked where the vote is taken)."""
        return vote_signing_bytes(
            VoteDomain(self.chain_id, domain.genesis_hash),
            self.height,
            self.round,
            self.type,
            self.block_hash,
            self.time_ms,
        )


class CommitSig(msgspec.Struct, array_like=True, frozen=True):
    """One precommit in a certificate: its signer, its time (signed) and signature."""

    validator: PubKey
    time_ms: int
    signature: Sig


class CommitCertificate(msgspec.Struct, array_like=True, frozen=True):
    """Precommits of more than 2/3 of the voting power for one block."""

    version: int
    chain_id: ChainId
    height: int
    round: int
    block_hash: Hash
    signatures: Annotated[list[CommitSig], msgspec.Meta(max_length=MAX_COMMIT_SIGS)]

    def validate(self) -> None:
        check_version(self)
        if not (1 <= self.height <= MAX_COUNT and 0 <= self.round <= MAX_COUNT):
            raise ValueError(f"certificate height must be 1 … {MAX_COUNT}, round 0 … {MAX_COUNT}")
        if len(self.block_hash) != 32:
            raise ValueError("a certificate's block hash is 32 bytes")
        for cs in self.signatures:
            if not 0 < cs.time_ms <= MAX_TIME_MS:
                raise ValueError(f"certificate signature time {cs.time_ms} is out of range")

    def signing_bytes(self, cs: CommitSig, domain: VoteDomain) -> bytes:
        """The bytes `cs` signed: its precommit of this certificate's block, at its time,
        on the chain of `domain` (whose chain id the certificate names: checked where the
        certificate is taken)."""
        return vote_signing_bytes(
            VoteDomain(self.chain_id, domain.genesis_hash),
            self.height,
            self.round,
            PRECOMMIT,
            self.block_hash,
            cs.time_ms,
        )


def median_time(cert: CommitCertificate, validators: ValidatorSet) -> int:
    """BFT time: the voting-power-weighted median of the certificate's precommit times.

    The times sorted (ties by validator key), the first at which the accumulated power
    exceeds half the power in the certificate. With less than 1/3 of the total power
    faulty and more than 2/3 in the certificate, the median is a time some honest signer
    gave, or lies between two. Raises ValueError for a signer outside `validators` or an
    empty certificate (a verified certificate has neither).
    """
    power = {v.public_key: v.power for v in validators.validators}
    weighted = []
    for cs in cert.signatures:
        p = power.get(cs.validator)
        if p is None:
            raise ValueError("certificate signer outside the validator set")
        weighted.append((cs.time_ms, cs.validator, p))
    if not weighted:
        raise ValueError("empty certificate has no time")
    weighted.sort()
    half = sum(p for _, _, p in weighted) // 2
    acc = 0
    for t, _, p in weighted:
        acc += p
        if acc > half:
            return t
    raise AssertionError("unreachable: the accumulated power exceeds half at the end")


class _BlockParts(msgspec.Struct, array_like=True):
    """A `Block` with its header and transactions left as their bytes (`decode_block`)."""

    header: msgspec.Raw
    txs: list[msgspec.Raw]


_parts_decoder = msgspec.msgpack.Decoder(_BlockParts)


def split_block(data: bytes, *, max_size: int) -> tuple[BlockHeader, list[bytes]] | None:
    """The header and the transactions' bytes of an encoded block, the transactions left
    undecoded; None unless `data` (at most `max_size` bytes) is exactly the canonical
    encoding of a header and a list of byte strings, so that the two parts determine it."""
    if type(data) is not bytes or not data or len(data) > max_size:
        return None
    try:
        parts = _parts_decoder.decode(data)
        head = bytes(parts.header)
        header = decode(head, BlockHeader)
        raws = [bytes(r) for r in parts.txs]
    except (msgspec.MsgspecError, ValueError, RecursionError):  # (CodecError: a ValueError)
        return None
    if data != b"\x92" + head + encode_list(raws):
        return None
    return header, raws


def block_time_of(data: bytes) -> int:
    """The header time of an encoded block, decoding only its header (raises CodecError)."""
    try:
        head = bytes(_parts_decoder.decode(data).header)
    except msgspec.DecodeError as exc:
        raise CodecError(f"malformed Block: {exc}") from None
    return decode(head, BlockHeader).time_ms


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
        # refuses, with decode's message (map keys built to share a hash are refused before
        # they are decoded: `tianfu.codec_scan`)
        return decode(data, Block, max_size=max_size)
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
