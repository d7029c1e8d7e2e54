"""The supply-finance workload of the bench: its flows are valid calls that succeed on a real
in-process chain, interleaved as concurrent connections would interleave them."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tianfu.apps.supply_finance import NAME
from tianfu.bench.workloads import (
    CALLS_PER_FLOW,
    ROLES,
    Call,
    Flows,
    FlowSession,
    doc_hash,
    lanes_for,
    lanes_of,
    receivable_flow,
    setup_lanes,
)
from tianfu.testing.appchain import AppChain


def _answer(result, ok=True, status=200) -> bytes:
    return json.dumps({"height": 5, "receipt": {"ok": ok, "result": result}}).encode()


def test_flows_interleaved_in_shared_blocks_all_succeed(tmp_path):
    chain = AppChain(tmp_path)
    try:
        casts = setup_lanes(chain, 2)
        who = {p.address: p.identity for cast in casts for p in cast.values()}
        lanes = lanes_of([p.address for cast in casts for p in cast.values()])
        assert [set(lane) for lane in lanes] == [set(ROLES)] * 2
        flows = Flows(lanes, "unit")
        # Five receivables at once, one call of each per block (as concurrent connections).
        live = {i: flows.new() for i in range(5)}
        calls = {i: next(f) for i, f in live.items()}
        methods: Counter[str] = Counter()
        roots, payments = [], []
        while calls:
            order = sorted(calls)
            receipts = chain.call_many(
                [(who[calls[i].signer], NAME, calls[i].method, calls[i].args) for i in order]
            )
            for i, r in zip(order, receipts, strict=True):
                assert r.ok, f"{calls[i].method}: {r.error}"
                methods[calls[i].method] += 1
                if calls[i].method == "issue":
                    roots.append(r.result)
                if calls[i].method == "repay":
                    payments.append(r.result)
                try:
                    calls[i] = live[i].send(r.result)
                except StopIteration:
                    del calls[i]
        assert sum(methods.values()) == 5 * CALLS_PER_FLOW
        assert {m for m, n in methods.items() if n == 5} >= {
            "issue", "accept", "split", "transfer", "apply_pledge", "approve_pledge",
            "disburse", "repay",
        }  # fmt: skip
        assert len(set(roots)) == 5
        open_ids = {r["id"] for r in chain.query(NAME, "open_receivables")}
        assert not open_ids & set(roots), "every receivable of a finished flow is repaid"
        for paid in payments:  # the financed part went to the bank, the rest to tier 1
            assert sorted(p["payee_kind"] for p in paid) == ["bank", "holder"]
    finally:
        chain.close()


def test_a_flow_names_the_right_signer_and_its_numbers_differ():
    lane = dict(zip(ROLES, ["c" * 40, "1" * 40, "2" * 40, "b" * 40], strict=True))
    flow = receivable_flow(lane, "t", 7, now_ms=1_000)
    issue = next(flow)
    assert issue == Call("c" * 40, "issue", issue.args)
    assert issue.args[0] == "1" * 40 and issue.args[2] > 1_000 and issue.args[3] == doc_hash("t", 7)
    assert flow.send("RCV-1").signer == "1" * 40  # accept, by the tier-1 supplier
    assert doc_hash("t", 7) != doc_hash("t", 8) != doc_hash("u", 8)


def test_flow_session_follows_answers_and_stops_on_a_failure():
    lane = dict(zip(ROLES, ["c" * 40, "1" * 40, "2" * 40, "b" * 40], strict=True))
    signed: list[Call] = []

    def sign(call: Call) -> bytes:
        signed.append(call)
        return call.method.encode()

    s = FlowSession(receivable_flow(lane, "t", 1, 0), sign)
    assert s.next() == b"issue"
    s.answered(200, _answer("RCV-9"))
    assert s.next() == b"accept" and signed[-1].args == ("RCV-9",)
    s.answered(200, _answer("RCV-9", ok=False))  # a failed receipt ends the flow
    assert s.next() is None
    for status, body in ((202, b"{}"), (200, b"not json"), (0, b"")):
        s = FlowSession(receivable_flow(lane, "t", 2, 0), sign)
        s.answered(status, body)
        assert s.next() is None


def test_lanes_are_whole():
    assert lanes_for(1) == 1 and lanes_for(8) == 2 and lanes_for(9) == 3
    with pytest.raises(ValueError):
        lanes_of(["a" * 40] * 3)
    with pytest.raises(ValueError):
        lanes_of([])
    with pytest.raises(ValueError):
        Flows([], "t")
