"""Dates the console's scripts write (static/js/dates.js, run under Node): the same day and
time as the server's pages, in the node's time zone whatever the browser's own zone; the
overview's live rows use it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tianfu.web import format as fmt
from tianfu.web.render import STATIC

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the console's scripts here")

TIMES = [0, 1, 1_765_000_000_123, 1_711_846_799_999, 1_711_846_800_000, 4_102_444_799_000]
ZONES = ["Asia/Shanghai", "Europe/London", "America/New_York", "UTC"]


def node_dates(cases: list[tuple[int, str]], tmp_path: Path) -> list[str]:
    assert NODE is not None
    module = tmp_path / "dates.mjs"  # the script as an ES module, as the browser loads it
    module.write_text((STATIC / "js" / "dates.js").read_text())
    code = (
        f"import({json.dumps(module.as_uri())}).then((m) => console.log(JSON.stringify("
        f"{json.dumps(cases)}.map(([ms, tz]) => m.nodeDate(ms, tz)))));"
    )
    env = {**os.environ, "TZ": "Pacific/Honolulu", "LANG": "fr_FR.UTF-8", "LC_ALL": "fr_FR.UTF-8"}
    out = subprocess.run(
        [NODE, "-e", code], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    return list(json.loads(out.stdout))


def test_script_dates_are_the_servers_in_the_node_zone(tmp_path: Path) -> None:
    cases = [(ms, tz) for ms in TIMES for tz in ZONES]
    for (ms, tz), shown in zip(cases, node_dates(cases, tmp_path), strict=True):
        server = fmt.date(ms, ZoneInfo(tz))
        # same day and time; the zone's name may be written differently (CST / GMT+8)
        assert shown[:19] == server[:19], (ms, tz, shown, server)
        assert shown[19] == " " and shown[20:], shown


def test_live_rows_use_the_node_zone() -> None:
    live = (STATIC / "js" / "live.js").read_text()
    assert "toLocaleString" not in live and "nodeDate(ms, body.dataset.tz)" in live
    overview = (STATIC.parent / "templates" / "overview.html").read_text()
    assert 'data-tz="{{ tz_name }}"' in overview
