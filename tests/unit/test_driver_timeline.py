"""The driver's per-height timeline and its one-trip signing and committing.

Checked: `HeightTimeline` averages the points of a height per role and reports them
once per interval; in a running four-node cluster every own vote and proposal is in the
signer's state and fsynced in the WAL before it is broadcast, one worker-thread trip
covers a signature (signer + WAL) and one a commit (store + WAL end of height), and the
timeline holds the points of both roles.
"""

from __future__ import annotations

import asyncio
import threading

from tests.integration.test_driver import Cluster

from tianfu.codec import decode
from tianfu.consensus.messages import Proposal
from tianfu.consensus.peers import KIND_PROPOSAL, KIND_VOTE
from tianfu.consensus.privval import STEP_PROPOSAL
from tianfu.consensus.timeline import HeightTimeline
from tianfu.consensus.wal import WalProposal, WalVote
from tianfu.types import PREVOTE, Vote


def test_timeline_averages_points_per_role_and_reports_once_per_interval():
    tl = HeightTimeline(every=10.0)
    tl.last_line = 100.0
    tl.begin(100.0)
    tl.mark("proposal_in", 100.2)
    tl.mark("proposal_in", 100.3)  # only the first time a point is reached counts
    tl.mark("decided", 100.4)
    tl.end(100.5)
    tl.begin(100.5)
    tl.mark("proposal_in", 100.9)
    tl.mark("decided", 101.0)
    tl.end(101.5)
    tl.begin(101.5)
    tl.mark("build", 101.5)
    tl.mark("built", 101.6)
    tl.end(101.7)
    report = tl.report()
    assert list(report["validator"]) == ["proposal_in", "decided", "next"]
    assert abs(report["validator"]["proposal_in"][0] - 300.0) < 1e-6
    assert abs(report["validator"]["next"][0] - 750.0) < 1e-6
    assert abs(report["proposer"]["built"][0] - 100.0) < 1e-6
    assert tl.line(105.0) is None  # not due yet
    line = tl.line(111.0)
    assert line is not None and "proposer x1" in line and "validator x2" in line
    assert tl.line(125.0) is None  # reset: nothing new to report


def test_own_messages_are_signed_and_logged_in_one_trip_before_broadcast(tmp_path):
    cluster = Cluster(tmp_path)
    violations: list[str] = []

    def watch(nd) -> None:
        d = nd.driver
        wal, net, pv = d.wal, d.network, d.privval
        synced: set[bytes] = set()  # signatures of own messages appended with sync=True
        sign_threads: dict[bytes, int] = {}
        append, broadcast, sign = wal.append, net.broadcast, pv.sign

        def sign_w(height, round, step, sign_bytes, time_ms=0):
            sig = sign(height, round, step, sign_bytes, time_ms)
            sign_threads[sig] = threading.get_ident()
            return sig

        def append_w(entry, *, sync=False):
            append(entry, sync=sync)
            if sync and isinstance(entry, WalVote | WalProposal):
                msg = entry.vote if isinstance(entry, WalVote) else entry.proposal
                synced.add(msg.signature)
                if sign_threads.get(msg.signature) != threading.get_ident():
                    violations.append("signer and WAL append not in one thread trip")

        def broadcast_w(kind, payload):
            if kind in (KIND_VOTE, KIND_PROPOSAL):
                msg = decode(payload, Vote if kind == KIND_VOTE else Proposal)
                if isinstance(msg, Vote):
                    signer, step = msg.validator, 1 if msg.type == PREVOTE else 2
                else:
                    signer, step = msg.proposer, STEP_PROPOSAL
                if signer == d.my_key:
                    if msg.signature not in synced:
                        violations.append(f"broadcast before the WAL sync: {msg}")
                    if pv.last_hrs() < (msg.height, msg.round, step):
                        violations.append(f"broadcast before the signer's state: {msg}")
            broadcast(kind, payload)

        pv.sign, wal.append, net.broadcast = sign_w, append_w, broadcast_w

    async def scenario():
        await cluster.start()
        for nd in cluster.nodes:
            watch(nd)
        for i in range(8):
            cluster.submit(cluster.tx(i % 4, f"role{i}"))
        await cluster.wait_height(4)
        drivers = [nd.driver for nd in cluster.nodes]
        stats = [dict(d.stats) for d in drivers]
        reports = [d.timeline.report() for d in drivers]
        await cluster.stop_all()
        return stats, reports

    stats, reports = asyncio.run(asyncio.wait_for(scenario(), 240))
    assert not violations, violations[:3]
    assert cluster.check_agreement() >= 4
    for s in stats:
        # one trip per signature, execution, build and commit (plus the odd re-execution)
        trips = s["signed"] + s["executed"] + s.get("built", 0) + s["committed"]
        assert s["thread_hops"] <= trips + 2, s
    roles = {role for r in reports for role in r}
    assert roles == {"proposer", "validator"}
    for r in reports:
        for points in r.values():
            assert points["decided"][0] <= points["stored"][0] <= points["next"][0]


def test_timeline_line_is_logged(tmp_path, caplog):
    cluster = Cluster(tmp_path)

    async def scenario():
        await cluster.start()
        for nd in cluster.nodes:
            nd.driver.timeline.every = 0.0
        await cluster.wait_height(2)
        await cluster.stop_all()

    with caplog.at_level("INFO", logger="tianfu.consensus.driver"):
        asyncio.run(asyncio.wait_for(scenario(), 240))
    assert any("consensus timeline:" in r.getMessage() for r in caplog.records)
