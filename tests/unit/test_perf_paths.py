"""Unit tests: the fast paths added for performance answer exactly as the slow ones do."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_store import Chain, fill

from tianfu.execution import gas as g
from tianfu.execution.api import ContractError
from tianfu.store import Store


def test_committed_txs_matches_has_tx(tmp_path: Path) -> None:
    db = Store(tmp_path / "s.db")
    saved = fill(db, Chain(), range(1, 4), 7)
    committed = [tx.hash for block, *_ in saved for tx in block.txs]
    unknown = [random.randbytes(32) for _ in range(1200)]  # more than one IN (...) chunk
    asked = committed + unknown + committed[:3]  # duplicates are fine
    random.shuffle(asked)
    found = db.committed_txs(asked)
    assert found == set(committed)
    assert all((h in found) == db.has_tx(h) for h in asked)
    assert db.committed_txs([]) == set()
    db.close()


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -5, 2**64 - 1, -(2**63), "", "text", b"\x00raw", [1, "a"], {"k": [b""]}],
)
def test_copy_value_fast_path_charges_like_the_walk(value: object) -> None:
    fast = g.Runtime(1000)
    assert fast.copy_value(value, "v") == value

    # One node per scalar, one per container element (the walk's count).
    def nodes(v: object) -> int:
        if isinstance(v, list):
            return 1 + sum(nodes(x) for x in v)
        if isinstance(v, dict):
            return 1 + sum(nodes(x) for x in v.values())
        return 1

    assert fast.used == nodes(value)


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 1.5])
def test_copy_value_still_refuses_out_of_range_scalars(value: object) -> None:
    with pytest.raises(ContractError):
        g.Runtime(1000).copy_value(value, "v")


def test_copy_value_copies_containers_and_keeps_str_subclasses_checked() -> None:
    rt = g.Runtime(1000)
    inner = [1, 2]
    out = rt.copy_value({"a": inner}, "v")
    assert out == {"a": [1, 2]} and out["a"] is not inner

    class S(str):
        pass

    assert rt.copy_value(S("x"), "v") == "x"  # the walk's answer for a subclass


def test_builtins_are_fresh_per_call() -> None:
    a, b = g.Runtime(10).builtins(), g.Runtime(10).builtins()
    assert a is not b and a["len"] is len and a["int"] != b["int"]
    a["len"] = None
    assert g.Runtime(10).builtins()["len"] is len


def test_fast_json_is_the_same_document() -> None:
    import json

    from tianfu.api.app import _fast_json

    doc = {"a": [1, "é", None, True, {"x": 2**64 - 1}], "b": "", "c": -(2**63)}
    assert json.loads(_fast_json(doc).body) == doc
    big = {"n": 2**70}  # beyond msgspec's integers: falls back to the generic encoder
    assert json.loads(_fast_json(big).body) == big
