"""City governance on the in-process chain: contract rules, scenario and CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tianfu.apps.city_governance import NAME, source
from tianfu.apps.city_governance.demo import departments, members
from tianfu.apps.city_governance.scenario import run_scenario
from tianfu.apps.city_governance.sdk import CityGovernance, details_hash, reporter_hash
from tianfu.apps.common.scenario import cast, handles
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client, TxFailed
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("city_governance")
_ids = iter(range(1, 10_000))
TAG = "-t"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("city"))
    people = cast(chain, members(TAG))
    chain.deploy(NAME, source())
    g = handles(chain, people, CityGovernance)
    for dept_id, name, org, sla in departments(chain, TAG):
        g["dispatcher"].register_department(dept_id, name, org, sla)
    yield chain, people, g
    chain.close()


def _dispatched(g, dept="urban" + TAG, priority="normal"):
    cid = f"K{next(_ids)}"
    g["centre"].file_case(
        cid, "noise", "Kehua Rd N., grid KH-2", "Night works noise", priority=priority
    )
    g["dispatcher"].dispatch(cid, dept)
    return cid


def test_contract_compiles_with_expected_api():
    c = compile_contract(source())
    assert {"file_case", "dispatch", "transfer", "handle", "check", "reopen"} <= c.methods
    assert c.views == {
        "case",
        "history",
        "history_page",
        "departments",
        "overdue",
        "overdue_in",
        "stats",
        "cases",
    }


def test_scenario(world):
    run_scenario(world[0])


def test_urgent_cases_get_a_quarter_of_the_service_level(world):
    chain, p, g = world
    normal, urgent = _dispatched(g), _dispatched(g, priority="urgent")
    sla = next(d for d in g["centre"].departments() if d["id"] == "urban" + TAG)["sla_ms"]
    n, u = g["centre"].case(normal), g["centre"].case(urgent)
    head = chain.ledger.head().time_ms
    assert n["due_ms"] - sla < head and u["due_ms"] - sla // 4 <= head
    assert n["due_ms"] - n["filed_ms"] >= sla and u["due_ms"] - u["filed_ms"] >= sla // 4


def test_refusals_change_no_contract_state(world):
    chain, p, g = world
    cid = _dispatched(g)
    before = chain.contract_state(NAME)
    water = "water" + TAG
    cases = [
        (g["centre"], "file_case", (cid, "road", "normal", "x", "y", "", "", ""), "already exists"),
        (
            g["centre"],
            "file_case",
            ("N1", "road", "normal", "x", "ID 510131198203150021", "", "", ""),
            "7 or more",
        ),
        (g["centre"], "file_case", ("N1", "road", "soon", "x", "y", "", "", ""), "priority"),
        (g["centre"], "file_case", ("N1", "road", "normal", "x", "y", "abc", "", ""), "SHA-256"),
        (g["water"], "handle", (cid, "done", "ab" * 32), "only staff of"),
        (g["urban"], "handle", (cid, "done", "not-a-hash"), "SHA-256"),
        (g["urban"], "transfer", (cid, "nowhere", "x"), "unknown department"),
        (g["urban"], "transfer", (cid, water, "call 02887654321"), "7 or more"),
        (g["supervisor"], "check", (cid, True, "ok"), "cannot be checked"),
        (g["supervisor"], "check", ("NOPE", True, "ok"), "unknown case"),
        (g["dispatcher"], "cases", (0, 10), "start >= 1"),
    ]
    for who, method, args, needle in cases:
        r = who.client.invoke(NAME, method, *args, check=False)
        assert not r.ok and needle in r.error, (method, r.error)
    assert chain.contract_state(NAME) == before


def test_transfers_are_capped_and_the_supervising_office_decides(world):
    chain, p, g = world
    cid = _dispatched(g)
    for i in range(10):
        g["dispatcher"].transfer(cid, ("water" if i % 2 == 0 else "urban") + TAG, f"round {i}")
    with pytest.raises(TxFailed, match="transferred 10 times"):
        g["dispatcher"].transfer(cid, "water" + TAG, "again")
    assert g["centre"].case(cid)["transfers"] == 10


def test_cli_flow(world, tmp_path, monkeypatch):
    chain, p, g = world
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    monkeypatch.setenv("COLUMNS", "200")
    for key in ("centre", "dispatcher", "urban", "supervisor"):
        p[key].save(tmp_path / key)

    def run(*args, who=None):
        extra = ["--identity", str(tmp_path / who)] if who else []
        return runner.invoke(app, [*map(str, args), *extra])

    r = run("reporter-hash", "13800138000", "--salt", "s")
    assert r.exit_code == 0 and r.stdout.strip() == reporter_hash("13800138000", "s")
    complaint = tmp_path / "complaint.txt"
    complaint.write_text("full complaint text with the caller's details")
    cid = f"CLI{next(_ids)}"
    r = run(
        "file",
        cid,
        "road",
        "Tianfu Ave, grid TF-1",
        "Pothole",
        "--details",
        complaint,
        "--reporter",
        reporter_hash("13800138000", "s"),
        "--json",
        who="centre",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["result"]["details_hash"] == details_hash(complaint.read_bytes())
    r = run("file", cid + "x", "road", "Tianfu Ave", "Call 13800138000", who="centre")
    assert r.exit_code == 1 and "7 or more digits" in r.stderr
    r = run("register-department", "x", "X", "org1", "--sla", "soon", who="dispatcher")
    assert r.exit_code == 2 and "bad duration" in r.output
    assert run("dispatch", cid, "urban" + TAG, who="dispatcher").exit_code == 0
    evidence = tmp_path / "photo.jpg"
    evidence.write_bytes(b"jpeg")
    assert run("handle", cid, "patched", "--evidence", evidence, who="urban").exit_code == 0
    r = run("check", cid, "maybe", "x", who="supervisor")
    assert r.exit_code == 2 and "pass or fail" in r.output
    assert run("check", cid, "pass", "patch holds", who="supervisor").exit_code == 0
    r = run("history", cid)
    assert r.exit_code == 0 and "Closed" in r.stdout and "patch holds" in r.stdout
    r = run("stats")
    assert r.exit_code == 0 and "urban" + TAG in r.stdout
    r = run("departments")
    assert r.exit_code == 0 and "3d" in r.stdout  # 72 h, readable
    r = run("show", cid, "--json")
    doc = json.loads(r.stdout)["result"]
    assert doc["status"] == "closed" and doc["reporter"] == reporter_hash("13800138000", "s")
    assert cid in json.loads(run("cases", "--json").stdout)["result"]
    assert run("overdue").exit_code == 0


def test_a_number_in_other_digits_is_personal_data_too(world):
    """A phone or ID number written in full-width digits, Chinese numerals or a mix of them
    with ASCII digits is refused like one in ASCII digits; short numbers and dates pass."""
    chain, p, g = world
    cid = _dispatched(g)
    before = chain.contract_state(NAME)
    for text in (
        "call １３８００１３８０００",  # full-width digits
        "call 138００13８000",  # mixed
        "call 一三八〇〇一三八〇〇〇",  # Chinese numerals
        "ID ５１０１３１1982０３150021",
    ):
        r = g["urban"].client.invoke(NAME, "transfer", cid, "water" + TAG, text, check=False)
        assert not r.ok and "7 or more" in r.error, (text, r.error)
    assert chain.contract_state(NAME) == before
    ok = g["urban"].client.invoke(
        NAME, "transfer", cid, "water" + TAG, "第一次 since 2024-03-01, pole ２３", check=False
    )
    assert ok.ok, ok.error
