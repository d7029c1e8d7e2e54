"""Property tests of fund supervision invariants: random allocations, instalment plans and
disbursements by random offices, checked against a reference model (balances, conservation,
recorded refusals, a beneficiary paid once per fund or exactly its planned instalments)."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.apps.fund_supervision import NAME
from tianfu.apps.fund_supervision.demo import DAY_MS, PURPOSE, register_hierarchy, setup_offices
from tianfu.apps.fund_supervision.sdk import POOL, beneficiary_hash, doc_hash

KEYS = ["pool", "province", "city", "county", "township", "village"]
MANAGER = {"pool": "authority", **{k: k for k in KEYS[1:]}}
FORM = doc_hash("form")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tianfu.testing.appchain import AppChain

    chain = AppChain(tmp_path_factory.mktemp("fsprops"))
    offices = setup_offices(chain)
    accounts = register_hierarchy(offices)
    good = beneficiary_hash("1", "salt")
    other = beneficiary_hash("2", "salt")
    chain.call(
        offices["village"].identity,
        NAME,
        "register_beneficiary",
        accounts["village"],
        good,
        [PURPOSE],
    )
    chain.call(
        offices["village"].identity,
        NAME,
        "register_beneficiary",
        accounts["village"],
        other,
        ["school"],
    )
    yield chain, offices, accounts, [good, other, beneficiary_hash("3", "salt")]
    chain.close()


op = st.tuples(
    st.sampled_from(["allocate", "attempt_allocate", "disburse", "attempt_disburse", "plan"]),
    st.integers(0, 5),  # source level
    st.integers(0, 9),  # destination: 0-3 the next level down, else level n-4
    st.integers(0, 9),  # actor: 0-3 the source's manager, else office n-4 (6th = regulator)
    st.integers(1, 1_200),  # amount
    st.integers(0, 4),  # beneficiary: 0-2 eligible, 3 not eligible, 4 unregistered
    st.integers(0, 3),  # 0: wrong purpose
)
_ids = iter(range(10**6))


@settings(max_examples=50, deadline=None)
@given(
    total=st.integers(1, 2_000),
    share=st.sampled_from([0, 5, 50, 90, 100]),
    ops=st.lists(op, min_size=2, max_size=20),
)
def test_random_flows_conserve_and_record(world, total, share, ops):
    chain, o, acct, bens = world
    fund_id = f"p{next(_ids)}"
    now = int(time.time() * 1000)
    assert chain.call(
        o["authority"].identity,
        NAME,
        "create_fund",
        fund_id,
        PURPOSE,
        total,
        now - DAY_MS,
        now + DAY_MS,
    ).ok
    ident = {k: acct[k] for k in KEYS[1:]}
    ident["pool"] = POOL
    bal = {k: 0 for k in KEYS}
    bal["pool"] = total
    paid = 0
    refusals = 0
    seed = total * share // 100  # first move this much straight down to the village
    for i in range(5 if seed else 0):
        src, dst = KEYS[i], KEYS[i + 1]
        r = chain.call(
            o[MANAGER[src]].identity, NAME, "allocate", fund_id, ident[src], ident[dst], seed, ""
        )
        assert r.ok, r.error
    bal["pool"] -= seed
    bal["village"] += seed
    plans: dict[int, list[int] | None] = {0: None, 1: None, 2: None}
    paid_to: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for kind, src_i, dst_i, actor_i, amount, ben_n, wrong_n in ops:
        ben_i, wrong = max(0, ben_n - 2), wrong_n == 0
        funded = [k for k in KEYS if bal[k] > 0]
        src = funded[-1] if src_i >= 2 and funded else KEYS[src_i]  # mostly move money down
        if not kind.endswith("allocate") and src_i % 2:
            src = "village"  # mostly from where the beneficiaries live
        src_i = KEYS.index(src)
        plan, done = plans[ben_i], paid_to[ben_i]
        if kind.endswith("disburse") and plan is not None and len(done) < len(plan) and dst_i % 3:
            amount = plan[len(done)]  # mostly the next planned instalment
        elif kind.endswith("disburse") and dst_i % 2:
            amount = 1 + amount % 40  # small payments: the balance allows a second one
        elif amount % 3 and bal[src] > 0:
            amount = min(amount, bal[src])  # mostly within the balance
        actor = (
            MANAGER[src] if actor_i < 4 else (["regulator"] + list(MANAGER.values()))[actor_i - 4]
        )
        purpose = "school" if wrong else PURPOSE
        if kind == "plan":
            instalments = [amount % 30 + 1, amount % 7 + 1] + [3] * (dst_i % 3)
            allowed = actor == "village" and ben_i == 0 and plan is None and not done
            args = (fund_id, ident["village"], bens[ben_i], instalments)
        elif kind.endswith("allocate"):
            dst = KEYS[min(src_i + 1, 5)] if dst_i < 4 else KEYS[dst_i - 4]
            allowed = actor == MANAGER[src] and KEYS.index(dst) == src_i + 1 and amount <= bal[src]
            args = (fund_id, ident[src], ident[dst], amount, "")
        else:
            by_rule = (
                not done if plan is None else len(done) < len(plan) and amount == plan[len(done)]
            )
            allowed = (
                actor == MANAGER[src]
                and src == "village"
                and ben_i == 0
                and not wrong
                and by_rule
                and amount <= bal[src]
            )
            args = (fund_id, ident[src], bens[ben_i], amount, purpose, FORM)
        before = chain.contract_state()
        r = chain.call(o[actor].identity, NAME, kind.replace("plan", "plan_instalments"), *args)
        if kind.startswith("attempt") and actor == "regulator":
            # no role on the fund: its refusal is not recorded, the call fails
            assert not r.ok and not allowed and chain.contract_state() == before
        elif kind.startswith("attempt"):
            assert r.ok
            assert r.result["ok"] == allowed, (kind, args, r.result)
            if not allowed:
                refusals += 1
        else:
            assert r.ok == allowed, (kind, args, r.error)
            if not allowed:
                assert chain.contract_state() == before
        if allowed and kind == "plan":
            plans[ben_i] = instalments
        elif allowed:
            bal[src] -= amount
            if kind.endswith("allocate"):
                bal[dst] += amount
            else:
                paid += amount
                paid_to[ben_i].append(amount)
    vorg = o["village"].identity.info.org  # the beneficiaries' registering office
    for i, ben in enumerate(bens):
        record = chain.query(NAME, "payments", fund_id, ben, vorg)
        assert record["plan"] == plans[i] and record["paid"] == paid_to[i]
        limit = 1 if plans[i] is None else len(plans[i])
        assert len(record["paid"]) <= limit
        assert record["paid"] == (plans[i] or record["paid"])[: len(record["paid"])]
    rep = chain.query(NAME, "report", fund_id, None)
    assert rep["conserved"]
    assert rep["pool"] == bal["pool"] and rep["disbursed"] == paid
    got = {row["account"]: row["balance"] for row in rep["accounts"]}
    assert all(got.get(ident[k], 0) == bal[k] for k in KEYS[1:])
    assert rep["pool"] + sum(got.values()) + paid == total
    assert rep["refusal_count"] == refusals and len(rep["refusals"]) == min(refusals, 80)
    assert rep["refusals"] == chain.query(NAME, "refusal_page", fund_id, max(1, refusals - 79), 80)


pay_op = st.tuples(
    st.sampled_from(["plan", "disburse", "disburse", "attempt_disburse"]),
    st.integers(0, 1),  # which beneficiary
    st.lists(st.integers(1, 50), min_size=1, max_size=5),  # a plan, or [amount, ...]
    st.booleans(),  # a disbursement pays the next planned instalment (when there is one)
)


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(pay_op, min_size=1, max_size=12))
def test_a_beneficiary_is_paid_once_per_fund_or_exactly_its_plan(world, ops):
    chain, o, acct, _ = world
    n = next(_ids)
    fund_id = f"pay{n}"
    now = int(time.time() * 1000)
    village = o["village"].identity
    assert chain.call(
        o["authority"].identity,
        NAME,
        "create_fund",
        fund_id,
        PURPOSE,
        10_000,
        now - DAY_MS,
        now + DAY_MS,
    ).ok
    ident = {k: acct[k] for k in KEYS[1:]}
    ident["pool"] = POOL
    for src, dst in zip(KEYS, KEYS[1:], strict=False):
        r = chain.call(
            o[MANAGER[src]].identity, NAME, "allocate", fund_id, ident[src], ident[dst], 10_000, ""
        )
        assert r.ok, r.error
    bens = [beneficiary_hash(f"pay{n}-{i}", "salt") for i in range(2)]
    for ben in bens:
        assert chain.call(village, NAME, "register_beneficiary", acct["village"], ben, [PURPOSE]).ok
    plans: list[list[int] | None] = [None, None]
    paid: list[list[int]] = [[], []]
    for kind, i, amounts, follow in ops:
        plan, done = plans[i], paid[i]
        before = chain.contract_state()
        if kind == "plan":
            allowed = plan is None and not done and len(amounts) >= 2
            r = chain.call(
                village, NAME, "plan_instalments", fund_id, acct["village"], bens[i], amounts
            )
            assert r.ok == allowed, (plan, done, amounts, r.error)
            if allowed:
                plans[i] = amounts
            else:
                assert chain.contract_state() == before
            continue
        amount = amounts[0]
        if follow and plan is not None and len(done) < len(plan):
            amount = plan[len(done)]
        if plan is None:
            allowed = not done
        else:
            allowed = len(done) < len(plan) and amount == plan[len(done)]
        args = (fund_id, acct["village"], bens[i], amount, PURPOSE, FORM)
        r = chain.call(village, NAME, kind, *args)
        ok = r.ok and (kind == "disburse" or r.result["ok"])
        assert ok == allowed, (kind, plan, done, amount, r.error or r.result)
        if allowed:
            done.append(amount)
        elif kind == "disburse":
            assert chain.contract_state() == before
        else:
            assert r.result["code"] in ("already_paid", "not_planned")
    vorg = o["village"].identity.info.org  # the beneficiaries' registering office
    for i, ben in enumerate(bens):
        record = chain.query(NAME, "payments", fund_id, ben, vorg)
        assert record["plan"] == plans[i] and record["paid"] == paid[i]
        assert len(paid[i]) <= (1 if plans[i] is None else len(plans[i]))
        assert chain.query(NAME, "trace", fund_id, ben, vorg)["total"] == sum(paid[i])


# -- handing accounts to new managers: who may, and that nothing moves -----------------------
# The province "p", its city "c" and the city's county "k"; ALICE a fund authority, the
# officers may manage an account, FRANK a regulator and GRACE a member with no role.
_OFFICERS = ["b" * 40, "c" * 40, "d" * 40, "e" * 40]
_ALICE, _FRANK, _GRACE = "a" * 40, "f" * 40, "1" * 40
_PARENT = {"p": "", "c": "p", "k": "c"}
_COMPILED: list = []  # the contract, compiled once
hand_op = st.tuples(
    st.sampled_from(["handover", "handover", "allocate"]),
    st.sampled_from([_ALICE, _FRANK, _GRACE, *_OFFICERS]),  # who acts
    st.sampled_from(["p", "c", "k"]),  # the account handed over, or allocated from
    st.sampled_from([_GRACE, _FRANK, *_OFFICERS]),  # the new manager
    st.integers(1, 400),  # an amount allocated
)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(hand_op, min_size=1, max_size=16))
def test_only_those_answering_for_an_account_hand_it_over_and_nothing_moves(ops):
    from tests.unit.app_local import Ctx, Local

    from tianfu.apps.fund_supervision import source
    from tianfu.execution.contract_api import ContractError
    from tianfu.execution.sandbox import compile_contract

    roles = {_ALICE: ["fund_authority"], _FRANK: ["regulator"]}
    roles.update({o: ["fund_officer"] for o in _OFFICERS})
    if not _COMPILED:
        _COMPILED.append(compile_contract(source()))
    app = Local(_COMPILED[0], Ctx(NAME, roles))
    for who in (_ALICE, _FRANK, _GRACE, *_OFFICERS):  # every identity registered, in org1
        app.ctx.governance["cert/" + who] = {"org": "org1", "serial": who[:8], "fingerprint": ""}
    now = app.ctx.time_ms
    app.call(_ALICE, "create_fund", "f1", "relief", 1000, now - 1, now + 10**12)
    manager = {"p": _OFFICERS[0], "c": _OFFICERS[1], "k": _OFFICERS[2]}
    app.call(_ALICE, "register_account", "p", "P", "province", "", manager["p"])
    app.call(manager["p"], "register_account", "c", "C", "city", "p", manager["c"])
    app.call(manager["c"], "register_account", "k", "K", "county", "c", manager["k"])
    app.call(_ALICE, "allocate", "f1", "", "p", 1000, "")
    balance = {"p": 1000, "c": 0, "k": 0}
    handed = {"p": [], "c": [], "k": []}
    for kind, who, account, new, amount in ops:
        parent = _PARENT[account]
        if kind == "handover":
            ok = (who == _ALICE or (parent != "" and manager[parent] == who)) and (
                new in _OFFICERS and new != manager[account]
            )
            args: tuple = (account, new, "reorganised")
        else:
            child = {"p": "c", "c": "k", "k": None}[account]
            ok = child is not None and who == manager[account] and amount <= balance[account]
            args = ("f1", account, child or "p", amount, "")
        state = dict(app.ctx.state)
        try:
            app.call(who, "replace_manager" if kind == "handover" else "allocate", *args)
        except ContractError:
            assert not ok and app.ctx.state == state
        else:
            assert ok
            if kind == "handover":
                handed[account].append(new)
                manager[account] = new
            else:
                balance[account] -= amount
                balance[args[2]] += amount
        for a in ("p", "c", "k"):
            assert app.call(_GRACE, "account", a)["manager"] == manager[a]
            assert app.call(_GRACE, "balance", "f1", a)["balance"] == balance[a]
            assert [h["to"] for h in app.call(_GRACE, "handovers", a)] == handed[a]
        report = app.call(_GRACE, "report", "f1", None)
        assert report["conserved"] and report["pool"] + sum(balance.values()) == 1000
