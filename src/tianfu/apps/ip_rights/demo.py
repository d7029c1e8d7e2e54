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


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `evidence` and `ip_rights`; register, license, transfer and defend one work."""
    p = cast(env)
    ip = IpRights(env.client(p["creator"]))
    deploy_both(env, ip.client)
    audio = b"demo master recording: Bamboo Dawn (FLAC)"
    work = ip.register_work(
        hashlib.sha256(audio).hexdigest(), "Bamboo Dawn", ["Li Wei", "Zhang Min"], "music"
    )
    games = p["licensee"].info
    lic = ip.grant_licence(
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
    deposit = Evidence(ip.client).deposit(
        b"demo screenshot: unlicensed game using Bamboo Dawn", "Infringing app store page"
    )
    ip.link_evidence(work, deposit, "unlicensed use in a third-party game")
    buyer = p["buyer"].info
    ip.transfer_work(work, buyer.address, buyer.org, 30_000_000)
    return {
        "contracts": [evidence.NAME, NAME],
        "work_id": work,
        "exclusive_licence": lic,
        "evidence_deposit": deposit,
        "participants": {
            role: f"{who.info.org}/{who.info.name} {who.info.address}" for role, who in p.items()
        },
    }
