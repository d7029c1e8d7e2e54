"""Applying a batch of blocks fetched from a peer (block sync's worker thread, under the
commit lock): each block's certificate verified, the block executed and committed, the
blocks that pass stored in one store transaction, and why the batch stopped early.

What stops a batch says whose fault it is (`BlockSyncer._apply_batch` acts on it): a
certificate that does not verify, an invalid block or a block of another height
(`PeerMisbehaved`) is the peer's; a store error or another failure of our host
(`host_read_failure`: a state read, SQLite's own error, an OSError, no memory) is ours.
A block whose commit fails on our host takes the whole batch back (`BatchTakenBack`): its
rows may be in the batch's store transaction already.
"""

from __future__ import annotations

import threading

from tianfu.crypto import CertificateError, verify_commit
from tianfu.execution.errors import host_read_failure
from tianfu.ledger import InvalidBlock, Ledger
from tianfu.ledger.ledger import ExecutedBlock
from tianfu.store import StoreError
from tianfu.sync import checkproc, precheck
from tianfu.sync.messages import BlockWithCert
from tianfu.sync.precheck import Prechecked
from tianfu.sync.session import Outcome, SyncConfig


class SyncError(Exception):
    """Base class of block-sync errors."""


class PeerMisbehaved(SyncError):
    """A peer sent something that no honest peer sends (bad block, certificate, encoding)."""


class BatchTakenBack(StoreError):
    """A block's commit failed on our host (its store or memory) inside the batch's store
    transaction, after some of its rows may have been written: the batch is rolled back
    whole (nothing of it is stored or announced), as for a write that failed."""


def apply_items(
    ledger: Ledger,
    commit_lock: threading.Lock,
    config: SyncConfig,
    items: list[BlockWithCert],
    from_height: int,
    ahead: precheck.Checks | None = None,
) -> Outcome:
    """(worker thread) Verify, execute and commit `items` in order, from `from_height`,
    up to the first that fails. The blocks that pass are stored in one store
    transaction, durable together at the end (`Ledger.grouped_commits`: one COMMIT, one
    fsync; blocks from peers can be fetched again, so a crash that takes back the batch
    loses nothing acknowledged, and every block of it is checked on its own)."""
    out = Outcome()
    checks = ahead or precheck.Checks()  # Checks(): every check in line
    if ahead is None and config.check_ahead and ledger.height + 1 == from_height:
        checks = check_ahead(ledger, config, items, from_height)
    try:
        # Started and the first answer waited for before the lock that consensus
        # stores its blocks under: a stopped checking process costs it no time.
        checks.first()
        with commit_lock:
            if ledger.height + 1 != from_height:
                return out  # the ledger moved on while the batch was in flight
            with ledger.grouped_commits():
                for i, item in enumerate(items):
                    h = out.failed_height = from_height + i
                    got = item.block.header.height
                    if got != h:  # the certificate's height: verify_commit
                        out.failure = PeerMisbehaved(f"sent block {got} where {h} was due")
                        break
                    try:
                        checked = checks.get(i)
                        out.applied.append(verify_and_commit(ledger, item, h, checked))
                    except BatchTakenBack:
                        raise  # (out of the group: it is rolled back)
                    except Exception as exc:
                        if not isinstance(
                            exc, (StoreError, CertificateError, InvalidBlock)
                        ) and not host_read_failure(exc):
                            raise
                        out.failure = exc  # (a host fault: our own, as a StoreError)
                        break
    except StoreError as exc:  # the batch's COMMIT, or a block's, failed: none is stored
        out.applied = []
        out.failure, out.failed_height = exc, from_height
    finally:
        checks.cancel()
    return out


def check_ahead(
    ledger: Ledger, config: SyncConfig, items: list[BlockWithCert], from_height: int
) -> precheck.Checks:
    """Start the checks of `items` ahead: in the checking process if it is ready, else
    in the checking thread."""
    guesses = precheck.guesses(ledger, items, from_height)
    if config.check_in_process and (process := checkproc.shared()).ready():
        return process.submit(items, from_height, guesses, ledger.executor, config.check_wait_s)
    return precheck.submit(items, from_height, guesses, ledger.vote_domain, ledger.executor)


def verify_and_commit(
    ledger: Ledger, item: BlockWithCert, height: int, checked: Prechecked
) -> ExecutedBlock:
    """(worker thread, under the commit lock) One block: certificate, execution, commit."""
    block = item.block
    validators = ledger.validator_set(height)
    if not checked.cert_checked(validators):
        verify_commit(item.cert, block.hash, height, validators, ledger.vote_domain)
    executed = ledger.execute(
        block,
        verified=checked.tx_checked(height, ledger.params(height)),
        last_commit_checked=checked.last_commit_checked,
    )
    try:
        ledger.commit(executed, item.cert)
    except Exception as exc:  # our store or host: part of the block may be in the group
        if not isinstance(exc, StoreError) and not host_read_failure(exc):
            raise
        raise BatchTakenBack(
            f"{type(exc).__name__}: {exc}; the batch taken back: none of it is stored"
        ) from None
    return executed
