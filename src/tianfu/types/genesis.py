"""Genesis: the consortium configuration every node starts from."""

from __future__ import annotations

import msgspec

from tianfu.codec import check_version, encode, hash_domain
from tianfu.types.block import Validator, ValidatorSet


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

    def validate(self) -> None:
        check_version(self)
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

    @property
    def hash(self) -> bytes:
        return hash_domain("tianfu/genesis/v1", encode(self))

    @property
    def validator_set(self) -> ValidatorSet:
        return ValidatorSet(list(self.validators))
