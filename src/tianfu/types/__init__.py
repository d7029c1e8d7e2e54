"""Data types that are hashed, signed, stored and sent: transactions, blocks, votes."""

from tianfu.types.block import (
    NO_HASH,
    PRECOMMIT,
    PREVOTE,
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Validator,
    ValidatorSet,
    Vote,
    vote_signing_bytes,
)
from tianfu.types.genesis import (
    ConsensusParams,
    Genesis,
    OpenGenesis,
    OpenProfile,
    OrgConfig,
    Policies,
    StakeGrant,
    decode_genesis,
)
from tianfu.types.tx import FAILED, OK, Event, Receipt, Transaction, TxBody, tx_hash
from tianfu.types.values import ValueTypeError, check_value

__all__ = [
    "FAILED",
    "NO_HASH",
    "OK",
    "PRECOMMIT",
    "PREVOTE",
    "Block",
    "BlockHeader",
    "CommitCertificate",
    "CommitSig",
    "ConsensusParams",
    "Genesis",
    "OpenGenesis",
    "OpenProfile",
    "StakeGrant",
    "decode_genesis",
    "OrgConfig",
    "Policies",
    "Event",
    "Receipt",
    "Transaction",
    "TxBody",
    "Validator",
    "ValidatorSet",
    "ValueTypeError",
    "Vote",
    "check_value",
    "tx_hash",
    "vote_signing_bytes",
]
