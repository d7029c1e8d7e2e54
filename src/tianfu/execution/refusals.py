"""Why a transaction can never be in a block: the typed refusals of admission and execution."""

from __future__ import annotations


class TxInvalid(ValueError):
    """A transaction that can never be included in a block (bad signature, wrong chain,
    expired, replayed). A block holding one is invalid."""


class BadSignature(TxInvalid):
    """The signature does not verify: whoever sends the transaction made or altered it (an
    honest node only passes on transactions whose signatures it checked)."""


class AccessRefused(TxInvalid):
    """Open profile: a signer without a member certificate may not send this transaction
    (an unregistered account, a bad registration proof of work, a contract not open)."""


class QuotaExceeded(AccessRefused):
    """Open profile: the account's gas quota is used up until enough blocks replenish it."""

    def __init__(self, message: str, *, available: int, needed_blocks: int) -> None:
        super().__init__(message)
        self.available = available
        self.needed_blocks = needed_blocks
