"""The ledger as the source of proof bundles: a `ChainReader` over its store and state."""

from __future__ import annotations

from tianfu.ledger.ledger import Ledger
from tianfu.proofs.build import ProofBuilder
from tianfu.state import MerkleState
from tianfu.types import Block, BlockHeader, CommitCertificate, Genesis, Receipt


class LedgerReader:
    """`tianfu.proofs.build.ChainReader` over a node's ledger (reads only)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.genesis: Genesis = ledger.genesis
        self.state: MerkleState = ledger.state

    def height(self) -> int:
        return self.ledger.store.height()

    def header(self, height: int) -> BlockHeader | None:
        return self.ledger.store.load_header(height)

    def certificate(self, height: int) -> CommitCertificate | None:
        return self.ledger.store.load_cert(height)

    def block(self, height: int) -> Block | None:
        return self.ledger.store.load_block(height)

    def receipts(self, height: int) -> list[Receipt] | None:
        return self.ledger.store.load_receipts(height)

    def tx_position(self, tx_hash: bytes) -> tuple[int, int] | None:
        return self.ledger.store.tx_position(tx_hash)


def ledger_proofs(ledger: Ledger) -> ProofBuilder:
    return ProofBuilder(LedgerReader(ledger))
