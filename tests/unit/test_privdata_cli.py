"""`tianfu privdata ...` against the in-process chain: propose the registry, register the
node's data keys, inspect what the node keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tianfu.cli import common
from tianfu.cli.main import app
from tianfu.client import Client
from tianfu.testing.appchain import AppChain

runner = CliRunner()


def test_privdata_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "chain").mkdir()
    chain = AppChain(tmp_path / "chain")
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    for org in chain.orgs:
        chain.admin(org).save(tmp_path / org)

    def run(*args: object) -> object:
        return runner.invoke(app, ["privdata", *map(str, args)])

    r = run("propose", "--identity", tmp_path / "org1", "--json")
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["result"]
    for org in ("org1", "org2", "org3"):  # more than half of the organisations
        r = runner.invoke(app, ["contract", "approve", pid, "--identity", str(tmp_path / org)])
        assert r.exit_code == 0, r.output
    r = run("keys", "--json")
    held = json.loads(r.stdout)
    assert sorted(held) == chain.orgs and not any(k["registered"] for k in held.values())
    r = run("register-key", "--identity", tmp_path / "org2", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {
        "org": "org2",
        "registered": True,
        "version": 1,
        "changed": True,
    }
    r = run("register-key", "--identity", tmp_path / "org2")
    assert r.exit_code == 0 and "registered already" in r.stdout
    assert json.loads(run("keys", "--json").stdout)["org2"]["registered"] is True
    r = run("status", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["records"] == 0
    r = run("show", "notes", "ab" * 32)
    assert r.exit_code == 1 and "no private record" in r.output
    r = run("register-key")
    assert r.exit_code == 2 and "no identity" in r.output
    chain.close()


def test_rotate_key_adds_a_key_to_a_stopped_node(tmp_path: Path) -> None:
    from tianfu.node.netinit import init_network
    from tianfu.node.storeguard import DataLock
    from tianfu.privdata.keys import OrgKeyring

    init_network(tmp_path / "net", 1)
    home = next((tmp_path / "net").glob("org1/node*"))
    r = runner.invoke(app, ["privdata", "rotate-key", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)["public_key"]
    r = runner.invoke(app, ["privdata", "rotate-key", "--home", str(home), "--json"])
    second = json.loads(r.stdout)["public_key"]
    ring = OrgKeyring.load(Path(json.loads(r.stdout)["keyring"]))
    assert ring.public_key("org1").hex() == second != first
    assert ring.holds("org1", bytes.fromhex(first))  # the older key stays
    lock = DataLock(home / "data", "running")  # a running node holds the data directory
    try:
        r = runner.invoke(app, ["privdata", "rotate-key", "--home", str(home)])
        assert r.exit_code == 1 and "in use" in r.output
    finally:
        lock.release()
