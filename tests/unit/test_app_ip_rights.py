"""IP rights on the in-process chain: licence exclusivity, evidence links, disputes, CLI."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.ip_rights.demo import cast, create_demo, deploy_both
from tianfu.apps.ip_rights.scenario import run_scenario
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client, TxFailed
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("ip_rights")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = AppChain(tmp_path_factory.mktemp("ip"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def people(chain):
    p = cast(chain, "-t")
    deploy_both(chain, chain.client(p["creator"]))
    return p


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_scenario(chain, people):
    run_scenario(chain)


def test_demo(chain, people):
    s = create_demo(chain)
    ip = IpRights(chain.client(people["creator"]))
    w = ip.work(s["work_id"])
    assert w["owner_org"] == "org2" and s["evidence_deposit"] in w["evidence"]
    assert ip.licence(s["exclusive_licence"])["exclusive"] is True


def test_licence_rules(chain, people):
    ip = IpRights(chain.client(people["creator"]))
    lic = people["licensee"].info
    wid = ip.register_work(_hash("song-1"), "Song", ["A"], "music")

    def grant(exclusive, scope, start, end):
        return ip.grant_licence(
            wid, lic.address, exclusive=exclusive, scope=scope, start=start, end=end
        )

    grant(False, "radio", "2025-01-01", "2025-06-30")
    grant(False, "radio", "2025-03-01", "2025-12-31")  # non-exclusive may overlap each other
    with pytest.raises(TxFailed, match="cannot overlap"):
        grant(True, "radio", "2025-06-30", "2025-07-31")  # touching the last day overlaps
    grant(True, "radio", "2026-01-01", "2026-12-31")
    with pytest.raises(TxFailed, match="overlaps exclusive"):
        grant(False, " RADIO ", "2026-12-31", "2027-01-31")
    # The same scope in full-width letters, with an invisible character or other spaces.
    for alias in ("ＲＡＤＩＯ", "ra\u200bdio", "radio\u3000", "\ufeffRadio", "r\u00adadio"):
        with pytest.raises(TxFailed, match="overlaps exclusive"):
            grant(False, alias, "2026-06-01", "2026-06-30")
    grant(True, "music video", "2028-01-01", "2028-12-31")
    with pytest.raises(TxFailed, match="overlaps exclusive"):
        grant(False, "Music\u3000\u3000video", "2028-06-01", "2028-06-30")
    grant(False, "tv", "2026-01-01", "2026-12-31")
    for bad, needle in [
        (("radio", "2027-13-01", "2027-12-31"), "YYYY-MM-DD"),
        (("radio", "2027/01/01", "2027-12-31"), "YYYY-MM-DD"),
        (("radio", "2027-02-29", "2027-12-31"), "YYYY-MM-DD"),  # not a leap year
        (("radio", "2027-01-01", "2027-04-31"), "YYYY-MM-DD"),
        (("radio", "2100-02-29", "2100-12-31"), "YYYY-MM-DD"),  # a century, not a leap year
        (("radio", "2027-02-01", "2027-01-01"), "end before"),
        (("", "2027-01-01", "2027-12-31"), "scope"),
    ]:
        with pytest.raises(TxFailed, match=needle):
            grant(False, *bad)
    with pytest.raises(TxFailed, match="non-negative"):
        ip.grant_licence(
            wid,
            lic.address,
            exclusive=False,
            scope="x",
            start="2030-01-01",
            end="2030-01-02",
            fee_fen=-1,
        )
    with pytest.raises(TxFailed, match="to itself"):
        ip.grant_licence(
            wid,
            people["creator"].info.address,
            exclusive=False,
            scope="x",
            start="2030-01-01",
            end="2030-01-02",
        )
    scopes = [x["scope"] for x in ip.licences(wid)]
    assert scopes == ["radio", "radio", "radio", "music video", "tv"]
    grant(False, "leap", "2028-02-29", "2028-03-01")  # a leap day is a date
    grant(False, "leap", "2000-02-29", "2000-03-01")  # and so in a year divisible by 400


def test_open_disputes_freeze_the_work_one_per_organisation(chain, people):
    ip = IpRights(chain.client(people["creator"]))
    # the arbitrator is of licensee2's organisation: the ownership claim it resolves is the
    # other licensee's
    games = IpRights(chain.client(people["licensee2"]))
    video = IpRights(chain.client(people["licensee"]))
    court = IpRights(chain.client(people["arbitrator"]))
    buyer = people["buyer"].info.address
    wid = ip.register_work(_hash("frozen-1"), "Frozen", ["A"], "music")
    inf = games.open_dispute(wid, "infringement", "our melody", [])
    root = chain.contract_state()
    with pytest.raises(TxFailed, match=f"open infringement dispute {inf}"):
        ip.transfer_work(wid, buyer, 1)  # the work stays within the claimant's reach
    with pytest.raises(TxFailed, match="already has open dispute"):
        games.open_dispute(wid, "licence", "and more", [])
    with pytest.raises(TxFailed, match="only the claimant"):
        video.withdraw_dispute(inf, "not mine to withdraw")
    assert chain.contract_state() == root
    own = video.open_dispute(wid, "ownership", "we paid for it", [])
    with pytest.raises(TxFailed, match="no new licence"):
        ip.grant_licence(
            wid, people["licensee"].info.address, exclusive=False, scope="radio", start="2026-01-01",
            end="2026-12-31",
        )  # fmt: skip
    assert games.withdraw_dispute(inf, "settled between us")
    assert ip.dispute(inf)["status"] == "withdrawn"
    with pytest.raises(TxFailed, match="already withdrawn"):
        court.resolve_dispute(inf, "upheld", "too late")
    with pytest.raises(TxFailed, match=f"open ownership dispute {own}"):
        ip.transfer_work(wid, buyer, 1)
    court.resolve_dispute(own, "dismissed", "no contract shown")
    assert ip.work(wid)["open_disputes"] == []
    assert ip.transfer_work(wid, buyer, 1)
    events = [h["event"] for h in ip.history(wid)]
    assert events[-4:] == ["dispute_opened", "dispute_withdrawn", "dispute_resolved", "transferred"]


def test_evidence_links_and_history(chain, people):
    ip = IpRights(chain.client(people["creator"]))
    wid = ip.register_work(_hash("code-1"), "Engine", ["B", "C"], "software")
    dep = Evidence(ip.client).deposit(b"copied source", "Copied repository")
    root = chain.contract_state()
    with pytest.raises(TxFailed, match="unknown evidence deposit EV123456"):
        ip.link_evidence(wid, "EV123456", "x")
    with pytest.raises(TxFailed, match="unknown evidence"):
        ip.open_dispute(wid, "infringement", "copied", ["EV123456"])
    with pytest.raises(TxFailed, match="type must be one of"):
        ip.register_work(_hash("code-2"), "X", ["B"], "poem")
    with pytest.raises(TxFailed, match="1-50 authors"):
        ip.register_work(_hash("code-2"), "X", [], "software")
    with pytest.raises(TxFailed, match="own ownership"):
        ip.open_dispute(wid, "ownership", "it is mine", [])
    assert chain.contract_state() == root
    assert ip.link_evidence(wid, dep, "copied module") == 1
    did = ip.open_dispute(wid, "infringement", "code copied", [dep])
    court = IpRights(chain.client(people["arbitrator"]))
    d = court.resolve_dispute(did, "settled", "licence fee paid")
    assert d["status"] == "resolved" and d["arbiter_org"] == people["arbitrator"].info.org
    assert ip.work(wid)["owner"] == people["creator"].info.address  # no ownership change
    events = [h["event"] for h in ip.history(wid)]
    assert events == ["registered", "evidence_linked", "dispute_opened", "dispute_resolved"]
    h = ip.history(wid)[1]
    assert h["data"]["deposit"] == dep and h["org"] == people["creator"].info.org


def test_cli(chain, people, tmp_path, monkeypatch):
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=genesis, http=chain.http
        ),
    )
    people["creator"].save(tmp_path / "creator")
    people["licensee"].save(tmp_path / "lic")
    lic = people["licensee"].info
    work_file = tmp_path / "poem.txt"
    work_file.write_text("spring rain on the Jinjiang")

    def run(*args, who="creator"):
        return runner.invoke(app, [*map(str, args), "--identity", str(tmp_path / who)])

    r = run("register", "Spring Rain", "Du Fu", "--file", work_file, "--type", "literary", "--json")
    assert r.exit_code == 0, r.output
    wid = json.loads(r.stdout)["result"]
    assert run("register", "Spring Rain", "Du Fu").exit_code == 2
    r = run(
        "license",
        wid,
        lic.address,
        "--scope",
        "print/CN",
        "--start",
        "2025-01-01",
        "--end",
        "2025-12-31",
        "--exclusive",
        "--fee-fen",
        100000,
    )
    assert r.exit_code == 0, r.output
    r = run(
        "license",
        wid,
        lic.address,
        "--scope",
        "print/CN",
        "--start",
        "2025-05-01",
        "--end",
        "2026-12-31",
    )
    assert r.exit_code == 1 and "overlaps exclusive" in r.stderr
    r = run("transfer", wid, lic.address, who="lic")
    assert r.exit_code == 1 and "only the owner" in r.stderr
    assert run("transfer", wid, lic.address, "--price-fen", 5).exit_code == 0
    r = runner.invoke(app, ["history", wid, "--ownership", "--json"])
    assert [h["event"] for h in json.loads(r.stdout)] == ["registered", "transferred"]
    r = runner.invoke(app, ["show", wid, "--json"])
    doc = json.loads(r.stdout)
    assert doc["owner"] == lic.address and doc["licence_records"][0]["exclusive"] is True
    assert runner.invoke(app, ["show", "W999999"]).exit_code == 1
    assert runner.invoke(app, ["history", wid]).exit_code == 0


def test_new_owners_and_licensees_are_members_named_by_their_certificates(chain, people):
    """An owner cannot name the organisation of a licensee or a new owner, nor transfer or
    license to an address that is unknown or revoked."""
    ip = IpRights(chain.client(people["creator"]))
    wid = ip.register_work(_hash("poem-cert"), "Poem", ["A"], "literary")
    lic = people["licensee"].info
    root = chain.contract_state("ip_rights")
    period = ("film/CN", "2030-01-01", "2030-12-31")
    # The old call shapes, naming an organisation of the caller's choosing, are refused.
    r = ip.client.invoke("ip_rights", "transfer_work", wid, lic.address, "org9", 0, check=False)
    assert not r.ok and "argument" in r.error
    r = ip.client.invoke(
        "ip_rights", "grant_licence", wid, lic.address, "org9", False, *period, 0, check=False
    )
    assert not r.ok and "argument" in r.error
    assert chain.contract_state("ip_rights") == root
    revoked = chain.identity("org2", "ip-revoked")
    chain.call(revoked, "governance", "get_identity", revoked.info.address)
    chain.call(chain.admin("org2"), "governance", "revoke_cert", revoked.info.address)
    root = chain.contract_state("ip_rights")
    for to, needle in [("ef" * 20, "unknown address"), (revoked.info.address, "revoked")]:
        with pytest.raises(TxFailed, match=needle):
            ip.transfer_work(wid, to)
        with pytest.raises(TxFailed, match=needle):
            ip.grant_licence(
                wid, to, exclusive=False, scope=period[0], start=period[1], end=period[2]
            )
    assert chain.contract_state("ip_rights") == root
    lid = ip.grant_licence(
        wid, lic.address, exclusive=False, scope=period[0], start=period[1], end=period[2]
    )
    assert ip.licence(lid)["licensee_org"] == lic.org
    ip.transfer_work(wid, lic.address)
    assert ip.work(wid)["owner_org"] == lic.org
