"""Health: no organisation fills a patient's list of records or prescriptions for the others.

A patient's list took MAX_PER_PATIENT (500) records and 500 prescriptions in all, first come
first served, and purging a record freed nothing: one hospital she consented to (or her home
organisation) writing 500 junk records, or one of its doctors 500 junk prescriptions, closed
her list for good, to every other organisation. Each organisation now keeps at most
MAX_PER_ORG on a patient's list; a purged record leaves it, and the patient dismisses a
prescription that is no longer issued (declining one first cancels it), freeing the slot."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import health
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

EVE = "e" * 40
HOME, HOSTILE = "home", "org2"
KEY = b"k" * 80
MOST = 500


class _Keys(Ctx):
    """Every organisation is an active member with a registered data key."""

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        if contract == "privdata":
            return {"key": "k"}
        if key.startswith("org/"):
            return {"status": "active"}
        return super().read(contract, key, default)


def _world() -> Local:
    """ALICE a patient of HOME who consented to HOSTILE; BOB a clinician and DAVE a doctor of
    HOSTILE; CAROL a clinician and EVE a doctor of HOME."""
    roles = {BOB: ["clinician"], CAROL: ["clinician"], DAVE: ["doctor"], EVE: ["doctor"]}
    app = Local(compile_contract(health.source()), _Keys(health.NAME, roles))
    app.call(ALICE, "register_patient", org=HOME)
    app.call(ALICE, "consent", HOSTILE, org=HOME)
    return app


def _h(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _record(app: Local, who: str, org: str, n: int) -> str:
    readers = {org: KEY, HOME: KEY}
    return str(app.call(who, "add_record", ALICE, "lab", _h("rec", who, n), 10, readers, org=org))


def _rx(app: Local, who: str, org: str, n: int, expires_ms: int | None = None) -> str:
    readers = {org: KEY, HOME: KEY} if org != HOME else {HOME: KEY}
    expires = expires_ms or app.ctx.time_ms + 86_400_000
    args = (ALICE, 1, expires, _h("rx", who, n), 10, readers)
    return str(app.call(who, "prescribe", *args, org=org))


def _ids(app: Local, view: str, field: str) -> list[str]:
    out, start = [], 1
    while start is not None:
        page = app.call(CAROL, view, ALICE, start, 40)
        out += [r["id"] for r in page[field]]
        start = page["next"]
    return out


def test_one_hospital_filling_its_share_of_records_leaves_the_others_writing() -> None:
    app = _world()
    junk = [_record(app, BOB, HOSTILE, n) for n in range(MOST)]
    mine = _record(app, CAROL, HOME, 0)  # refused before: "too many records for this patient"
    with pytest.raises(ContractError, match=f"{HOSTILE} has {MOST} records on this patient's"):
        _record(app, BOB, HOSTILE, MOST)
    app.call(ALICE, "purge", junk[0], org=HOME)  # the patient frees one of its slots
    again = _record(app, BOB, HOSTILE, MOST + 1)
    listed = _ids(app, "records_of_page", "records")
    assert listed == junk[1:] + [mine, again] and len(set(listed)) == len(listed)
    assert app.call(CAROL, "record", junk[0])["purged"] is True  # still read by its id
    with pytest.raises(ContractError, match="was purged"):
        app.call(ALICE, "purge", junk[0], org=HOME)
    assert app.ctx.state[f"nrecs:{ALICE}:{HOSTILE}"] == MOST
    assert app.ctx.state[f"nrecs:{ALICE}:{HOME}"] == 1


def test_one_hospital_filling_its_share_of_prescriptions_leaves_the_others_prescribing() -> None:
    app = _world()
    junk = [_rx(app, DAVE, HOSTILE, n) for n in range(MOST)]
    mine = _rx(app, EVE, HOME, 0)  # refused before: "too many prescriptions for this patient"
    with pytest.raises(ContractError, match=f"{HOSTILE} has {MOST} prescriptions on this"):
        _rx(app, DAVE, HOSTILE, MOST)
    with pytest.raises(ContractError, match="issued and not expired: cancel it first"):
        app.call(ALICE, "dismiss", junk[0], org=HOME)
    for who, org in ((DAVE, HOSTILE), (CAROL, HOME), (EVE, HOME)):  # only the patient
        with pytest.raises(ContractError, match="only the patient dismisses"):
            app.call(who, "dismiss", junk[0], org=org)
    with pytest.raises(ContractError, match="only the prescribing doctor or the patient"):
        app.call(EVE, "cancel", junk[0], "not mine", org=HOME)
    app.call(ALICE, "cancel", junk[0], "I never saw this doctor", org=HOME)  # she declines it
    assert app.call(CAROL, "prescription", junk[0])["cancelled"]["by"] == ALICE
    app.call(ALICE, "dismiss", junk[0], org=HOME)
    with pytest.raises(ContractError, match="not on your list"):
        app.call(ALICE, "dismiss", junk[0], org=HOME)
    again = _rx(app, DAVE, HOSTILE, MOST + 1)
    listed = _ids(app, "prescriptions_of_page", "prescriptions")
    assert listed == junk[1:] + [mine, again]
    assert app.call(CAROL, "prescription", junk[0])["status"] == "cancelled"


def test_an_expired_or_dispensed_prescription_is_dismissed_and_stays_claimable() -> None:
    app = _world()
    soon = _rx(app, DAVE, HOSTILE, 0, expires_ms=app.ctx.time_ms + 1500)
    kept = _rx(app, EVE, HOME, 1)
    app.call(ALICE, "dismiss", soon, org=HOME)  # expired after the next block: nothing to do
    app.ctx.roles[CAROL] = ["clinician", "pharmacy"]
    app.call(ALICE, "present", kept, "pharm", KEY, org=HOME)
    app.call(CAROL, "dispense", kept, 1, org="pharm")
    app.call(ALICE, "share_claim", kept, "ins", KEY, org=HOME)
    app.call(ALICE, "dismiss", kept, org=HOME)
    assert app.call(CAROL, "prescriptions_of", ALICE) == []
    assert [r["id"] for r in app.call(CAROL, "claimable", "ins")] == [kept]
    assert app.ctx.state[f"nrxs:{ALICE}:{HOSTILE}"] == 0
    assert app.ctx.state[f"nrxs:{ALICE}:{HOME}"] == 0


def test_a_list_kept_before_the_shares_is_read_first_and_purged_without_a_count() -> None:
    """A chain running the source before keeps `recs:<patient>` as a plain list of ids: it is
    read as the first slots of the list, and purging one of them frees no one's count (it
    took none)."""
    app = _world()
    old = [_record(app, BOB, HOSTILE, n) for n in range(3)]
    for k in ("#n", "#f", "#b:0", "#B:0"):
        app.ctx.state.pop(f"recs:{ALICE}{k}")
    for slot, rec in enumerate(old, 1):
        app.ctx.state.pop(f"recs:{ALICE}#i:{slot}")
        app.ctx.state.pop(f"recs:{ALICE}#k:{rec}")
    app.ctx.state[f"recs:{ALICE}"] = list(old)  # as the source before wrote it
    del app.ctx.state[f"nrecs:{ALICE}:{HOSTILE}"]
    new = _record(app, BOB, HOSTILE, 9)
    assert [r["id"] for r in app.call(CAROL, "records_of", ALICE)] == old + [new]
    app.call(ALICE, "purge", old[1], org=HOME)
    assert [r["id"] for r in app.call(CAROL, "records_of", ALICE)] == [old[0], old[2], new]
    assert _ids(app, "records_of_page", "records") == [old[0], old[2], new]
    assert app.ctx.state[f"nrecs:{ALICE}:{HOSTILE}"] == 1  # only the one written since
    app.call(ALICE, "purge", new, org=HOME)
    assert app.ctx.state[f"nrecs:{ALICE}:{HOSTILE}"] == 0
    assert app.call(CAROL, "records_of_page", ALICE, 1, 40)["count"] == 2
