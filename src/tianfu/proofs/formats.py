"""The binary proof bundle: certified headers, the validator-set chain and Merkle proofs.

One struct carries everything a verifier needs, trusting only the genesis: the chain of
proven validator-set changes up to the proven blocks (`validators`), and per proven block
its header with the commit certificate, transactions with their receipts (binary Merkle
paths to the block's tx and receipts roots) and state entries (sparse Merkle proofs to its
state root). Every nested chain object is kept as its own canonical bytes, decoded on its
own with `tianfu.codec.decode`, so each part is exactly one byte string. The readable JSON
documents (`tianfu.proofs.documents`) wrap the hex of `encode(ProofBundle)`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tianfu.codec import check_version

BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 16 << 20  # a bundle decoded from outside is refused beyond this size
MAX_LINKS = 4096  # validator-set changes in one chain
MAX_BLOCKS = 1024  # proven blocks in one bundle (history versions)
MAX_ITEMS = 1024  # transactions or entries proven in one block
MAX_STATE_KEY = 4096  # bytes of a proven state key
MAX_PART_BYTES = 1 << 20  # each part held as bytes, a proven value too (proofs.md#bundle)

Hash32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Path = Annotated[list[Hash32], msgspec.Meta(max_length=64)]
StateKey = Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_STATE_KEY)]
Index = Annotated[int, msgspec.Meta(ge=0, le=(1 << 31) - 1)]


class BundleError(ValueError):
    """A structurally invalid bundle (beyond what the codec checks)."""


class LightBlock(msgspec.Struct, array_like=True, frozen=True):
    """A block header with its commit certificate.

    `signers` is the canonical `ValidatorSet` of that height when the block is reached by
    skipping (CometBFT-style: more than 1/3 of a trusted set signed it); otherwise empty.
    """

    header: bytes  # canonical BlockHeader
    certificate: bytes  # canonical CommitCertificate
    signers: bytes = b""  # canonical ValidatorSet (skipping links only)


class ValidatorLink(msgspec.Struct, array_like=True, frozen=True):
    """One step of the validator-set chain: a certified block and the Merkle proof of the
    `governance/validators` entry in its state (its value, or None when absent: the genesis
    set), whose leaf records the height of the set's last change and of the one before."""

    block: LightBlock
    value: bytes | None  # the entry's value bytes (canonical msgpack of the records)
    proof: bytes  # canonical StateProof of state_key("governance", "validators")


class TxInclusion(msgspec.Struct, array_like=True, frozen=True):
    """A transaction and its receipt at `index` of a block, with both Merkle paths."""

    index: Index
    tx: bytes  # canonical Transaction
    tx_path: Path  # tianfu.crypto.merkle.merkle_proof order, to the header's tx_root
    receipt: bytes  # canonical Receipt
    receipt_path: Path  # to the header's receipts_root


class EntryProof(msgspec.Struct, array_like=True, frozen=True):
    """A state entry of a block: the raw state key, its value (None: absent) and the proof."""

    key: StateKey  # contract + "/" + key, or a reserved key (tianfu.state.keys)
    value: bytes | None
    proof: bytes  # canonical StateProof


class BlockProof(msgspec.Struct, array_like=True, frozen=True):
    block: LightBlock
    txs: Annotated[list[TxInclusion], msgspec.Meta(max_length=MAX_ITEMS)]
    entries: Annotated[list[EntryProof], msgspec.Meta(max_length=MAX_ITEMS)]


class ProofBundle(msgspec.Struct, array_like=True, frozen=True):
    """Everything a verifier needs, trusting only the genesis (see the module docstring).

    `validators` are the links of the validator-set chain in ascending height; `blocks`
    the proven blocks (their meaning is given by the document's kind).
    """

    version: int
    validators: Annotated[list[ValidatorLink], msgspec.Meta(max_length=MAX_LINKS)]
    blocks: Annotated[list[BlockProof], msgspec.Meta(min_length=1, max_length=MAX_BLOCKS)]

    def validate(self) -> None:
        check_version(self, BUNDLE_VERSION)
