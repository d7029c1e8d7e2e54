"""The double-sign check of a validator whose signer state may be older than what its key signed.

A `SignGuard` is made when the signer file was missing (`--new-signer-state`), had a
damaged slot or two slots of different age, is older than the node's store, or is older
than the node's own messages in its WAL. The key may then have signed positions the
signer no longer remembers, so before it signs again the guard learns how far the key and
the network got (CometBFT's `double_sign_check_height`, extended to rounds):

- its own signatures in the commit certificates of the last `check_heights` stored
  blocks, in its WAL, and in every vote or proposal peers send it (`own_signature`);
- the (height, round) of the first validly signed message of each other validator
  (`observe`), for a listening period of at least `listen_s` seconds and until validators
  with more than 1/3 of the power other than itself were heard (all the others, if they
  hold less). A validator's first message after the restart shows where it was at least
  when this node went down (positions only grow); later ones only show how far the
  network went since, which this node cannot have signed, so they do not count (counting
  them would make a node that recovers slowly wait for ever behind a moving network).

The highest position found is the floor (H, R). Before the restart the key cannot have
signed beyond (H, R + 1) at height H, nor beyond round 0 of H + 1: entering round R + 1
(or any later round) takes 2f+1 precommits of round R, or f+1 messages of a later round,
so some correct validator had reached the round before; and leaving height H takes a
decision there, whose precommits the others hear and follow. The guard therefore allows
signing only at (H, r >= R + 2), (H + 1, r >= 1) or any height >= H + 2: the node does not
vote until the network has moved past every position it may have signed. Until the
listening period ends nothing is signed. Once it has ended, a node sitting in a round it
may not sign in moves on to the first one it may (`first_round`, the core's
`SkipToRound`): rounds only advance on 2f+1 precommits, so two validators recovering at
once and waiting in round 0 would otherwise stop a 4-validator network for good, while
two validators in a later round make the others follow them there (line 55).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from tianfu.consensus.messages import SkipToRound
from tianfu.types import CommitCertificate

log = logging.getLogger(__name__)

Position = tuple[int, int]  # (height, round)


def one_third_plus(total_power: int) -> int:
    """Smallest voting power strictly greater than 1/3 of the total."""
    return total_power // 3 + 1


class SignGuard:
    """Which (height, round) a recovering validator may sign at. Pure: time is passed in."""

    def __init__(
        self,
        reason: str,
        my_key: bytes,
        powers: dict[bytes, int],
        *,
        started: float,
        listen_s: float,
    ) -> None:
        self.reason = reason
        self.my_key = my_key
        self.powers = dict(powers)
        self.total_power = sum(self.powers.values())
        self.listen_until = started + listen_s
        self.floor: Position = (0, -1)
        self._first: dict[bytes, Position] = {}  # each other validator's first position
        self.listening = True
        self._heard: set[bytes] = set()
        # How many of this key's signatures were found (each copy counted; what they show
        # is the floor: nothing is kept per copy, peers may relay one many times).
        self.own_found = 0

    # ------------------------------------------------------------ what is learnt

    def own_signature(self, height: int, round: int) -> None:
        """A message signed by this node's key at (height, round) was found (while
        listening: afterwards the floor is fixed, and this node's new messages come back
        from peers too)."""
        if not self.listening:
            return
        self.own_found += 1
        self._raise_floor((height, round))

    def observe(self, validator: bytes, height: int, round: int) -> None:
        """A validly signed message of `validator` at (height, round) was received."""
        if not self.listening:
            return
        if validator == self.my_key:
            self.own_signature(height, round)
            return
        if validator not in self.powers or validator in self._first:
            return
        self._heard.add(validator)
        self._first[validator] = (height, round)
        self._raise_floor((height, round))

    def _raise_floor(self, pos: Position) -> None:
        if pos > self.floor:
            self.floor = pos

    def heard_power(self) -> int:
        return sum(self.powers.get(v, 0) for v in self._heard)

    # ------------------------------------------------------------ the rule

    def settle(self, now: float) -> bool:
        """End the listening period if it is over; True once it has ended."""
        if self.listening and now >= self.listen_until:
            # More than 1/3 of the power besides ourselves, or all of it when the others
            # hold less (a network of one validator has no one to hear).
            others = self.total_power - self.powers.get(self.my_key, 0)
            if self.heard_power() >= min(one_third_plus(self.total_power), others):
                self.listening = False
                log.warning(
                    "signer state recovery (%s): the network was seen up to height %d round "
                    "%d; this validator signs again from %s on",
                    self.reason,
                    self.floor[0],
                    self.floor[1],
                    self.first_allowed(),
                )
        return not self.listening

    def first_allowed(self) -> str:
        h, r = self.floor
        return f"height {h} round {r + 2} or height {h + 1} round 1"

    def allows(self, height: int, round: int, now: float) -> bool:
        """May this node sign a message at (height, round) now?"""
        return self.settle(now) and self.permits(height, round)

    def permits(self, height: int, round: int) -> bool:
        """Whether (height, round) is past every position the key may have signed, by the
        floor found so far (pure: signing also waits for the listening period, `allows`)."""
        h, r = self.floor
        if height >= h + 2:
            return True
        if height == h + 1:
            return round >= 1
        return height == h and round >= r + 2

    def first_round(self, height: int) -> int | None:
        """The first round of `height` this node may sign in (None: none, the height is
        below the floor and the node only follows the network's decisions there)."""
        h, r = self.floor
        if height >= h + 2:
            return 0
        if height == h + 1:
            return 1
        return r + 2 if height == h else None

    def skip_to(self, height: int, round: int, now: float) -> SkipToRound | None:
        """Where a node in (height, round) moves once the listening period has ended (at
        `now`), when this round is one it may not sign in: the first round it may."""
        if not self.settle(now):
            return None
        r = self.first_round(height)
        return SkipToRound(height, r) if r is not None and r > round else None

    def finished(self, height: int) -> bool:
        """At `height` and beyond the guard allows everything: it can be dropped."""
        return not self.listening and height >= self.floor[0] + 2


def restart_guard(
    *,
    my_key: bytes,
    recovery: str | None,
    last_hrs: tuple[int, int, int] | None,
    own_in_wal: list[Position],
    store_height: int,
    certificates: Iterable[CommitCertificate],
    powers: dict[bytes, int],
    now: float,
    listen_s: float,
) -> SignGuard | None:
    """The guard a validator starting at `store_height` + 1 needs, or None.

    Needed when the signer reports a `recovery` (file missing, slot damaged or slots of
    different age), when its last signed height is below the store's height, or when the
    WAL holds a message of this key at a later (height, round) than the signer's. It
    starts from the key's own signatures found in the WAL, in `certificates` (the recent
    stored ones and the last commits of their successors) and from the store's height.
    """
    reason = recovery
    if reason is None and last_hrs is not None and last_hrs[0] < store_height:
        reason = f"the signer state (height {last_hrs[0]}) is older than the store"
    if reason is None and own_in_wal and (last_hrs is None or max(own_in_wal) > last_hrs[:2]):
        reason = "the WAL holds messages of this key newer than the signer state"
    if reason is None:
        return None
    guard = SignGuard(reason, my_key, powers, started=now, listen_s=listen_s)
    if last_hrs is not None and last_hrs[0] > 0:
        guard.own_signature(last_hrs[0], last_hrs[1])
    for pos in own_in_wal:
        guard.own_signature(*pos)
    for cert in certificates:
        if any(cs.validator == my_key for cs in cert.signatures):
            guard.own_signature(cert.height, cert.round)
    if store_height >= 1:
        guard.own_signature(store_height, 0)  # decided: the network got there
    log.warning(
        "signer state recovery: %s; this validator does not sign until it has seen how far "
        "the network got (own signatures found up to %s)",
        reason,
        guard.floor,
    )
    return guard
