"""Signature checks of synced blocks in a worker thread, ahead of their execution.

While the syncer executes and commits one block, the next blocks' commit certificates,
their headers' `last_commit` certificates and their transactions' static checks
(`Executor.check_static`: chain, scheme, signature) run here, on another core (libsodium
releases the GIL). A check only ever *saves* work: `Prechecked` says which checks passed
and against which validator set, and the syncer skips a check only when it passed against
exactly the validator set and transaction that the block's execution uses (compared by
value); any other case (a failed check, a validator set guessed before it was known) is
checked again, in line, exactly as without this module, with the same outcome and error.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from tianfu.crypto import CertificateError, verify_commit
from tianfu.execution.executor import Executor
from tianfu.execution.refusals import TxInvalid
from tianfu.ledger import Ledger
from tianfu.sync import threads
from tianfu.sync.messages import BlockWithCert
from tianfu.types import CommitCertificate, ConsensusParams, Transaction, ValidatorSet, VoteDomain


def _worker() -> ThreadPoolExecutor:
    """The process's one checking thread (shared by every syncer; started on first use)."""
    return threads.pool("sync-precheck", 1)


@dataclass(frozen=True)
class Guess:
    """What a block of the batch is checked against before the blocks under it are stored:
    the validator sets and parameters known now (exact up to the stored height + 2)."""

    validators: ValidatorSet  # for the block's certificate
    prev_validators: ValidatorSet | None  # for its header's last_commit (None at height 1)
    params: ConsensusParams  # for `check_static` (its window is checked again anyway)


@dataclass
class Prechecked:
    """The checks of one block that passed, and the validator sets they passed against."""

    cert_validators: ValidatorSet | None = None
    last_commit_validators: ValidatorSet | None = None
    # Hash -> the transaction that passed `check_static`: the first of the block with that
    # hash (a later one with the same hash is a replay, refused before its signature).
    txs: dict[bytes, Transaction] = field(default_factory=dict)

    def cert_checked(self, validators: ValidatorSet) -> bool:
        return self.cert_validators is not None and self.cert_validators == validators

    def last_commit_checked(self, validators: ValidatorSet) -> bool:
        return self.last_commit_validators is not None and self.last_commit_validators == validators

    def tx_checked(self, height: int, params: ConsensusParams) -> Callable[[Transaction], bool]:
        """`Ledger.execute`'s `verified`: True for a transaction of this block that passed
        `check_static` and whose expiry lies in the window of `params` at `height` (so the
        executor's remaining window check passes exactly as `check_static`'s would)."""
        passed = self.txs
        window = params.tx_expiry_window

        def verified(tx: Transaction) -> bool:
            return passed.get(tx.hash) is tx and height <= tx.body.expiry <= height + window

        return verified


def guesses(
    ledger: Ledger, items: list[BlockWithCert], from_height: int, known: int | None = None
) -> list[Guess]:
    """The validator sets and parameters to check `items` (heights from `from_height`) with
    ahead of execution: those of each height where already known (up to `known`: the
    stored height + 2, by default that of a ledger at `from_height` - 1), else the latest
    known."""
    known = from_height + 1 if known is None else known

    def vals(h: int) -> ValidatorSet:
        return ledger.validator_set(min(h, known))

    return [
        Guess(vals(h), vals(h - 1) if h > 1 else None, ledger.params(min(h, known)))
        for h in range(from_height, from_height + len(items))
    ]


def _commit_ok(
    cert: CommitCertificate, block_hash: bytes, height: int, vals: ValidatorSet, domain: VoteDomain
) -> bool:
    try:
        verify_commit(cert, block_hash, height, vals, domain)
    except CertificateError:
        return False
    return True


class Verified:
    """The certificate a batch's checks verified last, and the arguments it passed with.

    A block's header carries a certificate of the block before it (`last_commit`), which is
    usually the very certificate that block came with; `verify_commit` is a function of
    its arguments (certificate, block hash, height, validators, chain), so a call with
    arguments equal to those of a call that passed passes, and its signatures are not
    verified a second time. Used by one thread at a time, one per batch."""

    def __init__(self) -> None:
        self._last: tuple[CommitCertificate, bytes, int, ValidatorSet, VoteDomain] | None = None

    def commit_ok(
        self,
        cert: CommitCertificate,
        block_hash: bytes,
        height: int,
        vals: ValidatorSet,
        domain: VoteDomain,
    ) -> bool:
        args = (cert, block_hash, height, vals, domain)
        if args == self._last:
            return True
        if not _commit_ok(*args):
            return False
        self._last = args
        return True


def precheck(
    item: BlockWithCert,
    height: int,
    guess: Guess,
    domain: VoteDomain,
    executor: Executor,
    verified: Verified | None = None,
) -> Prechecked:
    """The checks of `item` (block `height`) that pass with `guess`; see the module doc.
    `verified`: the batch's memory of the certificate verified last (the blocks of a batch
    are checked in order, each `last_commit` before the block's own certificate)."""
    commit_ok = (verified or Verified()).commit_ok
    out = Prechecked()
    block = item.block
    header = block.header
    prev = guess.prev_validators
    if (
        prev is not None
        and header.last_commit is not None
        and commit_ok(header.last_commit, header.prev_hash, height - 1, prev, domain)
    ):
        out.last_commit_validators = prev
    if commit_ok(item.cert, block.hash, height, guess.validators, domain):
        out.cert_validators = guess.validators
    seen: set[bytes] = set()
    for tx in block.txs:
        tx_hash = tx.hash
        if tx_hash in seen:
            continue
        seen.add(tx_hash)
        try:
            executor.check_static(tx, height, guess.params)
        except TxInvalid:
            continue
        out.txs[tx_hash] = tx
    return out


class Checks:
    """The checks of a batch made ahead: `get(i)` waits for those of its block `i`."""

    def first(self) -> None:
        """Wait for the first block's checks (before the commit lock is taken)."""

    def get(self, index: int) -> Prechecked:
        return Prechecked()  # nothing checked ahead: every check in line

    def cancel(self) -> None:
        """The batch ended: the checks not yet made are not needed."""


class ThreadChecks(Checks):
    def __init__(self, futures: list[Future[Prechecked]]) -> None:
        self.futures = futures

    def get(self, index: int) -> Prechecked:
        return self.futures[index].result()

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()


def submit(
    items: list[BlockWithCert],
    from_height: int,
    guesses: list[Guess],
    domain: VoteDomain,
    executor: Executor,
) -> ThreadChecks:
    """Start the checks of `items` (heights from `from_height`) in the checking thread, in
    order, each in a copy of the caller's context (the chain's crypto suite)."""
    pool = _worker()
    verified = Verified()  # used by the one checking thread, block after block
    return ThreadChecks(
        [
            pool.submit(
                contextvars.copy_context().run,
                precheck,
                item,
                from_height + i,
                guess,
                domain,
                executor,
                verified,
            )
            for i, (item, guess) in enumerate(zip(items, guesses, strict=True))
        ]
    )
