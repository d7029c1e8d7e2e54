"""Traceability: a batch's quantity stays a number the ledger stores, whatever is merged.

A batch's quantity had no upper bound but the 64 bits a transaction's integer carries, so a
producer creating two batches of 2**64 - 1 and merging them made `merge_batches` fail with
"stored value: integer out of range (-2**63 .. 2**64 - 1)": the sum of a merge passed what
state holds, and nothing said which bound. A quantity (created or merged) is now at most
MAX_QUANTITY, refused by name, so a merge of any MAX_MERGE batches sums within it."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, Ctx, Local

from tianfu.apps import traceability
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

MAX_QUANTITY = 10**18


def _producer() -> Local:
    app = Local(compile_contract(traceability.source()), Ctx("traceability", {ALICE: ["producer"]}))
    app.call(ALICE, "register_product", "P1", "rice", "grain", "g")
    return app


def test_a_batch_is_created_with_at_most_the_bound() -> None:
    app = _producer()
    app.call(ALICE, "create_batch", "B1", "P1", MAX_QUANTITY, "farm")
    before = dict(app.ctx.state)
    for quantity in (MAX_QUANTITY + 1, 2**64 - 1):
        with pytest.raises(ContractError, match=f"at most {MAX_QUANTITY}"):
            app.call(ALICE, "create_batch", "B2", "P1", quantity, "farm")
    assert app.ctx.state == before


def test_a_merge_past_the_bound_is_refused_by_name_and_changes_nothing() -> None:
    app = _producer()
    app.call(ALICE, "create_batch", "B1", "P1", MAX_QUANTITY, "farm")
    app.call(ALICE, "create_batch", "B2", "P1", 1, "farm")
    app.call(ALICE, "create_batch", "B3", "P1", MAX_QUANTITY - 1, "farm")
    before = dict(app.ctx.state)
    with pytest.raises(ContractError, match=f"more than {MAX_QUANTITY}"):
        app.chain_gas(ALICE, "merge_batches", "M1", ["B1", "B2"], "P1")
    with pytest.raises(ContractError, match=f"more than {MAX_QUANTITY}"):
        app.call(ALICE, "merge_batches", "M1", ["B1", "B2"], "P1")
    assert app.ctx.state == before
    merged = app.call(ALICE, "merge_batches", "M1", ["B2", "B3"], "P1")  # exactly the bound
    assert merged["quantity"] == MAX_QUANTITY


def test_a_batch_stored_past_the_bound_before_still_splits() -> None:
    """A batch recorded before the bound keeps its quantity; its parts sum to it."""
    app = _producer()
    app.call(ALICE, "create_batch", "B1", "P1", 1, "farm")
    app.ctx.state["batch:B1"]["quantity"] = 2**64 - 1
    parts = [{"code": "B1.1", "quantity": 2**63}, {"code": "B1.2", "quantity": 2**63 - 1}]
    assert app.call(ALICE, "split_batch", "B1", parts) == ["B1.1", "B1.2"]
