"""Photo sharing: the infringement reports naming a photo are read whatever they hold.

Anyone reports a photo with a 1,000-character statement, and the copy's author answers with
1,000 more: `reports` returned the first 200 and `reports_page` up to 200 (the SDK's
default), but 30 of the largest (four-byte characters) fill the 256 KiB a view returns, so
neither answered for such a photo ("return value larger than 262144 bytes")."""

from __future__ import annotations

import pytest
from tests.unit.app_local import BOB, Ctx, Local

from tianfu.apps import photo_sharing
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract


def test_the_largest_reports_are_read_at_the_sdks_and_the_clis_page_size() -> None:
    app = Local(compile_contract(photo_sharing.source()), Ctx(photo_sharing.NAME))
    wide = "\U00020000" * 1000
    app.ctx.state["nprep:PH000001"] = 100
    for k in range(1, 101):
        rid = f"IR{k:06d}"
        app.ctx.state[f"prep:PH000001:{k}"] = rid
        app.ctx.state["rep:" + rid] = {
            "id": rid,
            "statement": wide,
            "response": {"text": wide, "height": 2**62, "time_ms": 2**62},
            "copy_author": "f" * 40,
            "tx": "f" * 64,
        }
    assert len(app.call(BOB, "reports", "PH000001")) == 25
    seen = []
    for start in range(1, 101, 25):
        seen += [r["id"] for r in app.call(BOB, "reports_page", "PH000001", start, 25)]
    assert seen == [f"IR{k:06d}" for k in range(1, 101)]
    with pytest.raises(ContractError, match=r"limit 1\.\.25"):
        app.call(BOB, "reports_page", "PH000001", 1, 26)
