"""Validators by stake in the consensus simulator: powers from bonded stake, stake changes and
slashing of a proven double sign, each taking effect from H + 2 as on an open-profile chain.

`StakeSimulation` is a `Simulation` whose chain rules (`StakeRules`) give each height the
validator set of the stakes in force. Honest validators run the real driver
(`StakeDriverNode`). Two kinds of change go through committed blocks, so every honest node
applies the same one at the same height:

- `stake_changes[H] = {validator: new stake}`: when block H commits, the set that signs
  from H + 2 has those powers (0 removes the validator) — bonding and unbonding;
- evidence: an honest proposer whose driver holds `DuplicateVoteEvidence` against a
  validator still in the set names it in its block (the tag `+slash<K>#<n>`, which the
  block's state root commits to; `n` numbers the evidence in `StakeRules.evidence`). Every
  node executes such a block only if the evidence is two validly signed conflicting votes
  of K's key. When it commits at H, `slash_bps` of K's stake is burnt and K is jailed: out
  of the set from H + 2, for good.

The certificate of height h is checked against the set of h, a block's BFT time against the
set of the certificate's height, and each driver enters a height with the set of that
height (`SimLedger.validator_set`).
"""

from __future__ import annotations

import re
from typing import Any

from tianfu.codec import decode
from tianfu.consensus.messages import DuplicateVoteEvidence
from tianfu.crypto import ED25519, KeyPair
from tianfu.testing.sim import Simulation
from tianfu.testing.simchain import (
    CommitRecord,
    InvalidSimBlock,
    SimRules,
    cached_verify,
    tag_root,
)
from tianfu.testing.simdriver import DriverNode
from tianfu.types import Block, ConsensusParams, Validator, ValidatorSet, vote_signing_bytes

SLASH_TAG = re.compile(r"\+slash(\d+)#(\d+)")
ACTIVATION_DELAY = 2


class StakeRules(SimRules):
    """The chain's rules when validators' powers are stakes that change through blocks."""

    def __init__(
        self,
        keys: list[KeyPair],
        stakes: list[int],
        params: ConsensusParams,
        stake_changes: dict[int, dict[int, int]],
        slash_bps: int,
        genesis_version: int = 1,
    ) -> None:
        if len(stakes) != len(keys) or min(stakes) < 1:
            raise ValueError("one positive stake per validator")
        self.keys = keys
        self.stakes = list(stakes)
        self.stake_changes = stake_changes
        self.slash_bps = slash_bps
        self.jailed: set[int] = set()
        self.burnt: dict[int, int] = {}
        self.slashed_at: dict[int, int] = {}  # validator -> height of the block with evidence
        self.evidence: list[DuplicateVoteEvidence] = []  # what slashing tags number
        self._tags: dict[bytes, str] = {}  # the tag of every block made, by its state root
        self._applied: set[int] = set()
        super().__init__(self._set_of(self.stakes), params, genesis_version)
        self.valsets: list[tuple[int, ValidatorSet]] = [(1, self.validators)]

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

    # -------------------------------------------------------- blocks and evidence

    def new_block(
        self, height: int, proposer: bytes, prev: CommitRecord | None, tag: str = ""
    ) -> tuple[bytes, bytes]:
        self._tags[tag_root(tag)] = tag
        return super().new_block(height, proposer, prev, tag)

    def slashing_tag(self, height: int, evidence: list[Any]) -> str:
        """The tag of a proposer's block at `height` that holds `evidence`: it names the
        first double sign of a validator still in the set ("" if there is none)."""
        current = self.validator_set(height + ACTIVATION_DELAY - 1)
        for ev in evidence:
            if not isinstance(ev, DuplicateVoteEvidence):
                continue
            index = self.index_of(ev.vote_a.validator)
            if index is None or index in self.jailed or not current.by_key(ev.vote_a.validator):
                continue
            if ev not in self.evidence:
                self.evidence.append(ev)
            return f"+slash{index}#{self.evidence.index(ev)}"
        return ""

    def slashed_by(self, block: Block) -> int | None:
        """The validator a block names for slashing (None: none)."""
        m = SLASH_TAG.search(self._tags.get(block.header.state_root, ""))
        return None if m is None else int(m.group(1))

    def check_block(self, block: Block, prev: CommitRecord | None) -> None:
        super().check_block(block, prev)
        m = SLASH_TAG.search(self._tags.get(block.header.state_root, ""))
        if m is not None and not self.evidence_ok(int(m.group(1)), int(m.group(2))):
            raise InvalidSimBlock("the block names a slashing without proof of a double sign")

    def evidence_ok(self, index: int, number: int) -> bool:
        """Evidence `number` is two validly signed conflicting votes of validator `index`."""
        if index >= len(self.keys) or number >= len(self.evidence):
            return False
        ev = self.evidence[number]
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
                vote_signing_bytes(self.domain, v.height, v.round, v.type, v.block_hash, v.time_ms),
                v.signature,
            )
            for v in (a, b)
        )

    # -------------------------------------------------------- committed blocks

    def block_committed(self, height: int, block: Block) -> None:
        """Apply what block `height` changes (once: every honest node commits the same)."""
        if height in self._applied:
            return
        self._applied.add(height)
        stakes = list(self.stakes)
        changed = False
        for index, stake in self.stake_changes.get(height, {}).items():
            stakes[index], changed = stake, True
        slashed = self.slashed_by(block)
        if slashed is not None and slashed not in self.jailed:
            burnt = stakes[slashed] * self.slash_bps // 10_000
            stakes[slashed] -= burnt
            self.burnt[slashed] = burnt
            self.jailed.add(slashed)
            self.slashed_at[slashed] = height
            changed = True
        if changed:
            self.stakes = stakes
            new = self._set_of(stakes)
            if not new.validators:
                raise ValueError(f"the changes of block {height} empty the validator set")
            self.valsets.append((height + ACTIVATION_DELAY, new))


class StakeDriverNode(DriverNode):
    """An honest validator (the real driver) of a chain whose validator set follows stake:
    its blocks name the double signs its driver holds evidence of."""

    def proposal_tag(self, height: int) -> str:
        return stake_rules(self.sim).slashing_tag(height, self.evidence)

    def _committed(self, height: int, record: CommitRecord) -> None:
        stake_rules(self.sim).block_committed(height, decode(record.block, Block))
        super()._committed(height, record)


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
        **kw: Any,
    ) -> None:
        self._stakes = stakes
        self._stake_changes = stake_changes or {}
        self._slash_bps = slash_bps
        kw.setdefault("honest_class", StakeDriverNode)
        super().__init__(n, seed, **kw)

    def make_rules(self) -> StakeRules:
        return StakeRules(
            self.keys,
            self._stakes,
            self.params,
            self._stake_changes,
            self._slash_bps,
            self.genesis_version,
        )

    def validator_set(self, height: int) -> ValidatorSet:
        return self.rules.validator_set(height)

    @property
    def jailed(self) -> set[int]:
        return stake_rules(self).jailed

    @property
    def burnt(self) -> dict[int, int]:
        return stake_rules(self).burnt

    @property
    def slashed_at(self) -> dict[int, int]:
        return stake_rules(self).slashed_at


def stake_rules(sim: Simulation) -> StakeRules:
    """The stake rules of a `StakeSimulation`."""
    rules = sim.rules
    if not isinstance(rules, StakeRules):
        raise TypeError("not a stake simulation")
    return rules
