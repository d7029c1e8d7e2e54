"""Validators by stake in the consensus simulator: powers from bonded stake, stake changes and
slashing of a proven double sign, each taking effect from H + 2 as on an open-profile chain.

`StakeSimulation` runs `SimNode`s whose voting powers are `stakes`. Two kinds of change go
through committed blocks, so every honest node applies the same one at the same height:

- `stake_changes[H] = {validator: new stake}`: when block H commits, the set that signs
  from H + 2 has those powers (0 removes the validator) — bonding and unbonding;
- evidence: a proposer that holds `DuplicateVoteEvidence` against a validator still in the
  set puts it in its block (`+slashK` in the block, the votes in `block_evidence`); the
  others execute such a block only if the evidence is two validly signed conflicting votes
  of that validator's key. When it commits at H, `slash_bps` of K's stake is burnt and K is
  jailed: out of the set from H + 2, for good.

The certificate of height h is checked against the set of h, BFT time against the set of
the certificate's height, and the core enters each height with the set of that height.
"""

from __future__ import annotations

import re
from typing import Any

from tianfu.codec import encode
from tianfu.consensus.messages import BlockCommitted, CommitBlock, DuplicateVoteEvidence, Event
from tianfu.crypto import ED25519, CertificateError, verify_commit
from tianfu.testing.sim import (
    _CERT_CACHE,
    CHAIN_ID,
    GENESIS_TIME_MS,
    CommitRecord,
    SimNode,
    Simulation,
    block_hash,
    cached_verify,
    make_block,
    sim_block_time,
)
from tianfu.types import Validator, ValidatorSet, vote_signing_bytes
from tianfu.types.block import median_time

SLASH_TAG = re.compile(rb"\+slash(\d+)-t")
ACTIVATION_DELAY = 2


class StakeNode(SimNode):
    """An honest node of a chain whose validator set changes with stake."""

    def act(self, a: Any) -> list[Event]:
        if isinstance(a, CommitBlock):
            sim = self.sim
            assert isinstance(sim, StakeSimulation)
            self.commits[a.height] = CommitRecord(a.block_hash, a.block, a.certificate)
            if self.honest:
                sim.block_committed(a.height, a.block)
            if a.height >= sim.target_height:
                self.done = True
                sim.done_count += self.honest
                return []
            return [BlockCommitted(a.height, sim.validator_set(a.height + 1))]
        return super().act(a)

    def block_time(self, height: int) -> int:
        if height == 1:
            return GENESIS_TIME_MS
        sim = self.sim
        assert isinstance(sim, StakeSimulation)
        return median_time(self.commits[height - 1].certificate, sim.validator_set(height - 1))

    def new_block(self, height: int, round: int, tag: str = "") -> tuple[bytes, bytes]:
        sim = self.sim
        assert isinstance(sim, StakeSimulation)
        evidence = self._pending_evidence(height)
        if evidence is not None:
            index, ev = evidence
            tag += f"+slash{index}"
        h, b = make_block(height, round, self.name, tag, self.block_time(height))
        sim.known_blocks[h] = b
        if evidence is not None:
            sim.block_evidence[h] = evidence[1]
        if height > 1:
            sim.block_certs[h] = self.commits[height - 1].certificate
        return h, b

    def _pending_evidence(self, height: int) -> tuple[int, DuplicateVoteEvidence] | None:
        sim = self.sim
        assert isinstance(sim, StakeSimulation)
        current = sim.validator_set(height + ACTIVATION_DELAY - 1)
        for ev in self.evidence:
            if not isinstance(ev, DuplicateVoteEvidence):
                continue
            index = sim.index_of(ev.vote_a.validator)
            if (
                index is not None
                and index not in sim.jailed
                and current.by_key(ev.vote_a.validator)
            ):
                return index, ev
        return None

    def time_ok(self, height: int, h: bytes, block: bytes) -> bool:
        sim = self.sim
        assert isinstance(sim, StakeSimulation)
        if not sim.evidence_ok(h, block):
            return False
        t = sim_block_time(block)
        if height == 1:
            return t == GENESIS_TIME_MS and h not in sim.block_certs
        prev = self.commits.get(height - 1)
        cert = sim.block_certs.get(h)
        if prev is None or cert is None or cert.block_hash != prev.block_hash:
            return False
        if sim._check_cert(height - 1, CommitRecord(prev.block_hash, prev.block, cert)):
            return False
        valset = sim.validator_set(height - 1)
        return t == median_time(cert, valset) and t > sim_block_time(prev.block)


class StakeSimulation(Simulation):
    """A `Simulation` whose validators' powers are stakes that change through blocks."""

    def __init__(
        self,
        n: int,
        seed: int,
        *,
        stakes: list[int],
        stake_changes: dict[int, dict[int, int]] | None = None,
        slash_bps: int = 5000,
        node_classes: dict[int, type[SimNode]] | None = None,
        **kw: Any,
    ) -> None:
        if len(stakes) != n or min(stakes) < 1:
            raise ValueError("one positive stake per validator")
        classes = {i: (node_classes or {}).get(i, StakeNode) for i in range(n)}
        super().__init__(n, seed, node_classes=classes, **kw)
        self.stakes = list(stakes)
        self.stake_changes = stake_changes or {}
        self.slash_bps = slash_bps
        self.jailed: set[int] = set()
        self.burnt: dict[int, int] = {}
        self.slashed_at: dict[int, int] = {}  # validator -> height of the block with evidence
        self.block_evidence: dict[bytes, DuplicateVoteEvidence] = {}
        self._applied: set[int] = set()
        self.validators = self._set_of(self.stakes)
        self.valsets: list[tuple[int, ValidatorSet]] = [(1, self.validators)]
        for nd in self.nodes:  # the cores start with the stake-weighted set
            nd.core = nd.core_class(
                CHAIN_ID, 1, self.validators, nd.key.public_key, params=self.params,
                verifier=cached_verify,
            )  # fmt: skip

    def _set_of(self, stakes: list[int]) -> ValidatorSet:
        return ValidatorSet(
            [
                Validator(f"v{i}", f"org{i}", ED25519, k.public_key, s)
                for i, (k, s) in enumerate(zip(self.keys, stakes, strict=True))
                if s > 0 and i not in self.jailed
            ]
        )

    def validator_set(self, height: int) -> ValidatorSet:
        current = self.valsets[0][1]
        for start, vs in self.valsets:
            if start > height:
                break
            current = vs
        return current

    def index_of(self, key: bytes) -> int | None:
        for i, k in enumerate(self.keys):
            if k.public_key == key:
                return i
        return None

    def evidence_ok(self, h: bytes, block: bytes) -> bool:
        """A block naming a slashing carries two validly signed conflicting votes of it."""
        m = SLASH_TAG.search(block)
        if m is None:
            return True
        ev = self.block_evidence.get(h)
        index = int(m.group(1))
        if ev is None or index >= len(self.keys):
            return False
        a, b = ev.vote_a, ev.vote_b
        key = self.keys[index].public_key
        if a.validator != key or b.validator != key or a.block_hash == b.block_hash:
            return False
        if (a.height, a.round, a.type) != (b.height, b.round, b.type):
            return False
        return all(
            cached_verify(
                ED25519,
                key,
                vote_signing_bytes(CHAIN_ID, v.height, v.round, v.type, v.block_hash, v.time_ms),
                v.signature,
            )
            for v in (a, b)
        )

    def block_committed(self, height: int, block: bytes) -> None:
        """Apply what block `height` changes (once: every honest node commits the same)."""
        if height in self._applied:
            return
        self._applied.add(height)
        stakes = list(self.stakes)
        changed = False
        for index, stake in self.stake_changes.get(height, {}).items():
            stakes[index], changed = stake, True
        m = SLASH_TAG.search(block)
        if m is not None:
            index = int(m.group(1))
            if index not in self.jailed:
                burnt = stakes[index] * self.slash_bps // 10_000
                stakes[index] -= burnt
                self.burnt[index] = burnt
                self.jailed.add(index)
                self.slashed_at[index] = height
                changed = True
        if changed:
            self.stakes = stakes
            new = self._set_of(stakes)
            if not new.validators:
                raise AssertionError("a change emptied the validator set")
            self.valsets.append((height + ACTIVATION_DELAY, new))

    def _check_cert(self, height: int, rec: CommitRecord) -> str | None:
        valset = self.validator_set(height)
        key = (encode(rec.certificate), rec.block_hash + rec.block, height, valset.hash)
        if key not in _CERT_CACHE:
            try:
                verify_commit(rec.certificate, rec.block_hash, height, valset, CHAIN_ID)
                if block_hash(rec.block) != rec.block_hash:
                    raise CertificateError("committed block bytes do not match the hash")
                _CERT_CACHE[key] = None
            except CertificateError as exc:
                _CERT_CACHE[key] = str(exc)
        return _CERT_CACHE[key]
