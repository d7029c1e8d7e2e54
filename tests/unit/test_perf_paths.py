"""Unit tests: the fast paths added for performance answer exactly as the slow ones do."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_store import Chain, fill

from tianfu.execution import costs, walk
from tianfu.execution import runtime as g
from tianfu.execution.contract_api import ContractError
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
def test_copy_value_of_a_plain_value_charges_like_the_walk(value: object) -> None:
    fast = g.Runtime(1000)
    assert fast.copy_value(value, "v") == value

    # One walk unit per scalar, `CONTAINER_UNITS` per container, and one per
    # `TEXT_BYTES_PER_UNIT` bytes of text (a dict's keys included): the walk's count, charged
    # at `NODES_PER_GAS` units per gas.
    per = walk.TEXT_BYTES_PER_UNIT
    box = walk.CONTAINER_UNITS

    def units(v: object) -> int:
        if isinstance(v, list):
            return box + sum(units(x) for x in v)
        if isinstance(v, dict):
            return box + sum(len(k) // per + units(x) for k, x in v.items())
        if isinstance(v, str | bytes):
            return 1 + len(v) // per
        return 1

    def copied_bytes(v: object) -> int:  # the containers the copy makes
        if isinstance(v, list):
            return costs.seq_bytes(len(v)) + sum(copied_bytes(x) for x in v)
        if isinstance(v, dict):
            return costs.dict_bytes(len(v)) + sum(copied_bytes(x) for x in v.values())
        return 0

    mem = copied_bytes(value)
    assert fast.used == units(value) // costs.NODES_PER_GAS + mem // costs.MEM_BYTES_PER_GAS


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


def test_builtins_are_fresh_per_runtime() -> None:
    a, b = g.Runtime(10).builtins(), g.Runtime(10).builtins()
    assert a is not b and a["len"] is len and a["int"] != b["int"]
    a["len"] = None
    assert g.Runtime(10).builtins()["len"] is len


def test_json_bytes_is_the_same_document() -> None:
    import json

    from tianfu.api.submit import json_bytes

    doc = {"a": [1, "é", None, True, {"x": 2**64 - 1}], "b": "", "c": -(2**63)}
    assert json.loads(json_bytes(doc)) == doc
    big = {"n": 2**70}  # beyond msgspec's integers: falls back to the generic encoder
    assert json.loads(json_bytes(big)) == big


def _hash_domain_reference(tag: str, *parts: bytes) -> bytes:
    import hashlib

    h = hashlib.sha256()
    tb = tag.encode()
    h.update(len(tb).to_bytes(1, "big"))
    h.update(tb)
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()


@settings(deadline=None, max_examples=200)
@given(
    st.text(max_size=60),
    st.lists(st.binary(max_size=300) | st.binary(min_size=16_000, max_size=17_000), max_size=3),
)
def test_hash_domain_hashes_the_reference_bytes(tag: str, parts: list[bytes]) -> None:
    from tianfu.codec import hash_domain

    if len(tag.encode()) > 255:
        return
    assert hash_domain(tag, *parts) == _hash_domain_reference(tag, *parts)


def test_admit_many_gives_the_verdicts_of_admit(tmp_path: Path) -> None:
    import msgspec

    from tianfu.api.service import TxRejected
    from tianfu.contracts.examples import example_source
    from tianfu.testing.appchain import AppChain

    chain = AppChain(tmp_path)
    try:
        chain.deploy("kv", example_source("kv"))
        u = chain.admin("org1")
        committed = chain.sign(u, "kv", "put", "a", 1)
        chain.driver.produce_one([committed])
        chain._registered.add(u.info.address)
        fresh = [chain.sign(u, "kv", "put", f"k{i}", i) for i in range(3)]
        pending = chain.sign(u, "kv", "put", "p", 1)
        chain.service.admit(pending)
        forged = msgspec.structs.replace(fresh[0], signature=bytes(64))
        no_method = chain.sign(u, "kv", "nope")
        batch = [fresh[0], fresh[0], committed, pending, forged, no_method, fresh[1], fresh[2]]
        verdicts = chain.service.admit_many(batch)
        assert verdicts == [True, False, False, False, False, False, True, True]
        assert all(t.hash in chain.service.mempool for t in fresh)
        assert no_method.hash not in chain.service.mempool
        with pytest.raises(TxRejected):  # admit agrees, one at a time
            chain.service.admit(committed)
    finally:
        chain.close()
