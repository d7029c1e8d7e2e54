"""Health: a patient's records and prescriptions stay readable however many there are, and
no content gets more reader organisations than a record may be written for.

`records_of` and `prescriptions_of` returned up to 500 records in one call: past what one
view may return (256 KiB) no part of them could be read. They are bounded by the bytes of the
largest record, and `records_of_page` / `prescriptions_of_page` read the rest. `add_record`
took at most MAX_READERS reader organisations while `share`, `present` and `share_claim`
added readers without bound (so the largest record had no size)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.unit.app_local import ALICE, BOB, Ctx, Local

from tianfu.apps import health
from tianfu.apps.health.sdk import Health
from tianfu.client import Client
from tianfu.execution.contract_api import ContractError
from tianfu.execution.limits import MAX_RESULT_BYTES
from tianfu.execution.sandbox import compile_contract

WIDE = "\U00020000"  # a 4-byte character
ORGS = [WIDE * 58 + f"{k:03d}" for k in range(16)]  # 61-character organisation names


def _largest_record(k: int) -> dict[str, Any]:
    return {
        "id": f"REC{k:06d}",
        "patient": ALICE,
        "kind": "discharge",
        "org": ORGS[0],
        "author": "f" * 40,
        "versions": [f"{v:064x}" for v in range(20)],
        "readers": ORGS,
        "purged": False,
        "height": 2**62,
        "time_ms": 2**62,
    }


def _largest_rx(k: int) -> dict[str, Any]:
    """Larger than any: a prescription is never both cancelled and dispensed."""
    done = {"by": "f" * 40, "org": ORGS[0], "height": 2**62, "time_ms": 2**62}
    return {
        "id": f"RX{k:06d}",
        "patient": ALICE,
        "doctor": "f" * 40,
        "org": ORGS[0],
        "quantity": 10000,
        "expires_ms": 2**62,
        "details": "f" * 64,
        "status": "cancelled",
        "presented": ORGS[1:9],  # they share the details' 16 readers with the prescriber
        "insurers": ORGS[9:],
        "dispensed": {**done, "quantity": 10000},
        "reimbursed": {**done, "amount_fen": 10**10},
        "cancelled": {**done, "reason": WIDE * 200},
        "height": 2**62,
        "time_ms": 2**62,
    }


def _patient(n: int, source: str | None = None) -> Local:
    app = Local(compile_contract(source or health.source()), Ctx(health.NAME))
    for k in range(1, n + 1):
        app.ctx.state[f"rec:REC{k:06d}"] = _largest_record(k)
        app.ctx.state[f"rx:RX{k:06d}"] = _largest_rx(k)
    app.ctx.state["recs:" + ALICE] = [f"REC{k:06d}" for k in range(1, n + 1)]
    app.ctx.state["rxs:" + ALICE] = [f"RX{k:06d}" for k in range(1, n + 1)]
    return app


def test_the_largest_records_are_read_whole_up_to_the_bound_and_a_page_at_a_time() -> None:
    app = _patient(40)
    assert len(app.call(BOB, "records_of", ALICE)) == 40  # within MAX_RESULT_BYTES
    assert len(app.call(BOB, "prescriptions_of", ALICE)) == 40
    app = _patient(101)
    for view, field in (("records_of", "records"), ("prescriptions_of", "prescriptions")):
        with pytest.raises(ContractError, match=f"101 {field}, more than 40: .*{view}_page"):
            app.call(BOB, view, ALICE)
        seen, start = [], 1
        while start is not None:
            page = app.call(BOB, view + "_page", ALICE, start, 40)
            assert page["count"] == 101 and page["patient"] == ALICE
            seen += [r["id"] for r in page[field]]
            start = page["next"]
        assert len(seen) == len(set(seen)) == 101
        with pytest.raises(ContractError, match=r"limit 1\.\.40"):
            app.call(BOB, view + "_page", ALICE, 1, 41)
        assert app.call(BOB, view + "_page", BOB, 1, 40)[field] == []


def test_a_whole_list_of_500_records_was_not_readable() -> None:
    """What the bound prevents: the views as they were (up to 500) fail past 256 KiB."""
    wide = health.source().replace("MAX_RECORDS_SHOWN = 40", "MAX_RECORDS_SHOWN = 500")
    app = _patient(100, wide)
    with pytest.raises(ContractError, match=f"larger than {MAX_RESULT_BYTES} bytes"):
        app.call(BOB, "records_of", ALICE)
    with pytest.raises(ContractError, match=f"larger than {MAX_RESULT_BYTES} bytes"):
        app.call(BOB, "prescriptions_of", ALICE)


class _Keys(Ctx):
    """Every organisation is an active member with a registered data key."""

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        if contract == "privdata":
            return {"key": "k"}
        if key.startswith("org/"):
            return {"status": "active"}
        return super().read(contract, key, default)


def test_sharing_gives_a_record_no_more_readers_than_it_may_be_written_for() -> None:
    app = Local(compile_contract(health.source()), _Keys(health.NAME))
    app.call(ALICE, "register_patient", org="org0")
    h = "ab" * 32
    app.ctx.state["rec:REC000001"] = {
        "id": "REC000001",
        "patient": ALICE,
        "org": "org0",
        "versions": [h],
        "readers": ["org0"],
        "purged": False,
    }
    app.ctx.state["pd:" + h] = {"hash": h, "readers": {"org0": b"k" * 80}, "purged": False}
    for k in range(1, 16):
        app.call(ALICE, "share", "REC000001", f"org{k}", b"k" * 80, org="org0")
    with pytest.raises(ContractError, match="has 16 reader organisations already"):
        app.call(ALICE, "share", "REC000001", "org16", b"k" * 80, org="org0")
    assert len(app.call(BOB, "record", "REC000001")["readers"]) == 16


def test_the_sdk_reads_every_record_a_page_at_a_time() -> None:
    app = _patient(41)

    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(ALICE, method, *args)

    sdk = Health(cast(Client, _Node()))
    assert len(sdk.all_records_of(ALICE)) == 41
    assert len(sdk.all_prescriptions_of(ALICE)) == 41


def _node(app: Local) -> Client:
    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(ALICE, method, *args)

    return cast(Client, _Node())


def test_the_largest_access_log_entries_are_read_at_the_sdks_and_the_clis_page_size() -> None:
    """An access-log entry holds its reader's name (64 characters) and organisation (61),
    which its organisation chose, and a purpose of 200 characters the reader chose: four
    bytes each at the most, 200 of them exceed 256 KiB, so pages of 200 (the SDK's and the
    CLI's) failed for every page of such a log."""
    app = Local(compile_contract(health.source()), Ctx(health.NAME))
    entry = {"by": "f" * 40, "org": WIDE * 61, "name": WIDE * 64, "purpose": WIDE * 200}
    for k in range(1, 301):
        app.ctx.state[f"log:REC000001:{k}"] = {**entry, "n": k, "height": k, "time_ms": 2**62}
    app.ctx.state["nlog:REC000001"] = 300
    assert [e["n"] for e in Health(_node(app)).all_access_log("REC000001")] == list(range(1, 301))
    app.ctx.state["nlog:REC000001"] = 150
    assert len(app.call(BOB, "access_log", "REC000001")) == 150
    app.ctx.state["nlog:REC000001"] = 151
    with pytest.raises(ContractError, match="151 logged accesses, more than 150: .*_page"):
        app.call(BOB, "access_log", "REC000001")
    with pytest.raises(ContractError, match=r"limit 1\.\.150"):
        app.call(BOB, "access_log_page", "REC000001", 1, 151)


def test_the_largest_claims_are_read_at_the_sdks_and_the_clis_page_size() -> None:
    """`claimable` returns whole prescriptions, each naming up to 16 organisations: pages of
    200 (the SDK's and the CLI's) of the largest failed past 256 KiB."""
    app = _patient(60)
    for k in range(1, 61):
        rx = f"RX{k:06d}"
        app.ctx.state[f"claims:org4#i:{k}"], app.ctx.state[f"claims:org4#k:{rx}"] = rx, k
        app.ctx.state["rx:" + rx].update(status="dispensed", reimbursed=None)
    app.ctx.state["claims:org4#n"] = 60
    claims = Health(_node(app)).all_claimable("org4")
    assert [r["id"] for r in claims] == [f"RX{k:06d}" for k in range(1, 61)]
    with pytest.raises(ContractError, match="60 outstanding claims, more than 40: .*_page"):
        app.call(BOB, "claimable", "org4")
    with pytest.raises(ContractError, match=r"limit 1\.\.40"):
        app.call(BOB, "claimable_page", "org4", 1, 41)
