"""Supply-chain finance: a holder splitting its receivable into many parts does not make the
issuer's repayment fail; a repayment too large for one transaction is refused naming what to
repay instead, and the parts are repaid one call each."""

from __future__ import annotations

import time

import pytest

from tianfu.apps.supply_finance import NAME
from tianfu.apps.supply_finance.demo import DAY_MS, invoice_hash, setup_parties
from tianfu.testing.appchain import AppChain


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("sfrepay"))
    yield chain, setup_parties(chain)
    chain.close()


def test_a_tree_split_past_what_one_repayment_pays_is_repaid_a_part_at_a_time(world) -> None:
    """`repay` pays every unpaid part under the id, one `Repaid` event each: a holder
    splitting its receivable into 20 parts and each of them into 20 again (21 transactions)
    made the issuer's repay of it fail with "more than 256 events in one transaction". It
    is now refused past 30 unpaid parts, naming the parts to repay instead, before paying
    any; each of them is repaid in one call, and the receivable is closed after the last."""
    chain, p = world
    core, holder = p["core"].identity, p["tier1"].identity
    maturity = int(time.time() * 1000) + DAY_MS
    amount = 20 * 20 * 1000
    rid = chain.call(
        core, NAME, "issue", p["tier1"].address, amount, maturity, invoice_hash("r")
    ).result
    assert chain.call(holder, NAME, "accept", rid).ok
    parts = chain.call(holder, NAME, "split", rid, [amount // 20] * 20).result
    for part in parts:
        assert chain.call(holder, NAME, "split", part, [amount // 400] * 20).ok
    before = chain.contract_state(NAME)
    r = chain.call(core, NAME, "repay", rid, "WIRE-1")
    assert not r.ok and "400 unpaid parts, more than the 30" in r.error
    assert f"{rid}.1" in r.error and f"{rid}.20" in r.error
    assert chain.contract_state(NAME) == before
    for part in parts:
        r = chain.call(core, NAME, "repay", part, "WIRE-1")
        assert r.ok, r.error
        assert len(r.result) == 20 and r.gas_used < 500_000
    assert rid not in chain.query(NAME, "open_receivables")
    totals = chain.query(NAME, "tree_totals", rid)
    assert totals["paid"] == amount and totals["outstanding"] == 0


def test_a_part_with_too_many_parts_under_it_is_refused_naming_its_own_parts(world) -> None:
    """A part (not the receivable itself) has no count of its unpaid parts: its repayment
    reads at most 100 parts and pays at most 30, and past that names its parts."""
    chain, p = world
    core, holder = p["core"].identity, p["tier1"].identity
    maturity = int(time.time() * 1000) + DAY_MS
    amount = 2 * 20 * 20 * 1000
    rid = chain.call(
        core, NAME, "issue", p["tier1"].address, amount, maturity, invoice_hash("q")
    ).result
    assert chain.call(holder, NAME, "accept", rid).ok
    half = chain.call(holder, NAME, "split", rid, [amount // 2] * 2).result[0]
    parts = chain.call(holder, NAME, "split", half, [amount // 40] * 20).result
    for part in parts:
        assert chain.call(holder, NAME, "split", part, [amount // 800] * 20).ok
    r = chain.call(core, NAME, "repay", half, "WIRE-2")
    assert not r.ok and f"{half} has more than the 30 unpaid parts" in r.error
    assert f"{half}.20" in r.error
    r = chain.call(core, NAME, "repay", parts[0], "WIRE-2")
    assert r.ok and len(r.result) == 20
