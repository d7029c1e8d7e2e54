"""End-to-end manufacturing flow: an order tree from OEM to tier-2 suppliers, with every
forbidden action tried and refused with no state change.

Runs on `AppChain` in the tests and on a real 4-validator network (`tianfu up`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from tianfu.apps.common.scenario import Member, Scenario, handles, once_due
from tianfu.apps.env import AppEnv
from tianfu.apps.manufacturing import NAME, source
from tianfu.apps.manufacturing.demo import DAY_MS, MEMBERS
from tianfu.apps.manufacturing.sdk import Manufacturing, bom, document_hash

# An inspector of the tier-1 supplier's organisation: not independent of its orders.
PARTIAL_INSPECTOR = Member("own_lab", 1, "mf-shu-brakes-lab", ("inspector",))
STATUSES = ("placed", "declined", "cancelled", "in_production", "delivered", "rejected", "accepted")


def run_scenario(env: AppEnv) -> None:
    tag = secrets.token_hex(3)
    run = Scenario(env, [(NAME, source)], (*MEMBERS, PARTIAL_INSPECTOR), suffix="-s" + tag)
    p, check, refused = run.people, run.check, run.refused
    m = handles(env, p, Manufacturing)
    addr = {k: who.info.address for k, who in p.items()}
    oem, t1, cast_, pads, lab = m["oem"], m["tier1"], m["castings"], m["pads"], m["lab"]
    # Order ids are per organisation: `<the placing member's organisation>/<id>`.
    root = f"{p['oem'].info.org}/PO-{tag}"
    sub = f"{p['tier1'].info.org}/PO-{tag}"
    now = int(time.time() * 1000)
    due = now + 30 * DAY_MS
    items = bom(("disc", 400, 18_000), ("caliper", 400, 32_000), ("pad", 400, 6_500))
    total = 400 * (18_000 + 32_000 + 6_500)

    def tree_state() -> Any:
        """The tree's views, less what they derive from the time they are read at (a
        refusal must change no state; an order may fall due meanwhile)."""
        found = oem.order(root)
        tree = found and [{k: v for k, v in o.items() if k != "overdue"} for o in oem.tree(root)]
        return (found, tree, found and oem.alerts(root))

    run.watch(tree_state)

    # Placing an order: a buyer, a member supplier holding the role, a sound bill of materials.
    refused(lambda: t1.place_order(root, addr["castings"], items, due), "lacks role")
    refused(lambda: oem.place_order(root, "ab" * 20, items, due), "unknown address")
    refused(lambda: oem.place_order(root, addr["lab"], items, due), "role 'supplier'")
    refused(lambda: oem.place_order(root, addr["tier1"], [], due), "1 to 50 items")
    refused(lambda: oem.place_order(root, addr["tier1"], items, now - DAY_MS), "after now")
    refused(lambda: oem.place_order(root, addr["tier1"], bom(("disc", 1, -5)), due), "non-negative")
    refused(
        lambda: oem.place_order(root, addr["tier1"], bom(("disc", 1, 1), ("disc", 2, 1)), due),
        "listed twice",
    )
    # No member takes an id in another organisation's name (it would block the owner).
    refused(lambda: oem.place_order(sub + "-X", addr["tier1"], items, due), "starts with")
    refused(lambda: oem.place_order(f"PO-{tag}", addr["tier1"], items, due), "starts with")
    order = oem.place_order(root, addr["tier1"], items, due)
    check(order["total"] == total and order["supplier_org"] == p["tier1"].info.org, "order")
    refused(lambda: oem.place_order(root, addr["tier1"], items, due), "already exists")
    refused(lambda: cast_.accept_order(root), "only the supplier")
    refused(lambda: t1.settle(root, 1, "X"), "only the buyer")
    refused(lambda: oem.settle(root, 1, "X"), "placed: it cannot be settled")
    t1.accept_order(root)
    refused(lambda: oem.cancel_order(root, "changed my mind"), "cannot be cancelled")

    # Subcontracting: only the parent's supplier, only its parts, never more, never later.
    sub_a, sub_b, sub_c = sub + "-A", sub + "-B", sub + "-C"
    discs = bom(("disc", 400, 12_000))
    refused(lambda: oem.subcontract(root, sub_a, addr["castings"], discs, due), "only the supplier")
    refused(
        lambda: t1.subcontract(root, sub_a, addr["castings"], bom(("rotor", 1, 1)), due),
        "not in order",
    )
    refused(
        lambda: t1.subcontract(root, sub_a, addr["castings"], bom(("disc", 401, 1)), due),
        "more than the 400",
    )
    refused(
        lambda: t1.subcontract(root, sub_a, addr["castings"], discs, due + 1), "parent's due time"
    )
    t1.subcontract(root, sub_a, addr["castings"], discs, now + 20 * DAY_MS)
    t1.subcontract(root, sub_b, addr["pads"], bom(("pad", 250, 4_000)), now + 20 * DAY_MS)
    refused(
        lambda: t1.subcontract(root, sub_c, addr["pads"], bom(("pad", 200, 1)), due),
        "450 of part pad",
    )
    pads.decline_order(sub_b, "no capacity this month")  # its 250 pads go back to the quota
    refused(lambda: pads.accept_order(sub_b), "declined: it cannot be accepted")
    t1.subcontract(root, sub_c, addr["pads"], bom(("pad", 400, 4_000)), now + 20 * DAY_MS)
    pads.accept_order(sub_c)
    cast_.accept_order(sub_a)

    # Milestones by the supplier; inspections by an independent inspector only.
    refused(lambda: oem.report_milestone(sub_a, "casting", ""), "only the supplier")
    cast_.report_milestone(sub_a, "casting", "400 discs cast")
    report = document_hash(f"inspection report {tag}")
    refused(lambda: t1.record_inspection(sub_a, "pass", report, ""), "lacks role")
    own_lab = m["own_lab"]
    refused(lambda: own_lab.record_inspection(sub_a, "pass", report, ""), "not independent")
    refused(lambda: lab.record_inspection(sub_a, "maybe", report, ""), "'pass' or 'fail'")

    # Deliveries: the parent waits for its sub-orders; acceptance needs a passing inspection.
    note = document_hash(f"delivery note {tag}")
    refused(lambda: t1.deliver(root, note), "deliver it first")
    cast_.deliver(sub_a, note)
    refused(lambda: t1.accept_delivery(sub_a), "passing inspection")
    lab.record_inspection(sub_a, "fail", report, "porosity in 12 discs")
    refused(lambda: t1.accept_delivery(sub_a), "passing inspection")
    refused(lambda: oem.reject_delivery(sub_a, "no"), "only the buyer")
    t1.reject_delivery(sub_a, "porosity found by the lab")
    # The rejection is visible to every party of the tree, from any of its orders.
    seen = [(a["order"], a["kind"]) for a in oem.alerts(root)]
    check(seen == [(sub_a, "rejected")], f"alerts seen from the root: {seen}")
    check(pads.alerts(sub_c) == oem.alerts(root), "a sibling's supplier sees the same alerts")
    three_txs = time.monotonic()
    cast_.deliver(sub_a, document_hash(f"redelivery {tag}"))
    lab.record_inspection(sub_a, "pass", document_hash(f"re-inspection {tag}"), "")
    t1.accept_delivery(sub_a)
    three_txs = time.monotonic() - three_txs
    refused(lambda: cast_.deliver(sub_a, note), "accepted: it cannot be delivered")

    # A late delivery: a sub-order due in a few seconds, flagged overdue once past due. It
    # must still be before its due time three transactions later (place, accept, the refused
    # flag): twice what the last three took, on a slow network, and at least 4 s.
    sub_d = sub + "-D"
    soon = int(time.time() * 1000) + max(4_000, int(2_000 * three_txs))
    placed = t1.subcontract(root, sub_d, addr["castings"], bom(("caliper", 10, 1_000)), soon)
    cast_.accept_order(sub_d)
    refused(lambda: oem.flag_overdue(sub_d), "not overdue")
    once_due(placed["due_ms"], lambda: oem.flag_overdue(sub_d), "not overdue")
    refused(lambda: oem.flag_overdue(sub_d), "flagged late already")
    cast_.deliver(sub_d, document_hash(f"late delivery {tag}"))
    kinds = [(a["order"], a["kind"]) for a in cast_.alerts(sub_d)]
    check(kinds[-2:] == [(sub_d, "overdue"), (sub_d, "late")], f"late alerts: {kinds}")
    lab.record_inspection(sub_d, "pass", report, "")
    t1.accept_delivery(sub_d)

    # Settlements never exceed an order's total.
    refused(lambda: t1.settle(sub_a, 4_800_001, "X"), "exceeds the 4800000")
    t1.settle(sub_a, 1_000_000, "advance")
    t1.settle(sub_a, 3_800_000, "balance")
    refused(lambda: t1.settle(sub_a, 1, "X"), "exceeds the 0")
    refused(lambda: t1.settle(sub_b, 1, "X"), "declined: it cannot be settled")
    pads.deliver(sub_c, note)
    lab.record_inspection(sub_c, "pass", report, "")
    t1.accept_delivery(sub_c)
    t1.deliver(root, note)
    lab.record_inspection(root, "pass", report, "")
    oem.accept_delivery(root)
    oem.settle(root, total, "full payment")

    nodes = oem.tree(sub_c)
    check([n["id"] for n in nodes] == [root, sub_a, sub_b, sub_c, sub_d], f"tree: {nodes}")
    check(all(n["status"] in STATUSES for n in nodes), "every order is in one known status")
    check(all(0 <= n["settled"] <= n["total"] for n in nodes), "settled within every order")
    check(nodes[0]["settled"] == total, "the root is paid in full")
    check(
        root in oem.orders_of(addr["oem"]) and sub_a in cast_.orders_of(addr["castings"]), "index"
    )
