"""Demo data for traceability: a tea harvest from farm to shelf, shown by `tianfu up --demo`."""

from __future__ import annotations

import hashlib
from typing import Any

from tianfu.apps.common.scenario import Member, ensure_deployed
from tianfu.apps.common.scenario import cast as cast_members
from tianfu.apps.env import AppEnv
from tianfu.apps.traceability import NAME, source
from tianfu.apps.traceability.sdk import Traceability

MEMBERS = (  # role, organisation index, certificate name
    Member("producer", 0, "trace-farmer", ("producer",)),
    Member("processor", 1, "trace-factory", ("processor",)),
    Member("logistics", 1, "trace-carrier", ("logistics",)),
    Member("inspector", 2, "trace-lab", ("inspector",)),
    Member("retailer", 2, "trace-shop", ("retailer",)),
    Member("regulator", 3, "trace-regulator", ("regulator",)),
)


RECALLED = "LJ-TIN-004"
RECALL_REASON = "仓库发现罐口密封破损（tin seal found damaged at the warehouse）"


def cast(env: AppEnv, suffix: str = "") -> dict[str, Any]:
    """The participants: identities of different organisations, each with its role granted."""
    return cast_members(env, MEMBERS, suffix=suffix)


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy the contract and trace one tea harvest: split, processed, merged, inspected."""
    p = cast(env)
    farm = Traceability(env.client(p["producer"]))
    ensure_deployed(env, farm.client, NAME, source())
    if farm.batch("LJ-TIN-001") is None:  # idempotent: an earlier run's data is kept as is
        _create(env, p, farm)
    return {
        "contract": NAME,
        "lookup": "tianfu app traceability lookup LJ-TIN-001 --genesis .tianfu/localnet/genesis.bin",
        "batches": ["TEA-2024-001", "TEA-2024-002", "LJ-LOT-0415", "LJ-TIN-001..004", "LJ-BULK-01"],
        "recalled": RECALLED,
        "participants": {
            role: f"{who.info.org}/{who.info.name} {who.info.address}" for role, who in p.items()
        },
    }


def _create(env: AppEnv, p: dict[str, Any], farm: Traceability) -> None:
    farm.register_product(
        "longjing-green", "龙井绿茶，散装（Longjing green tea, loose leaf）", "茶叶（tea）", "g"
    )
    farm.create_batch(
        "TEA-2024-001",
        "longjing-green",
        120_000,
        "杭州梅家坞 7 号地块（Meijiawu, Hangzhou plot 7）",
    )
    farm.record_event(
        "TEA-2024-001", "planting", {"variety": "龙井43号（Longjing #43）", "area_mu": 12}
    )
    farm.record_event(
        "TEA-2024-001",
        "input",
        {
            "input": "fertiliser",
            "product": "有机菜籽饼（rapeseed cake, organic）",
            "dose_kg": 300,
        },
    )
    farm.record_event("TEA-2024-001", "harvest", {"date": "2024-04-02", "pickers": 40})
    farm.create_batch(
        "TEA-2024-002", "longjing-green", 80_000, "杭州梅家坞 9 号地块（Meijiawu, Hangzhou plot 9）"
    )
    farm.record_event("TEA-2024-002", "harvest", {"date": "2024-04-03", "pickers": 25})
    factory = Traceability(env.client(p["processor"]))
    for code in ("TEA-2024-001", "TEA-2024-002"):
        farm.transfer_batch(code, p["processor"].info.address)
    factory.register_product(
        "longjing-250g", "龙井 250 克礼盒（Longjing 250 g gift tin）", "茶叶（tea）", "g"
    )
    factory.merge_batches("LJ-LOT-0415", ["TEA-2024-001", "TEA-2024-002"], "longjing-250g")
    factory.record_event("LJ-LOT-0415", "processing", {"step": "炒青（pan-firing）", "line": "A2"})
    report = hashlib.sha256(b"demo inspection report LJ-LOT-0415").hexdigest()
    lab = Traceability(env.client(p["inspector"]))
    lab.record_event(
        "LJ-LOT-0415",
        "inspection",
        {"report_hash": report, "result": "pass", "standard": "GB 2763-2021 农药残留（residues）"},
    )
    parts = [(f"LJ-TIN-{i:03d}", 250) for i in range(1, 5)] + [("LJ-BULK-01", 199_000)]
    factory.split_batch("LJ-LOT-0415", parts)
    carrier = Traceability(env.client(p["logistics"]))
    carrier.record_event(
        "LJ-TIN-001", "transport", {"from": "杭州（Hangzhou）", "to": "成都（Chengdu）"}
    )
    factory.transfer_batch("LJ-TIN-001", p["retailer"].info.address)
    shop = Traceability(env.client(p["retailer"]))
    shop.record_event(
        "LJ-TIN-001", "retail", {"store": "春熙路门店（Chunxi Road shop）", "price_fen": 68800}
    )
    # One tin is recalled, so that the public trace page has a recall to show.
    Traceability(env.client(p["regulator"])).recall(RECALLED, RECALL_REASON)


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    who = summary["participants"]
    return [
        "two Longjing tea harvests traced from farm to shop: harvested, merged into one lot, "
        "inspected, split into gift tins, shipped and sold",
        "batches: " + ", ".join(summary["batches"]) + f" ({summary['recalled']} recalled)",
        "participants: " + ", ".join(f"{role} {v.split()[0]}" for role, v in who.items()),
        f"try: {summary['lookup']}   (every record proven against the validators' signatures)",
    ]
