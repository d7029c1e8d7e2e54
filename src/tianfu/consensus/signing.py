"""Durable signing for the driver: the signer's fsync, then the WAL's, and restart recovery.

`sign_durably` signs one `SignVote` / `SignProposal` with the `FilePrivValidator` (which
persists the last signed position before it returns), appends the signed message to the
consensus WAL and fsyncs it: both durable before the message is fed back to the core,
hence before `Broadcast`. At start, `advance_signer_from_wal` moves the signer to the
newest message of ours in the WAL (the signer state's newest copy may have been lost),
and `guard_for_restart` makes the `SignGuard` a node needs when its signer state may be
older than what its key signed (`tianfu.consensus.signguard`).
"""

from __future__ import annotations

from tianfu.consensus.interfaces import StoreLike
from tianfu.consensus.messages import Event, ProposalReceived, SignProposal, SignVote, VoteReceived
from tianfu.consensus.privval import STEP_PROPOSAL, FilePrivValidator
from tianfu.consensus.signguard import SignGuard, restart_guard
from tianfu.consensus.wal import ConsensusWAL, WalEntry, WalProposal, WalVote
from tianfu.types import PREVOTE, CommitCertificate, ValidatorSet


def step_of(a: SignVote | SignProposal) -> int:
    """The signer's step number of an action: 1 prevote, 2 precommit, STEP_PROPOSAL."""
    if isinstance(a, SignVote):
        return 1 if a.type == PREVOTE else 2
    return STEP_PROPOSAL


def sign_durably(
    pv: FilePrivValidator,
    wal: ConsensusWAL,
    chain_id: str,
    a: SignVote | SignProposal,
    time_ms: int = 0,
) -> tuple[Event, OSError | None]:
    """(worker thread) Sign (the signer persists first), then append to the WAL and fsync.
    Returns the signed message as an event and the WAL's error, if any (the signature
    stands: the signer has recorded it). Raises `DoubleSignRefused` from the signer."""
    event: Event
    if isinstance(a, SignVote):
        vote = pv.sign_vote(chain_id, a.height, a.round, a.type, a.block_hash, time_ms)
        entry: WalEntry = WalVote(vote)
        event = VoteReceived(vote)
    else:
        p = pv.sign_proposal(chain_id, a.height, a.round, a.pol_round, a.block_hash, a.block)
        entry, event = WalProposal(p), ProposalReceived(p)
    try:
        wal.append(entry, sync=True)
    except OSError as exc:
        return event, exc
    return event, None


def advance_signer_from_wal(pv: FilePrivValidator, entries: list[WalEntry]) -> None:
    """If the WAL holds a message of ours newer than the signer's state (the state's
    newest copy was lost), the signer takes it as its last signed position."""
    best: tuple[tuple[int, int, int], bytes, bytes, int] | None = None
    for e in entries:
        if isinstance(e, WalVote) and e.vote.validator == pv.public_key:
            v = e.vote
            hrs = (v.height, v.round, 1 if v.type == PREVOTE else 2)
            item = (hrs, v.signing_bytes(), v.signature, v.time_ms)
        elif isinstance(e, WalProposal) and e.proposal.proposer == pv.public_key:
            p = e.proposal
            item = ((p.height, p.round, STEP_PROPOSAL), p.signing_bytes(), p.signature, 0)
        else:
            continue
        if best is None or item[0] > best[0]:
            best = item
    last = pv.last_hrs()
    if best is not None and (last is None or best[0] > last):
        pv.advance_to(*best[0], best[1], best[2], best[3])


def guard_for_restart(
    pv: FilePrivValidator,
    entries: list[WalEntry],
    store: StoreLike,
    store_height: int,
    validators: ValidatorSet,
    *,
    now: float,
    listen_s: float,
    check_heights: int,
) -> SignGuard | None:
    """A `SignGuard` if the signer state may be older than what the key signed."""
    own = []
    for e in entries:
        if isinstance(e, WalVote) and e.vote.validator == pv.public_key:
            own.append((e.vote.height, e.vote.round))
        elif isinstance(e, WalProposal) and e.proposal.proposer == pv.public_key:
            own.append((e.proposal.height, e.proposal.round))
    recent = range(max(1, store_height - check_heights + 1), store_height + 1)
    certs: list[CommitCertificate | None] = [store.load_cert(h) for h in recent]
    for h in recent:
        header = store.load_header(h + 1)
        certs.append(header.last_commit if header is not None else None)
    return restart_guard(
        my_key=pv.public_key,
        recovery=pv.recovery,
        last_hrs=pv.last_hrs(),
        own_in_wal=own,
        store_height=store_height,
        certificates=[c for c in certs if c is not None],
        powers={v.public_key: v.power for v in validators.validators},
        now=now,
        listen_s=listen_s,
    )
