"""Property: random splits, merges and recalls conserve quantities, keep lineage complete,
and a recall flags exactly the recalled batch and its descendants."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.apps import traceability
from tianfu.apps.traceability.demo import cast
from tianfu.apps.traceability.sdk import Traceability
from tianfu.client import TxFailed
from tianfu.testing.appchain import AppChain

_run = itertools.count()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("traceprops"))
    chain.deploy(traceability.NAME, traceability.source())
    people = cast(chain, "-p")
    Traceability(chain.client(people["producer"])).register_product(
        "prop-rice", "Rice", "grain", "g"
    )
    yield chain, people
    chain.close()


op = st.one_of(
    st.tuples(
        st.just("split"), st.integers(0, 50), st.lists(st.integers(-2, 40), min_size=2, max_size=4)
    ),
    st.tuples(st.just("merge"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("recall"), st.integers(0, 50)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(1, 100), min_size=1, max_size=3),
    ops=st.lists(op, min_size=1, max_size=6),
)
def test_lineage_and_conservation(env, sizes, ops):
    chain, people = env
    # Fresh clients per example: a client reuses its view of the height for a few seconds,
    # and on this chain every transaction is a block.
    farm = Traceability(chain.client(people["producer"]))
    reg = Traceability(chain.client(people["regulator"]))
    run = next(_run)
    parents: dict[str, list[str]] = {}
    qty: dict[str, int] = {}
    closed: set[str] = set()
    recalled: set[str] = set()
    for i, q in enumerate(sizes):
        code = f"P{run}-{i}"
        farm.create_batch(code, "prop-rice", q, "field")
        parents[code], qty[code] = [], q
    total = sum(sizes)
    n = 0

    def children(c: str) -> list[str]:
        return [k for k, ps in parents.items() if c in ps]

    def descendants(c: str) -> set[str]:
        out, todo = set(), [c]
        while todo:
            x = todo.pop()
            if x not in out:
                out.add(x)
                todo.extend(children(x))
        return out

    for o in ops:
        codes = sorted(parents)
        if o[0] == "split":
            code = codes[o[1] % len(codes)]
            amounts = list(o[2])
            amounts[-1] = qty[code] - sum(amounts[:-1])  # a valid split, unless a part <= 0
            parts = []
            for a in amounts:
                n += 1
                parts.append((f"P{run}-s{n}", a))
            ok = code not in closed and code not in recalled and all(a > 0 for a in amounts)
            try:
                farm.split_batch(code, parts)
                assert ok
            except TxFailed:
                assert not ok
                continue
            closed.add(code)
            for c, a in parts:
                parents[c], qty[c] = [code], a
        elif o[0] == "merge":
            a, b = codes[o[1] % len(codes)], codes[o[2] % len(codes)]
            n += 1
            new = f"P{run}-m{n}"
            ok = a != b and not ({a, b} & (closed | recalled))
            try:
                farm.merge_batches(new, [a, b], "prop-rice")
                assert ok
            except TxFailed:
                assert not ok
                continue
            closed |= {a, b}
            parents[new], qty[new] = [a, b], qty[a] + qty[b]
        else:
            code = codes[o[1] % len(codes)]
            try:
                flagged = reg.recall(code, "test")
                assert code not in recalled
            except TxFailed:
                assert code in recalled
                continue
            expected = descendants(code) - recalled
            assert set(flagged) == descendants(code) and len(flagged) == len(set(flagged))
            progress = reg.recall_progress(code)  # done, however many calls it took
            assert progress["done"] and progress["reached"] == len(flagged)
            recalled |= expected
    leaves = [c for c in parents if c not in closed]
    assert sum(farm.batch(c)["quantity"] for c in leaves) == total
    for c in parents:
        b = farm.batch(c)
        assert b["parents"] == parents[c]
        assert sorted(b["children"]) == sorted(children(c))
        assert (b["recall"] is not None) == (c in recalled)
        assert b["status"] == ("active" if c not in closed else b["status"])
