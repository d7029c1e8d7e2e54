"""Fund supervision on the in-process chain: contract rules, demo, scenario and CLI."""

import json
import time

import pytest
from typer.testing import CliRunner

from tianfu.apps.common.inputs import time_ms as parse_time_ms
from tianfu.apps.fund_supervision import NAME, source
from tianfu.apps.fund_supervision.demo import (
    DAY_MS,
    PURPOSE,
    create_demo,
    register_hierarchy,
    setup_offices,
)
from tianfu.apps.fund_supervision.scenario import run_scenario
from tianfu.apps.fund_supervision.sdk import POOL, beneficiary_hash, doc_hash
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("fund_supervision")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("fs"))
    offices = setup_offices(chain)
    accounts = register_hierarchy(offices)
    yield chain, offices, accounts
    chain.close()


_funds = iter(range(1, 10_000))


def _fund(o, total=1_000_000):
    fund_id = f"f{next(_funds)}"
    now = int(time.time() * 1000)
    o["authority"].fs.create_fund(fund_id, PURPOSE, total, now - DAY_MS, now + DAY_MS)
    return fund_id


def _refused(chain, who, method, *args, expect):
    before = chain.contract_state()
    receipt = chain.call(who.identity, NAME, method, *args)
    assert not receipt.ok
    assert expect in receipt.error, receipt.error
    assert chain.contract_state() == before
    return receipt.error


def test_contract_compiles():
    compiled = compile_contract(source())
    assert {
        "allocate",
        "attempt_allocate",
        "disburse",
        "attempt_disburse",
        "create_fund",
    } <= compiled.methods
    assert {"report", "trace", "refusals", "balance", "movements"} <= compiled.views
    assert "attempt_disburse" not in compiled.views


def test_allocation_rules(world):
    chain, o, a = world
    f = _fund(o, 1_000)
    _refused(
        chain,
        o["authority"],
        "allocate",
        f,
        POOL,
        a["province"],
        1_001,
        "",
        expect="exceeds the balance",
    )
    _refused(
        chain,
        o["authority"],
        "allocate",
        f,
        POOL,
        a["city"],
        1,
        "",
        expect="not a registered sub-account",
    )
    _refused(
        chain,
        o["province"],
        "allocate",
        f,
        POOL,
        a["province"],
        1,
        "",
        expect="only the fund's authority",
    )
    _refused(
        chain, o["authority"], "allocate", f, POOL, a["province"], 0, "", expect="positive integer"
    )
    _refused(
        chain,
        o["authority"],
        "allocate",
        "nofund",
        POOL,
        a["province"],
        1,
        "",
        expect="unknown fund",
    )
    o["authority"].fs.allocate(f, POOL, a["province"], 1_000, "all")
    _refused(
        chain, o["province"], "allocate", f, a["province"], a["county"], 1, "", expect="sub-account"
    )
    _refused(
        chain, o["city"], "allocate", f, a["province"], a["city"], 1, "", expect="only the manager"
    )
    o["province"].fs.allocate(f, a["province"], a["city"], 600, "")
    rep = o["regulator"].fs.report(f)
    assert rep["conserved"] and rep["pool"] == 0
    assert {lv["level"]: lv["balance"] for lv in rep["levels"]} == {"province": 400, "city": 600}


def test_attempt_records_refusal_without_moving_money(world):
    chain, o, a = world
    f = _fund(o, 5_000)
    before = o["regulator"].fs.fund(f)
    out = o["authority"].fs.attempt_allocate(f, POOL, a["province"], 5_001, "")
    assert out == {
        "ok": False,
        "code": "over_allocation",
        "reason": f"allocation of 5001 exceeds the balance 5000 of the fund's pool in {f}",
        "refusal": out["refusal"],
    }
    assert o["regulator"].fs.fund(f) == before
    rec = o["regulator"].fs.refusals(f)
    assert len(rec) == 1 and rec[0]["by"] == o["authority"].address and rec[0]["amount"] == 5_001
    # Garbage arguments are refused and recorded, never crash.
    out = o["city"].fs.attempt_disburse(f, "no such!", 12, "x", None, "y")
    assert out["ok"] is False and out["code"] == "unregistered_account"
    # The regulator has no role on the fund: its refused attempt fails and is not recorded.
    _refused(
        chain,
        o["regulator"],
        "attempt_allocate",
        f,
        POOL,
        a["province"],
        1,
        "",
        expect="not recorded",
    )
    assert o["regulator"].fs.all_refusals(f, limit=1) == o["regulator"].fs.refusals(f)
    assert len(o["regulator"].fs.refusals(f)) == 2
    ok = o["authority"].fs.attempt_allocate(f, POOL, a["province"], 5_000, "")
    assert ok["ok"] is True and o["regulator"].fs.balance(f, a["province"])["balance"] == 5_000


def test_beneficiary_identity_is_only_a_hash(world):
    chain, o, a = world
    village = o["village"]
    _refused(
        chain,
        village,
        "register_beneficiary",
        a["village"],
        "510131198203150021",
        [PURPOSE],
        expect="hash",
    )
    h = beneficiary_hash("510131198203150021", "s1")
    assert h != beneficiary_hash("510131198203150021", "s2")
    with pytest.raises(ValueError):
        beneficiary_hash("510131198203150021", "")
    village.fs.register_beneficiary(a["village"], h, [PURPOSE])
    assert village.fs.beneficiary(h, village.identity.info.org)["account"] == a["village"]
    f = _fund(o, 100)
    for who, src, dst in [
        ("authority", POOL, "province"),
        ("province", "province", "city"),
        ("city", "city", "county"),
        ("county", "county", "township"),
        ("township", "township", "village"),
    ]:
        o[who].fs.allocate(f, POOL if src == POOL else a[src], a[dst], 100, "")
    paper = doc_hash("form")
    _refused(
        chain,
        village,
        "disburse",
        f,
        a["village"],
        h,
        10,
        "education-aid",
        paper,
        expect="earmarked for",
    )
    _refused(
        chain,
        village,
        "disburse",
        f,
        a["village"],
        h,
        101,
        PURPOSE,
        paper,
        expect="exceeds the balance",
    )
    village.fs.disburse(f, a["village"], h, 60, PURPOSE, paper)
    tr = village.fs.trace(f, h, village.identity.info.org)
    assert tr["total"] == 60
    assert [hop["account"] for hop in tr["payments"][0]["path"]] == [
        a["province"],
        a["city"],
        a["county"],
        a["township"],
        a["village"],
    ]
    rep = village.fs.report(f, 0)
    assert rep["disbursed"] == 60 and rep["conserved"]
    assert rep["idle"] == [{**rep["idle"][0], "account": a["village"], "balance": 40}]


def test_demo_and_scenario(tmp_path):
    chain = AppChain(tmp_path)
    try:
        summary = create_demo(chain)
        c = chain.client(chain.admin("org1"))
        rep = c.query(NAME, "report", summary["fund"], None)
        assert rep["conserved"] and rep["disbursed"] == 7_000_000
        assert [r["code"] for r in rep["refusals"]] == ["unregistered_recipient"]
        run_scenario(chain)
    finally:
        chain.close()


def test_parse_time_ms():
    assert parse_time_ms("2024-01-01") == 1_704_067_200_000
    assert abs(parse_time_ms("-1d") + DAY_MS - int(time.time() * 1000)) < 5_000


def test_cli_flow(world, tmp_path, monkeypatch):
    chain, o, a = world
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    dirs = {}
    for key in ("authority", "province", "village", "township"):
        dirs[key] = tmp_path / key
        o[key].identity.save(dirs[key])

    def run(*args, who=None):
        extra = ["--identity", str(dirs[who])] if who else []
        return runner.invoke(app, [str(x) for x in args] + extra)

    fid = "cli-fund"
    r = run("create-fund", fid, PURPOSE, 10_000, "--start=-1d", "--end", "+30d", who="authority")
    assert r.exit_code == 0, r.output
    assert run("allocate", fid, "pool", a["province"], 10_000, who="authority").exit_code == 0
    r = run("allocate", fid, a["province"], a["city"], 10_001, who="province")
    assert r.exit_code == 1 and "exceeds the balance" in r.output
    r = run("attempt-allocate", fid, a["province"], a["city"], 10_001, "--json", who="province")
    assert r.exit_code == 1 and "over_allocation" in r.output
    r = run("beneficiary-hash", "510131200001011111", "--salt", "cli")
    h = r.stdout.strip()
    assert r.exit_code == 0 and h == beneficiary_hash("510131200001011111", "cli")
    assert run("register-beneficiary", a["village"], h, PURPOSE, who="village").exit_code == 0
    form = tmp_path / "form.txt"
    form.write_text("approval")
    r = run("attempt-disburse", fid, a["village"], h, 5, PURPOSE, form, who="village")
    assert r.exit_code == 1 and "over_allocation" in r.output
    r = run("report", fid, "--json")
    rep = json.loads(r.stdout)["result"]
    assert rep["conserved"] and [x["code"] for x in rep["refusals"]] == ["over_allocation"] * 2
    r = run("refusal-page", fid, "--start", "2", "--json")
    assert r.exit_code == 0 and [x["code"] for x in json.loads(r.stdout)["result"]] == [
        "over_allocation"
    ]
    assert run("refusal-page", fid, "--limit", "81").exit_code == 1  # at most 80 a page
    r = run("report", fid, "--idle-days", "0")
    assert r.exit_code == 0 and "balances per level" in r.stdout and "province" in r.stdout
    assert run("accounts").exit_code == 0
    assert run("movements", fid).exit_code == 0
    r = run("balance", fid, a["province"], "--json")
    assert json.loads(r.stdout)["result"]["balance"] == 10_000
    r = run("disburse", fid, a["village"], h, 5, PURPOSE, "nofile", who="village")
    assert r.exit_code == 2


def test_a_beneficiary_is_paid_once_per_fund_unless_an_instalment_plan_says_otherwise(world):
    chain, o, a = world
    f = _fund(o, 100_000)
    path = ["province", "city", "county", "township", "village"]
    o["authority"].fs.allocate(f, POOL, a["province"], 100_000, "")
    for src, dst in zip(path, path[1:], strict=False):
        o[src].fs.allocate(f, a[src], a[dst], 100_000, "")
    vill = o["village"]
    once, twice = beneficiary_hash("once-" + f, "s"), beneficiary_hash("plan-" + f, "s")
    for h in (once, twice):
        vill.fs.register_beneficiary(a["village"], h, [PURPOSE])
    form = doc_hash("form " + f)
    vill.fs.disburse(f, a["village"], once, 1_000, PURPOSE, form)
    _refused(
        chain, vill, "disburse", f, a["village"], once, 1_000, PURPOSE, form, expect="already paid"
    )
    _refused(chain, vill, "plan_instalments", f, a["village"], once, [1, 1], expect="already paid")
    out = vill.fs.attempt_disburse(f, a["village"], once, 5, PURPOSE, form)
    assert out["ok"] is False and out["code"] == "already_paid"
    # An explicit plan: exactly these instalments, in order, and nothing more.
    vill.fs.plan_instalments(f, a["village"], twice, [2_000, 3_000])
    _refused(
        chain, vill, "disburse", f, a["village"], twice, 3_000, PURPOSE, form, expect="not 3000"
    )
    vill.fs.disburse(f, a["village"], twice, 2_000, PURPOSE, form)
    vill.fs.disburse(f, a["village"], twice, 3_000, PURPOSE, form)
    _refused(chain, vill, "disburse", f, a["village"], twice, 3_000, PURPOSE, form, expect="all 2")
    vorg = vill.identity.info.org
    assert vill.fs.payments(f, once, vorg) == {
        "fund": f,
        "beneficiary": once,
        "org": vorg,
        "plan": None,
        "paid": [1_000],
        "moves": [6],
    }
    assert vill.fs.payments(f, twice, vorg)["paid"] == [2_000, 3_000]
    assert vill.fs.trace(f, once, vorg)["total"] == 1_000
    assert vill.fs.trace(f, twice, vorg)["total"] == 5_000
    # The rule is per fund: the same beneficiary may be paid once from another fund.
    g = _fund(o, 1_000)
    o["authority"].fs.allocate(g, POOL, a["province"], 1_000, "")
    for src, dst in zip(path, path[1:], strict=False):
        o[src].fs.allocate(g, a[src], a[dst], 1_000, "")
    vill.fs.disburse(g, a["village"], once, 1_000, PURPOSE, form)
