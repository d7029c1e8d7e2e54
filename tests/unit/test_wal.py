"""Unit tests: the consensus WAL (round trip, torn tail, rotation, replay into a core)."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.consensus.core import ConsensusCore, weighted_round_robin
from tianfu.consensus.messages import (
    BlockExecuted,
    ProposalReceived,
    SignProposal,
    SignVote,
    Start,
    Step,
    TimeoutFired,
    VoteReceived,
    sign_proposal,
)
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.wal import (
    ConsensusWAL,
    EndHeight,
    WALError,
    WalExecuted,
    WalProposal,
    WalTimeout,
    WalVote,
    encode_record,
    entry_event,
    scan,
)
from tianfu.crypto import ED25519, sign_vote
from tianfu.testing.sim import opaque_block, sim_key
from tianfu.types import PRECOMMIT, PREVOTE, ConsensusParams, Validator, ValidatorSet

CHAIN = "sim"
KEYS = [sim_key(i) for i in range(4)]
VALS = ValidatorSet(
    [Validator(f"v{i}", f"o{i}", ED25519, k.public_key, 1) for i, k in enumerate(KEYS)]
)


def test_round_trip_and_end_height_rotation(tmp_path):
    path = tmp_path / "cs.wal"
    wal = ConsensusWAL(path, rotate_bytes=0)  # rotate at every height
    assert wal.records() == (None, [])
    v = sign_vote(KEYS[0], CHAIN, 1, 0, PREVOTE, b"\x01" * 32)
    h, b = opaque_block(1, 0, "v0")
    p = sign_proposal(KEYS[1], CHAIN, 1, 0, -1, h, b)
    entries = [WalVote(v), WalProposal(p), WalTimeout(1, 0, 1), WalExecuted(1, h, True)]
    for i, e in enumerate(entries):
        wal.append(e, sync=i % 2 == 0)
    wal.close()
    wal = ConsensusWAL(path, rotate_bytes=0)
    assert wal.records() == (None, entries) and wal.truncated_bytes == 0
    wal.end_height(1)
    wal.append(WalTimeout(2, 0, 0))
    wal.close()
    wal = ConsensusWAL(path)
    assert wal.records() == (1, [WalTimeout(2, 0, 0)])
    assert wal.all_entries() == [EndHeight(1), WalTimeout(2, 0, 0)]
    assert path.stat().st_size < 64  # rotation dropped height 1's records
    wal.close()


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=1, max_value=200), n=st.integers(min_value=1, max_value=6))
def test_torn_tail_is_detected_and_truncated(tmp_path_factory, cut, n):
    path = tmp_path_factory.mktemp("wal") / "cs.wal"
    entries = [WalTimeout(3, r, r % 3) for r in range(n)]
    data = b"".join(encode_record(e) for e in entries)
    extra = encode_record(WalExecuted(3, b"\x05" * 32, True))
    torn = extra[: max(1, min(cut, len(extra) - 1))]
    path.write_bytes(data + torn)
    wal = ConsensusWAL(path)
    assert wal.records() == (None, entries)
    assert wal.truncated_bytes == len(torn)
    assert path.read_bytes() == data
    wal.append(WalTimeout(3, 9, 2))  # appends continue after the good prefix
    wal.close()
    assert ConsensusWAL(path).records()[1] == [*entries, WalTimeout(3, 9, 2)]


def test_corrupted_record_stops_the_scan(tmp_path):
    recs = [encode_record(WalTimeout(1, r, 0)) for r in range(3)]
    bad = bytearray(recs[1])
    bad[-1] ^= 0xFF
    entries, good = scan(recs[0] + bytes(bad) + recs[2])
    assert entries == [WalTimeout(1, 0, 0)] and good == len(recs[0])
    # a length field claiming a gigantic record is a torn tail too
    entries, good = scan(recs[0] + b"\xff\xff\xff\xff\x00\x00\x00\x00xx")
    assert entries == [WalTimeout(1, 0, 0)] and good == len(recs[0])


class Node:
    """A core driven the way the driver does it: sign via privval, WAL, feed back."""

    def __init__(self, tmp_path, me: int, replay: bool = False) -> None:
        self.key = KEYS[me]
        params = ConsensusParams(timeout_propose_ms=100, timeout_vote_ms=100, timeout_delta_ms=10)
        self.core = ConsensusCore(CHAIN, 1, VALS, self.key.public_key, params=params)
        FilePrivValidator.initialise(self.key, tmp_path / f"pv{me}.bin")
        self.pv = FilePrivValidator(self.key, tmp_path / f"pv{me}.bin")
        self.wal = ConsensusWAL(tmp_path / f"wal{me}")
        self.actions: list = []
        self.replaying = replay

    def feed(self, event, log: bool = True) -> None:
        q = deque([event])
        while q:
            ev = q.popleft()
            if log and not self.replaying:
                if isinstance(ev, VoteReceived) and ev.vote.validator != self.key.public_key:
                    self.wal.append(WalVote(ev.vote))
                elif isinstance(ev, ProposalReceived):
                    self.wal.append(WalProposal(ev.proposal))
                elif isinstance(ev, TimeoutFired):
                    self.wal.append(WalTimeout(ev.height, ev.round, int(ev.step)))
                elif isinstance(ev, BlockExecuted):
                    self.wal.append(WalExecuted(ev.height, ev.block_hash, ev.valid))
            for a in self.core.handle(ev):
                self.actions.append(a)
                if isinstance(a, SignVote):
                    last = self.pv.last_hrs()
                    step = 1 if a.type == PREVOTE else 2
                    if self.replaying and last and (a.height, a.round, step) < last:
                        continue
                    t = 1_000 if a.type == PRECOMMIT and a.block_hash else 0
                    v = self.pv.sign_vote(CHAIN, a.height, a.round, a.type, a.block_hash, t)
                    if not self.replaying:
                        self.wal.append(WalVote(v), sync=True)
                    q.append(VoteReceived(v))
                elif isinstance(a, SignProposal):
                    raise AssertionError("not this node's turn")


def test_replay_restores_round_lock_and_own_votes(tmp_path):
    proposer = weighted_round_robin(VALS, 1, 0)
    p_idx = next(i for i, k in enumerate(KEYS) if k.public_key == proposer)
    p1_idx = next(i for i, k in enumerate(KEYS) if k.public_key == weighted_round_robin(VALS, 1, 1))
    me = next(i for i in range(4) if i not in (p_idx, p1_idx))
    others = [i for i in range(4) if i != me]
    node = Node(tmp_path, me)
    node.feed(Start())
    # round 0: a timeout, nil votes from others, then round 1 where we lock on a block
    node.feed(TimeoutFired(1, 0, Step.PROPOSE))
    for i in others:
        node.feed(VoteReceived(sign_vote(KEYS[i], CHAIN, 1, 0, PREVOTE, b"")))
    for i in others:
        node.feed(VoteReceived(sign_vote(KEYS[i], CHAIN, 1, 0, PRECOMMIT, b"")))
    node.feed(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert node.core.round == 1
    h, b = opaque_block(1, 1, "x")
    node.feed(ProposalReceived(sign_proposal(KEYS[p1_idx], CHAIN, 1, 1, -1, h, b)))
    node.feed(BlockExecuted(1, h, True))
    for i in others[:2]:
        node.feed(VoteReceived(sign_vote(KEYS[i], CHAIN, 1, 1, PREVOTE, h)))
    core = node.core
    assert core.locked_value == h and core.locked_round == 1 and core.step == Step.PRECOMMIT
    own = {(v.round, v.type): v.block_hash for v in _own_votes(core, KEYS[me].public_key)}
    assert own == {(0, PREVOTE): b"", (0, PRECOMMIT): b"", (1, PREVOTE): h, (1, PRECOMMIT): h}
    node.wal.close()

    # "crash": a new core, signer and WAL from the same files, replayed
    again = Node(tmp_path, me, replay=True)
    _, entries = again.wal.records()
    again.feed(Start(), log=False)
    for e in entries:
        again.feed(entry_event(e), log=False)
    c2 = again.core
    assert (c2.height, c2.round, c2.step) == (1, 1, Step.PRECOMMIT)
    assert (c2.locked_value, c2.locked_round) == (h, 1)
    assert (c2.valid_value, c2.valid_round) == (h, 1)
    own2 = {(v.round, v.type): v.block_hash for v in _own_votes(c2, KEYS[me].public_key)}
    assert own2 == own
    # the restarted node never signed anything new, and no conflicting vote was produced
    assert again.pv.last_hrs() == (1, 1, 2)


def _own_votes(core, key):
    out = []
    for r in core.votes.rounds():
        for t in (PREVOTE, PRECOMMIT):
            out += [v for v in core.votes.get(r, t).votes() if v.validator == key]
    return out


def test_append_after_close_is_an_error(tmp_path):
    from tianfu.consensus.wal import WALError

    wal = ConsensusWAL(tmp_path / "w")
    h = b"\x01" * 32
    p = sign_proposal(KEYS[0], CHAIN, 1, 0, -1, h, b"x")
    wal.append(WalProposal(p))
    wal.close()
    with pytest.raises(WALError):
        wal.append(WalProposal(p))


def test_a_wal_that_cannot_be_opened_for_writing_is_a_wal_error(tmp_path, monkeypatch):
    """A read-only file system or a file of another user: the typed error, not a bare
    OSError (the node's start refuses with it in one line)."""
    from tianfu.consensus import wal as wal_module

    def refuse(*args, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(wal_module.os, "open", refuse)
    with pytest.raises(WALError, match="cannot open WAL .* for writing"):
        ConsensusWAL(tmp_path / "cs.wal")


def test_node_start_with_an_unusable_wal_refuses_in_one_line(tmp_path):
    """`tianfu node start` names the WAL and what to do, exit 1, no traceback."""
    from typer.testing import CliRunner

    from tianfu.cli.main import app

    out = tmp_path / "net"
    runner = CliRunner()
    r = runner.invoke(app, ["network", "init", "--out", str(out), "--orgs", "1"])
    assert r.exit_code == 0, r.output
    home = next(out.glob("org*/node*"))
    (home / "data").mkdir(exist_ok=True)
    (home / "data" / "consensus.wal").mkdir()  # not a file: it cannot be read
    r = runner.invoke(app, ["node", "start", "--home", str(home)])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "consensus.wal" in r.output and "start again" in r.output, r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_wal_deleted_while_in_use_is_made_again_at_the_next_synced_append(tmp_path, how, caplog):
    """Deleted (or replaced) while the node ran, every later record went to the unlinked
    file until a rotation: a restart read nothing of this node's newest signed messages."""
    path = tmp_path / "cs.wal"
    wal = ConsensusWAL(path)
    wal.append(WalTimeout(2, 0, 0), sync=True)
    if how == "deleted":
        path.unlink()
    else:
        (tmp_path / "other").write_bytes(b"")
        (tmp_path / "other").rename(path)
    wal.append(WalTimeout(2, 0, 1))  # (not synced: not checked)
    wal.append(WalTimeout(2, 1, 0), sync=True)
    assert "deleted or replaced while the node runs" in caplog.text
    wal.append(WalTimeout(2, 1, 1))
    wal.close()
    assert ConsensusWAL(path).all_entries() == [WalTimeout(2, 1, 0), WalTimeout(2, 1, 1)]
