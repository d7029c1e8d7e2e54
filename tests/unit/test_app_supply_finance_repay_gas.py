"""Supply-chain finance: a repayment of parts at their largest fits in a transaction's gas.

`repay` paid up to 200 unpaid parts, but a part its holder passed back and forth and pledged
over and over carries up to 10 transfers and 10 closed pledges (about 5.5 KB), and paying
one costs about 9,000 gas on the chain (reading, closing its pledge, writing, its event):
120 such parts ran out of the 1,000,000 gas of a transaction (200: 1.7 million) instead of
being refused naming the parts to repay. Gas is measured on the chain's own context
(`Local.chain_gas`), which charges state reads and writes by the byte."""

from __future__ import annotations

import pytest
from tests.unit.app_local import Ctx, Local

from tianfu.apps import supply_finance
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

CORE, BANK, S1, S2 = "c" * 40, "b" * 40, "1" * 40, "2" * 40
ORG = {CORE: "org1", BANK: "org2", S1: "org3", S2: "org4"}
DAY_MS = 86_400_000
HALF = 500_000  # half of the 1,000,000 gas of a transaction
_COMPILED = compile_contract(supply_finance.source())


def _call(app: Local, who: str, method: str, *args: object) -> object:
    return app.call(who, method, *args, org=ORG[who])


def _fat(app: Local, rid: str) -> None:
    """Part `rid` at its largest: passed back and forth 10 times, pledged, financed and
    released 10 times (10 kept of each, references of 128 characters), then financed."""
    for _ in range(5):
        _call(app, S1, "transfer", rid, S2)
        _call(app, S2, "transfer", rid, S1)
    for _ in range(11):
        _call(app, S1, "apply_pledge", rid, BANK)
        _call(app, BANK, "approve_pledge", rid, 1, 10000)
        _call(app, BANK, "disburse", rid, "R" * 128)
        if app.ctx.state["r:" + rid].get("pledge_count", 0) < 10:
            _call(app, BANK, "release_pledge", rid)


def _tree(shape: list[int], depth: int = 30) -> tuple[Local, str, list[str], list[str]]:
    """A receivable split `depth` levels down one branch (long ids), its bottom part split
    into len(`shape`) parts, the k-th of them into shape[k] leaves, every leaf at its
    largest (one built by calls, its kept lists copied to the others): (app, the bottom
    part, its parts, the leaves)."""
    roles = {CORE: ["core_enterprise"], BANK: ["bank"]}
    app = Local(_COMPILED, Ctx(supply_finance.NAME, roles))
    for who in ORG:
        _call(app, who, "enrol", "party " + who[:2])
    amount = 10**15
    rid = _call(app, CORE, "issue", S1, amount, app.ctx.time_ms + 100 * DAY_MS, "ab" * 32)
    _call(app, S1, "accept", rid)
    top = str(rid)
    for _ in range(depth):
        top = _call(app, S1, "split", top, [1, app.ctx.state["r:" + top]["amount"] - 1])[1]
    rest = app.ctx.state["r:" + top]["amount"]
    unit = rest // sum(shape)
    parts = _call(
        app, S1, "split", top, [unit * n for n in shape[:-1]] + [rest - unit * sum(shape[:-1])]
    )
    leaves: list[str] = []
    for part, n in zip(parts, shape, strict=True):
        a = app.ctx.state["r:" + part]["amount"]
        leaves += _call(app, S1, "split", part, [a // n] * (n - 1) + [a - a // n * (n - 1)])
    _fat(app, leaves[0])
    model = app.ctx.state["r:" + leaves[0]]
    for leaf in leaves[1:]:
        record = app.ctx.state["r:" + leaf]
        for field in ("transfers", "pledges", "transfer_count", "pledge_count", "pledge"):
            record[field] = model[field]
    return app, top, list(parts), leaves


def test_a_repayment_of_many_parts_at_their_largest_is_refused_naming_them_not_out_of_gas():
    app, top, parts, leaves = _tree([20] * 6)
    assert len(str(app.ctx.state["r:" + leaves[-1]])) > 5000
    with pytest.raises(ContractError) as refused:
        app.chain_gas(CORE, "repay", top, "W" * 128, org="org1")
    assert "out of gas" not in str(refused.value)
    assert "repay its parts one at a time" in str(refused.value)
    assert all(p in str(refused.value) for p in parts)
    paid = 0
    for part in parts:  # each named part is repaid in one transaction, within half its gas
        payments, gas = app.chain_gas(CORE, "repay", part, "W" * 128, org="org1")
        assert len(payments) == 20 and gas <= HALF, gas
        paid += sum(p["amount"] for p in _call(app, CORE, "repay", part, "W" * 128))
    assert paid == app.ctx.state["r:" + top]["amount"]
    assert all(app.ctx.state["r:" + x]["status"] == "paid" for x in leaves)


def test_the_largest_repayment_that_answers_spends_at_most_half_a_transactions_gas():
    """At the bounds: the most unpaid parts one repayment pays, and the most parts it reads
    before it is refused, each part at its largest."""
    limit = supply_finance_bound("MAX_REPAY")
    app, top, _, leaves = _tree([limit // 2, limit - limit // 2])
    payments, gas = app.chain_gas(CORE, "repay", top, "W" * 128, org="org1")
    assert len(payments) == limit and gas <= HALF, gas
    app, top, parts, leaves = _tree([20] * 6)
    for part in parts[:5]:  # paid parts are read too: the walk stops past the read bound
        _call(app, CORE, "repay", part, "W")
    with pytest.raises(ContractError, match="repay its parts one at a time"):
        app.chain_gas(CORE, "repay", top, "W" * 128, org="org1")
    read = supply_finance_bound("MAX_REPAY_READ")
    assert 1 + 6 + 5 * 20 > read  # so it is refused for what it reads, not what it pays
    try:
        app.chain_gas(CORE, "repay", top, "W" * 128, org="org1", limit=HALF)
    except ContractError as exc:
        assert "repay its parts one at a time" in str(exc)  # not out of half the gas


def supply_finance_bound(name: str) -> int:
    """A bound of the deployed contract source (an integer constant)."""
    for line in supply_finance.source().splitlines():
        if line.startswith(name + " = "):
            return int(line.split("=")[1].split("#")[0])
    raise AssertionError(name)
