"""Demo data for evidence: a deposited contract, attested by a notary, checked by a court."""

from __future__ import annotations

from typing import Any

from tianfu.apps.common.scenario import Member, ensure_deployed
from tianfu.apps.common.scenario import cast as cast_members
from tianfu.apps.env import AppEnv
from tianfu.apps.evidence import NAME, source
from tianfu.apps.evidence.sdk import Evidence, file_sha256

DEMO_FILE = (
    b"Software licence agreement between Chengdu Panda Games Co. and Tianfu Music Ltd.\n"
    b"Signed 2024-05-20. Licensed work: soundtrack 'Bamboo Dawn'.\n"
)


MEMBERS = (
    Member("depositor", 0, "ev-lawyer", ("depositor",)),
    Member("notary", 1, "ev-notary", ("notary",)),
    Member("court", 2, "ev-court", ("court",)),
)


def cast(env: AppEnv, suffix: str = "") -> dict[str, Any]:
    return cast_members(env, MEMBERS, suffix=suffix)


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `evidence` and create one deposit with an attestation and a court record.

    Idempotent: if the demo file was deposited before, that deposit is described again."""
    p = cast(env)
    ev = Evidence(env.client(p["depositor"]))
    ensure_deployed(env, ev.client, NAME, source())
    existing = ev.by_hash(file_sha256(DEMO_FILE))
    if existing:
        deposit_id = existing[0]
    else:
        deposit_id = ev.deposit(
            DEMO_FILE,
            "软件许可协议，签字版 PDF（Licence agreement, signed PDF）",
            {"case": "demo", "pages": 12},
        )
        Evidence(env.client(p["notary"])).attest(
            deposit_id,
            "已在成都市第三公证处核对签字原件（Original signed copy inspected at Chengdu Notary Office No. 3）",
        )
        Evidence(env.client(p["court"])).record_verification(
            deposit_id,
            "（2024）川01民初1234号",
            "verified",
            "已核对哈希与证明（hash and proofs checked）",
        )
    return {
        "contract": NAME,
        "deposit_id": deposit_id,
        "file_sha256": ev.get(deposit_id)["file_hash"],
        "participants": {
            role: f"{who.info.org}/{who.info.name} {who.info.address}" for role, who in p.items()
        },
    }


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    who = summary["participants"]
    did = summary["deposit_id"]
    return [
        f"a signed licence agreement deposited as {did} "
        f"(SHA-256 {summary['file_sha256'][:16]}...), attested by a notary, verified by a court",
        "participants: " + ", ".join(f"{role} {v.split()[0]}" for role, v in who.items()),
        f"try: tianfu evidence show {did}",
        f"     tianfu evidence certificate {did} --out cert.json "
        "--genesis .tianfu/localnet/genesis.bin",
    ]
