"""Demo data for ip_rights: a soundtrack registered, licensed, sold, infringed and disputed."""

from __future__ import annotations

import hashlib
from typing import Any

from tianfu.apps import evidence
from tianfu.apps.env import AppEnv
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.ip_rights import NAME, source
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.apps.traceability.support import enrol, ensure_deployed


def cast(env: AppEnv, suffix: str = "") -> dict[str, Any]:
    o = env.orgs
    return {
        "creator": enrol(env, env.identity(o[0], f"ip-composer{suffix}"), "creator", "depositor"),
        "buyer": enrol(env, env.identity(o[1 % len(o)], f"ip-label{suffix}"), "creator"),
        "licensee": enrol(env, env.identity(o[2 % len(o)], f"ip-games{suffix}")),
        "licensee2": enrol(env, env.identity(o[3 % len(o)], f"ip-video{suffix}")),
        "arbitrator": enrol(env, env.identity(o[3 % len(o)], f"ip-court{suffix}"), "arbitrator"),
    }


def deploy_both(env: AppEnv, client: Any) -> None:
    ensure_deployed(env, client, evidence.NAME, evidence.source())
    ensure_deployed(env, client, NAME, source())


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
        hashlib.sha256(AUDIO).hexdigest(), "Bamboo Dawn", ["Li Wei", "Zhang Min"], "music"
    )
    games = p["licensee"].info
    ip.grant_licence(
        work,
        games.address,
        games.org,
        exclusive=True,
        scope="mobile-games/CN",
        start="2024-06-01",
        end="2026-05-31",
        fee_fen=8_000_000,
    )
    video = p["licensee2"].info
    ip.grant_licence(
        work,
        video.address,
        video.org,
        exclusive=False,
        scope="online-video/CN",
        start="2024-06-01",
        end="2025-05-31",
        fee_fen=500_000,
    )
    deposit = Evidence(ip.client).deposit(SCREENSHOT, "Infringing app store page")
    ip.link_evidence(work, deposit, "unlicensed use in a third-party game")
    buyer = p["buyer"].info
    ip.transfer_work(work, buyer.address, buyer.org, 30_000_000)
    return work


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    who = summary["participants"]
    w = summary["work_id"]
    return [
        f'the soundtrack "{summary["title"]}" registered as {w}, licensed '
        f"{summary['licences']} times (exclusive: {summary['exclusive_licence']}), "
        f"infringement evidence {summary['evidence_deposit']} linked, sold to {summary['owner_org']}",
        "participants: " + ", ".join(f"{role} {v.split()[0]}" for role, v in who.items()),
        f"try: tianfu app ip_rights show {w}",
        f"     tianfu app ip_rights history {w} --ownership",
    ]
