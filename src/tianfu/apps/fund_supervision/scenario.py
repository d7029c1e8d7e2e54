"""End-to-end fund supervision flow, with every forbidden action tried and refused."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tianfu.apps.common.scenario import Scenario
from tianfu.apps.env import AppEnv
from tianfu.apps.fund_supervision import NAME, source
from tianfu.apps.fund_supervision.demo import (
    DAY_MS,
    PURPOSE,
    register_hierarchy,
    setup_offices,
)
from tianfu.apps.fund_supervision.sdk import POOL, FundSupervision, beneficiary_hash, doc_hash


def _books(fs: FundSupervision, fund_id: str, accounts: list[str]) -> Any:
    return {a: fs.balance(fund_id, a) for a in [POOL, *accounts]}


def run_scenario(env: AppEnv) -> None:
    tag = secrets.token_hex(3)
    o = setup_offices(env, prefix="s" + tag + "-")
    auth, prov, city, county, town, vill, reg = (
        o[k]
        for k in ("authority", "province", "city", "county", "township", "village", "regulator")
    )
    fs = reg.fs  # any identity can read
    now = int(time.time() * 1000)
    fund_id = "housing-" + tag
    run = Scenario(env, [(NAME, source)])
    check = run.check

    # Only a fund authority creates funds; bad funds are refused.
    run.watch(lambda: (fs.accounts(), fs.funds()))

    run.refused(
        lambda: prov.fs.create_fund(fund_id, PURPOSE, 10_000, now, now + DAY_MS),
        "lacks role",
    )
    run.refused(
        lambda: auth.fs.create_fund(fund_id, PURPOSE, 0, now, now + DAY_MS),
        "positive integer",
    )
    run.refused(lambda: auth.fs.create_fund(fund_id, PURPOSE, 10_000, now, now - 1), "end after")

    # The hierarchy: only authorities register provinces, only parents' managers sub-accounts.
    sfx = "-" + tag
    run.refused(
        lambda: prov.fs.register_account("sc" + sfx, "Sichuan", "province", POOL, prov.address),
        "only a fund authority",
    )
    run.refused(
        lambda: auth.fs.register_account("sc" + sfx, "Sichuan", "province", POOL, reg.address),
        "fund_officer",
    )
    acct = register_hierarchy(o, sfx)
    path = [acct[k] for k in ("province", "city", "county", "township", "village")]
    run.refused(
        lambda: city.fs.register_account("x" + sfx, "X", "city", acct["county"], city.address),
        "only the manager of",
    )
    run.refused(
        lambda: county.fs.register_account("x" + sfx, "X", "city", acct["county"], county.address),
        "must be at a lower level",
    )
    run.refused(
        lambda: auth.fs.register_account(
            acct["city"], "again", "city", acct["province"], city.address
        ),
        "already exists",
    )

    total = 100_000_000
    auth.fs.create_fund(fund_id, PURPOSE, total, now - DAY_MS, now + 30 * DAY_MS)
    run.refused(
        lambda: auth.fs.create_fund(fund_id, PURPOSE, 1, now, now + DAY_MS),
        "already exists",
    )

    run.watch(lambda: (_books(fs, fund_id, path), fs.fund(fund_id), fs.refusals(fund_id)))

    # Allocation: within the balance, only to registered sub-accounts, only by the manager.
    run.refused(
        lambda: auth.fs.allocate(fund_id, POOL, acct["province"], total + 1, ""),
        "exceeds the balance",
    )
    run.refused(
        lambda: auth.fs.allocate(fund_id, POOL, acct["city"], 1000, ""),
        "not a registered sub-account",
    )
    run.refused(
        lambda: prov.fs.allocate(fund_id, POOL, acct["province"], 1000, ""),
        "only the fund's authority",
    )
    auth.fs.allocate(fund_id, POOL, acct["province"], total, "full quota")
    run.refused(
        lambda: prov.fs.allocate(fund_id, acct["province"], acct["county"], 1000, ""),
        "not a registered sub-account",
    )
    run.refused(
        lambda: prov.fs.allocate(fund_id, acct["province"], "nowhere" + sfx, 1000, ""),
        "not a registered account",
    )
    run.refused(
        lambda: city.fs.allocate(fund_id, acct["province"], acct["city"], 1000, ""),
        "only the manager",
    )
    prov.fs.allocate(fund_id, acct["province"], acct["city"], 60_000_000, "")
    city.fs.allocate(fund_id, acct["city"], acct["county"], 40_000_000, "")
    run.refused(
        lambda: county.fs.allocate(fund_id, acct["county"], acct["township"], 40_000_001, ""),
        "exceeds the balance",
    )
    county.fs.allocate(fund_id, acct["county"], acct["township"], 25_000_000, "")
    town.fs.allocate(fund_id, acct["township"], acct["village"], 10_000_000, "")

    # Beneficiaries: registered by the village only, as salted hashes, never plain identities.
    salt = "village-secret-" + tag
    plain = "510131198203150021"
    alice = beneficiary_hash(plain, salt)
    bob = beneficiary_hash("510131197511020318", salt)
    run.refused(
        lambda: vill.fs.register_beneficiary(acct["village"], plain, [PURPOSE]),
        "never a plain identity",
    )
    run.refused(
        lambda: town.fs.register_beneficiary(acct["village"], alice, [PURPOSE]), "only the manager"
    )
    vill.fs.register_beneficiary(acct["village"], alice, [PURPOSE])
    vill.fs.register_beneficiary(acct["village"], bob, ["education-aid"])
    run.refused(
        lambda: vill.fs.register_beneficiary(acct["village"], alice, [PURPOSE]),
        "already registered",
    )

    # Disbursement: registered beneficiary, fund's purpose, within balance, by the manager.
    form = doc_hash("renovation approval form, household A")
    stranger = beneficiary_hash("510131199001010000", salt)
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], stranger, 1000, PURPOSE, form),
        "not a registered beneficiary",
    )
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], bob, 1000, PURPOSE, form), "not eligible"
    )
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], alice, 1000, "education-aid", form),
        "earmarked for",
    )
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], alice, 10_000_001, PURPOSE, form),
        "exceeds the balance",
    )
    run.refused(
        lambda: town.fs.disburse(fund_id, acct["village"], alice, 1000, PURPOSE, form),
        "only the manager",
    )
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], alice, 1000, PURPOSE, "nohash"),
        "doc_hash",
    )
    run.refused(
        lambda: town.fs.disburse(fund_id, acct["township"], alice, 1000, PURPOSE, form),
        "registered at",
    )
    # Payments: once per fund and beneficiary, unless an instalment plan was recorded before
    # the first payment; then exactly the planned instalments, in order.
    plan = [3_000_000, 500_000, 500_000]
    run.refused(
        lambda: town.fs.plan_instalments(fund_id, acct["village"], alice, plan), "only the manager"
    )
    run.refused(
        lambda: vill.fs.plan_instalments(fund_id, acct["village"], alice, [3_000_000]),
        "2 to 24 instalments",
    )
    run.refused(
        lambda: vill.fs.plan_instalments(fund_id, acct["village"], bob, plan), "not eligible"
    )
    vill.fs.plan_instalments(fund_id, acct["village"], alice, plan)
    run.refused(
        lambda: vill.fs.plan_instalments(fund_id, acct["village"], alice, [1, 1]),
        "already has a plan",
    )
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], alice, 3_500_000, PURPOSE, form),
        "instalment 1 of 3 is 3000000",
    )
    vill.fs.disburse(fund_id, acct["village"], alice, 3_000_000, PURPOSE, form)
    second = doc_hash("second instalment")
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], alice, 400_000, PURPOSE, second),
        "instalment 2 of 3 is 500000",
    )
    vill.fs.disburse(fund_id, acct["village"], alice, 500_000, PURPOSE, second)
    carol = beneficiary_hash("510131196607070044", salt)
    vill.fs.register_beneficiary(acct["village"], carol, [PURPOSE])
    vill.fs.disburse(fund_id, acct["village"], carol, 1_000_000, PURPOSE, doc_hash("form C"))
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], carol, 1_000_000, PURPOSE, form),
        "already paid",
    )
    run.refused(
        lambda: vill.fs.plan_instalments(fund_id, acct["village"], carol, [1, 1]),
        "already paid from this fund",
    )

    # Refused attempts through the recording path: state unchanged except the refusal log.
    before = _books(fs, fund_id, path)
    codes = []
    for call in [
        lambda: county.fs.attempt_allocate(
            fund_id, acct["county"], acct["township"], 15_000_001, ""
        ),
        lambda: vill.fs.attempt_disburse(fund_id, acct["village"], stranger, 1000, PURPOSE, form),
        lambda: vill.fs.attempt_disburse(
            fund_id, acct["village"], alice, 1000, "education-aid", form
        ),
        lambda: vill.fs.attempt_disburse(fund_id, acct["village"], carol, 10, PURPOSE, form),
    ]:
        out = call()
        check(out["ok"] is False and out["reason"], f"a refused attempt returns ok=False: {out}")
        codes.append(out["code"])
    check(
        codes == ["over_allocation", "unregistered_recipient", "wrong_purpose", "already_paid"],
        f"codes: {codes}",
    )
    check(_books(fs, fund_id, path) == before, "refused attempts move no money")
    ok = vill.fs.attempt_disburse(fund_id, acct["village"], alice, 500_000, PURPOSE, form)
    check(ok["ok"] is True and ok["move"]["amount"] == 500_000, "an allowed attempt pays")
    run.refused(
        lambda: vill.fs.disburse(fund_id, acct["village"], alice, 500_000, PURPOSE, form),
        "all 3 planned instalments",
    )
    vorg = vill.identity.info.org  # the village office registered the beneficiaries
    paid = fs.payments(fund_id, alice, vorg)
    check(paid["plan"] == plan and paid["paid"] == plan, f"alice's instalments: {paid}")

    # Trace: every fen from the fund to the beneficiary, through each level.
    tr = fs.trace(fund_id, alice, vorg)
    check(tr["total"] == 4_000_000 and len(tr["payments"]) == 3, f"trace total: {tr['total']}")
    hops = [h["account"] for h in tr["payments"][0]["path"]]
    check(hops == path, f"trace path: {hops}")
    check(all(h["allocations_in"] for h in tr["payments"][0]["path"]), "each level was funded")

    # The regulator's report: conservation, per-level balances, idle funds, refusals.
    rep = fs.report(fund_id, DAY_MS)
    check(rep["conserved"], "totals are conserved")
    levels = {lv["level"]: lv["balance"] for lv in rep["levels"]}
    expected = {
        "province": 40_000_000,
        "city": 20_000_000,
        "county": 15_000_000,
        "township": 15_000_000,
        "village": 5_000_000,
    }
    check(levels == expected, f"level balances: {levels}")
    check(rep["pool"] + sum(levels.values()) + rep["disbursed"] == total, "every fen accounted for")
    check(rep["idle"] == [], "nothing is idle within a day")
    idle = {x["account"]: x["balance"] for x in fs.report(fund_id, 0)["idle"]}
    check(idle == dict(zip(path, expected.values(), strict=True)), f"idle with idle_ms=0: {idle}")
    rcodes = [r["code"] for r in rep["refusals"]]
    check(rcodes == codes, f"the report lists refused attempts: {rcodes}")
    everything = json.dumps([rep, tr, fs.movements(fund_id), fs.beneficiary(alice, vorg)])
    check(plain not in everything and salt not in everything, "no plain identity on chain")

    # Past the fund's period: balances are idle and nothing more moves.
    short = "short-" + tag
    # Its period ends after the allocation below is committed: two transactions after the
    # fund's creation is sent, so at least 1.5 s, and four times what one took here on a
    # slow network.
    one_tx = time.monotonic()
    reg.fs.enrol(reg.display_name)  # any transaction
    period_ms = max(1_500, int(4_000 * (time.monotonic() - one_tx)))
    auth.fs.create_fund(
        short, PURPOSE, 1_000_000, now - DAY_MS, int(time.time() * 1000) + period_ms
    )
    auth.fs.allocate(short, POOL, acct["province"], 400_000, "")
    # Block time is the validators' median time of the block before (ADR 0021), so it
    # lags the clock by up to a block interval: add blocks until it is past the end.
    time.sleep(max(0.0, (fs.fund(short)["end_ms"] + 300) / 1000 - time.time()))
    deadline = time.monotonic() + 30
    while True:
        reg.fs.enrol(reg.display_name)  # any transaction: a block with a later time
        rep2 = fs.report(short, 365 * DAY_MS)
        if rep2["period_ended"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(rep2["period_ended"], "the period has ended")
    idle2 = {x["account"]: x["balance"] for x in rep2["idle"]}
    check(idle2 == {POOL: 600_000, acct["province"]: 400_000}, f"idle after the period: {idle2}")
    run.refused(
        lambda: prov.fs.allocate(short, acct["province"], acct["city"], 1, ""),
        "closed at",
        snapshot=lambda: (_books(fs, short, path), fs.fund(short)),
    )
