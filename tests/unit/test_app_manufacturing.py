"""Manufacturing on the in-process chain: contract rules, scenario and CLI."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from tianfu.apps.common.scenario import cast, handles
from tianfu.apps.manufacturing import NAME, source
from tianfu.apps.manufacturing.demo import DAY_MS, MEMBERS
from tianfu.apps.manufacturing.scenario import run_scenario
from tianfu.apps.manufacturing.sdk import Manufacturing, bom, document_hash
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client, TxFailed
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("manufacturing")
_ids = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("mf"))
    people = cast(chain, MEMBERS, suffix="-t")
    chain.deploy(NAME, source())
    yield chain, people, handles(chain, people, Manufacturing)
    chain.close()


def _root(people, m, items=None, inspection=True):
    oid = f"{people['oem'].info.org}/T{next(_ids)}"
    due = int(time.time() * 1000) + 10 * DAY_MS
    items = items or bom(("disc", 10, 100), ("pad", 10, 50))
    m["oem"].place_order(oid, people["tier1"].info.address, items, due, inspection)
    m["tier1"].accept_order(oid)
    return oid, due


def _sub(people, oid, n):
    """The id of sub-order `n` of `oid`, placed by the tier-1 supplier's organisation."""
    return f"{people['tier1'].info.org}/{oid.split('/')[1]}-{n}"


def test_contract_compiles_with_expected_api():
    c = compile_contract(source())
    assert {"place_order", "subcontract", "deliver", "settle", "flag_overdue"} <= c.methods
    assert c.views == {
        "order",
        "tree",
        "tree_page",
        "alerts",
        "alerts_page",
        "milestones",
        "milestones_page",
        "inspections",
        "inspections_page",
        "orders_of",
    }


def test_scenario(world):
    run_scenario(world[0])


def test_quota_returns_when_a_sub_order_is_cancelled(world):
    chain, p, m = world
    oid, due = _root(p, m)
    castings = p["castings"].info.address
    m["tier1"].subcontract(oid, _sub(p, oid, 1), castings, bom(("disc", 10, 80)), due)
    with pytest.raises(TxFailed, match="11 of part disc"):
        m["tier1"].subcontract(oid, _sub(p, oid, 2), castings, bom(("disc", 1, 80)), due)
    m["tier1"].cancel_order(_sub(p, oid, 1), "wrong drawing revision")
    m["tier1"].subcontract(oid, _sub(p, oid, 2), castings, bom(("disc", 10, 80)), due)
    assert m["oem"].order(oid)["subcontracted"] == {"disc": 10}


def test_an_order_id_belongs_to_the_placing_organisation(world):
    """No member takes an order id first in another organisation's name: the tier-1
    supplier's sub-order id cannot be squatted by the OEM (nor a bare id placed at all)."""
    chain, p, m = world
    oid, due = _root(p, m)
    theirs = _sub(p, oid, 1)
    tier1 = p["tier1"].info.address
    for squatted in (theirs, theirs.split("/")[1], "/" + theirs):
        r = m["oem"].client.invoke(
            NAME, "place_order", squatted, tier1, bom(("disc", 1, 1)), due, True, check=False
        )
        assert not r.ok and "starts with" in r.error, (squatted, r.error)
        assert m["oem"].order(squatted) is None
    m["tier1"].subcontract(oid, theirs, p["castings"].info.address, bom(("disc", 2, 1)), due)
    assert m["oem"].order(theirs)["buyer_org"] == p["tier1"].info.org


def test_refusals_change_no_contract_state(world):
    chain, p, m = world
    oid, due = _root(p, m)
    before = chain.contract_state(NAME)
    cases = [
        (m["castings"], "settle", (oid, 1, "x"), "only the buyer"),
        (m["oem"], "settle", (oid, 1_000_000, "x"), "exceeds"),
        (m["oem"], "deliver", (oid, "ab" * 32), "only the supplier"),
        (m["tier1"], "accept_delivery", (oid,), "only the buyer"),
        (m["oem"], "accept_delivery", (oid,), "in_production: it cannot be accepted"),
        (m["tier1"], "report_milestone", ("NOPE", "x", ""), "unknown order"),
        (m["lab"], "record_inspection", (oid, "pass", "xyz", ""), "SHA-256"),
        (
            m["tier1"],
            "subcontract",
            (oid, "bad id!", p["castings"].info.address, [], due, True),
            "order id",
        ),
        (
            m["oem"],
            "place_order",
            (
                p["oem"].info.org + "/Z1",
                p["tier1"].info.address,
                bom(("a", 10**9, 10**7)),
                due,
                True,
            ),
            "at most",
        ),
    ]
    for who, method, args, needle in cases:
        r = who.client.invoke(NAME, method, *args, check=False)
        assert not r.ok and needle in r.error, (method, r.error)
    assert chain.contract_state(NAME) == before


def test_an_order_without_required_inspection_is_accepted_on_delivery(world):
    chain, p, m = world
    oid, _ = _root(p, m, inspection=False)
    m["tier1"].deliver(oid, document_hash("note"))
    m["oem"].accept_delivery(oid)
    m["oem"].settle(oid, 1_500, "all")
    node = m["oem"].tree(oid)[0]
    assert (node["status"], node["settled"], node["total"], node["late"]) == (
        "accepted",
        1500,
        1500,
        False,
    )


def test_cli_flow(world, tmp_path, monkeypatch):
    chain, p, m = world
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    monkeypatch.setenv("TIANFU_TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "200")  # wide tables: no value is folded over two lines
    for key in ("oem", "tier1", "castings", "lab"):
        p[key].save(tmp_path / key)

    def run(*args, who=None):
        extra = ["--identity", str(tmp_path / who)] if who else []
        return runner.invoke(app, [*map(str, args), *extra])

    oid = f"{p['oem'].info.org}/CLI{next(_ids)}"
    sub = _sub(p, oid, 1)
    r = run(
        "place",
        oid,
        tmp_path / "tier1",
        "disc=10@12345",
        "pad=4@100",
        "--due",
        "+10d",
        "--json",
        who="oem",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["result"]["total"] == 123_850
    r = run("place", oid + "x", tmp_path / "tier1", "disc=ten@1", "--due", "+1d", who="oem")
    assert r.exit_code == 2 and "PART=QTY@UNIT_PRICE_FEN" in r.output
    assert run("accept", oid, who="tier1").exit_code == 0
    r = run(
        "subcontract",
        oid,
        sub,
        tmp_path / "castings",
        "disc=11@1",
        "--due",
        "+5d",
        who="tier1",
    )
    assert r.exit_code == 1 and "more than the 10" in r.stderr
    r = run(
        "subcontract",
        oid,
        sub,
        tmp_path / "castings",
        "disc=10@9000",
        "--due",
        "+5d",
        "--no-inspection",
        who="tier1",
    )
    assert r.exit_code == 0, r.output
    assert run("accept", sub, who="castings").exit_code == 0
    note = tmp_path / "note.txt"
    note.write_text("delivery note")
    assert run("deliver", sub, note, who="castings").exit_code == 0
    r = run("reject-delivery", sub, "cracks in 2 discs", who="tier1")
    assert r.exit_code == 0 and "manufacturing.TreeAlert" in " ".join(r.stdout.split())
    r = run("alerts", oid)
    assert r.exit_code == 0 and "rejected" in r.stdout and "cracks" in r.stdout
    r = run("tree", oid)
    out = " ".join(r.stdout.split())
    assert r.exit_code == 0 and "1,238.50 yuan" in out and "900.00 yuan" in out, r.stdout
    r = run("show", oid, "--json")
    assert json.loads(r.stdout)["result"]["total"] == 123_850
    r = run("settle", oid, 123_851, "--ref", "TT-1", who="oem")
    assert r.exit_code == 1 and "exceeds" in r.stderr
    report = tmp_path / "report.pdf"
    report.write_bytes(b"report")
    r = run("inspect", oid, "pass", "--report", report, who="lab")
    assert r.exit_code == 0, r.output
    r = run("inspections", oid, "--json")
    assert json.loads(r.stdout)["result"][0]["report_hash"] == document_hash(b"report")
    r = run("orders", tmp_path / "castings", "--json")
    assert sub in json.loads(r.stdout)["result"]


def test_a_pass_before_a_rejected_delivery_does_not_pass_the_redelivery(world):
    """The buyer rejected what was delivered: an order that requires inspection needs a
    passing inspection recorded after the rejection before its redelivery is accepted."""
    chain, p, m = world
    oid, _ = _root(p, m)
    m["lab"].record_inspection(oid, "pass", document_hash("QI-1"), "")
    m["tier1"].deliver(oid, document_hash("note"))
    m["oem"].reject_delivery(oid, "cracked discs")
    m["tier1"].deliver(oid, document_hash("note 2"))
    with pytest.raises(TxFailed, match="requires a passing inspection"):
        m["oem"].accept_delivery(oid)
    m["lab"].record_inspection(oid, "pass", document_hash("QI-2"), "re-inspected")
    m["oem"].accept_delivery(oid)
    assert m["oem"].order(oid)["status"] == "accepted"
