"""The signer state's mark at heights decided without this key's signature: it never lets
the key sign twice, never blocks a vote it may give, and never hides a restored copy."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tianfu.consensus.clock import AsyncioTimers
from tianfu.consensus.driversigning import DriverSigning
from tianfu.consensus.privval import (
    STEP_PRECOMMIT,
    STEP_PROPOSAL,
    DoubleSignRefused,
    FilePrivValidator,
)
from tianfu.consensus.signguard import SignGuard, restart_guard
from tianfu.consensus.signing import Signer
from tianfu.crypto import generate_keypair
from tianfu.types import PRECOMMIT, PREVOTE

CHAIN = "mark-test"
H1, H2 = b"\x01" * 32, b"\x02" * 32


@pytest.fixture
def kp():
    return generate_keypair()


def test_a_mark_never_reopens_what_was_signed_and_blocks_no_later_vote(tmp_path, kp):
    path = tmp_path / "pv"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    pv.sign_vote(CHAIN, 5, 2, PRECOMMIT, H1, 1_000)
    assert pv.mark_decided(7)
    for height, round, kind, block in (
        (5, 2, PRECOMMIT, H1),
        (5, 2, PRECOMMIT, H2),
        (6, 0, PREVOTE, H1),
        (5, 9, PREVOTE, b""),
    ):
        with pytest.raises(DoubleSignRefused):  # even the very same precommit again
            pv.sign_vote(CHAIN, height, round, kind, block, 1_000 if kind == PRECOMMIT else 0)
    with pytest.raises(DoubleSignRefused):  # the mark's own position signs nothing
        pv.sign_proposal(CHAIN, 7, 0, -1, H1, b"b")
    assert not pv.mark_decided(6) and pv.last_hrs() == (7, 0, STEP_PROPOSAL)  # never back
    reopened = FilePrivValidator(kp, path)  # durable, and a whole file: nothing to recover
    assert reopened.last_hrs() == (7, 0, STEP_PROPOSAL) and reopened.recovery is None
    reopened.close()
    pv.sign_vote(CHAIN, 8, 0, PREVOTE, H1)  # the next height signs as ever
    pv.sign_proposal(CHAIN, 8, 1, -1, H1, b"b")
    assert not pv.mark_decided(8)  # signed there: the mark stays put
    assert pv.last_hrs() == (8, 1, STEP_PROPOSAL)
    pv.close()


def test_a_marked_file_put_back_from_a_backup_is_still_guarded(tmp_path, kp):
    """A copy of a marked file taken at height 3, put back under a store at height 7: older
    than the store, the restart guard holds it as before."""
    path = tmp_path / "pv"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    pv.mark_decided(3)
    backup = path.read_bytes()
    pv.sign_vote(CHAIN, 7, 0, PRECOMMIT, H1, 1_000)
    pv.close()
    path.write_bytes(backup)
    restored = FilePrivValidator(kp, path)
    guard = restart_guard(
        my_key=kp.public_key,
        recovery=restored.recovery,
        last_hrs=restored.last_hrs(),
        own_in_wal=[],
        store_height=7,
        certificates=[],
        powers={kp.public_key: 1, b"x" * 32: 1},
        now=0.0,
        listen_s=1.0,
    )
    assert guard is not None and "older than the store" in guard.reason
    assert not guard.allows(8, 0, 10.0)  # (7, 0) decided: not (8, 0)
    restored.close()


class _Part(DriverSigning):
    """The driver's signing part alone, blocking work run inline."""

    def __init__(self, pv: FilePrivValidator) -> None:
        timers = AsyncioTimers()
        self.signer = Signer(pv, None, CHAIN, clock=lambda: 0.0, timers=timers, stats=Counter())  # type: ignore[arg-type]

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return fn(*args)


def test_no_mark_while_a_sign_guard_holds_signing(tmp_path, kp):
    """A guard (a signer state found older than what the key signed) is not kept across a
    restart; the file older than the store is what makes the next start guard again, so
    no decided height moves the mark while a guard holds signing at the next height."""
    path = tmp_path / "pv"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    part = _Part(pv)
    guard = SignGuard("test", kp.public_key, {kp.public_key: 1}, started=0, listen_s=1)
    guard.own_signature(3, 1)
    part.signer.guard = guard
    asyncio.run(part._mark_decided(4))  # listening: no mark
    assert pv.last_hrs() == (0, 0, 0)
    assert guard.settle(5.0) and guard.floor == (3, 1)
    asyncio.run(part._mark_decided(3))  # (4, 0) not allowed yet: no mark at 3
    assert pv.last_hrs() == (0, 0, 0)
    part.signer.guard = None
    asyncio.run(part._mark_decided(4))
    assert pv.last_hrs() == (4, 0, STEP_PROPOSAL)
    asyncio.run(part._mark_decided(2))
    assert pv.last_hrs() == (4, 0, STEP_PROPOSAL)
    pv.close()


def test_a_mark_after_a_precommit_of_that_height_is_not_written(tmp_path, kp):
    path = tmp_path / "pv"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    pv.sign_vote(CHAIN, 4, 1, PRECOMMIT, H1, 1_000)
    asyncio.run(_Part(pv)._mark_decided(4))
    assert pv.last_hrs() == (4, 1, STEP_PRECOMMIT)
    pv.close()


def test_a_settled_guard_lets_the_mark_follow_from_its_floor_on(tmp_path, kp):
    """Once the guard has settled on its floor (3, 1), a decided height 4 is marked: the
    guard itself allows height 5 round 0, the position the mark leaves open."""
    path = tmp_path / "pv"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    part = _Part(pv)
    guard = SignGuard("test", kp.public_key, {kp.public_key: 1}, started=0, listen_s=1)
    guard.own_signature(3, 1)
    assert guard.settle(5.0) and guard.allows(5, 0, 5.0)
    part.signer.guard = guard
    asyncio.run(part._mark_decided(4))
    assert pv.last_hrs() == (4, 0, STEP_PROPOSAL)
    pv.close()


class _Racing(_Part):
    """A worker-thread trip that starts after the event loop ran on a while: this key's
    signature beyond the signer state arrives from a peer (`found_own`) between the
    driver's check for a guard and the mark's write."""

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        self.signer.found_own(6, 0, 1, "a peer's message")
        return fn(*args)


def test_a_guard_made_while_a_mark_is_on_its_way_to_the_worker_stops_it(tmp_path, kp):
    """The decided height 4 is to be marked; before the write runs, a peer's message shows
    this key's prevote at height 6, past the signer state: a guard now holds signing. The
    mark went ahead (the guard was checked only before the trip), so the file no longer
    looked older than the store at height 4 and the next start made no guard: the
    network was no longer heard before signing again. Now the mark is checked again
    under the signer's lock, where a new guard is set."""
    path = tmp_path / "pv"
    FilePrivValidator.initialise(kp, path)
    pv = FilePrivValidator(kp, path)
    part = _Racing(pv)
    asyncio.run(part._mark_decided(4))
    assert part.signer.guard is not None and part.signer.guard.listening
    assert pv.last_hrs() == (0, 0, 0)
    guard = restart_guard(
        my_key=kp.public_key,
        recovery=None,
        last_hrs=pv.last_hrs(),
        own_in_wal=[],
        store_height=4,
        certificates=[],
        powers={kp.public_key: 1, b"x" * 32: 1},
        now=0.0,
        listen_s=1.0,
    )
    assert guard is not None
    pv.close()
