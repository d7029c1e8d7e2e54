"""Demo data for city governance: citizen and sensor cases handled across departments."""

from __future__ import annotations

from typing import Any

from tianfu.apps.city_governance import NAME, source
from tianfu.apps.city_governance.sdk import CityGovernance, details_hash, reporter_hash
from tianfu.apps.common.scenario import Member, cast, ensure_deployed, handles
from tianfu.apps.env import AppEnv

HOUR_MS = 3600 * 1000
SALT = "chengdu-12345-demo-salt"  # kept by the service centre, never on chain


def members(tag: str = "") -> tuple[Member, ...]:
    """The cast; `tag` makes new identities and department roles (`dept:urban<tag>`)."""
    return (
        Member("centre", 0, "cg-12345-hotline" + tag, ("service_centre",)),
        Member("sensor", 0, "cg-iot-platform" + tag, ("sensor",)),
        Member("dispatcher", 0, "cg-command-centre" + tag, ("dispatcher", "city_admin")),
        Member("urban", 1, "cg-urban-staff" + tag, ("dept:urban" + tag,)),
        Member("water", 2, "cg-water-staff" + tag, ("dept:water" + tag,)),
        Member("supervisor", 3, "cg-supervision-office" + tag, ("supervisor",)),
    )


def departments(env: AppEnv, tag: str = "") -> tuple[tuple[str, str, str, int], ...]:
    """(id, name, organisation, service level in ms) of the demo's departments."""
    orgs = env.orgs
    return (
        ("urban" + tag, "城市管理局（Urban Management Bureau）", orgs[1 % len(orgs)], 72 * HOUR_MS),
        ("water" + tag, "水务局（Water Authority）", orgs[2 % len(orgs)], 48 * HOUR_MS),
    )


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `city_governance`; a pooling-water complaint transferred from urban management
    to the water authority and closed, a sensor alarm sent back by the supervising office.
    Idempotent: existing demo cases are described, not recreated."""
    people = cast(env, members())
    g = handles(env, people, CityGovernance)
    ensure_deployed(env, g["dispatcher"].client, NAME, source())
    if "C-0001" not in g["dispatcher"].cases():
        _create(env, g)
    return {
        "contract": NAME,
        "cases": {c: g["dispatcher"].case(c)["status"] for c in g["dispatcher"].cases()[:3]},
        "stats": [
            {k: row[k] for k in ("dept", "received", "handled", "closed", "reopened", "open")}
            for row in g["dispatcher"].stats()
        ],
        "participants": {
            k: f"{who.info.org}/{who.info.name} {who.info.address}" for k, who in people.items()
        },
    }


def _create(env: AppEnv, g: dict[str, CityGovernance]) -> None:
    known = [d["id"] for d in g["dispatcher"].departments()]
    for dept_id, name, org, sla in departments(env):
        if dept_id not in known:
            g["dispatcher"].register_department(dept_id, name, org, sla)
    complaint = "Caller reports water pooling at Jinjiang Rd / Hongxing Rd after every rain."
    g["centre"].file_case(
        "C-0001",
        "road",
        "锦江路与红星路口，网格 JJ-07（Jinjiang Rd / Hongxing Rd, grid JJ-07）",
        "雨后路面积水（Water pooling on the carriageway after rain）",
        details=details_hash(complaint),
        reporter=reporter_hash("citizen phone on file", SALT),
    )
    g["dispatcher"].dispatch("C-0001", "urban")
    g["urban"].transfer(
        "C-0001",
        "water",
        "雨水管道堵塞，属水务局管养设施（blocked storm drain: a water authority asset）",
    )
    g["water"].handle(
        "C-0001",
        "已疏通管道，修复 3 米管道内衬（drain cleared, 3 m of pipe relined）",
        details_hash("work order W-88"),
    )
    g["supervisor"].check(
        "C-0001", True, "现场核查：雨后无积水（site visit: no pooling after rain）"
    )
    g["sensor"].file_case(
        "S-0001",
        "road",
        "人民南路二段，网格 WH-11（Renmin Rd S. section 2, grid WH-11）",
        "井盖移位，倾角传感器报警（Manhole cover displaced, tilt sensor）",
        priority="urgent",
        sensor_ref="MH-0420-TILT-1",
    )
    g["dispatcher"].dispatch("S-0001", "urban")
    g["urban"].handle("S-0001", "井盖已复位（cover reseated）", details_hash("photo set P-2231"))
    g["supervisor"].check(
        "S-0001",
        False,
        "井盖受压仍晃动，需更换井座（cover still rocks under load; replace the frame）",
    )


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    lines = [
        "a citizen's complaint (C-0001) transferred from urban management to the water "
        "authority and closed; a sensor alarm (S-0001) sent back by the supervising office",
        "cases: " + ", ".join(f"{c} {status}" for c, status in summary["cases"].items()),
    ]
    for row in summary["stats"]:
        lines.append(
            f"  {row['dept']}: received {row['received']}, handled {row['handled']}, "
            f"closed {row['closed']}, reopened {row['reopened']}, open {row['open']}"
        )
    lines.append("try: tianfu app city_governance history C-0001")
    lines.append("     tianfu app city_governance stats")
    return lines
