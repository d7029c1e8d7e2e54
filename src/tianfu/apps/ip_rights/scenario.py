"""End-to-end IP flow: register, license, transfer, link evidence, dispute and ruling.

Members of different organisations play creator, buyer, licensees and arbitrator; every
forbidden action (non-owner acts, overlapping exclusive licences, unknown evidence, ...)
must be refused with a clear error and no state change.
"""

from __future__ import annotations

import hashlib
import secrets

from tianfu.apps.env import AppEnv
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.ip_rights.demo import cast, deploy_both
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.apps.traceability.support import check, expect_refused


def run_scenario(env: AppEnv) -> None:
    p = cast(env, "-s")
    creator = IpRights(env.client(p["creator"]))
    deploy_both(env, creator.client)
    buyer = IpRights(env.client(p["buyer"]))
    games = IpRights(env.client(p["licensee"]))
    video = IpRights(env.client(p["licensee2"]))
    court = IpRights(env.client(p["arbitrator"]))
    g, v, b = p["licensee"].info, p["licensee2"].info, p["buyer"].info
    content = hashlib.sha256(b"novel manuscript " + secrets.token_bytes(8)).hexdigest()

    expect_refused(
        lambda: games.register_work(content, "Stolen", ["X"], "literary"),
        lambda: creator.work_by_hash(content),
        "creator",
    )
    wid = creator.register_work(content, "The Jade River", ["Chen Jing"], "literary")
    expect_refused(
        lambda: buyer.register_work(content, "Copy", ["Y"], "literary"),
        lambda: creator.work_by_hash(content),
        "already registered",
    )

    def snap() -> object:
        return (creator.work(wid), creator.licences(wid), creator.history(wid))

    expect_refused(lambda: games.transfer_work(wid, g.address, g.org), snap, "only the owner")
    expect_refused(
        lambda: games.grant_licence(
            wid,
            v.address,
            v.org,
            exclusive=False,
            scope="film/CN",
            start="2025-01-01",
            end="2025-12-31",
        ),
        snap,
        "only the owner",
    )
    l1 = creator.grant_licence(
        wid,
        g.address,
        g.org,
        exclusive=True,
        scope="Film/CN",
        start="2025-01-01",
        end="2027-12-31",
        fee_fen=50_000_000,
    )
    expect_refused(
        lambda: creator.grant_licence(
            wid,
            v.address,
            v.org,
            exclusive=False,
            scope="film/cn",
            start="2027-06-01",
            end="2028-06-01",
        ),
        snap,
        "overlaps exclusive licence",
    )
    expect_refused(
        lambda: creator.grant_licence(
            wid,
            v.address,
            v.org,
            exclusive=True,
            scope="film/CN",
            start="2024-01-01",
            end="2025-01-01",
        ),
        snap,
        "overlaps exclusive licence",
    )
    expect_refused(
        lambda: creator.grant_licence(
            wid,
            v.address,
            v.org,
            exclusive=False,
            scope="audio/CN",
            start="2026-01-01",
            end="2025-01-01",
        ),
        snap,
        "end before",
    )
    # Same scope after the exclusive period, and another scope during it, are fine.
    creator.grant_licence(
        wid,
        v.address,
        v.org,
        exclusive=False,
        scope="film/CN",
        start="2028-01-01",
        end="2028-12-31",
    )
    l3 = creator.grant_licence(
        wid,
        v.address,
        v.org,
        exclusive=False,
        scope="audiobook/CN",
        start="2025-01-01",
        end="2025-12-31",
        fee_fen=1_000_000,
    )
    expect_refused(
        lambda: creator.grant_licence(
            wid,
            g.address,
            g.org,
            exclusive=True,
            scope="audiobook/CN",
            start="2025-06-01",
            end="2026-06-01",
        ),
        snap,
        "cannot overlap",
    )
    expect_refused(lambda: games.surrender_licence(l3), snap, "only the licensee")
    video.surrender_licence(l3)
    creator.grant_licence(  # the surrendered licence no longer blocks an exclusive one
        wid,
        g.address,
        g.org,
        exclusive=True,
        scope="audiobook/CN",
        start="2025-06-01",
        end="2026-06-01",
    )

    # Infringement evidence from the evidence contract.
    dep = Evidence(creator.client).deposit(b"pirated copy " + content.encode(), "Pirated e-book")
    expect_refused(lambda: creator.link_evidence(wid, "EV999999", "x"), snap, "unknown evidence")
    expect_refused(lambda: games.link_evidence(wid, dep, "x"), snap, "only the owner")
    creator.link_evidence(wid, dep, "pirated copy sold online")
    expect_refused(lambda: creator.link_evidence(wid, dep, "again"), snap, "already linked")

    # Sale to the publisher; the old owner can no longer act; licences stay with the work.
    creator.transfer_work(wid, b.address, b.org, 120_000_000)
    expect_refused(lambda: creator.transfer_work(wid, g.address, g.org), snap, "only the owner")
    check(creator.licence(l1)["status"] == "active", "licences survive a transfer")

    # An ownership dispute freezes transfers until an arbitrator rules.
    did = games.open_dispute(wid, "ownership", "we commissioned the manuscript", [dep])
    expect_refused(lambda: buyer.transfer_work(wid, v.address, v.org), snap, "open ownership")
    expect_refused(lambda: games.resolve_dispute(did, "upheld", "mine"), snap, "arbitrator")
    expect_refused(lambda: court.resolve_dispute(did, "won", "x"), snap, "outcome")
    ruling = court.resolve_dispute(did, "upheld", "commission contract proves ownership")
    check(ruling["outcome"] == "upheld", "ruling recorded")
    expect_refused(lambda: court.resolve_dispute(did, "dismissed", "x"), snap, "already resolved")
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
        "dispute_resolved",
    ):
        check(e in events, f"history shows {e}")
