"""Sans-I/O Tendermint consensus core: a pure state machine `handle(event) -> list[Action]`.

Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus"
(arXiv 1807.04938), with execute-before-vote. No I/O, no clock, no randomness, no
threads: the driver feeds events (facts) and carries out the returned actions (commands),
in order. Everything is in `tianfu.consensus.messages`.

Events -> what the core does
  Start                      start round 0 of the current height (once).
  ProposalReceived(p)        a proposal from the network, or our own signed one fed back.
  VoteReceived(v)            a vote from the network, or our own signed one fed back.
  TimeoutFired(h, r, step)   a timeout the core scheduled has expired.
  BlockExecuted(h, hash, ok) answer to ExecuteBlock.
  BlockBytesWrong(h, hash)   answer to ExecuteBlock: its bytes are not the block.
  ProposalBlockReady(h,r,hash,block) answer to CreateProposalBlock (the driver built and
                             executed the block, so the core treats it as valid).
  CommitReceived(block, cert) a block with a commit certificate for our height (sync).
  BlockCommitted(h, valset)  the driver has durably stored block h: go to h+1.
  SkipToRound(h, r)          go to round r of height h now if it is later than ours (a
                             validator that may not sign before r; like a timeout, a
                             round change never affects safety).

Actions the driver must carry out
  SignVote(h, r, type, hash) / SignProposal(h, r, pol_round, hash, block):
      persist the last signed (h, r, step) and fsync, refuse to sign anything that goes
      back, sign, then feed the signed message back with VoteReceived / ProposalReceived.
      The core then accepts it and answers with Broadcast(message): the driver never
      broadcasts a signed message on its own, so the WAL sees one path.
  Broadcast(message)         send to all peers (and keep gossiping it while the core
                             stays at that height, as the network may drop it).
  ScheduleTimeout(h, r, step, delay_ms) -> later TimeoutFired(h, r, step).
  ExecuteBlock(h, r, hash, block) -> BlockExecuted, valid=False for a block whose
      contents or roots differ from ours; BlockBytesWrong for bytes that do not decode,
      hash to another header or carry other transactions than it. Never sent without
      bytes: the core waits for them.
  CreateProposalBlock(h, r)  -> ProposalBlockReady (our turn to propose a new block).
  CommitBlock(h, hash, block, certificate): store atomically, then BlockCommitted.
  RecordEvidence(evidence)   keep equivocation evidence.

Execute before vote: the core prevotes for a proposal's block, locks on it or commits it
only once `BlockExecuted(valid=True)` said so; until then it waits (for the block's bytes
too: bytes that turn out not to be the block, `BlockBytesWrong`, are forgotten and the
next copy's are executed; signatures cover the hash only; with a `bytes_check`, which the
driver gives, bytes that are not the block are never held, `tianfu.consensus.heldblocks`).
A propose timeout
that fires while the round's proposal, received with its block, is being executed waits
for the execution (the timeout bounds the wait for a proposal, not its checking, as in
CometBFT where checking is synchronous); without such a proposal it prevotes nil.
Signatures are verified here, with an injected pure `verifier` (default
`tianfu.crypto.verify`; drivers may pass a cached one).

Bounds: messages for height+1 are buffered (at most `MAX_BUFFER_PER_SIGNER` per signer,
`MAX_BUFFER_UNKNOWN` for signers outside the current set, each without copies and holding
at most `MAX_BUFFER_BLOCK_BYTES` of proposal blocks); other heights are dropped.
Proposals of rounds before round - `KEEP_ROUNDS` are kept without their blocks, and only
blocks the algorithm may still need keep their bytes (`tianfu.consensus.heldblocks`).
Rounds above round + `MAX_FUTURE_ROUNDS` are not stored; they only record the highest
round seen per validator, used for the round skip (line 55): we jump to the highest
round R such that validators with more than 1/3 of the power were seen at rounds >= R
(so at least one honest validator is at R or beyond).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

from tianfu.codec import CodecError
from tianfu.consensus.heldblocks import KEEP_ROUNDS, HeldBlocks
from tianfu.consensus.interfaces import BytesCheck
from tianfu.consensus.messages import (
    MAX_BLOCK_BYTES,
    Action,
    BlockBytesWrong,
    BlockCommitted,
    BlockExecuted,
    Broadcast,
    CommitBlock,
    CommitReceived,
    ConflictingProposalEvidence,
    CreateProposalBlock,
    Event,
    ExecuteBlock,
    Proposal,
    ProposalBlockReady,
    ProposalReceived,
    RecordEvidence,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    SkipToRound,
    Start,
    Step,
    TimeoutFired,
    VoteReceived,
)
from tianfu.consensus.proposer import ProposerSelection, weighted_round_robin
from tianfu.consensus.votes import AddStatus, HeightVoteSet, one_third_plus
from tianfu.crypto.suite import verify as crypto_verify
from tianfu.types import (
    NO_HASH,
    PRECOMMIT,
    PREVOTE,
    CommitCertificate,
    ConsensusParams,
    Validator,
    ValidatorSet,
    Vote,
    VoteDomain,
)

MAX_FUTURE_ROUNDS = 8
MAX_PROPOSALS_PER_ROUND = 2
MAX_BUFFER_PER_SIGNER = 4 * (MAX_FUTURE_ROUNDS + 1)
MAX_BUFFER_UNKNOWN = 64
# The least a timeout grows per round, whatever `timeout_delta_ms` says (a vote may set it
# to 0): with timeouts that never grow, a network slower than them (10 ms, the bound of
# `timeout_propose_ms` / `timeout_vote_ms`, against tens of milliseconds between members)
# fails every round of the height forever. Tendermint decides once a round's timeouts
# exceed the network's delay; timeouts are local (no block or vote depends on them).
MIN_TIMEOUT_DELTA_MS = 10
# Bytes of blocks in the buffered next-height proposals of one signer (or of the unknown
# signers together): a proposer signs one block a round, so two full blocks are room enough.
MAX_BUFFER_BLOCK_BYTES = 2 * MAX_BLOCK_BYTES
_Signed = TypeVar("_Signed", Vote, Proposal)

Verifier = Callable[[int, bytes, bytes, bytes], bool]  # (scheme, pubkey, message, sig)


class ConsensusCore(HeldBlocks):
    """Tendermint for one node, one height at a time. See the module docstring."""

    def __init__(
        self,
        chain: VoteDomain | str,
        height: int,
        validator_set: ValidatorSet,
        my_key: bytes | None,
        proposer_selection: ProposerSelection = weighted_round_robin,
        params: ConsensusParams | None = None,
        verifier: Verifier = crypto_verify,
        bytes_check: BytesCheck | None = None,
    ) -> None:
        self.domain = VoteDomain.of(chain)  # what votes sign (a bare chain id: genesis v1)
        self.chain_id = self.domain.chain_id
        self.bytes_check = bytes_check
        self.my_key = my_key
        self.proposer_selection = proposer_selection
        self.params = params or ConsensusParams()
        self.verifier = verifier
        self.started = False
        self._future: dict[bytes, list[Event]] = {}
        self._enter_height(height, validator_set)

    # ------------------------------------------------------------ state

    def _enter_height(self, height: int, validators: ValidatorSet) -> None:
        self.height = height
        self.validators = validators
        self._vals = {v.public_key: v for v in validators.validators}
        self.round = -1
        self.step = Step.PROPOSE
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: bytes | None = None
        self.valid_round = -1
        self.decided: bytes | None = None
        self.votes = HeightVoteSet(self.chain_id, height, validators)
        self.proposals: dict[int, list[Proposal]] = {}
        self.blocks: dict[bytes, bytes] = {}
        self.executed: dict[bytes, bool] = {}
        self._exec_requested: set[bytes] = set()
        self._certs: dict[bytes, CommitCertificate] = {}
        self._max_round: dict[bytes, int] = {}
        self._signed: set[tuple[int, int]] = set()
        self._proposed: set[int] = set()
        self._conflicting_rounds: set[int] = set()  # rounds with conflicting proposals
        self._prevote_timeout: set[int] = set()
        self._precommit_timeout: set[int] = set()
        self._pol_done: set[int] = set()
        self._propose_expired: set[int] = set()  # rounds whose propose timeout waits

    def from_commit_received(self, block_hash: bytes) -> bool:
        """Was `block_hash` certified by a `CommitReceived` (catch-up), not by our votes?"""
        return block_hash in self._certs

    def proposer(self, round: int) -> bytes:
        return self.proposer_selection(self.validators, self.height, round)

    # ------------------------------------------------------------ read-only queries

    def validator(self, public_key: bytes) -> Validator | None:
        """The validator of this height with `public_key`, if any."""
        return self._vals.get(public_key)

    def knows(self, msg: Vote | Proposal) -> bool:
        """Is this exact vote or proposal of the current height already held?"""
        if msg.height != self.height or msg.round > max(self.round, 0) + MAX_FUTURE_ROUNDS:
            return False
        if isinstance(msg, Vote):
            return self.votes.get(msg.round, msg.type).contains(msg)
        return any(q == msg for q in self.proposals.get(msg.round, ()))

    def round_messages(self) -> list[Vote | Proposal]:
        """What a peer needs to catch up in our round: its first proposal, its prevotes
        and precommits, and the prevotes of that proposal's POL round (Tendermint's gossip)."""
        proposals = self.proposals.get(self.round, [])[:1]
        msgs: list[Vote | Proposal] = list(proposals)
        msgs += self.votes.prevotes(self.round).votes()
        msgs += self.votes.precommits(self.round).votes()
        for p in proposals:
            if p.pol_round >= 0:
                msgs += self.votes.prevotes(p.pol_round).votes()
        return msgs

    def _timeout(self, step: Step, round: int) -> int:
        base = (
            self.params.timeout_propose_ms if step == Step.PROPOSE else self.params.timeout_vote_ms
        )
        return base + round * max(self.params.timeout_delta_ms, MIN_TIMEOUT_DELTA_MS)

    # ------------------------------------------------------------ dispatch

    def handle(self, event: Event) -> list[Action]:
        out: list[Action] = []
        if isinstance(event, VoteReceived):
            self._on_vote(event, out)
        elif isinstance(event, ProposalReceived):
            self._on_proposal(event, out)
        elif isinstance(event, TimeoutFired):
            self._on_timeout(event, out)
        elif isinstance(event, BlockExecuted):
            if event.height == self.height and self.decided is None:
                self.executed[event.block_hash] = event.valid
        elif isinstance(event, BlockBytesWrong):
            self._on_bytes_wrong(event)
        elif isinstance(event, ProposalBlockReady):
            self._on_block_ready(event, out)
        elif isinstance(event, CommitReceived):
            self._on_commit_received(event, out)
        elif isinstance(event, BlockCommitted):
            return self._on_block_committed(event)
        elif isinstance(event, SkipToRound):
            if event.height == self.height and event.round > self.round and self.started:
                if self.decided is None:
                    self._start_round(event.round, out)
        elif isinstance(event, Start):
            if not self.started:
                self.started = True
                self._start_round(0, out)
        else:
            raise TypeError(f"unknown consensus event {type(event).__name__}")
        if self.started and self.decided is None:
            self._process(out)
        return out

    # ------------------------------------------------------------ inputs

    def _at_height(
        self, msg: _Signed, signer: bytes, event: Event, sig_ok: Callable[[_Signed], bool]
    ) -> bool:
        """Whether `msg` (a vote or a proposal, signed by `signer`) is one of this chain,
        well formed, for the height being decided and that height is not decided yet. One
        for the next height is buffered (`_buffer`); the rest is dropped."""
        if msg.chain_id != self.chain_id:
            return False
        try:
            msg.validate()
        except (ValueError, CodecError):
            return False
        if msg.height == self.height + 1:
            self._buffer(signer, event, lambda: sig_ok(msg))
            return False
        return msg.height == self.height and self.decided is None

    def _buffer(self, signer: bytes, event: Event, sig_ok: Callable[[], bool]) -> None:
        """Keep a next-height message of `signer` (a copy of one kept is not kept twice),
        within `MAX_BUFFER_PER_SIGNER` messages and `MAX_BUFFER_BLOCK_BYTES` of blocks."""
        if isinstance(event, ProposalReceived) and event.proposal.block:
            p = event.proposal
            if self.bytes_check is not None and not self.bytes_check(p.block_hash, p.block):
                event = ProposalReceived(msgspec.structs.replace(p, block=b""))
        known = signer in self._vals
        key = signer if known else b""
        buf = self._future.setdefault(key, [])
        if len(buf) >= (MAX_BUFFER_PER_SIGNER if known else MAX_BUFFER_UNKNOWN) or event in buf:
            return
        if isinstance(event, ProposalReceived) and event.proposal.block:
            held = sum(len(e.proposal.block) for e in buf if isinstance(e, ProposalReceived))
            if held + len(event.proposal.block) > MAX_BUFFER_BLOCK_BYTES:
                return
        if known and not sig_ok():  # same key next height is the common case: check early
            return
        buf.append(event)

    def _vote_sig_ok(self, vote: Vote) -> bool:
        v = self._vals.get(vote.validator)
        return v is not None and self.verifier(
            v.scheme, v.public_key, vote.signing_bytes(self.domain), vote.signature
        )

    def _proposal_sig_ok(self, p: Proposal) -> bool:
        v = self._vals.get(p.proposer)
        return v is not None and self.verifier(
            v.scheme, v.public_key, p.signing_bytes(), p.signature
        )

    def _on_vote(self, event: VoteReceived, out: list[Action]) -> None:
        vote = event.vote
        if not self._at_height(vote, vote.validator, event, self._vote_sig_ok):
            return
        if vote.validator not in self._vals:
            return
        if vote.round > max(self.round, 0) + MAX_FUTURE_ROUNDS:
            if self._vote_sig_ok(vote):
                self._saw_round(vote.validator, vote.round)
            return
        vs = self.votes.get(vote.round, vote.type)
        if vs.contains(vote):
            return  # exact duplicate: no need to verify again
        if not self._vote_sig_ok(vote):
            return
        result = vs.add(vote)
        if result.evidence is not None:
            out.append(RecordEvidence(result.evidence))
        if result.status is AddStatus.DUPLICATE:
            return
        self._saw_round(vote.validator, vote.round)
        if vote.validator == self.my_key and result.added:
            out.append(Broadcast(vote))

    def _on_proposal(self, event: ProposalReceived, out: list[Action]) -> None:
        p = event.proposal
        if not self._at_height(p, p.proposer, event, self._proposal_sig_ok):
            return
        if p.round > max(self.round, 0) + MAX_FUTURE_ROUNDS:
            return
        if p.proposer != self.proposer(p.round):
            return
        existing = self.proposals.setdefault(p.round, [])
        if any(q == p for q in existing):
            return
        if not self._proposal_sig_ok(p):
            return
        if p.block and not self._bytes_ok(p.block_hash, p.block):
            p = msgspec.structs.replace(p, block=b"")  # the signed proposal, not these bytes
            if any(q == p for q in existing):
                return
        if p.block and p.round < self.round - KEEP_ROUNDS:  # an old round's: kept without
            if p.block_hash in self._lasting():
                self._take_bytes(p.block_hash, p.block)
            p = msgspec.structs.replace(p, block=b"")
            if any(q == p for q in existing):
                return
        same = [i for i, q in enumerate(existing) if q.block_hash == p.block_hash]
        if existing and not same and p.round not in self._conflicting_rounds:
            # once a round; the blocks are left out (the signatures cover their hashes only)
            self._conflicting_rounds.add(p.round)
            first, again = (msgspec.structs.replace(q, block=b"") for q in (existing[0], p))
            out.append(RecordEvidence(ConflictingProposalEvidence(first, again)))
        if same or len(existing) >= MAX_PROPOSALS_PER_ROUND:
            if same and p.block and not self.blocks.get(p.block_hash):
                self.blocks[p.block_hash] = p.block
                existing[same[0]] = p  # the copy with the bytes is the one relayed
            return
        existing.append(p)
        self._take_bytes(p.block_hash, p.block)
        self._saw_round(p.proposer, p.round)
        if p.proposer == self.my_key:
            out.append(Broadcast(p))

    def _on_timeout(self, t: TimeoutFired, out: list[Action]) -> None:
        if t.height != self.height or t.round != self.round or self.decided is not None:
            return
        if t.step == Step.PROPOSE and self.step == Step.PROPOSE:
            if self._executing_proposal():  # prevote once it is executed (`_process`)
                self._propose_expired.add(self.round)
                return
            self._vote(PREVOTE, NO_HASH, out)
        elif t.step == Step.PREVOTE and self.step == Step.PREVOTE:
            self._vote(PRECOMMIT, NO_HASH, out)
        elif t.step == Step.PRECOMMIT:
            self._start_round(self.round + 1, out)

    def _on_block_ready(self, e: ProposalBlockReady, out: list[Action]) -> None:
        if (e.height, e.round) != (self.height, self.round) or self.decided is not None:
            return
        if self.step != Step.PROPOSE or self.my_key != self.proposer(e.round):
            return
        if e.round in self._proposed:
            return
        self._proposed.add(e.round)
        self.blocks[e.block_hash] = e.block  # built here: these are its bytes
        self.executed[e.block_hash] = True
        out.append(SignProposal(e.height, e.round, -1, e.block_hash, e.block))

    def _on_commit_received(self, e: CommitReceived, out: list[Action]) -> None:
        cert = e.certificate
        if cert.height != self.height or self.decided is not None:
            return
        if cert.chain_id != self.chain_id:
            return
        if cert.block_hash in self._certs:  # checked already: only its bytes may be new
            self._take_bytes(cert.block_hash, e.block)
            return
        try:
            cert.validate()
        except (ValueError, CodecError):
            return
        seen: set[bytes] = set()
        power = 0
        for cs in cert.signatures:
            v = self._vals.get(cs.validator)
            if v is None or cs.validator in seen:
                return
            if not self.verifier(
                v.scheme, v.public_key, cert.signing_bytes(cs, self.domain), cs.signature
            ):
                return
            seen.add(cs.validator)
            power += v.power
        if power < self.validators.quorum():
            return
        self._certs[cert.block_hash] = cert
        self._take_bytes(cert.block_hash, e.block)

    def _on_block_committed(self, e: BlockCommitted) -> list[Action]:
        if e.height != self.height or self.decided is None:
            return []
        self._enter_height(self.height + 1, e.next_validator_set)
        out: list[Action] = []
        self._start_round(0, out)
        self._process(out)
        buffered, self._future = self._future, {}
        for events in buffered.values():
            for ev in events:
                out.extend(self.handle(ev))
        return out

    # ------------------------------------------------------------ algorithm 1

    def _start_round(self, round: int, out: list[Action]) -> None:
        self.round = round
        self.step = Step.PROPOSE
        self._forget_old_blocks()
        if self.my_key is not None and self.proposer(round) == self.my_key:
            if self.valid_value is not None:
                self._proposed.add(round)
                out.append(
                    SignProposal(
                        self.height,
                        round,
                        self.valid_round,
                        self.valid_value,
                        self.blocks.get(self.valid_value, b""),
                    )
                )
            else:
                out.append(CreateProposalBlock(self.height, round))
        out.append(
            ScheduleTimeout(self.height, round, Step.PROPOSE, self._timeout(Step.PROPOSE, round))
        )

    def _vote(self, type: int, block_hash: bytes, out: list[Action]) -> None:
        key = (self.round, type)
        self.step = Step.PREVOTE if type == PREVOTE else Step.PRECOMMIT
        if self.my_key is None or self.my_key not in self._vals or key in self._signed:
            return
        self._signed.add(key)
        out.append(SignVote(self.height, self.round, type, block_hash))

    def _set_lock(self, block_hash: bytes, round: int) -> None:
        self.locked_value = block_hash
        self.locked_round = round

    def _valid(self, block_hash: bytes, round: int, out: list[Action]) -> bool | None:
        """valid(v) of the paper: True/False once executed, None while waiting (for the
        block's bytes too: a hash is never judged without them)."""
        result = self.executed.get(block_hash)
        if result is None and not self.blocks.get(block_hash):
            return None
        if result is None and block_hash not in self._exec_requested:
            self._exec_requested.add(block_hash)
            out.append(ExecuteBlock(self.height, round, block_hash, self.blocks[block_hash]))
        return result

    def _process(self, out: list[Action]) -> None:
        """Apply the upon-rules until none fires (each fires at most once per round)."""
        while self.decided is None:
            if self._rule_commit(out):
                return
            if self._rule_round_skip(out):
                continue
            if self._rule_propose(out) or self._rule_propose_expired(out):
                continue
            if self._rule_prevote(out):
                continue
            self._rule_precommit_timeout(out)
            return

    def _proposal_with(self, round: int, block_hash: bytes) -> Proposal | None:
        for p in self.proposals.get(round, ()):
            if p.block_hash == block_hash:
                return p
        return None

    def _rule_commit(self, out: list[Action]) -> bool:
        """Line 49: a proposal and 2f+1 precommits for v in any round, v valid: decide."""
        candidates: list[tuple[bytes, CommitCertificate | None, int]] = []
        for r in self.votes.precommit_rounds():
            h = self.votes.precommits(r).two_thirds_hash()
            if h and self._proposal_with(r, h) is not None:
                candidates.append((h, None, r))
        for h, cert in self._certs.items():
            candidates.append((h, cert, cert.round))
        for h, maybe_cert, r in candidates:
            if self._valid(h, r, out):
                cert = maybe_cert or self.votes.precommits(r).make_certificate(h)
                self.decided = h
                self.step = Step.COMMIT
                out.append(CommitBlock(self.height, h, self.blocks.get(h, b""), cert))
                return True
        return False

    def _saw_round(self, validator: bytes, round: int) -> None:
        if round > self._max_round.get(validator, -1):
            self._max_round[validator] = round

    def _rule_round_skip(self, out: list[Action]) -> bool:
        """Line 55: f+1 power seen at rounds above ours: go to the highest such round."""
        if not self._max_round or max(self._max_round.values()) <= self.round:
            return False
        need = one_third_plus(self.validators.total_power)
        power = 0
        for val, r in sorted(self._max_round.items(), key=lambda kv: -kv[1]):
            power += self._vals[val].power
            if power >= need:
                if r > self.round:
                    self._start_round(r, out)
                    return True
                return False
        return False

    def _rule_propose(self, out: list[Action]) -> bool:
        """Lines 22 and 28: prevote on the round's (first) proposal."""
        if self.step != Step.PROPOSE or not self.proposals.get(self.round):
            return False
        p = self.proposals[self.round][0]
        v = p.block_hash
        if p.pol_round == -1:  # line 22
            if self.locked_round != -1 and self.locked_value != v:
                self._vote(PREVOTE, NO_HASH, out)
                return True
        else:  # line 28
            if not self.votes.prevotes(p.pol_round).has_two_thirds_for(v):
                return False  # wait for the POL or the propose timeout
            if not (self.locked_round <= p.pol_round or self.locked_value == v):
                self._vote(PREVOTE, NO_HASH, out)
                return True
        ok = self._valid(v, self.round, out)
        if ok is None:
            return False
        self._vote(PREVOTE, v if ok else NO_HASH, out)
        return True

    def _executing_proposal(self) -> bool:
        """Is the round's first proposal, received with its block, being executed?"""
        proposals = self.proposals.get(self.round)
        if not proposals:
            return False
        v = proposals[0].block_hash
        return v in self._exec_requested and v not in self.executed and bool(self.blocks.get(v))

    def _rule_propose_expired(self, out: list[Action]) -> bool:
        """Line 57 for a propose timeout that waited for an execution: once it is done and
        `_rule_propose` did not prevote, prevote nil."""
        if self.step != Step.PROPOSE or self.round not in self._propose_expired:
            return False
        if self._executing_proposal():
            return False
        self._vote(PREVOTE, NO_HASH, out)
        return True

    def _rule_prevote(self, out: list[Action]) -> bool:
        """Lines 34, 36 and 44 for the current round."""
        r = self.round
        prevotes = self.votes.prevotes(r)
        if self.step == Step.PREVOTE and r not in self._prevote_timeout:
            if prevotes.has_two_thirds_any():  # line 34
                self._prevote_timeout.add(r)
                out.append(
                    ScheduleTimeout(self.height, r, Step.PREVOTE, self._timeout(Step.PREVOTE, r))
                )
        h = prevotes.two_thirds_hash()
        if h is None:
            return False
        if h == NO_HASH:  # line 44
            if self.step == Step.PREVOTE:
                self._vote(PRECOMMIT, NO_HASH, out)
                return True
            return False
        if self.step < Step.PREVOTE or r in self._pol_done:  # line 36
            return False
        if self._proposal_with(r, h) is None:
            return False
        ok = self._valid(h, r, out)
        if not ok:
            return False
        self._pol_done.add(r)
        if self.step == Step.PREVOTE:
            self._set_lock(h, r)
            self._vote(PRECOMMIT, h, out)
        self.valid_value = h
        self.valid_round = r
        return True

    def _rule_precommit_timeout(self, out: list[Action]) -> None:
        """Line 47: 2f+1 precommits of any kind in our round: schedule timeoutPrecommit."""
        r = self.round
        if (
            r >= 0
            and r not in self._precommit_timeout
            and self.votes.precommits(r).has_two_thirds_any()
        ):
            self._precommit_timeout.add(r)
            out.append(
                ScheduleTimeout(self.height, r, Step.PRECOMMIT, self._timeout(Step.PRECOMMIT, r))
            )
