"""Supply-chain finance against members who try to cheat each other: random calls by two core
enterprises, two banks and three suppliers, each allowed or refused as a reference model
says, with block time passing maturity. Invariants: a split's parts sum exactly to what was
split, a part is pledged to at most one bank and only that bank moves its pledge, only the
holder moves a part, only its issuer repays it, nothing matured moves, and a refused call
changes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.app_local import Ctx, Local

from tianfu.apps import supply_finance
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

CORE = ("c" * 40, "e" * 40)  # two core enterprises
BANK = ("b" * 40, "9" * 40)  # two banks
SUPPLIER = ("1" * 40, "2" * 40, "3" * 40)
EVERYONE = CORE + BANK + SUPPLIER
ORG = {a: f"org{i + 1}" for i, a in enumerate(EVERYONE)}
DAY_MS = 86_400_000
MAX_AMOUNT = 10**18

_COMPILED = compile_contract(supply_finance.source())


def _world() -> Local:
    roles = {c: ["core_enterprise"] for c in CORE} | {b: ["bank"] for b in BANK}
    app = Local(_COMPILED, Ctx(supply_finance.NAME, roles))
    for who in EVERYONE:
        app.call(who, "enrol", "party " + who[:2], org=ORG[who])
    return app


class Model:
    """What the contract should hold: each receivable or part, by id."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, Any]] = {}
        self.roots: dict[str, int] = {}  # root id -> amount issued

    def add(self, rid: str, **fields: Any) -> None:
        self.parts[rid] = {"children": [], "pledge": None, "bank": None, **fields}

    def movable(self, p: dict[str, Any], me: str, now: int) -> bool:
        return (
            p["holder"] == me
            and p["status"] == "active"
            and p["pledge"] is None
            and now < p["maturity"]
        )

    def subtree(self, rid: str) -> list[str]:
        out = [rid]
        for c in self.parts[rid]["children"]:
            out += self.subtree(c)
        return out


op = st.tuples(
    st.sampled_from(
        ["issue"] * 2
        + ["accept"] * 4
        + ["reject", "reject_pledge", "release", "cancel", "wait"]
        + ["split"] * 3
        + ["transfer", "split_transfer"] * 2
        + ["pledge", "approve"] * 4
        + ["disburse"] * 3
        + ["release", "repay"] * 2
    ),
    st.sampled_from(EVERYONE),  # who calls (see the last)
    st.integers(0, 1000),  # which receivable
    st.sampled_from(EVERYONE + ("f" * 40,)),  # a counterparty (the last never enrolled)
    st.lists(st.integers(-3, 10**6), min_size=1, max_size=4),  # amounts
    st.integers(0, 9),  # below 7: the party the call is for makes it, else `who`
)

WANTED = {  # the receivables an honest call of each kind picks among, if any
    "accept": lambda p: p["status"] == "issued",
    "reject": lambda p: p["status"] == "issued",
    "approve": lambda p: p["pledge"] == "applied",
    "reject_pledge": lambda p: p["pledge"] == "applied",
    "cancel": lambda p: p["pledge"] == "applied",
    "disburse": lambda p: p["pledge"] == "approved",
    "release": lambda p: p["pledge"] in ("approved", "disbursed"),
    "repay": lambda p: p["status"] in ("active", "split"),
}


def _free(p: dict[str, Any]) -> bool:
    return p["status"] == "active" and p["pledge"] is None


def _pick(model: Model, kind: str, i: int, honest: bool) -> str | None:
    ids = sorted(model.parts)
    if honest:
        wanted = WANTED.get(kind, _free)
        ids = [x for x in ids if wanted(model.parts[x])] or ids
    return ids[i % len(ids)] if ids else None


def _caller(model: Model, kind: str, p: dict[str, Any] | None, i: int) -> str:
    """The party an honest call of `kind` on `p` comes from."""
    if kind == "issue" or p is None:
        return CORE[i % 2]
    if kind in ("approve", "reject_pledge", "disburse", "release"):
        return p["bank"] or BANK[i % 2]
    if kind == "repay":
        return p["issuer"]
    return p["holder"]


def _expect(model: Model, app: Local, o: tuple[Any, ...]) -> tuple[str, str, list[Any], bool]:
    """Who makes the call `o`, its method and arguments, and whether the model allows it
    (updating the model if so)."""
    kind, me, i, other, amounts, honesty = o
    honest = honesty < 7
    for fallback in ("pledge", "accept", "issue"):  # the step before, if nothing to act on
        if not honest or kind in ("issue", "wait"):
            break
        if any(WANTED.get(kind, _free)(p) for p in model.parts.values()):
            break
        kind = fallback
    rid = _pick(model, kind, i, honest)
    p = model.parts.get(rid) if rid is not None else None
    if honest:
        me = _caller(model, kind, p, i)
        if kind in ("issue", "transfer", "split_transfer") and other == me:
            other = SUPPLIER[i % 3]
        if kind == "pledge":
            other = BANK[i % 2]
    return (me,) + _call(model, app, kind, me, i, other, amounts, rid, p)


def _call(
    model: Model,
    app: Local,
    kind: str,
    me: str,
    i: int,
    other: str,
    amounts: list[int],
    rid: str | None,
    p: dict[str, Any] | None,
) -> tuple[str, list[Any], bool]:
    now = app.ctx.time_ms + 1000  # the time of the call's block
    if kind == "issue" or p is None:
        amount = amounts[0]
        ok = me in CORE and other in EVERYONE and other != me and 0 < amount <= MAX_AMOUNT
        args = [other, amount, now + DAY_MS, f"{len(model.roots) + 1:064x}"]
        if ok:
            new = f"RCV-{len(model.roots) + 1}"
            model.roots[new] = amount
            model.add(
                new,
                holder=other,
                issuer=me,
                amount=amount,
                status="issued",
                maturity=now + DAY_MS,
            )
        return "issue", args, ok
    if kind in ("accept", "reject"):
        ok = p["holder"] == me and p["status"] == "issued"
        if ok:
            p["status"] = "active" if kind == "accept" else "rejected"
        return kind, [rid] if kind == "accept" else [rid, "no"], ok
    if kind == "split":
        parts = list(amounts)
        if len(parts) == 1:
            parts = [parts[0], p["amount"] - parts[0]]
        elif i % 3:  # mostly parts that add up: shares of the whole, the last the rest
            weights = [abs(a) + 1 for a in parts]
            parts = [p["amount"] * w // sum(weights) for w in weights[:-1]]
            parts.append(p["amount"] - sum(parts))
        ok = (
            model.movable(p, me, now)
            and all(0 < a <= MAX_AMOUNT for a in parts)
            and sum(parts) == p["amount"]
        )
        if ok:
            p["status"] = "split"
            p["children"] = [f"{rid}.{k + 1}" for k in range(len(parts))]
            for cid, a in zip(p["children"], parts, strict=True):
                model.add(
                    cid,
                    holder=me,
                    issuer=p["issuer"],
                    amount=a,
                    status="active",
                    maturity=p["maturity"],
                )
        return "split", [rid, parts], ok
    if kind == "transfer":
        ok = model.movable(p, me, now) and other in EVERYONE and other != me
        if ok:
            p["holder"] = other
        return "transfer", [rid, other], ok
    if kind == "split_transfer":
        amount = amounts[0]
        ok = (
            model.movable(p, me, now)
            and other in EVERYONE
            and other != me
            and 0 < amount <= p["amount"]
        )
        if ok and amount == p["amount"]:
            p["holder"] = other
        elif ok:
            p["status"] = "split"
            p["children"] = [rid + ".1", rid + ".2"]
            for cid, a, h in ((rid + ".1", amount, other), (rid + ".2", p["amount"] - amount, me)):
                model.add(
                    cid,
                    holder=h,
                    issuer=p["issuer"],
                    amount=a,
                    status="active",
                    maturity=p["maturity"],
                )
        return "split_transfer", [rid, amount, other], ok
    if kind == "pledge":
        ok = model.movable(p, me, now) and other in BANK and other != me
        if ok:
            p["pledge"], p["bank"] = "applied", other
        return "apply_pledge", [rid, other], ok
    if kind == "cancel":
        ok = p["holder"] == me and p["pledge"] == "applied"
        if ok:
            p["pledge"], p["bank"] = None, None
        return "cancel_pledge", [rid], ok
    if kind in ("approve", "reject_pledge", "disburse", "release"):
        wanted = {
            "approve": ("applied",),
            "reject_pledge": ("applied",),
            "disburse": ("approved",),
            "release": ("approved", "disbursed"),
        }[kind]
        ok = me in BANK and p["bank"] == me and p["pledge"] in wanted
        args: list[Any] = [rid]
        if kind == "approve":  # mostly at most the part's amount
            amount = amounts[0] if i % 3 == 0 else max(1, min(abs(amounts[0]), p["amount"]))
            ok = ok and 0 < amount <= p["amount"]
            args = [rid, amount, 450]
        elif kind == "reject_pledge":
            args = [rid, "no"]
        elif kind == "disburse":
            args = [rid, "LOAN-1"]
        if ok:
            p["pledge"] = {
                "approve": "approved",
                "reject_pledge": None,
                "disburse": "disbursed",
                "release": None,
            }[kind]
            if p["pledge"] is None:
                p["bank"] = None
        method = {"approve": "approve_pledge", "release": "release_pledge"}.get(kind, kind)
        return method, args, ok
    if kind == "repay":
        under = [x for x in model.subtree(rid) if model.parts[x]["status"] == "active"]
        ok = (
            me in CORE
            and p["issuer"] == me
            and p["status"] in ("active", "split")
            and 0 < len(under) <= 30  # MAX_REPAY: more are repaid a part at a time
            and len(model.subtree(rid)) <= 100  # MAX_REPAY_READ
        )
        if ok:
            for x in under:
                model.parts[x]["status"] = "paid"
                model.parts[x]["pledge"] = model.parts[x]["bank"] = None
        return "repay", [rid, "WIRE"], ok
    app.ctx.time_ms += DAY_MS // 2  # "wait": half a day of block time passes
    return "", [], True


def _check(model: Model, app: Local) -> None:
    state = app.ctx.state
    for rid, p in model.parts.items():
        r = state["r:" + rid]
        assert (r["holder"], r["amount"], r["status"]) == (p["holder"], p["amount"], p["status"])
        pledge = r["pledge"]
        assert (pledge or {}).get("status") == p["pledge"]
        assert (pledge or {}).get("bank") == p["bank"]
        if r["children"]:  # the parts of a split add up exactly to it
            assert sum(state["r:" + c]["amount"] for c in r["children"]) == r["amount"]
    for root, amount in model.roots.items():  # every tree conserves what was issued
        leaves = [x for x in model.subtree(root) if not model.parts[x]["children"]]
        assert sum(model.parts[x]["amount"] for x in leaves) == amount


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(op, min_size=5, max_size=60))
def test_hostile_calls_are_allowed_exactly_as_the_model_says(ops: list[tuple[Any, ...]]) -> None:
    app = _world()
    model = Model()
    for o in ops:
        me, method, args, ok = _expect(model, app, o)
        if not method:
            continue
        before = dict(app.ctx.state)
        try:
            app.call(me, method, *args, org=ORG[me])
            done = True
        except ContractError:
            done = False
            assert app.ctx.state == before  # a refused call changes nothing
        assert done == ok, (method, args, me)
        _check(model, app)


def test_a_split_transfer_to_its_own_holder_is_refused_before_splitting() -> None:
    """split_transfer split first and then refused the transfer of the new part to its own
    holder, naming a part that the refusal undid ("RCV-1.1 is already held by ..."); it now
    refuses first, naming the receivable."""
    app = _world()
    core, holder = CORE[0], SUPPLIER[0]
    rid = app.call(core, "issue", holder, 10, app.ctx.time_ms + DAY_MS, "a" * 64, org=ORG[core])
    app.call(holder, "accept", rid, org=ORG[holder])
    before = dict(app.ctx.state)
    try:
        app.call(holder, "split_transfer", rid, 4, holder, org=ORG[holder])
    except ContractError as exc:
        assert str(exc) == f"{rid} is already held by {holder}"
    else:
        raise AssertionError("a split_transfer to its own holder was not refused")
    assert app.ctx.state == before and before["r:" + rid]["status"] == "active"
