"""Demo data for manufacturing: a brake-system order subcontracted down two tiers."""

from __future__ import annotations

import time
from typing import Any

from tianfu.apps.common.readable import yuan
from tianfu.apps.common.scenario import Member, cast, ensure_deployed, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.manufacturing import NAME, source
from tianfu.apps.manufacturing.sdk import Manufacturing, bom, document_hash

DAY_MS = 24 * 3600 * 1000
MEMBERS = (  # key, organisation index, certificate name, roles
    Member("oem", 0, "mf-tianfu-auto", ("buyer",), "Tianfu Automobile (OEM)"),
    Member("tier1", 1, "mf-shu-brakes", ("supplier",), "Shu Brake Systems (tier 1)"),
    Member("castings", 2, "mf-rongcheng-castings", ("supplier",), "Rongcheng Castings (tier 2)"),
    Member("pads", 1, "mf-jinjiang-friction", ("supplier",), "Jinjiang Friction (tier 2)"),
    Member("lab", 3, "mf-sichuan-quality-lab", ("inspector",), "Sichuan Quality Inspection Lab"),
)
LOCAL_ROOT = "PO-BRK-0001"  # the demo order, under the OEM's organisation


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `manufacturing`; an OEM orders brake systems, the tier-1 supplier subcontracts
    discs and pads; discs pass inspection and are accepted, pads are rejected (an alert the
    whole tree sees). Idempotent: an existing demo order is described, not recreated."""
    people = cast(env, MEMBERS)
    m = handles(env, people, Manufacturing)
    ensure_deployed(env, m["oem"].client, NAME, source())
    root = f"{people['oem'].info.org}/{LOCAL_ROOT}"
    if m["oem"].order(root) is None:
        _create(
            m, {k: who.info.address for k, who in people.items()}, root, people["tier1"].info.org
        )
    tree = m["oem"].tree(root)
    return {
        "contract": NAME,
        "order": root,
        "total_fen": tree[0]["total"],
        "tree": {node["id"]: f"{node['supplier_org']} {node['status']}" for node in tree},
        "alerts": [f"{a['order']} {a['kind']}: {a['detail']}" for a in m["oem"].alerts(root)],
        "participants": {
            k: f"{who.info.org}/{who.info.name} {who.info.address}" for k, who in people.items()
        },
    }


def _create(m: dict[str, Manufacturing], addr: dict[str, str], root: str, tier1_org: str) -> None:
    now = int(time.time() * 1000)
    items = bom(("brake-disc", 400, 18_000), ("caliper", 400, 32_000), ("pad-set", 400, 6_500))
    m["oem"].place_order(root, addr["tier1"], items, now + 30 * DAY_MS, True)
    m["tier1"].accept_order(root)
    discs, pads = f"{tier1_org}/{LOCAL_ROOT}-A", f"{tier1_org}/{LOCAL_ROOT}-B"
    m["tier1"].subcontract(
        root, discs, addr["castings"], bom(("brake-disc", 400, 12_000)), now + 20 * DAY_MS
    )
    m["tier1"].subcontract(
        root, pads, addr["pads"], bom(("pad-set", 400, 4_000)), now + 20 * DAY_MS
    )
    m["castings"].accept_order(discs)
    m["castings"].report_milestone(discs, "casting", "400 discs cast, HT250")
    m["castings"].deliver(discs, document_hash("delivery note DN-7731, 400 brake discs"))
    m["lab"].record_inspection(discs, "pass", document_hash("report QI-2024-311"), "GB/T 34422")
    m["tier1"].accept_delivery(discs)
    m["tier1"].settle(discs, 4_800_000, "BOS-TT-8812")
    m["pads"].accept_order(pads)
    m["pads"].deliver(pads, document_hash("delivery note DN-0415, 400 pad sets"))
    m["lab"].record_inspection(pads, "fail", document_hash("report QI-2024-312"), "friction low")
    m["tier1"].reject_delivery(pads, "friction coefficient below specification")
    m["oem"].settle(root, 6_780_000, "TFA-ADV-0001")  # a 30% advance


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    lines = [
        f"purchase order {summary['order']} for brake systems, {yuan(summary['total_fen'])} yuan, "
        "subcontracted down the supply tree:",
    ]
    lines += [f"  {order}: {state}" for order, state in summary["tree"].items()]
    lines += [f"alert seen by every party of the tree: {a}" for a in summary["alerts"]]
    lines.append(f"try: tianfu app manufacturing tree {summary['order']}")
    lines.append(f"     tianfu app manufacturing alerts {summary['order']}")
    return lines
