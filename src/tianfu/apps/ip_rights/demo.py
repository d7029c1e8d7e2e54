"""Demo data for ip_rights: a soundtrack registered, licensed, sold, infringed and disputed."""

from __future__ import annotations

import hashlib
from typing import Any

from tianfu.apps import evidence
from tianfu.apps.common.readable import counted
from tianfu.apps.common.scenario import Member, ensure_deployed
from tianfu.apps.common.scenario import cast as cast_members
from tianfu.apps.env import AppEnv
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.ip_rights import NAME, source
from tianfu.apps.ip_rights.sdk import IpRights

MEMBERS = (  # role, organisation index, certificate name, roles
    Member("creator", 0, "ip-composer", ("creator", "depositor")),
    Member("buyer", 1, "ip-label", ("creator",)),
    Member("licensee", 2, "ip-games"),
    Member("licensee2", 3, "ip-video"),
    Member("arbitrator", 3, "ip-court", ("arbitrator",)),
)
CONTRACTS = ((evidence.NAME, evidence.source), (NAME, source))


def cast(env: AppEnv, suffix: str = "") -> dict[str, Any]:
    return cast_members(env, MEMBERS, suffix=suffix)


def deploy_both(env: AppEnv, client: Any) -> None:
    for name, text in CONTRACTS:
        ensure_deployed(env, client, name, text())


AUDIO = b"demo master recording: Bamboo Dawn (FLAC)"
SCREENSHOT = b"demo screenshot: unlicensed game using Bamboo Dawn"


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `evidence` and `ip_rights`; register, license, transfer and defend one work.

    Idempotent: if the demo work is registered already, it is described, not recreated."""
    p = cast(env)
    ip = IpRights(env.client(p["creator"]))
    deploy_both(env, ip.client)
    work = ip.work_by_hash(hashlib.sha256(AUDIO).hexdigest())
    if work is None:
        work = _create(p, ip)
    record = ip.work(work)
    exclusive = [x["id"] for x in ip.licences(work) if x["exclusive"]]
    return {
        "contracts": [evidence.NAME, NAME],
        "work_id": work,
        "title": record["title"],
        "owner_org": record["owner_org"],
        "licences": len(ip.licences(work)),
        "exclusive_licence": exclusive[0] if exclusive else None,
        "evidence_deposit": record["evidence"][0] if record["evidence"] else None,
        "participants": {
            role: f"{who.info.org}/{who.info.name} {who.info.address}" for role, who in p.items()
        },
    }


def _create(p: dict[str, Any], ip: IpRights) -> str:
    work = ip.register_work(
        hashlib.sha256(AUDIO).hexdigest(),
        "竹林晨曦（Bamboo Dawn）",
        ["李伟（Li Wei）", "张敏（Zhang Min）"],
        "music",
    )
    for who, exclusive, scope, end, fee in (
        ("licensee", True, "mobile-games/CN", "2026-05-31", 8_000_000),
        ("licensee2", False, "online-video/CN", "2025-05-31", 500_000),
    ):
        ip.grant_licence(
            work,
            p[who].info.address,
            exclusive=exclusive,
            scope=scope,
            start="2024-06-01",
            end=end,
            fee_fen=fee,
        )
    deposit = Evidence(ip.client).deposit(
        SCREENSHOT, "侵权应用商店页面（Infringing app store page）"
    )
    ip.link_evidence(
        work, deposit, "第三方游戏未经许可使用（unlicensed use in a third-party game）"
    )
    buyer = p["buyer"].info
    ip.transfer_work(work, buyer.address, 30_000_000)
    return work


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    who = summary["participants"]
    w = summary["work_id"]
    return [
        f'the soundtrack "{summary["title"]}" registered as {w}, licensed '
        f"{counted(summary['licences'], 'time')} (exclusive: {summary['exclusive_licence']}), "
        f"infringement evidence {summary['evidence_deposit']} linked, sold to {summary['owner_org']}",
        "participants: " + ", ".join(f"{role} {v.split()[0]}" for role, v in who.items()),
        f"try: tianfu app ip_rights show {w}",
        f"     tianfu app ip_rights history {w} --ownership",
    ]
