"""City governance: a sensor alarm's reference is its organisation's own.

The open alarm was kept under "sensor:<ref>" for every organisation, so a member whose
sensors filed a reference first (an open case, kept open) refused every other
organisation's sensors that reference: "alarm <ref> is already open as case <id>" for an
alarm they never filed. References are now kept per organisation."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, Ctx, Local

from tianfu.apps.city_governance import source
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

ROLES = {ALICE: ["city_admin", "dispatcher"], BOB: ["sensor"], CAROL: ["sensor"]}


def _city() -> Local:
    return Local(compile_contract(source()), Ctx("city_governance", ROLES))


def _alarm(app: Local, who: str, case_id: str, ref: str, org: str) -> None:
    app.call(who, "file_case", case_id, "road", "urgent", "A1", "tilt", "", "", ref, org=org)


def test_another_organisations_alarm_reference_neither_blocks_nor_is_blocked() -> None:
    app = _city()
    _alarm(app, BOB, "S-1", "MH-1", "org2")  # org2 files (or pre-empts) the reference
    _alarm(app, CAROL, "S-2", "MH-1", "org3")  # org3's own alarm of that reference
    assert app.call(ALICE, "case", "S-2")["sensor_ref"] == "MH-1"
    with pytest.raises(ContractError, match="alarm MH-1 is already open as case S-1"):
        _alarm(app, BOB, "S-3", "MH-1", "org2")
    with pytest.raises(ContractError, match="alarm MH-1 is already open as case S-2"):
        _alarm(app, CAROL, "S-4", "MH-1", "org3")


def test_an_alarm_filed_before_the_per_organisation_references_still_counts() -> None:
    app = _city()
    _alarm(app, BOB, "S-1", "MH-1", "org2")
    app.ctx.state["sensor:MH-1"] = app.ctx.state.pop("sensor:org2:MH-1")  # the layout before
    with pytest.raises(ContractError, match="alarm MH-1 is already open as case S-1"):
        _alarm(app, BOB, "S-2", "MH-1", "org2")
    _alarm(app, CAROL, "S-3", "MH-1", "org3")  # another organisation's is not blocked
