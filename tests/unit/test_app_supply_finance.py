"""Supply-chain finance on the in-process chain: contract rules, demo, scenario and CLI."""

import json
import time

import pytest
from typer.testing import CliRunner

from tianfu.apps.common.inputs import time_ms as parse_time_ms
from tianfu.apps.common.source import _without_header
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.demo import DAY_MS, create_demo, invoice_hash, setup_parties
from tianfu.apps.supply_finance.scenario import run_scenario
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("supply_finance")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("sf"))
    parties = setup_parties(chain)
    yield chain, parties
    chain.close()


def _issue(chain, parties, amount=1_000_000, accept=True):
    core, t1 = parties["core"], parties["tier1"]
    rid = core.sf.issue(
        t1.address, amount, int(time.time() * 1000) + 30 * DAY_MS, invoice_hash("x")
    )
    if accept:
        t1.sf.accept(rid)
    return rid


def _refused(chain, who, method, *args, expect):
    """A refused call fails with `expect` in its message and leaves the state root unchanged."""
    before = chain.contract_state()
    receipt = chain.call(who.identity, NAME, method, *args)
    assert not receipt.ok
    assert expect in receipt.error, receipt.error
    assert chain.contract_state() == before
    return receipt.error


def test_contract_compiles_with_expected_api():
    compiled = compile_contract(source())
    assert {
        "issue",
        "accept",
        "split",
        "transfer",
        "apply_pledge",
        "repay",
        "audit",
        "audit_page",
    } <= compiled.methods
    assert compiled.views == {
        "get",
        "party",
        "lineage",
        "holdings",
        "holding_count",
        "holdings_page",
        "overdue",
        "overdue_page",
        "open_receivables",
        "open_count",
        "open_page",
        "tree_totals",
        "tree_page",
        "transfers_page",
        "pledges_page",
        "invoice_claim",
        "claims_indexed",
    }


def test_split_conserves_and_keeps_lineage(world):
    chain, p = world
    rid = _issue(chain, p, 1_000_000)
    parts = p["tier1"].sf.split(rid, [1, 299_999, 700_000])
    assert parts == [rid + ".1", rid + ".2", rid + ".3"]
    assert sum(p["core"].sf.get(x)["amount"] for x in parts) == 1_000_000
    sub = p["tier1"].sf.split(parts[2], [350_000, 350_000])
    assert [x["id"] for x in p["core"].sf.lineage(sub[1])] == [rid, parts[2], sub[1]]
    totals = p["core"].sf.tree_totals(sub[0])
    assert totals == {
        "root": rid,
        "amount": 1_000_000,
        "conserved": True,
        "outstanding": 1_000_000,
        "paid": 0,
        "parts": 6,
    }
    held = [r["id"] for r in p["tier1"].sf.holdings(p["tier1"].address)]
    assert rid not in held and parts[2] not in held and set(sub) <= set(held)


def test_forbidden_actions_change_nothing(world):
    chain, p = world
    rid = _issue(chain, p, 500_000)
    t1, t2, bank = p["tier1"], p["tier2"], p["bank"]
    _refused(chain, t1, "split", rid, [100, 200], expect="sum exactly to the whole")
    _refused(chain, t1, "split", rid, [600_000, -100_000], expect="positive integer")
    _refused(chain, t1, "split", rid, [True, 499_999], expect="positive integer")
    _refused(chain, t2, "transfer", rid, t2.address, expect="only the holder")
    _refused(chain, t2, "apply_pledge", rid, bank.address, expect="only the holder")
    _refused(
        chain,
        t1,
        "issue",
        t2.address,
        5,
        int(time.time() * 1000) + DAY_MS,
        "ab" * 32,
        expect="lacks role",
    )
    _refused(chain, t1, "audit", rid, expect="lacks role 'regulator'")
    _refused(chain, t1, "approve_pledge", rid, 1, 1, expect="lacks role 'bank'")
    _refused(chain, t1, "get_nothing", expect="unknown method")
    _refused(chain, t1, "transfer", "RCV-999999", t2.address, expect="unknown receivable")
    t1.sf.apply_pledge(rid, bank.address)
    _refused(chain, t1, "apply_pledge", rid, bank.address, expect="cannot be pledged again")
    _refused(chain, t1, "split", rid, [1, 499_999], expect="pledged to bank")
    _refused(chain, t1, "transfer", rid, t2.address, expect="pledged to bank")
    parts_before = p["core"].sf.get(rid)
    assert parts_before["pledge"]["status"] == "applied"
    t1.sf.cancel_pledge(rid)
    t1.sf.transfer(rid, t2.address)
    _refused(chain, t1, "transfer", rid, t1.address, expect="only the holder")


def test_repay_pays_holders_and_bank(world):
    chain, p = world
    rid = _issue(chain, p, 900_000)
    a, b = p["tier1"].sf.split(rid, [400_000, 500_000])
    p["tier1"].sf.transfer(a, p["tier2"].address)
    p["tier2"].sf.apply_pledge(a, p["bank"].address)
    p["bank"].sf.approve_pledge(a, 380_000, 300)
    p["bank"].sf.disburse(a, "L-9")
    p["tier1"].sf.apply_pledge(b, p["bank"].address)  # applied only: the holder is still payee
    _refused(chain, p["tier2"], "repay", rid, "", expect="lacks role")
    payments = p["core"].sf.repay(rid, "W-1")
    assert {(x["id"], x["payee"], x["payee_kind"], x["amount"]) for x in payments} == {
        (a, p["bank"].address, "bank", 400_000),
        (b, p["tier1"].address, "holder", 500_000),
    }
    assert p["core"].sf.get(b)["pledges"][0]["outcome"] == "closed_by_repayment"
    assert rid not in p["core"].sf.open_receivables()
    audit = p["regulator"].sf.audit(b)
    assert audit["paid"] == 900_000 and audit["outstanding"] == 0 and audit["conserved"]


def test_same_block_double_spend_only_one_wins(world):
    chain, p = world
    rid = _issue(chain, p, 10_000)
    t1 = p["tier1"].identity
    receipts = chain.call_many(
        [
            (t1, NAME, "transfer", (rid, p["tier2"].address)),
            (t1, NAME, "transfer", (rid, p["tier3"].address)),
            (t1, NAME, "split", (rid, [5_000, 5_000])),
        ]
    )
    assert [r.ok for r in receipts] == [True, False, False]
    assert p["core"].sf.get(rid)["holder"] == p["tier2"].address


def test_demo_and_scenario(tmp_path):
    chain = AppChain(tmp_path)
    try:
        summary = create_demo(chain)
        rid = summary["receivable"]
        assert summary["amount_fen"] == 100_000_000
        query = chain.client(chain.admin("org1"))
        totals = query.query(NAME, "tree_totals", rid)
        assert totals["conserved"] and totals["outstanding"] == 100_000_000
        pledged = [k for k, v in summary["parts"].items() if "pledged" in v][0]
        assert query.query(NAME, "get", pledged)["pledge"]["status"] == "disbursed"
        run_scenario(chain)
    finally:
        chain.close()


def test_parse_time_ms():
    assert parse_time_ms("1700000000000") == 1_700_000_000_000
    assert parse_time_ms("2024-01-01") == 1_704_067_200_000
    now = int(time.time() * 1000)
    assert abs(parse_time_ms("+1d") - (now + DAY_MS)) < 5_000


def test_cli_flow(world, tmp_path, monkeypatch):
    chain, p = world
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    dirs = {}
    for key in ("core", "tier1", "tier2", "bank", "regulator"):
        dirs[key] = tmp_path / key
        p[key].identity.save(dirs[key])

    def run(*args, who=None):
        extra = ["--identity", str(dirs[who])] if who else []
        return runner.invoke(app, [str(a) for a in args] + extra)

    doc = tmp_path / "invoice.pdf"
    doc.write_bytes(b"invoice 2024-113 " + str(time.time()).encode())
    r = run(
        "issue", dirs["tier1"], 300_000, "--maturity", "+60d", "--doc", doc, "--json", who="core"
    )
    assert r.exit_code == 0, r.output
    rid = json.loads(r.stdout)["result"]
    r = run("issue", dirs["tier1"], 300_000, "--maturity", "+60d", "--doc", doc, who="core")
    assert r.exit_code == 1 and "already backs" in r.output
    assert run("accept", rid, who="tier1").exit_code == 0
    r = run("split", rid, 100_000, 100_001, who="tier1")
    assert r.exit_code == 1 and "sum exactly" in r.output
    r = run("split-transfer", rid, 100_000, dirs["tier2"], "--json", who="tier1")
    assert r.exit_code == 0, r.output
    part = json.loads(r.stdout)["result"]["transferred"]
    assert run("pledge", part, dirs["bank"], who="tier2").exit_code == 0
    assert run("approve-pledge", part, 90_000, 450, who="bank").exit_code == 0
    assert run("disburse", part, "LOAN-7", who="bank").exit_code == 0
    r = run("transfer", part, dirs["tier1"], who="tier2")
    assert r.exit_code == 1 and "pledged to bank" in r.output
    r = run("audit", rid, "--json", who="regulator")
    assert r.exit_code == 0 and json.loads(r.stdout)["result"]["financed"] == 90_000
    r = run("lineage", part, "--json")
    assert [x["id"] for x in json.loads(r.stdout)["result"]] == [rid, part]
    r = run("show", part)
    assert r.exit_code == 0 and "disbursed" in r.stdout
    assert run("holdings", dirs["tier2"]).exit_code == 0
    assert run("overdue").exit_code == 0
    r = run("repay", rid, "--ref", "W-77", "--json", who="core")
    assert r.exit_code == 0, r.output
    assert sum(x["amount"] for x in json.loads(r.stdout)["result"]) == 300_000
    r = run("transfer", part, "not-an-address", who="tier2")
    assert r.exit_code == 2 and "neither an address" in r.output


def test_cli_prints_every_event_and_readable_amounts_and_dates(world, tmp_path, monkeypatch):
    """Two events of one name are two rows; amounts read in yuan and times as dates in the
    configured time zone, while --json keeps the raw fen and milliseconds."""
    chain, p = world
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    monkeypatch.setenv("TIANFU_TZ", "Asia/Shanghai")
    p["core"].identity.save(tmp_path / "core")
    maturity = 1_900_000_000_000  # 2030-03-17 17:46:40 UTC, 2030-03-18 01:46:40 in Shanghai
    rid = p["core"].sf.issue(p["tier1"].address, 123_456_789, maturity, invoice_hash("cli"))
    p["tier1"].sf.accept(rid)
    p["tier1"].sf.split(rid, [23_456_789, 100_000_000])
    r = runner.invoke(app, ["repay", rid, "--identity", str(tmp_path / "core")])
    assert r.exit_code == 0, r.output
    out = " ".join(r.stdout.split())
    assert out.count("supply_finance.Repaid") == 2, r.stdout
    assert "234,567.89 yuan" in out and "1,000,000.00 yuan" in out
    r = runner.invoke(app, ["repay", rid, "--identity", str(tmp_path / "core"), "--json"])
    assert r.exit_code == 1 and "already repaid" in r.output
    r = runner.invoke(app, ["show", rid])
    out = " ".join(r.stdout.split())
    assert "1,234,567.89 yuan" in out and "2030-03-18 01:46:40 CST" in out, r.stdout
    r = runner.invoke(app, ["show", rid, "--json"])
    doc = json.loads(r.stdout)["result"]
    assert doc["amount"] == 123_456_789 and doc["maturity_ms"] == maturity
    monkeypatch.setenv("TIANFU_TZ", "UTC")
    r = runner.invoke(app, ["show", rid])
    assert "2030-03-17 17:46:40 UTC" in r.stdout
    monkeypatch.setenv("TIANFU_TZ", "Mars/Olympus")
    r = runner.invoke(app, ["show", rid])
    assert r.exit_code == 2 and "unknown time zone" in r.output


def _repay_gas_of_a_transferred_part(chain, parties, splits):
    """Gas of repaying the part tier 2 holds, after tier 1 split the rest `splits` times."""
    core, t1, t2 = parties["core"], parties["tier1"], parties["tier2"]
    rid = _issue(chain, parties, amount=20**4)
    first, *rest = t1.sf.split(rid, [20**3] * 20)
    t1.sf.transfer(first, t2.address)
    for part in rest[:splits]:
        rest.extend(t1.sf.split(part, [20**2] * 20))
    receipt = chain.call(core.identity, NAME, "repay", first, "bank-ref")
    assert receipt.ok, receipt.error
    assert core.sf.get(first)["status"] == "paid"
    return receipt.gas_used


def test_repaying_one_part_costs_the_same_however_many_parts_others_made(world):
    """A holder splitting its own parts into hundreds must not make the repayment of a part
    someone else holds dearer (and, at thousands of parts, impossible within the gas limit)."""
    chain, parties = world
    small = _repay_gas_of_a_transferred_part(chain, parties, 0)
    large = _repay_gas_of_a_transferred_part(chain, parties, 19)  # 20 + 19 x 20 = 400 parts
    assert large <= small * 1.1, (small, large)
    core, t1 = parties["core"], parties["tier1"]
    rid = _issue(chain, parties, amount=4)
    a, b = t1.sf.split(rid, [2, 2])
    core.sf.repay(a, "r1")
    assert rid in core.sf.open_receivables()
    core.sf.repay(b, "r2")
    assert rid not in core.sf.open_receivables()


def test_a_tree_issued_before_the_unpaid_count_is_counted_from_its_records(world):
    """After an upgrade from the contract that kept no count, a tree it issued and split is
    counted once from its records, and closes when its last part is repaid."""
    import subprocess
    from pathlib import Path

    chain, parties = world
    core, t1, t2 = parties["core"], parties["tier1"], parties["tier2"]
    here = Path(__file__).resolve().parents[2] / "src/tianfu/apps/supply_finance/contract.py"
    old = subprocess.run(
        ["git", "show", "4153cfb:src/tianfu/apps/supply_finance/contract.py"],
        cwd=here.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if old.returncode != 0:
        pytest.skip("the contract before the unpaid count is not in this checkout's history")
    new = source()
    before = new.replace(here.read_text().strip("\n"), old.stdout.strip("\n"))
    # that contract kept its pledge financing in its main part (now contract_pledges.py)
    pledges = _without_header((here.parent / "contract_pledges.py").read_text()).strip("\n")
    before = before.replace("\n\n\n" + pledges, "")
    assert before != new and '"unpaid:"' not in before
    chain.deploy(NAME, before)
    try:
        rid = _issue(chain, parties, amount=9)
        a, b, c = t1.sf.split(rid, [3, 3, 3])
        t1.sf.transfer(a, t2.address)
        b1, b2 = t1.sf.split(b, [1, 2])
    finally:
        chain.deploy(NAME, new)
    core.sf.repay(a, "r1")
    core.sf.repay(c, "r2")
    core.sf.repay(b1, "r3")
    assert rid in core.sf.open_receivables()
    core.sf.repay(b2, "r4")
    assert rid not in core.sf.open_receivables()
