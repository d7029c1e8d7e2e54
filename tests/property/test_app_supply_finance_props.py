"""Property tests of supply-chain finance invariants: random operations by random actors,
checked against a reference model (conservation, no double spend/pledge, only the holder acts,
each holder's holdings and the open receivables)."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.apps.supply_finance import NAME
from tianfu.apps.supply_finance.demo import DAY_MS, invoice_hash, setup_parties
from tianfu.testing.appchain import AppChain

ACTORS = ["tier1", "tier2", "tier3"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("sfprops"))
    parties = setup_parties(chain)
    yield chain, parties
    chain.close()


op = st.tuples(
    st.sampled_from(
        ["split"] * 3
        + ["transfer"] * 3
        + ["pledge"] * 3
        + ["approve"] * 2
        + ["disburse"] * 2
        + ["cancel", "release", "repay"]
    ),
    st.integers(0, 4),  # actor: 0-2 the node's holder, 3-4 someone else
    st.integers(0, 50),  # which node
    st.integers(0, 2),  # recipient
    st.lists(st.integers(1, 100), min_size=2, max_size=4),  # split weights
    st.integers(0, 5),  # 0: make the split sum wrong
)


class Model:
    def __init__(self, rid, amount, holder):
        self.nodes = {rid: self._node(amount, holder)}
        self.root = rid

    @staticmethod
    def _node(amount, holder):
        return {
            "amount": amount,
            "holder": holder,
            "status": "active",
            "pledge": None,
            "children": [],
        }

    def leaves_under(self, rid):
        n = self.nodes[rid]
        if not n["children"]:
            return [rid]
        return [x for c in n["children"] for x in self.leaves_under(c)]

    def free(self, rid, actor):
        n = self.nodes[rid]
        return n["holder"] == actor and n["status"] == "active" and n["pledge"] is None


def _apply(chain, p, model, o):
    kind, actor_i, node_i, to_i, weights, wrong_i = o
    wrong = wrong_i == 0
    ids = sorted(model.nodes)
    if kind in ("approve", "disburse", "release", "cancel"):
        pledged = [x for x in ids if model.nodes[x]["pledge"] is not None]
        ids = pledged or ids
    else:
        live = [x for x in ids if model.nodes[x]["status"] == "active"]
        ids = live if live and node_i % 4 else ids
    rid = ids[node_i % len(ids)]
    node = model.nodes[rid]
    addr = {k: p[k].address for k in ACTORS}
    holder = [k for k in ACTORS if addr[k] == node["holder"]][0]
    actor = holder if actor_i < 3 else [k for k in ACTORS if k != holder][actor_i - 3]
    me = addr[actor]
    bank = p["bank"].identity
    if kind == "split":
        total = sum(weights)
        amounts = [node["amount"] * w // total for w in weights[:-1]]
        amounts.append(node["amount"] - sum(amounts))
        if wrong:
            amounts[-1] += 1
        ok = model.free(rid, me) and len(amounts) >= 2 and all(a > 0 for a in amounts) and not wrong
        r = chain.call(p[actor].identity, NAME, "split", rid, amounts)
        if ok:
            node["status"] = "split"
            node["children"] = [f"{rid}.{i + 1}" for i in range(len(amounts))]
            for cid, a in zip(node["children"], amounts, strict=True):
                model.nodes[cid] = Model._node(a, me)
    elif kind == "transfer":
        to = addr[ACTORS[to_i]]
        ok = model.free(rid, me) and to != me
        r = chain.call(p[actor].identity, NAME, "transfer", rid, to)
        if ok:
            node["holder"] = to
    elif kind == "pledge":
        ok = model.free(rid, me)
        r = chain.call(p[actor].identity, NAME, "apply_pledge", rid, p["bank"].address)
        if ok:
            node["pledge"] = "applied"
    elif kind == "cancel":
        ok = node["holder"] == me and node["pledge"] == "applied"
        r = chain.call(p[actor].identity, NAME, "cancel_pledge", rid)
        if ok:
            node["pledge"] = None
    elif kind == "approve":
        ok = node["pledge"] == "applied"
        r = chain.call(bank, NAME, "approve_pledge", rid, node["amount"], 400)
        if ok:
            node["pledge"] = "approved"
    elif kind == "disburse":
        ok = node["pledge"] == "approved"
        r = chain.call(bank, NAME, "disburse", rid, "L")
        if ok:
            node["pledge"] = "disbursed"
    elif kind == "release":
        ok = node["pledge"] in ("approved", "disbursed")
        r = chain.call(bank, NAME, "release_pledge", rid)
        if ok:
            node["pledge"] = None
    else:
        leaves = [x for x in model.leaves_under(rid) if model.nodes[x]["status"] == "active"]
        ok = bool(leaves)
        r = chain.call(p["core"].identity, NAME, "repay", rid, "")
        if ok:
            expected = {}
            for x in leaves:
                n = model.nodes[x]
                expected[x] = p["bank"].address if n["pledge"] == "disbursed" else n["holder"]
                n["status"], n["pledge"] = "paid", None
            assert {pay["id"]: pay["payee"] for pay in r.result} == expected
    assert r.ok == ok, (o, r.error)
    return ok


def _all_holdings(chain, address):
    """Every holding of `address`, read a page at a time; `holdings` gives the same list
    while there are at most MAX_HOLDINGS (200) and is refused past that."""
    out, start = [], 1
    while start is not None:
        page = chain.query(NAME, "holdings_page", address, start, 50)
        out += page["holdings"]
        start = page["next"]
    if len(out) <= 200:
        assert chain.query(NAME, "holdings", address) == out
    else:
        with pytest.raises(Exception, match="read them a page at a time with holdings_page"):
            chain.query(NAME, "holdings", address)
    return out


@settings(max_examples=50, deadline=None)
@given(amount=st.integers(2, 2_000), ops=st.lists(op, min_size=3, max_size=16))
def test_random_operations_keep_invariants(world, amount, ops):
    chain, p = world
    maturity = int(time.time() * 1000) + DAY_MS
    r = chain.call(
        p["core"].identity, NAME, "issue", p["tier1"].address, amount, maturity, invoice_hash("p")
    )
    rid = r.result
    assert r.ok and chain.call(p["tier1"].identity, NAME, "accept", rid).ok
    model = Model(rid, amount, p["tier1"].address)
    for o in ops:
        before = chain.contract_state()
        if not _apply(chain, p, model, o):
            assert chain.contract_state() == before  # a refused call changes nothing
        # every node on chain matches the model
        for nid, n in model.nodes.items():
            got = chain.query(NAME, "get", nid)
            assert got["amount"] == n["amount"] and got["holder"] == n["holder"]
            assert got["status"] == n["status"]
            assert (got["pledge"] or {}).get("status") == n["pledge"]
        totals = chain.query(NAME, "tree_totals", rid)
        assert totals["conserved"] and totals["parts"] == len(model.nodes)
        leaves = [x for x in model.nodes if not model.nodes[x]["children"]]
        assert sum(model.nodes[x]["amount"] for x in leaves) == amount
        assert totals["outstanding"] + totals["paid"] == amount
    # Each holder's indexed set holds exactly the unsplit parts it holds (paid ones included),
    # and the receivable is open exactly while a part is unpaid.
    leaves = [x for x in model.nodes if not model.nodes[x]["children"]]
    for k in ACTORS:
        mine = _all_holdings(chain, p[k].address)
        assert chain.query(NAME, "holding_count", p[k].address) == len(mine)
        assert len({r["id"] for r in mine}) == len(mine)
        held = {r["id"] for r in mine if r["root"] == rid}
        assert held == {x for x in leaves if model.nodes[x]["holder"] == p[k].address}
    unpaid = any(model.nodes[x]["status"] == "active" for x in leaves)
    assert (rid in chain.query(NAME, "open_receivables")) == unpaid
