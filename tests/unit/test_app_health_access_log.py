"""Health: a record's access log is read at a bounded cost however many accesses were
logged. Every reader clinician logs its own accesses, as many as it makes, and
`access_log` returned them all in one call, so past what one view may read and return
(its gas, 256 KiB) the patient could read no part of who read her record.

The contract runs with MAX_LOG_SHOWN lowered, so that a few entries cross the bound the
real constant puts at 150."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.unit.app_local import ALICE, BOB, Ctx, Local

from tianfu.apps.health import source
from tianfu.apps.health.sdk import Health
from tianfu.client import Client
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

SMALL = source().replace("MAX_LOG_SHOWN = 150", "MAX_LOG_SHOWN = 3")
REC = "REC000001"


def _record_accessed(n: int) -> Local:
    ctx = Ctx("health")
    app = Local(compile_contract(SMALL), ctx)
    ctx.state["patient:" + ALICE] = {"address": ALICE, "org": "org1", "name": "alice"}
    ctx.state["rec:" + REC] = {
        "id": REC,
        "patient": ALICE,
        "org": "org2",
        "versions": ["ab" * 32],
        "readers": ["org1", "org2"],
        "purged": False,
    }
    for k in range(n):  # the patient's own accesses (a reader clinician's are logged alike)
        app.call(ALICE, "access", REC, f"look {k}")
    return app


def test_the_access_log_is_refused_past_its_bound_and_read_a_page_at_a_time() -> None:
    app = _record_accessed(3)
    assert [e["purpose"] for e in app.call(ALICE, "access_log", REC)] == [
        "look 0",
        "look 1",
        "look 2",
    ]
    app = _record_accessed(5)
    with pytest.raises(ContractError, match="has 5 logged accesses, more than 3: .*_page"):
        app.call(ALICE, "access_log", REC)
    seen, start = [], 1
    while start is not None:
        page = app.call(ALICE, "access_log_page", REC, start, 2)
        assert page["count"] == 5 and page["ref"] == REC and len(page["entries"]) <= 2
        seen += [(e["n"], e["by"]) for e in page["entries"]]
        start = page["next"]
    assert seen == [(k, ALICE) for k in range(1, 6)]
    assert app.call(ALICE, "access_log_page", "REC999999", 1, 2)["entries"] == []
    with pytest.raises(ContractError, match=r"limit 1\.\.3"):  # a page is the whole list's bound
        app.call(ALICE, "access_log_page", REC, 1, 4)
    with pytest.raises(ContractError, match="ref must be a string"):
        app.call(ALICE, "access_log_page", 7, 1, 2)


def test_the_sdk_reads_every_entry_a_page_at_a_time() -> None:
    app = _record_accessed(5)

    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(ALICE, method, *args)

    log = Health(cast(Client, _Node())).all_access_log(REC, limit=2)
    assert [e["n"] for e in log] == [1, 2, 3, 4, 5]


def test_one_reader_filling_the_log_does_not_lock_the_record_for_the_others() -> None:
    """A record's log took MAX_LOG accesses in all and then refused every access ("the access
    log of this record is full"), and a node serves the content only after a logged access:
    one clinician of a reader organisation logging MAX_LOG accesses (100,000 small
    transactions) locked the record for good, for the patient and every other reader. Each
    reader now logs at most MAX_LOG accesses of a record, and nobody else's count stops it."""
    ctx = Ctx("health", {BOB: ["clinician"]})
    app = Local(compile_contract(source().replace("MAX_LOG = 100000", "MAX_LOG = 3")), ctx)
    ctx.state["patient:" + ALICE] = {"address": ALICE, "org": "org1", "name": "alice"}
    ctx.state["rec:" + REC] = {
        "id": REC,
        "patient": ALICE,
        "org": "org2",
        "versions": ["ab" * 32],
        "readers": ["org1", "org2"],
        "purged": False,
    }
    for k in range(3):  # a clinician of org2, a reader, as often as the bound lets it
        app.call(BOB, "access", REC, f"curious {k}", org="org2")
    assert app.call(ALICE, "access", REC, "my own record") == "ab" * 32
    assert app.call(ALICE, "access_log_page", REC, 1, 10)["count"] == 4
    before = dict(ctx.state)
    with pytest.raises(ContractError, match="logged 3 accesses of REC000001"):
        app.call(BOB, "access", REC, "once more", org="org2")
    assert ctx.state == before
