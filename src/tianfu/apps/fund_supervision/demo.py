"""Demo data for fund supervision: a rural housing fund allocated from province to village."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tianfu.apps.common.readable import yuan
from tianfu.apps.common.scenario import Member, Participant, enrolled
from tianfu.apps.env import AppEnv
from tianfu.apps.fund_supervision import NAME, source
from tianfu.apps.fund_supervision.sdk import POOL, FundSupervision, beneficiary_hash, doc_hash

DAY_MS = 24 * 3600 * 1000
PURPOSE = "housing-renovation"


@dataclass(frozen=True)
class Office(Participant[FundSupervision]):
    """One participant: its identity, its SDK handle (`fs`) and the office it plays."""

    SDK = FundSupervision

    @property
    def fs(self) -> FundSupervision:
        return self.app


CAST = (  # key, organisation index, certificate name, on-chain role, office
    Member(
        "authority",
        0,
        "sc-finance-dept",
        ("fund_authority",),
        "四川省财政厅（Sichuan Provincial Department of Finance）",
    ),
    Member(
        "province",
        0,
        "sc-rural-office",
        ("fund_officer",),
        "四川省乡村振兴局（Sichuan Rural Revitalisation Office）",
    ),
    Member(
        "city",
        1,
        "cd-rural-office",
        ("fund_officer",),
        "成都市农业农村局（Chengdu Rural Affairs Bureau）",
    ),
    Member(
        "county",
        1,
        "pujiang-office",
        ("fund_officer",),
        "蒲江县财政局（Pujiang County Finance Bureau）",
    ),
    Member(
        "township",
        2,
        "ganxi-office",
        ("fund_officer",),
        "甘溪镇人民政府（Ganxi Township Government）",
    ),
    Member(
        "village",
        2,
        "mingyue-office",
        ("fund_officer",),
        "明月村村民委员会（Mingyue Village Committee）",
    ),
    Member(
        "regulator",
        3,
        "audit-office",
        ("regulator",),
        "四川省审计厅（Sichuan Provincial Audit Office）",
    ),
)
# (key, account id, name, level, parent key or None)
HIERARCHY = [
    ("province", "sc", "四川省（Sichuan Province）", "province", None),
    ("city", "cd", "成都市（Chengdu City）", "city", "province"),
    ("county", "pujiang", "蒲江县（Pujiang County）", "county", "city"),
    ("township", "ganxi", "甘溪镇（Ganxi Township）", "township", "county"),
    ("village", "mingyue", "明月村（Mingyue Village）", "village", "township"),
]


def setup_offices(env: AppEnv, prefix: str = "") -> dict[str, Office]:
    """Deploy if needed; issue, enrol and grant roles to the cast (`prefix` makes a new cast)."""
    return enrolled(env, CAST, Office, (NAME, source), prefix)


def register_hierarchy(offices: dict[str, Office], suffix: str = "") -> dict[str, str]:
    """Register province -> city -> county -> township -> village; returns key -> account id."""
    ids: dict[str, str] = {}
    for key, account_id, name, level, parent in HIERARCHY:
        ids[key] = account_id + suffix
        registrar = offices["authority"] if parent is None else offices[parent]
        parent_id = POOL if parent is None else ids[parent]
        registrar.fs.register_account(ids[key], name, level, parent_id, offices[key].address)
    return ids


FUND_ID = "rural-housing-2024"
SALT = "mingyue-2024-salt"  # kept by the village office, never on chain
HOUSEHOLDS = [("household A", "510131198203150021"), ("household B", "510131197511020318")]
UNREGISTERED = "510131199001010000"


def create_demo(env: AppEnv) -> dict[str, Any]:
    """A 5,000,000.00 yuan housing fund allocated down to a village and paid to two households.

    Idempotent: if the fund exists already, it is described, not recreated."""
    o = setup_offices(env)
    acct = {key: account_id for key, account_id, *_rest in HIERARCHY}
    households = {label: beneficiary_hash(n, SALT) for label, n in HOUSEHOLDS}
    if FUND_ID not in o["authority"].fs.funds():
        _create(o, acct, households)
    refused = o["authority"].fs.refusals(FUND_ID)
    return {
        "contract": NAME,
        "fund": FUND_ID,
        "purpose": PURPOSE,
        "total_fen": o["authority"].fs.fund(FUND_ID)["total"],
        "accounts": acct,
        "beneficiaries": households,
        "refused_attempt": {"code": refused[0]["code"], "reason": refused[0]["reason"]}
        if refused
        else None,
        "who": {
            k: {
                "org": v.identity.info.org,
                "name": v.identity.info.name,
                "address": v.address,
                "office": v.display_name,
            }
            for k, v in o.items()
        },
    }


def _create(o: dict[str, Office], acct: dict[str, str], households: dict[str, str]) -> None:
    existing = {a["id"] for a in o["authority"].fs.accounts()}
    if acct["village"] not in existing:
        register_hierarchy(o)
    now = int(time.time() * 1000)
    o["authority"].fs.create_fund(FUND_ID, PURPOSE, 500_000_000, now - DAY_MS, now + 365 * DAY_MS)
    chain = [
        ("authority", POOL, "province", 500_000_000),
        ("province", "province", "city", 200_000_000),
        ("city", "city", "county", 120_000_000),
        ("county", "county", "township", 80_000_000),
        ("township", "township", "village", 30_000_000),
    ]
    for who, src, dst, amount in chain:
        source_id = POOL if src == POOL else acct[src]
        o[who].fs.allocate(
            FUND_ID,
            source_id,
            acct[dst],
            amount,
            f"2024 年度额度 {acct[dst]}（2024 quota for {acct[dst]}）",
        )
    village = o["village"].fs
    for label, h in households.items():
        if village.beneficiary(h, o["village"].identity.info.org) is None:
            village.register_beneficiary(acct["village"], h, [PURPOSE])
        village.disburse(
            FUND_ID, acct["village"], h, 3_500_000, PURPOSE, doc_hash(f"approval form {label}")
        )
    village.attempt_disburse(
        FUND_ID,
        acct["village"],
        beneficiary_hash(UNREGISTERED, SALT),
        3_500_000,
        PURPOSE,
        doc_hash("approval form unregistered"),
    )


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    who = summary["who"]
    fund, total = summary["fund"], summary["total_fen"]
    path = " -> ".join(summary["accounts"].values())
    lines = [
        f"{who['authority']['office']} created fund {fund} ({summary['purpose']}), "
        f"{yuan(total)} yuan, allocated down the accounts {path}",
        f"{who['village']['office']} paid {len(summary['beneficiaries'])} registered households "
        "(identified on chain only by salted hashes)",
    ]
    if summary["refused_attempt"]:
        r = summary["refused_attempt"]
        lines.append(
            f"a payment to an unregistered household was refused and recorded: {r['code']}"
        )
    lines.append(f"try: tianfu app fund_supervision report {fund}")
    return lines
