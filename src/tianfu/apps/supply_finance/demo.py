"""Demo data for supply-chain finance: a core enterprise's receivable split down three tiers."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tianfu.apps.common.readable import date, yuan
from tianfu.apps.common.scenario import Member, Participant, enrolled
from tianfu.apps.env import AppEnv
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.sdk import SupplyFinance

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Party(Participant[SupplyFinance]):
    """One participant: its identity, its SDK handle (`sf`) and the company it plays."""

    SDK = SupplyFinance

    @property
    def sf(self) -> SupplyFinance:
        return self.app


CAST = (  # key, organisation index, certificate name, on-chain roles, company
    Member(
        "core",
        0,
        "tianfu-motors",
        ("core_enterprise",),
        "天府汽车集团，核心企业（Tianfu Motors Group, core enterprise）",
    ),
    Member(
        "tier1",
        1,
        "shu-parts",
        (),
        "蜀汽配件有限公司，一级供应商（Shu Auto Parts Co., tier-1 supplier）",
    ),
    Member(
        "tier2",
        2,
        "rongcheng-castings",
        (),
        "蓉城铸造有限公司，二级供应商（Rongcheng Castings Ltd., tier-2 supplier）",
    ),
    Member(
        "tier3",
        1,
        "jinjiang-fasteners",
        (),
        "锦江紧固件，三级供应商（Jinjiang Fasteners, tier-3 supplier）",
    ),
    Member(
        "bank",
        3,
        "bank-of-shu",
        ("bank",),
        "蜀银行供应链金融部（Bank of Shu, supply-chain finance desk）",
    ),
    Member(
        "regulator",
        3,
        "finance-regulator",
        ("regulator",),
        "四川金融监管局（Sichuan Financial Regulatory Bureau）",
    ),
)


def setup_parties(env: AppEnv, prefix: str = "") -> dict[str, Party]:
    """Deploy if needed; issue, enrol and grant roles to the cast (`prefix` makes a new cast).

    Enrolments and roles already on chain are left alone, so this can run again."""
    return enrolled(env, CAST, Party, (NAME, source), prefix)


def invoice_hash(label: str) -> str:
    """A unique stand-in for the SHA-256 of a purchase contract or invoice."""
    return hashlib.sha256(f"{label}|{secrets.token_hex(8)}".encode()).hexdigest()


DEMO_INVOICE = "demo purchase order PO-2024-0917, brake systems"


def _existing_demo(p: dict[str, Party]) -> dict[str, str] | None:
    """The demo's receivable and parts if an earlier run created them, else None."""
    sf = p["core"].sf
    doc = hashlib.sha256(DEMO_INVOICE.encode()).hexdigest()
    for held in p["tier1"].sf.holdings(p["tier1"].address):
        root = sf.get(held["root"])
        if root["doc_hash"] != doc or root["issuer"] != p["core"].address:
            continue
        parts = {"root": root["id"], "kept": held["id"]}
        for key in ("tier3", "tier2"):
            mine = [r["id"] for r in sf.holdings(p[key].address) if r["root"] == root["id"]]
            if not mine:
                return None
            parts[key] = mine[0]
        return parts
    return None


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Issue 1,000,000.00 yuan to the tier-1 supplier, split it down to tier 3, pledge one part.

    Idempotent: if an earlier run created the demo receivable, it is described, not recreated."""
    p = setup_parties(env)
    found = _existing_demo(p)
    if found is None:
        maturity = int(time.time() * 1000) + 90 * DAY_MS
        doc = hashlib.sha256(DEMO_INVOICE.encode()).hexdigest()
        rid = p["core"].sf.issue(p["tier1"].address, 100_000_000, maturity, doc)
        p["tier1"].sf.accept(rid)
        moved = p["tier1"].sf.split_transfer(rid, 40_000_000, p["tier2"].address)
        parts = p["tier2"].sf.split(moved["transferred"], [15_000_000, 25_000_000])
        p["tier2"].sf.transfer(parts[0], p["tier3"].address)
        p["tier2"].sf.apply_pledge(parts[1], p["bank"].address)
        p["bank"].sf.approve_pledge(parts[1], 24_000_000, 450)
        p["bank"].sf.disburse(parts[1], "BOS-LOAN-0001")
        found = {"root": rid, "kept": moved["kept"], "tier3": parts[0], "tier2": parts[1]}
    root = p["core"].sf.get(found["root"])
    return {
        "contract": NAME,
        "receivable": found["root"],
        "amount_fen": root["amount"],
        "maturity_ms": root["maturity_ms"],
        "parts": {
            found["kept"]: "held by the tier-1 supplier",
            found["tier3"]: "transferred to the tier-3 supplier",
            found["tier2"]: "pledged to the bank, 240,000.00 yuan disbursed at 4.50%",
        },
        "who": {
            k: {
                "org": v.identity.info.org,
                "name": v.identity.info.name,
                "address": v.address,
                "company": v.display_name,
            }
            for k, v in p.items()
        },
    }


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    who = summary["who"]
    rid = summary["receivable"]
    lines = [
        f"{who['core']['company']} issued receivable {rid} of "
        f"{yuan(summary['amount_fen'])} yuan to {who['tier1']['company']}, due "
        f"{date(summary['maturity_ms'])}; its parts:",
    ]
    lines += [f"  {part}: {what}" for part, what in summary["parts"].items()]
    lines.append("participants: " + ", ".join(f"{v['org']}/{v['name']}" for v in who.values()))
    lines.append(f"try: tianfu app supply_finance lineage {next(reversed(summary['parts']))}")
    lines.append(f"     tianfu app supply_finance totals {rid}")
    return lines
