"""Supply-chain finance: a receivable goes only to an address that can act on it.

A supplier needed only to have enrolled once to be issued a receivable or be transferred
one. An address enrolled while a member and then revoked (its key lost, its company gone)
or of an organisation that left can send nothing more: a receivable issued to it was never
accepted nor rejected, so the issuer's invoice stayed claimed by it for good (no second
issue of the invoice to the supplier's new address), and one transferred to it could never
be split, pledged or passed on. The recipient of `issue`, `transfer` and `split_transfer`
is now an active member identity (its certificate standing, its organisation a member), as
traceability and ip_rights require of theirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tianfu.apps.supply_finance import NAME
from tianfu.apps.supply_finance.demo import DAY_MS, invoice_hash, setup_parties
from tianfu.testing.appchain import AppChain


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppChain, Any, str]]:
    chain = AppChain(tmp_path_factory.mktemp("sfrecipients"))
    p = setup_parties(chain)
    gone = chain.identity("org2", "sf-revoked-supplier")
    assert chain.call(gone, NAME, "enrol", "a supplier whose key was lost").ok
    assert chain.call(chain.admin("org2"), "governance", "revoke_cert", gone.info.address).ok
    yield chain, p, gone.info.address
    chain.close()


def test_no_receivable_is_issued_to_a_revoked_address(world: Any) -> None:
    chain, p, gone = world
    core = p["core"].identity
    maturity = int(time.time() * 1000) + DAY_MS
    invoice = invoice_hash("lost-key")
    before = chain.contract_state(NAME)
    r = chain.call(core, NAME, "issue", gone, 5000, maturity, invoice)
    assert not r.ok and "revoked" in r.error
    assert chain.contract_state(NAME) == before
    # the invoice stays free for the supplier's new address
    r = chain.call(core, NAME, "issue", p["tier1"].address, 5000, maturity, invoice)
    assert r.ok, r.error


def test_no_receivable_is_transferred_to_a_revoked_address(world: Any) -> None:
    chain, p, gone = world
    core, holder = p["core"].identity, p["tier1"].identity
    maturity = int(time.time() * 1000) + DAY_MS
    rid = chain.call(
        core, NAME, "issue", p["tier1"].address, 9000, maturity, invoice_hash("t")
    ).result
    assert chain.call(holder, NAME, "accept", rid).ok
    before = chain.contract_state(NAME)
    for method, args in (("transfer", (rid, gone)), ("split_transfer", (rid, 4000, gone))):
        r = chain.call(holder, NAME, method, *args)
        assert not r.ok and "revoked" in r.error, (method, r.error)
    assert chain.contract_state(NAME) == before
    assert chain.call(holder, NAME, "split_transfer", rid, 4000, p["tier2"].address).ok
