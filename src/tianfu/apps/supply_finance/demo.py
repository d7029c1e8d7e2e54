"""Demo data for supply-chain finance: a core enterprise's receivable split down three tiers."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tianfu.apps.env import AppEnv
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.sdk import SupplyFinance
from tianfu.identity import Identity

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Party:
    """One participant: its identity, its SDK handle and the company it plays."""

    identity: Identity
    sf: SupplyFinance
    display_name: str

    @property
    def address(self) -> str:
        return self.identity.info.address


# (key, org, certificate name, company, on-chain role or "")
CAST = [
    ("core", "org1", "tianfu-motors", "Tianfu Motors Group (core enterprise)", "core_enterprise"),
    ("tier1", "org2", "shu-parts", "Shu Auto Parts Co. (tier-1 supplier)", ""),
    ("tier2", "org3", "rongcheng-castings", "Rongcheng Castings Ltd. (tier-2 supplier)", ""),
    ("tier3", "org2", "jinjiang-fasteners", "Jinjiang Fasteners (tier-3 supplier)", ""),
    ("bank", "org4", "bank-of-shu", "Bank of Shu, supply-chain finance desk", "bank"),
    ("regulator", "org4", "finance-regulator", "Sichuan Financial Regulatory Bureau", "regulator"),
]


def ensure_deployed(env: AppEnv, who: Identity) -> None:
    """Deploy the contract unless this exact source is already active."""
    current = env.client(who).query("governance", "get_source", NAME)
    if current != source():
        env.deploy(NAME, source())


def setup_parties(env: AppEnv, prefix: str = "") -> dict[str, Party]:
    """Deploy if needed; issue, enrol and grant roles to the cast (`prefix` makes a new cast)."""
    orgs = env.orgs
    parties: dict[str, Party] = {}
    for key, org, name, company, _role in CAST:
        org = org if org in orgs else orgs[(int(org[3:]) - 1) % len(orgs)]
        ident = env.identity(org, prefix + name, "member")
        parties[key] = Party(ident, SupplyFinance(env.client(ident)), company)
    ensure_deployed(env, parties["core"].identity)
    for key, *_rest, role in CAST:
        p = parties[key]
        p.sf.enrol(p.display_name)  # also registers the certificate, so roles can be granted
        if role:
            env.grant(p.identity, role)
    return parties


def invoice_hash(label: str) -> str:
    """A unique stand-in for the SHA-256 of a purchase contract or invoice."""
    return hashlib.sha256(f"{label}|{secrets.token_hex(8)}".encode()).hexdigest()


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Issue 1,000,000.00 yuan to the tier-1 supplier, split it down to tier 3, pledge one part."""
    p = setup_parties(env)
    maturity = int(time.time() * 1000) + 90 * DAY_MS
    rid = p["core"].sf.issue(
        p["tier1"].address, 100_000_000, maturity, invoice_hash("PO-2024-0917 brake systems")
    )
    p["tier1"].sf.accept(rid)
    moved = p["tier1"].sf.split_transfer(rid, 40_000_000, p["tier2"].address)
    tier2_part = moved["transferred"]
    parts = p["tier2"].sf.split(tier2_part, [15_000_000, 25_000_000])
    p["tier2"].sf.transfer(parts[0], p["tier3"].address)
    p["tier2"].sf.apply_pledge(parts[1], p["bank"].address)
    p["bank"].sf.approve_pledge(parts[1], 24_000_000, 450)
    p["bank"].sf.disburse(parts[1], "BOS-LOAN-0001")
    return {
        "contract": NAME,
        "receivable": rid,
        "amount_fen": 100_000_000,
        "maturity_ms": maturity,
        "parts": {
            moved["kept"]: "held by the tier-1 supplier",
            parts[0]: "transferred to the tier-3 supplier",
            parts[1]: "pledged to the bank, 240,000.00 yuan disbursed at 4.50%",
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
