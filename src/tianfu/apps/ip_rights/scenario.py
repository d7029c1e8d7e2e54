"""End-to-end IP flow: register, license, transfer, link evidence, dispute and ruling.

Members of different organisations play creator, buyer, licensees and arbitrator; every
forbidden action (non-owner acts, overlapping exclusive licences, unknown evidence, ...)
must be refused with a clear error and no state change.
"""

from __future__ import annotations

import hashlib
import secrets

from tianfu.apps.common.scenario import Scenario, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.ip_rights.demo import CONTRACTS, MEMBERS
from tianfu.apps.ip_rights.sdk import IpRights


def run_scenario(env: AppEnv) -> None:
    run = Scenario(env, CONTRACTS, MEMBERS, suffix="-s")
    p, check, refused = run.people, run.check, run.refused
    ip = handles(env, p, IpRights)
    creator, buyer, court = ip["creator"], ip["buyer"], ip["arbitrator"]
    games, video = ip["licensee"], ip["licensee2"]
    g, v, b = p["licensee"].info, p["licensee2"].info, p["buyer"].info
    content = hashlib.sha256(b"novel manuscript " + secrets.token_bytes(8)).hexdigest()

    refused(
        lambda: games.register_work(content, "Stolen", ["X"], "literary"),
        "creator",
        snapshot=lambda: creator.work_by_hash(content),
    )
    wid = creator.register_work(content, "The Jade River", ["Chen Jing"], "literary")
    refused(
        lambda: buyer.register_work(content, "Copy", ["Y"], "literary"),
        "already registered",
        snapshot=lambda: creator.work_by_hash(content),
    )

    run.watch(lambda: (creator.work(wid), creator.licences(wid), creator.history(wid)))

    refused(lambda: games.transfer_work(wid, g.address), "only the owner")
    # A new owner or licensee is a registered member address; its organisation comes from
    # its certificate on chain, so an unknown address (no organisation) is refused.
    stranger = "cd" * 20
    refused(lambda: creator.transfer_work(wid, stranger), "unknown address")

    def grant(
        to: str, span: str, exclusive: bool = False, fee: int = 0, by: IpRights = creator
    ) -> str:
        """A licence of `span` ("scope start end") to the address `to`, granted by `by`."""
        scope, start, end = span.split()
        return by.grant_licence(
            wid, to, exclusive=exclusive, scope=scope, start=start, end=end, fee_fen=fee
        )

    refused(lambda: grant(stranger, "film/CN 2025-01-01 2025-12-31"), "unknown address")
    refused(lambda: grant(v.address, "film/CN 2025-01-01 2025-12-31", by=games), "only the owner")
    l1 = grant(g.address, "Film/CN 2025-01-01 2027-12-31", exclusive=True, fee=50_000_000)
    refused(lambda: grant(v.address, "film/cn 2027-06-01 2028-06-01"), "overlaps exclusive")
    refused(
        lambda: grant(v.address, "film/CN 2024-01-01 2025-01-01", exclusive=True),
        "overlaps exclusive licence",
    )
    refused(lambda: grant(v.address, "audio/CN 2026-01-01 2025-01-01"), "end before")
    # Same scope after the exclusive period, and another scope during it, are fine.
    grant(v.address, "film/CN 2028-01-01 2028-12-31")
    l3 = grant(v.address, "audiobook/CN 2025-01-01 2025-12-31", fee=1_000_000)
    refused(
        lambda: grant(g.address, "audiobook/CN 2025-06-01 2026-06-01", exclusive=True),
        "cannot overlap",
    )
    refused(lambda: games.surrender_licence(l3), "only the licensee")
    video.surrender_licence(l3)
    # The surrendered licence no longer blocks an exclusive one.
    grant(g.address, "audiobook/CN 2025-06-01 2026-06-01", exclusive=True)

    # Infringement evidence from the evidence contract.
    dep = Evidence(creator.client).deposit(b"pirated copy " + content.encode(), "Pirated e-book")
    refused(lambda: creator.link_evidence(wid, "EV999999", "x"), "unknown evidence")
    refused(lambda: games.link_evidence(wid, dep, "x"), "only the owner")
    creator.link_evidence(wid, dep, "pirated copy sold online")
    refused(lambda: creator.link_evidence(wid, dep, "again"), "already linked")

    # Sale to the publisher; the old owner can no longer act; licences stay with the work.
    creator.transfer_work(wid, b.address, 120_000_000)
    refused(lambda: creator.transfer_work(wid, g.address), "only the owner")
    check(creator.licence(l1)["status"] == "active", "licences survive a transfer")

    # Any open dispute freezes transfers until it is withdrawn or an arbitrator rules; one
    # open dispute per organisation and work.
    inf = video.open_dispute(wid, "infringement", "the trailer copies our footage", [dep])
    refused(lambda: buyer.transfer_work(wid, g.address), "open infringement")
    refused(lambda: video.open_dispute(wid, "licence", "again", [dep]), "already has open")
    refused(lambda: games.withdraw_dispute(inf, "not mine"), "only the claimant")
    video.withdraw_dispute(inf, "footage licensed after all")
    check(creator.dispute(inf)["status"] == "withdrawn", "a withdrawn dispute")
    # An ownership dispute also freezes new licences (the ruling may name another owner).
    did = games.open_dispute(wid, "ownership", "we commissioned the manuscript", [dep])
    refused(lambda: buyer.transfer_work(wid, v.address), "open ownership")
    refused(lambda: grant(v.address, "radio/CN 2026-01-01 2026-12-31", by=buyer), "no new licence")
    refused(lambda: games.resolve_dispute(did, "upheld", "mine"), "arbitrator")
    refused(lambda: court.resolve_dispute(did, "won", "x"), "outcome")
    ruling = court.resolve_dispute(did, "upheld", "commission contract proves ownership")
    check(ruling["outcome"] == "upheld", "ruling recorded")
    refused(lambda: court.resolve_dispute(did, "dismissed", "x"), "already resolved")
    w = creator.work(wid)
    check(w["owner"] == g.address and w["owner_org"] == g.org, "an upheld claim moves ownership")
    owners = [
        (h["event"], h["data"].get("to_org", h["data"].get("owner_org")))
        for h in creator.ownership_history(wid)
    ]
    check(
        owners
        == [("registered", p["creator"].info.org), ("transferred", b.org), ("transferred", g.org)],
        f"ownership history {owners}",
    )
    events = [h["event"] for h in creator.history(wid)]
    for e in (
        "licence_granted",
        "licence_surrendered",
        "evidence_linked",
        "dispute_opened",
        "dispute_withdrawn",
        "dispute_resolved",
    ):
        check(e in events, f"history shows {e}")
