"""Property tests of manufacturing invariants: random operations on a tree of orders by
random actors, checked against a reference model — settlements never exceed an order,
every order is in one known status, sub-orders never take more of a part than their parent
orders, every rejected delivery is an alert of the tree, refusals change nothing."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.apps.common.scenario import cast
from tianfu.apps.manufacturing import NAME, source
from tianfu.apps.manufacturing.demo import DAY_MS, MEMBERS
from tianfu.apps.manufacturing.sdk import bom, document_hash
from tianfu.testing.appchain import AppChain

KEYS = ("oem", "tier1", "castings", "pads", "lab")
SUPPLIERS = ("tier1", "castings", "pads")
KINDS = ("accept", "accept", "decline", "cancel", "subcontract", "subcontract", "deliver")
KINDS += ("deliver", "inspect", "accept_delivery", "accept_delivery", "reject_delivery", "settle")
STATUSES = ("placed", "declined", "cancelled", "in_production", "delivered", "rejected", "accepted")
NOTE = document_hash("delivery note")
_ids = iter(range(10**6))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("mfprops"))
    people = cast(chain, MEMBERS, suffix="-p")
    chain.deploy(NAME, source())
    yield chain, people
    chain.close()


op = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 30),  # which order: over 20 the newest (it needs accepting, delivering)
    st.integers(0, 6),  # actor: 0-2 the right one, else KEYS[n - 2]
    st.integers(0, 2),  # part: 0 "a", 1 "b", 2 "c" (in no bill of materials)
    st.integers(1, 8),  # quantity
    st.integers(0, 2),  # supplier of a sub-order
    st.integers(1, 2_000),  # amount
    st.booleans(),  # inspection result / required
)


def _node(oid, parent, buyer, supplier, items, inspection, due):
    return {
        "id": oid,
        "parent": parent,
        "buyer": buyer,
        "supplier": supplier,
        "items": dict(items),
        "total": sum(q * price for q, price in items.values()),
        "status": "placed",
        "settled": 0,
        "sub": {},
        "children": [],
        "inspection_required": inspection,
        "inspection": None,
        "due": due,
    }


def _release(model, node):
    if node["parent"] is not None:
        parent = model[node["parent"]]
        for part, (qty, _) in node["items"].items():
            parent["sub"][part] -= qty


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(required=st.booleans(), ops=st.lists(op, min_size=8, max_size=30))
def test_random_order_trees_follow_the_model(world, required, ops):
    chain, people = world
    addr = {k: people[k].info.address for k in KEYS}
    root = f"{people['oem'].info.org}/P{next(_ids)}"
    due = int(time.time() * 1000) + 30 * DAY_MS
    items = {"a": (10, 100), "b": (6, 70)}
    r = chain.call(
        people["oem"],
        NAME,
        "place_order",
        root,
        addr["tier1"],
        bom(("a", 10, 100), ("b", 6, 70)),
        due,
        required,
    )
    assert r.ok, r.error
    assert chain.call(people["tier1"], NAME, "accept_order", root).ok
    model = {root: _node(root, None, "oem", "tier1", items, required, due)}
    model[root]["status"] = "in_production"
    order_ids = [root]
    rejections = 0
    for kind, which, actor_i, part_i, qty, sup_i, amount, flag in ops:
        node = model[order_ids[-1] if which > 20 else order_ids[which % len(order_ids)]]
        right = "lab" if kind == "inspect" else node["buyer"]
        if kind in ("accept", "decline", "deliver", "subcontract"):
            right = node["supplier"]
        actor = right if actor_i < 3 else KEYS[actor_i - 2]
        status = node["status"]
        oid = node["id"]
        if kind == "accept":
            ok = actor == node["supplier"] and status == "placed"
            args = ("accept_order", oid)
        elif kind in ("decline", "cancel"):
            who = "supplier" if kind == "decline" else "buyer"
            ok = actor == node[who] and status == "placed"
            args = (kind + "_order", oid, "a reason")
        elif kind == "subcontract":
            part = "abc"[part_i]
            child_supplier = SUPPLIERS[sup_i]
            # An order id is `<the placing member's organisation>/<id>`.
            local = f"{oid.split('/')[1]}.{len(node['children']) + 1}"
            child = f"{people[actor].info.org}/{local}"
            ok = (
                actor == node["supplier"]
                and status in ("in_production", "rejected")
                and child_supplier != actor
                and part in node["items"]
                and node["sub"].get(part, 0) + qty <= node["items"][part][0]
                and len(model) < 30
            )
            args = (
                "subcontract",
                oid,
                child,
                addr[child_supplier],
                bom((part, qty, 40)),
                due,
                flag,
            )
        elif kind == "deliver":
            done = ("accepted", "declined", "cancelled")
            ok = (
                actor == node["supplier"]
                and status in ("in_production", "rejected")
                and all(model[c]["status"] in done for c in node["children"])
            )
            args = ("deliver", oid, NOTE)
        elif kind == "inspect":
            ok = actor == "lab" and status in ("in_production", "delivered", "rejected")
            result = "pass" if flag else "fail"
            args = ("record_inspection", oid, result, NOTE, "")
        elif kind == "accept_delivery":
            passed = not node["inspection_required"] or node["inspection"] == "pass"
            ok = actor == node["buyer"] and status == "delivered" and passed
            args = ("accept_delivery", oid)
        elif kind == "reject_delivery":
            ok = actor == node["buyer"] and status == "delivered"
            args = ("reject_delivery", oid, "out of tolerance")
        else:
            settleable = ("in_production", "delivered", "rejected", "accepted")
            ok = (
                actor == node["buyer"]
                and status in settleable
                and amount <= node["total"] - node["settled"]
            )
            args = ("settle", oid, amount, "ref")
        before = chain.contract_state(NAME)
        r = chain.call(people[actor], NAME, *args)
        assert r.ok == ok, (kind, actor, node, r.error)
        if not ok:
            assert chain.contract_state(NAME) == before, (kind, r.error)
            continue
        if kind == "accept":
            node["status"] = "in_production"
        elif kind in ("decline", "cancel"):
            node["status"] = kind + "d" if kind == "decline" else "cancelled"
            _release(model, node)
        elif kind == "subcontract":
            model[child] = _node(child, oid, actor, child_supplier, {part: (qty, 40)}, flag, due)
            node["sub"][part] = node["sub"].get(part, 0) + qty
            node["children"].append(child)
            order_ids.append(child)
        elif kind == "deliver":
            node["status"] = "delivered"
        elif kind == "inspect":
            node["inspection"] = result
        elif kind == "accept_delivery":
            node["status"] = "accepted"
        elif kind == "reject_delivery":
            node["status"] = "rejected"
            node["inspection"] = None  # a redelivery needs a passing inspection of its own
            rejections += 1
        else:
            node["settled"] += amount

    tree = chain.query(NAME, "tree", root)
    local = lambda i: i.split("/")[1]  # noqa: E731 - the id within its organisation
    assert [n["id"] for n in tree] == sorted(model, key=lambda i: (i.count("."), local(i)))
    paged, start = [], 1
    while start is not None:  # the paged view: every order once, in the order placed
        page = chain.query(NAME, "tree_page", order_ids[-1], start, 7)
        assert page["root"] == root and page["count"] == len(model) and len(page["orders"]) <= 7
        assert all(o in tree for o in page["orders"])
        paged += [o["id"] for o in page["orders"]]
        start = page["next"]
    assert paged == list(model)
    for n in tree:
        m = model[n["id"]]
        assert n["status"] == m["status"] and n["status"] in STATUSES
        assert (n["settled"], n["total"]) == (m["settled"], m["total"])
        assert 0 <= n["settled"] <= n["total"]
        order = chain.query(NAME, "order", n["id"])
        for part, (qty, _) in m["items"].items():
            taken = order["subcontracted"].get(part, 0)
            live = [c for c in m["children"] if model[c]["status"] not in ("declined", "cancelled")]
            assert taken == sum(model[c]["items"].get(part, (0, 0))[0] for c in live) <= qty
    alerts = chain.query(NAME, "alerts", root)
    assert [a["kind"] for a in alerts] == ["rejected"] * rejections
    for n in tree:  # every party of the tree reads the same alerts
        assert chain.query(NAME, "alerts", n["id"]) == alerts
