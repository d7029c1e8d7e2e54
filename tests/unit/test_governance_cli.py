"""Unit tests: `tianfu gov ...` commands and the SDK helpers against an in-process chain."""

import json

import pytest
import typer
from typer.testing import CliRunner

from tianfu.cli import common
from tianfu.cli.common import UsageProblem
from tianfu.cli.governance_cmds import gov_app, parse_params
from tianfu.client import Client, TxFailed
from tianfu.client import governance as gov
from tianfu.identity import OrgCA
from tianfu.identity.certs import der_to_pem
from tianfu.testing.appchain import AppChain

runner = CliRunner()


@pytest.fixture
def chain(tmp_path, monkeypatch):
    (tmp_path / "chain").mkdir()
    c = AppChain(tmp_path / "chain")
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=genesis, http=c.http
        ),
    )
    for org, admin in c.admins.items():
        admin.save(tmp_path / "ids" / org)
    yield c
    c.close()


def gov_cli(*args):
    return runner.invoke(gov_app, [str(a) for a in args])


def test_cli_admits_an_org_and_a_validator(chain, tmp_path):
    ids = tmp_path / "ids"
    ca5 = OrgCA.create("org5")
    (tmp_path / "ca5.pem").write_bytes(der_to_pem(ca5.cert_der))
    r = gov_cli(
        "propose",
        "add-org",
        "org5",
        "--ca",
        tmp_path / "ca5.pem",
        "--identity",
        ids / "org1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["result"]
    r = gov_cli("list", "--json")
    assert [p["id"] for p in json.loads(r.stdout)] == [pid]
    for org in ("org1", "org2"):
        r = gov_cli("vote", pid, "--identity", ids / org, "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["result"]["status"] == "pending"
    r = gov_cli("vote", pid, "--identity", ids / "org2")
    assert r.exit_code == 1 and "already voted" in r.output
    r = gov_cli("vote", pid, "--identity", ids / "org3", "--json")
    assert json.loads(r.stdout)["result"]["status"] == "activated"
    r = gov_cli("show", pid, "--json")
    assert json.loads(r.stdout)["approvals"] == ["org1", "org2", "org3"]
    assert "org5" in [o["name"] for o in chain.query("governance", "list_orgs")]

    node5 = ca5.issue("node5", "node")
    (tmp_path / "node5.pem").write_bytes(der_to_pem(node5.cert_der))
    # node0 alone has power 1: node5 may not join with a third or more of the power
    r = gov_cli(
        "propose", "add-validator", "node5", "--org", "org5", "--cert", tmp_path / "node5.pem",
        "--power", 2, "--identity", ids / "org1",
    )  # fmt: skip
    assert r.exit_code == 1 and "a third or more of the voting power" in r.output
    r = gov_cli("propose", "set-power", "node0", "5", "--identity", ids / "org1", "--json")
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["result"]
    for org in ("org1", "org2", "org3", "org4"):
        r = gov_cli("vote", pid, "--identity", ids / org, "--json")
    assert json.loads(r.stdout)["result"]["status"] == "activated"
    r = gov_cli(
        "propose", "add-validator", "node5", "--org", "org5", "--cert", tmp_path / "node5.pem",
        "--power", 2, "--identity", ids / "org1", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["result"]
    for org in ("org1", "org2", "org3", "org4"):  # 4 of 5 members now
        r = gov_cli("vote", pid, "--identity", ids / org, "--json")
    assert json.loads(r.stdout)["result"]["status"] == "activated"
    h = chain.ledger.height
    assert "node5" in [v.name for v in chain.ledger.validator_set(h + 2).validators]
    r = gov_cli("validators", "--json")
    doc = json.loads(r.stdout)
    assert doc["from_height"] == h + 2 and doc["validators"][-1]["name"] == "node5"


def test_cli_usage_and_failures(chain, tmp_path):
    ids = tmp_path / "ids"
    r = gov_cli("propose", "add-validator", "v", "--org", "org1", "--identity", ids / "org1")
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = gov_cli("propose", "set-params", "nosuch=1", "--identity", ids / "org1")
    assert r.exit_code == 2
    r = gov_cli("propose", "set-power", "node0", "0", "--identity", ids / "org1")
    assert r.exit_code == 1 and "power must be between" in r.output
    r = gov_cli("propose", "unbar-validator", "node0", "--identity", ids / "org1")
    assert r.exit_code == 1 and "not barred" in r.output
    r = gov_cli("show", "0000000000000000")
    assert r.exit_code == 1 and "no proposal" in r.output
    r = gov_cli("propose", "remove-org", "org4", "--identity", ids / "org1", "--json")
    pid = json.loads(r.stdout)["result"]
    r = gov_cli("vote", pid, "--reject", "--identity", ids / "org4", "--json")
    assert json.loads(r.stdout)["result"]["rejections"] == 1


def test_a_file_that_is_no_certificate_is_refused_before_any_transaction(chain, tmp_path):
    """`gov propose add-org --ca` with a file that is not a certificate (not PEM: taken as
    DER) was sent as is: a transaction of the admin's, failed on chain with the parser's
    'error parsing asn1 value: ParseError ...'. Now the CLI names the file and sends
    nothing; the same for --cert of add-validator."""
    ids = tmp_path / "ids"
    notes = tmp_path / "notes.txt"
    notes.write_text("org5's CA is in the e-mail\n")
    height = chain.ledger.height
    for args in (
        ("add-org", "org5", "--ca", notes),
        ("add-validator", "v5", "--org", "org1", "--cert", notes),
    ):
        r = gov_cli("propose", *args, "--identity", ids / "org1", "--json")
        assert r.exit_code == 1, r.output
        assert f"error: {notes} is not an X.509 certificate (PEM or DER)" in r.stderr
        assert r.stdout == ""
    assert chain.ledger.height == height  # no transaction was sent


def test_parse_params():
    assert parse_params(["max_block_txs=2_000", "slash_double_sign=true"]) == {
        "max_block_txs": 2000,
        "slash_double_sign": True,
    }
    for bad in (["max_block_txs"], ["max_block_txs=x"], ["slash_double_sign=1"]):
        with pytest.raises(UsageProblem):
            parse_params(bad)
    assert isinstance(gov_app, typer.Typer)


def test_sdk_helpers(chain):
    admins = {o: chain.client(a) for o, a in chain.admins.items()}
    pid = gov.propose_set_params(admins["org1"], {"max_block_txs": 321})
    assert gov.get_proposal(admins["org1"], pid)["kind"] == "set_params"
    for o in ("org1", "org2"):
        gov.vote(admins[o], pid)
    res = gov.vote(admins["org3"], pid)
    assert res.result["status"] == "activated"
    assert gov.get_params(admins["org1"])["max_block_txs"] == 321
    with pytest.raises(TxFailed):
        gov.propose_set_power(admins["org1"], "nosuch", 3)
    pid = gov.propose_set_power(admins["org1"], "node0", 7)
    for o in ("org1", "org2", "org3"):
        gov.vote(admins[o], pid)
    h = chain.ledger.height
    assert gov.list_validators(admins["org1"])[0]["power"] == 7
    chain.service.block_committed(chain.driver.produce_one([]))
    chain.service.block_committed(
        chain.driver.produce_one([])
    )  # block h + 2: signed by the new set (power 7)
    assert chain.ledger.height == h + 2
    # Proven reads: the set of h + 1 is the genesis set; that of h + 2 has power 7.
    assert gov.validator_set_at(admins["org1"], h + 1).total_power == 1
    assert gov.validator_set_at(admins["org1"], h + 2).total_power == 7
