"""End-to-end supply-chain finance flow, with every forbidden action tried and refused."""

from __future__ import annotations

import secrets
import time
from typing import Any

from tianfu.apps.common.scenario import Scenario
from tianfu.apps.env import AppEnv
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.demo import DAY_MS, invoice_hash, setup_parties


def run_scenario(env: AppEnv) -> None:
    p = setup_parties(env, prefix="s" + secrets.token_hex(3) + "-")
    core, t1, t2, t3, bank, reg = (
        p[k] for k in ("core", "tier1", "tier2", "tier3", "bank", "regulator")
    )
    ids: list[str] = []
    run = Scenario(env, [(NAME, source)])
    check = run.check

    def snap() -> Any:
        return (
            [core.sf.get(i) for i in ids],
            core.sf.open_receivables(),
            {k: [r["id"] for r in core.sf.holdings(x.address)] for k, x in p.items()},
        )

    run.watch(snap)
    refused = run.refused

    now = int(time.time() * 1000)
    doc = invoice_hash("PO-7781 seat frames")
    # Only a core enterprise issues, and only to an enrolled supplier.
    refused(lambda: t1.sf.issue(t2.address, 1000, now + DAY_MS, doc), "lacks role")
    refused(lambda: core.sf.issue("ab" * 20, 1000, now + DAY_MS, doc), "has not enrolled")
    refused(lambda: core.sf.issue(t1.address, 0, now + DAY_MS, doc), "positive integer")
    refused(lambda: core.sf.issue(t1.address, 1000, now - DAY_MS, doc), "must be after now")
    refused(lambda: core.sf.issue(t1.address, 1000, now + DAY_MS, "not-a-hash"), "SHA-256")

    root = core.sf.issue(t1.address, 50_000_000, now + 60 * DAY_MS, doc)
    ids.append(root)
    check(core.sf.get(root)["status"] == "issued", "a new receivable awaits acceptance")
    refused(lambda: core.sf.issue(t1.address, 1000, now + DAY_MS, doc), "already backs")
    refused(lambda: t2.sf.accept(root), "only the holder")
    refused(lambda: t1.sf.split(root, [25_000_000, 25_000_000]), "has not been accepted")
    t1.sf.accept(root)
    check(core.sf.get(root)["status"] == "active", "accepted receivable is active")

    # Splits conserve the amount exactly; only the holder splits.
    refused(lambda: t1.sf.split(root, [30_000_000, 19_999_999]), "sum exactly")
    refused(lambda: t1.sf.split(root, [50_000_001, -1]), "positive integer")
    refused(lambda: t1.sf.split(root, [50_000_000]), "2 to 20 parts")
    refused(lambda: t2.sf.split(root, [25_000_000, 25_000_000]), "only the holder")
    a, b = t1.sf.split(root, [30_000_000, 20_000_000])
    ids += [a, b]
    check(core.sf.get(a)["root"] == root and core.sf.get(b)["parent"] == root, "parts keep lineage")
    # The split receivable is spent: no double spending through the parent.
    refused(lambda: t1.sf.split(root, [25_000_000, 25_000_000]), "already split")
    refused(lambda: t1.sf.transfer(root, t2.address), "already split")
    refused(lambda: t1.sf.apply_pledge(root, bank.address), "already split")

    # Transfers: only the holder, only to enrolled participants, never twice.
    refused(lambda: t2.sf.transfer(a, t3.address), "only the holder")
    refused(lambda: t1.sf.transfer(a, "cd" * 20), "has not enrolled")
    refused(lambda: t1.sf.transfer(a, t1.address), "already held by")
    t1.sf.transfer(a, t2.address)
    refused(lambda: t1.sf.transfer(a, t3.address), "only the holder")
    moved = t2.sf.split_transfer(a, 10_000_000, t3.address)
    a1, a2 = moved["transferred"], moved["kept"]
    ids += [a1, a2]
    check(core.sf.get(a1)["holder"] == t3.address, "tier 3 holds its part")
    lineage = [x["id"] for x in core.sf.lineage(a1)]
    check(lineage == [root, a, a1], f"lineage runs back to the original receivable: {lineage}")

    # Pledge: one bank, locked until released; only that bank approves.
    refused(lambda: t2.sf.apply_pledge(a2, t3.address), "does not hold the on-chain role 'bank'")
    refused(lambda: t3.sf.apply_pledge(a2, bank.address), "only the holder")
    t2.sf.apply_pledge(a2, bank.address)
    refused(lambda: t2.sf.apply_pledge(a2, bank.address), "cannot be pledged again")
    refused(lambda: t2.sf.split(a2, [10_000_000, 10_000_000]), "pledged to bank")
    refused(lambda: t2.sf.transfer(a2, t3.address), "pledged to bank")
    refused(lambda: t3.sf.approve_pledge(a2, 19_000_000, 450), "lacks role")
    refused(lambda: bank.sf.approve_pledge(a2, 20_000_001, 450), "exceeds the receivable")
    refused(lambda: bank.sf.approve_pledge(a2, 19_000_000, 20_000), "rate_bp")
    refused(lambda: bank.sf.disburse(a2, "LOAN-1"), "expected approved")
    bank.sf.approve_pledge(a2, 19_000_000, 450)
    refused(lambda: t2.sf.cancel_pledge(a2), "only the bank can release")
    bank.sf.disburse(a2, "LOAN-1")
    refused(lambda: bank.sf.disburse(a2, "LOAN-1"), "expected approved")
    check(core.sf.get(a2)["pledge"]["status"] == "disbursed", "financing disbursed")

    # A pledge application can be cancelled, rejected, or approved and released.
    t1.sf.apply_pledge(b, bank.address)
    t1.sf.cancel_pledge(b)
    t1.sf.apply_pledge(b, bank.address)
    bank.sf.reject_pledge(b, "credit line exhausted")
    t1.sf.apply_pledge(b, bank.address)
    bank.sf.approve_pledge(b, 18_000_000, 500)
    bank.sf.release_pledge(b)
    got = core.sf.get(b)
    check(got["pledge"] is None, "released part is unlocked")
    outcomes = [x["outcome"] for x in got["pledges"]]
    check(outcomes == ["cancelled", "rejected", "released"], f"pledge history: {outcomes}")

    # The regulator audits the whole tree; others may not.
    refused(lambda: t1.sf.audit(a1), "lacks role")
    audit = reg.sf.audit(a1)
    check(audit["root"] == root and audit["conserved"], "the audit sees a conserved tree")
    check(len(audit["nodes"]) == 5, "the audit shows every part")
    check(audit["outstanding"] == 50_000_000 and audit["financed"] == 19_000_000, "audit totals")

    # Repayment: only the issuer; each part to its holder, the financed part to the bank.
    refused(lambda: t1.sf.repay(root, "WIRE-1"), "lacks role")
    payments = core.sf.repay(root, "WIRE-1")
    payees = {x["id"]: (x["payee"], x["amount"]) for x in payments}
    check(
        payees
        == {
            b: (t1.address, 20_000_000),
            a1: (t3.address, 10_000_000),
            a2: (bank.address, 20_000_000),
        },
        f"payees: {payees}",
    )
    check(sum(x["amount"] for x in payments) == 50_000_000, "repayment equals the receivable")
    check(root not in core.sf.open_receivables(), "a repaid receivable is closed")
    refused(lambda: core.sf.repay(root, "WIRE-1"), "already repaid")
    refused(lambda: t3.sf.transfer(a1, t2.address), "already been repaid")

    # Rejection frees the invoice for a corrected issue.
    doc2 = invoice_hash("PO-7790 wiring looms")
    wrong = core.sf.issue(t1.address, 999, now + DAY_MS, doc2)
    ids.append(wrong)
    t1.sf.reject(wrong, "amount should be 9,990.00 yuan")
    refused(lambda: t1.sf.accept(wrong), "not awaiting acceptance")
    fixed = core.sf.issue(t1.address, 999_000, int(time.time() * 1000) + 1500, doc2)
    ids.append(fixed)
    t1.sf.accept(fixed)

    # Overdue: past maturity (by block time) and unpaid, it is reported and frozen.
    # Block time is the validators' median time of the block before (ADR 0021), so it
    # lags the clock by up to a block interval: add blocks until it is past maturity.
    time.sleep(max(0.0, (core.sf.get(fixed)["maturity_ms"] + 300) / 1000 - time.time()))
    deadline = time.monotonic() + 30
    while True:
        t1.sf.enrol(t1.display_name)  # any transaction: a block with a later time
        late = [x for x in core.sf.overdue() if x["root"] == fixed]
        if late or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(
        len(late) == 1 and late[0]["payee"] == t1.address and late[0]["amount"] == 999_000,
        f"overdue report: {late}",
    )
    refused(lambda: t1.sf.split(fixed, [1, 998_999]), "matured")
    refused(lambda: t1.sf.apply_pledge(fixed, bank.address), "matured")
    paid = core.sf.repay(fixed, "WIRE-2")
    check(paid[0]["late"] is True, "a repayment after maturity is marked late")
    check(not [x for x in core.sf.overdue() if x["root"] == fixed], "repaid: no longer overdue")
