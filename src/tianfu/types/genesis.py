"""Genesis: the consortium configuration every node starts from."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tianfu.codec import HASH_SUITES, check_version, encode, hash_domain, hash_scope
from tianfu.types.block import Validator, ValidatorSet, VoteDomain
from tianfu.types.suites import SUITE_HASHES, SUITE_SCHEMES, hash_for_scheme

__all__ = ["SUITE_HASHES", "SUITE_SCHEMES", "hash_for_scheme"]

# The crypto suites a genesis may name (`Genesis.suite`): see `tianfu.types.suites`.


# Genesis versions (docs/spec/blocks.md#genesis): 1, whose chain's votes sign the chain id
# (`tianfu/vote/v2`), and 2, whose votes also sign the genesis hash (`tianfu/vote/v3`, ADR
# 0039). New geneses are of the newest version; a version-1 genesis keeps its chain.
GENESIS_VERSIONS = (1, 2)
GENESIS_VERSION = 2

# The largest canonical encoding of one transaction's receipt (result, error and events).
# Execution keeps every receipt within it; a block's receipt budget
# (`ConsensusParams.max_block_receipt_bytes`) is never below it, so any one transaction's
# receipt fits in a block of its own.
MAX_TX_RECEIPT_BYTES = 1 << 20


class OrgConfig(msgspec.Struct, array_like=True, frozen=True):
    name: str
    ca_cert: bytes  # DER of the organisation's CA certificate


class ConsensusParams(msgspec.Struct, array_like=True, frozen=True):
    max_block_txs: int = 5000
    max_block_bytes: int = 8 << 20
    block_interval_ms: int = 100  # shortest time between blocks when transactions wait
    empty_block_interval_ms: int = 1000  # when idle, a proposer waits this long for transactions
    timeout_propose_ms: int = 2000
    timeout_vote_ms: int = 500
    timeout_delta_ms: int = 500  # added per round
    tx_expiry_window: int = 1000  # a tx may name an expiry at most this many blocks ahead
    max_gas_per_tx: int = 1_000_000
    # Governance (ADR 0012): a proposal not decided within this many blocks expires;
    # bounds on the validator set; whether double-sign evidence removes the validator.
    proposal_expiry_blocks: int = 10_000
    max_validator_power: int = 1_000_000
    max_validators: int = 100
    slash_double_sign: bool = False
    # Per-block budgets (ADR 0009): the sum of the receipts' gas_used, and the sum of the
    # receipts' canonical encodings. A proposer stops adding transactions before either is
    # exceeded; every validator refuses a block over them.
    max_block_gas: int = 3_000_000
    max_block_receipt_bytes: int = 32 << 20

    def validate(self) -> None:
        """The rules between parameters (governance also bounds each one). Raises ValueError."""
        if self.max_block_gas < self.max_gas_per_tx:
            raise ValueError(
                f"max_block_gas ({self.max_block_gas}) must be at least max_gas_per_tx "
                f"({self.max_gas_per_tx}): every transaction must fit in a block of its own"
            )
        if self.max_block_receipt_bytes < MAX_TX_RECEIPT_BYTES:
            raise ValueError(
                f"max_block_receipt_bytes ({self.max_block_receipt_bytes}) must be at least "
                f"{MAX_TX_RECEIPT_BYTES} (the largest receipt of one transaction)"
            )


class Policies(msgspec.Struct, array_like=True, frozen=True):
    # "majority": admins of more than half of the member organisations;
    # "two_thirds": admins of more than two thirds of them.
    contract_approval: str = "majority"
    governance: str = "two_thirds"


class Genesis(msgspec.Struct, array_like=True, frozen=True):
    version: int
    chain_id: str
    time_ms: int
    orgs: list[OrgConfig]
    validators: list[Validator]
    params: ConsensusParams = ConsensusParams()
    policies: Policies = Policies()
    # The chain's crypto suite: "standard" (Ed25519 / ECDSA P-256, SHA-256) or "sm2" (SM2
    # signatures, SM3 hashes). Fixed for the life of the chain; always encoded.
    suite: str = "standard"

    def validate(self) -> None:
        if self.version not in GENESIS_VERSIONS:
            check_version(self)  # raises CodecError, as for any unknown version
        if self.suite not in SUITE_SCHEMES:
            raise ValueError(
                f"unknown crypto suite {self.suite!r}; known: {', '.join(sorted(SUITE_SCHEMES))}"
            )
        self.params.validate()
        if not self.orgs:
            raise ValueError("genesis lists no organisation")
        if not self.validators:
            raise ValueError("genesis lists no validator")
        names = [o.name for o in self.orgs]
        if len(set(names)) != len(names):
            raise ValueError("duplicate organisation in genesis")
        vnames = [v.name for v in self.validators]
        if len(set(vnames)) != len(vnames):
            raise ValueError("duplicate validator name in genesis")
        keys = [v.public_key for v in self.validators]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate validator public key in genesis")
        for v in self.validators:
            if v.org not in names:
                raise ValueError(f"validator {v.name} belongs to unknown organisation {v.org}")
            if v.power <= 0:
                raise ValueError(f"validator {v.name} has no voting power")
            if v.scheme not in SUITE_SCHEMES[self.suite]:
                raise ValueError(
                    f"validator {v.name} has a key of scheme {v.scheme}, which the "
                    f"{self.suite!r} crypto suite does not accept"
                )

    @property
    def profile(self) -> str:
        """The network profile: "consortium" (this class) or "open" (`OpenGenesis`)."""
        return CONSORTIUM

    @property
    def open(self) -> OpenProfileV1 | None:
        """The open profile's settings (None on a consortium chain)."""
        return None

    @property
    def hash(self) -> bytes:
        """The genesis hash, with the hash of its own suite (SM3 for "sm2")."""
        with hash_scope(HASH_SUITES[SUITE_HASHES[self.suite]]):
            return hash_domain("tianfu/genesis/v1", encode(self))

    @property
    def validator_set(self) -> ValidatorSet:
        return ValidatorSet(list(self.validators))

    @property
    def vote_domain(self) -> VoteDomain:
        """What this chain's votes sign besides the vote: the chain id, and from version 2
        the genesis hash (ADR 0039). Computed at each call: callers keep it."""
        return VoteDomain(self.chain_id, self.hash if self.version >= 2 else None)


# -- the open profile -------------------------------------------------------------------------
CONSORTIUM = "consortium"
OPEN = "open"
PROFILES = (CONSORTIUM, OPEN)
# Whole-text patterns (`\Z`: a `$` would also match before a final line feed, which no
# other verifier of the genesis takes).
OPEN_CONTRACT_RE = r"^[a-z][a-z0-9_]{0,63}\Z"
Address = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{40}\Z")]


class StakeGrant(msgspec.Struct, array_like=True, frozen=True):
    """Stake units allocated at genesis to an account address (40 hex characters)."""

    address: Address
    amount: int


class OpenProfileV1(msgspec.Struct, array_like=True, frozen=True):
    """The open profile's genesis settings as first written (ADR 0025; seven fields), before
    a bond needed a proof of possession: a genesis holding them (`OpenGenesisV1`) keeps its
    bytes, hash and genesis state, and its chain needs the proof only from the height a
    governance `set_params` of `possession_height` names. The first five are the initial
    values of consensus parameters that governance changes later (`set_params`)."""

    open_contracts: list[Annotated[str, msgspec.Meta(pattern=OPEN_CONTRACT_RE)]] = []
    pow_bits: int = 16  # leading zero bits of an account registration's proof of work
    quota_gas: int = 5_000_000  # an account's gas bucket: its capacity
    quota_replenish: int = 50_000  # gas added to every account's bucket per block
    unbonding_blocks: int = 20  # blocks between an unbond and the stake's release
    slash_fraction_bps: int = 5000  # share of bonded stake burnt on a proven double sign
    stake: list[StakeGrant] = []  # the genesis allocation of the stake unit

    def validate(self) -> None:
        from tianfu.types.openparams import check_open_params

        check_open_params(self.params())
        addresses = [g.address for g in self.stake]
        if len(set(addresses)) != len(addresses):
            raise ValueError("duplicate address in the genesis stake allocation")
        for g in self.stake:
            if not 0 < g.amount <= 10**15:
                raise ValueError(f"stake grant to {g.address} must be 1 to 10**15 units")

    def params(self) -> dict[str, object]:
        """The governed parameters, as the `params` state value holds them."""
        return {
            "open_contracts": sorted(set(self.open_contracts)),
            "pow_bits": self.pow_bits,
            "quota_gas": self.quota_gas,
            "quota_replenish": self.quota_replenish,
            "unbonding_blocks": self.unbonding_blocks,
            "slash_fraction_bps": self.slash_fraction_bps,
        }


class OpenProfile(OpenProfileV1, frozen=True, array_like=True):
    """The open profile's genesis settings (eight fields): `OpenProfileV1`'s, and the height
    from which a new validator's bond must carry a proof of possession of its consensus key
    (0 by default: from the first block), a parameter governance may change later."""

    possession_height: int = 0

    def params(self) -> dict[str, object]:
        return {**super().params(), "possession_height": self.possession_height}


class OpenGenesisV1(Genesis, frozen=True, array_like=True):
    """The genesis of an open-profile chain made before the proof of possession existed: a
    consortium genesis plus its open settings of seven fields (`OpenProfileV1`), encoded
    as one more trailing field (a consortium genesis keeps its bytes and hash)."""

    open_profile: OpenProfileV1 = OpenProfileV1()

    def validate(self) -> None:
        super().validate()
        self.open_profile.validate()

    @property
    def profile(self) -> str:
        return OPEN

    @property
    def open(self) -> OpenProfileV1 | None:
        return self.open_profile


class OpenGenesis(OpenGenesisV1, frozen=True, array_like=True):
    """The genesis of an open-profile chain: a consortium genesis plus its open settings
    (`OpenProfile`, eight fields), encoded as one more trailing field."""

    open_profile: OpenProfile = OpenProfile()


_GENESIS_FIELDS = len(Genesis.__struct_fields__)
_OPEN_PROFILE_FIELDS = len(OpenProfile.__struct_fields__)


def decode_genesis(data: bytes) -> Genesis:
    """A genesis of either profile from its canonical bytes: `Genesis` (eight fields), or
    with the open profile's extra field, `OpenGenesis` when those settings have eight
    fields (`OpenProfile`), else `OpenGenesisV1` (seven, `OpenProfileV1`). Raises
    `CodecError`."""
    from tianfu.codec import CodecError, decode

    if not isinstance(data, bytes | bytearray | memoryview) or not data:
        raise CodecError("expected the bytes of a genesis")
    first = bytes(data[:1])[0]
    if 0x90 <= first <= 0x9F and first - 0x90 == _GENESIS_FIELDS + 1:
        eight = _settings_length(data) == _OPEN_PROFILE_FIELDS
        return decode(data, OpenGenesis if eight else OpenGenesisV1)
    return decode(data, Genesis)


def _settings_length(data: bytes | bytearray | memoryview) -> int | None:
    """The length of the array header of the ninth field of `data`, read without decoding
    any value (None if the input is over `decode`'s size limit, malformed, or that field is
    not an array): `decode` then refuses it, with `CodecError`. Decoding the input without
    a type instead built an object for every byte (a million empty arrays in 1 MiB), before
    the size limit, and let nesting too deep escape as `RecursionError`."""
    from tianfu.codec import DEFAULT_MAX_SIZE

    if len(data) > DEFAULT_MAX_SIZE:
        return None
    try:  # `Raw` fields: the eight first are skipped over, not built
        fields = msgspec.msgpack.decode(data, type=list[msgspec.Raw])
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(fields) <= _GENESIS_FIELDS:
        return None
    head = memoryview(fields[_GENESIS_FIELDS])[:5].tobytes()
    if head and 0x90 <= head[0] <= 0x9F:
        return head[0] - 0x90
    if len(head) >= 3 and head[0] == 0xDC:
        return int.from_bytes(head[1:3], "big")
    if len(head) >= 5 and head[0] == 0xDD:
        return int.from_bytes(head[1:5], "big")
    return None
