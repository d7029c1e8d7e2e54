"""Unit tests: the `tianfu` command line (offline commands, usage errors, and chain commands in-process)."""

import json
import socket

import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain
from typer.testing import CliRunner

from tianfu.api.app import create_app
from tianfu.cli import common
from tianfu.cli.main import app
from tianfu.client import Client
from tianfu.codec import encode

runner = CliRunner()

COMMANDS = [
    [],
    ["dev"],
    ["status"],
    ["ca"],
    ["ca", "create"],
    ["identity"],
    ["identity", "issue"],
    ["identity", "show"],
    ["contract"],
    ["contract", "propose"],
    ["contract", "approve"],
    ["contract", "list"],
    ["invoke"],
    ["query"],
    ["state"],
    ["tx", "show"],
    ["tx", "proof"],
    ["block", "show"],
    ["block", "list"],
    ["role", "grant"],
    ["role", "revoke"],
    ["cert", "revoke"],
    ["verify-proof"],
    ["history"],
    ["validators"],
    ["tx", "absent"],
    ["block", "events"],
]


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_everywhere(cmd):
    r = run(*cmd, "--help")
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output


def test_ca_and_identity_lifecycle(tmp_path):
    ca = tmp_path / "ca"
    r = run("ca", "create", "acme", "--out", ca, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"org": "acme", "scheme": "ed25519", "dir": str(ca)}
    assert (ca / "ca-key.pem").exists()
    r = run("ca", "create", "acme", "--out", ca)
    assert r.exit_code == 1 and "refusing to overwrite" in r.stderr

    out = tmp_path / "bob"
    r = run(
        "identity",
        "issue",
        "--ca",
        ca,
        "--name",
        "bob",
        "--kind",
        "admin",
        "--out",
        out,
        "--scheme",
        "ecdsa-p256",
        "--json",
    )
    assert r.exit_code == 0, r.output
    issued = json.loads(r.stdout)
    assert issued["org"] == "acme" and issued["kind"] == "admin" and len(issued["address"]) == 40
    r = run("identity", "show", out, "--json")
    shown = json.loads(r.stdout)
    assert shown["address"] == issued["address"] and shown["scheme"] == "ecdsa-p256"
    r = run("identity", "show", out)
    assert r.exit_code == 0 and "bob" in r.stdout and issued["address"] in r.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run("ca", "create", "acme").exit_code == 2  # --out missing
    r = run("ca", "create", "acme", "--out", tmp_path / "x", "--scheme", "rsa")
    assert r.exit_code == 2 and "unknown scheme" in r.stderr
    run("ca", "create", "acme", "--out", tmp_path / "ca")
    r = run(
        "identity",
        "issue",
        "--ca",
        tmp_path / "ca",
        "--name",
        "n",
        "--kind",
        "boss",
        "--out",
        tmp_path / "n",
    )
    assert r.exit_code == 2 and "unknown kind" in r.stderr
    assert run("block", "show", "notanumber").exit_code == 2
    assert run("nonsense").exit_code == 2
    r = run(
        "invoke", "kv", "put", "a", "1", "--url", "http://127.0.0.1:1", env={"TIANFU_IDENTITY": ""}
    )
    assert r.exit_code == 2 and "no identity" in r.stderr


def test_clean_errors_exit_1(tmp_path):
    r = run("status", "--url", "http://127.0.0.1:1")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: cannot connect to http://127.0.0.1:1")
    assert "Traceback" not in r.output and r.stdout == ""
    r = run("status", env={"TIANFU_URL": "http://127.0.0.1:1"})
    assert r.exit_code == 1 and "127.0.0.1:1" in r.stderr
    r = run("identity", "show", tmp_path / "nope")
    assert r.exit_code == 1 and "missing identity file" in r.stderr and "Traceback" not in r.output
    r = run("verify-proof", tmp_path / "nope.json", "--genesis", tmp_path / "g.bin")
    assert r.exit_code == 1 and "no such file" in r.stderr


@pytest.fixture
def node(tmp_path, monkeypatch):
    """The CLI talking to the real in-process chain through its API; the identity `u` issued
    by the CLI from org1's CA (the default signer), org1..org4's admins in `<org>-admin`."""
    chain = KvChain(tmp_path / "chain")
    http = TestClient(create_app(chain.service))
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(url, identity, genesis=genesis, http=http),
    )
    chain.app.cas["org1"].save(tmp_path / "ca")
    for org in chain.app.orgs:
        chain.app.admin(org).save(tmp_path / f"{org}-admin")
    run(
        "identity",
        "issue",
        "--ca",
        tmp_path / "ca",
        "--name",
        "u",
        "--kind",
        "member",
        "--out",
        tmp_path / "u",
    )
    monkeypatch.setenv("TIANFU_IDENTITY", str(tmp_path / "u"))
    (tmp_path / "genesis.bin").write_bytes(encode(chain.genesis))
    yield chain
    http.close()
    chain.close()


def as_admin(tmp_path, org="org1"):
    return {"TIANFU_IDENTITY": str(tmp_path / f"{org}-admin")}


def test_chain_commands(node, tmp_path):
    r = run("invoke", "kv", "put", "color", '{"r": 1, "name": "red"}', "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["status"] == "committed" and doc["height"] == node.height
    assert node.app.query("kv", "get", "color") == {"r": 1, "name": "red"}
    r = run("invoke", "kv", "put", "plain", "not json")
    assert r.exit_code == 0 and node.app.query("kv", "get", "plain") == "not json"
    r = run("invoke", "kv", "fail", "boom", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["error"] == "boom"
    r = run("invoke", "kv", "put", "f", "1.5")
    assert r.exit_code == 2 and "float" in r.stderr
    r = run("query", "kv", "get", "color", "--json")
    assert json.loads(r.stdout) == {"result": {"r": 1, "name": "red"}}
    r = run("tx", "show", doc["hash"], "--json")
    assert json.loads(r.stdout)["args"] == ["color", {"r": 1, "name": "red"}]
    r = run("tx", "proof", doc["hash"], "--genesis", tmp_path / "genesis.bin", "--json")
    proof = json.loads(r.stdout)  # the verified proof document: transaction and receipt
    assert r.exit_code == 0 and proof["kind"] == "tx" and proof["tx"]["hash"] == doc["hash"]
    assert proof["receipt"]["ok"] is True
    r = run("tx", "proof", doc["hash"])
    assert r.exit_code == 0 and "warning" in r.stderr
    r = run("block", "list", "--from", doc["height"], "--json")
    assert [b["height"] for b in json.loads(r.stdout)] == list(
        range(doc["height"], node.height + 1)
    )
    assert node.height == doc["height"] + 2  # "plain" and the failed call
    assert json.loads(run("block", "show", doc["height"], "--json").stdout)["txs"] == [doc["hash"]]
    # Governance: proposed and approved by organisations' admins (3 of 4 decide).
    admin = as_admin(tmp_path)
    r = run("contract", "propose", "token", tmp_path / "missing.py", env=admin)
    assert r.exit_code == 1 and "no such file" in r.stderr
    src = tmp_path / "token.py"
    src.write_text("@view\ndef name(ctx):\n    return 'token'\n")
    r = run("contract", "propose", "token", src, "--json")
    assert r.exit_code == 1 and "admin" in json.loads(r.stdout)["error"]  # u is a member
    r = run("contract", "propose", "token", src, "--json", env=admin)
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["result"]
    assert node.app.query("governance", "get_proposal", pid)["status"] == "pending"
    for org in ("org1", "org2", "org3"):
        assert run("contract", "approve", pid, env=as_admin(tmp_path, org)).exit_code == 0
    names = [c["name"] for c in json.loads(run("contract", "list", "--json").stdout)]
    assert "token" in names
    assert node.app.query("token", "name") == "token"
    u = json.loads(run("identity", "show", tmp_path / "u", "--json").stdout)["address"]
    assert run("role", "grant", u, "operator", env=admin).exit_code == 0
    assert node.app.query("governance", "get_identity", u)["roles"] == ["operator"]
    assert run("cert", "revoke", u, env=admin).exit_code == 0
    assert node.app.query("governance", "get_identity", u)["revoked"] is True


def test_state_prove_and_offline_verify(node, tmp_path):
    run("invoke", "kv", "put", "doc", '{"v": 7}')
    r = run("state", "kv", "doc", "--prove", "--json", "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 0, r.output
    saved = json.loads(r.stdout)  # the proof document itself
    assert saved["kind"] == "state" and saved["entries"][0]["value"] == {"v": 7}
    proof_file = tmp_path / "read.json"
    proof_file.write_text(r.stdout)
    r = run("verify-proof", proof_file, "--genesis", tmp_path / "genesis.bin", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["entries"][0]["value"] == {"v": 7}
    r = run("state", "kv", "doc", "--prove", "--out", tmp_path / "saved.json")
    assert r.exit_code == 0 and "verified" in r.stdout and "warning" in r.stderr
    assert json.loads((tmp_path / "saved.json").read_text())["raw"] == saved["raw"]

    # The readable copy is held to the proven bytes: a changed value fails.
    tampered = {**saved, "entries": [{**saved["entries"][0], "value": {"v": 8}}]}
    proof_file.write_text(json.dumps(tampered))
    r = run("verify-proof", proof_file, "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 1 and "verification failed" in r.stderr and "entries[0].value" in r.stderr
    other = KvChain(tmp_path / "other")  # its own validator
    (tmp_path / "other.bin").write_bytes(encode(other.genesis))
    other.close()
    proof_file.write_text(json.dumps(saved))
    r = run("verify-proof", proof_file, "--genesis", tmp_path / "other.bin")
    assert r.exit_code == 1 and "verification failed" in r.stderr


def test_tx_absent_history_validators_and_block_events(node, tmp_path):
    g = tmp_path / "genesis.bin"
    first = json.loads(run("invoke", "kv", "put", "h", "1", "--json").stdout)
    run("invoke", "kv", "put", "h", "2")
    r = run("history", "kv", "h", "--genesis", g, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [v["value"] for v in doc["versions"]] == [2, 1] and doc["complete"] is True
    r = run("tx", "proof", first["hash"], "--genesis", g, "--out", tmp_path / "tx.json")
    assert r.exit_code == 0 and "receipt" in r.stdout, r.output
    r = run("verify-proof", tmp_path / "tx.json", "--genesis", g, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["receipt"]["ok"] is True
    r = run("tx", "absent", "ab" * 32, "--genesis", g, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["committed"] is False, r.output
    r = run("tx", "absent", first["hash"], "--genesis", g)
    assert r.exit_code == 1 and "committed" in r.stderr
    r = run("validators", "--genesis", g, "--json")
    validators = json.loads(r.stdout)["validators"]
    assert r.exit_code == 0 and len(validators) == len(node.genesis.validators) == 1
    r = run("block", "events", first["height"], "--genesis", g, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["events"] == [
        {"tx_index": 0, "contract": "kv", "name": "put", "data": {"key": "h"}}
    ]


def test_block_events_refuses_another_blocks_certified_batch(node, tmp_path, monkeypatch):
    """A node answering `block events h` with the certified, complete batch of another block
    is refused (exit 1, the heights named): the batch proves block h' events, not h's."""
    first = json.loads(run("invoke", "kv", "put", "a", "1", "--json").stdout)["height"]
    second = json.loads(run("invoke", "kv", "put", "b", "2", "--json").stdout)["height"]
    honest = Client.block_events_raw
    asked: list[int] = []

    def other_block(self, height, contract=None, name=None):
        asked.append(height)
        return honest(self, first, contract, name)

    monkeypatch.setattr(Client, "block_events_raw", other_block)
    r = run("block", "events", second, "--genesis", tmp_path / "genesis.bin", "--json")
    assert asked == [second]
    assert r.exit_code == 1 and r.stdout == "", r.output
    assert "verification failed" in r.stderr, r.stderr
    assert f"header is for height {first}, not {second}" in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("command", "orgs", "note"),
    [(["network", "init"], 64, ""), (["up"], 16, " (new networks)")],
)
def test_network_layout_options_are_shared_with_their_own_limits_and_notes(
    command: list[str], orgs: int, note: str
) -> None:
    r = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert r.exit_code == 0
    for kind in ("API", "p2p"):
        line = next(x for x in r.output.splitlines() if f"--{kind.lower()}-base-port" in x)
        assert f"Node i's {kind} port is this + i{note}." in line
    assert f"1<=x<={orgs}" in next(x for x in r.output.splitlines() if "--orgs" in x)
    too_many = runner.invoke(app, [*command, "--orgs", str(orgs + 1)])
    assert too_many.exit_code == 2


def _endless_fifo(path, limit_bytes):
    """A named pipe a thread writes zeros into until the reader stops (or `limit_bytes`);
    returns the thread and a list holding the count of bytes the reader took."""
    import os
    import threading

    os.mkfifo(path)
    written = [0]

    def feed():
        chunk = bytes(1 << 20)
        try:
            with open(path, "wb") as fh:
                while written[0] < limit_bytes:
                    fh.write(chunk)
                    written[0] += len(chunk)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    return t, written


@pytest.mark.parametrize("command", ["verify-proof", "app evidence verify"])
def test_a_document_file_is_read_no_further_than_the_size_limit(tmp_path, command):
    """A proof document or certificate given as a file that never ends (a pipe, a device)
    is refused after the 40 MiB a document may have, with the usual error: the verifier
    does not read, and hold, everything the file offers."""
    from pathlib import Path

    from tianfu.proofs.documents import MAX_DOCUMENT_BYTES

    vectors = Path(__file__).resolve().parents[2] / "docs/spec/vectors/documents.json"
    genesis = tmp_path / "genesis.bin"
    genesis.write_bytes(bytes.fromhex(json.loads(vectors.read_text())["geneses"]["standard"]))
    feeder, written = _endless_fifo(tmp_path / "doc.json", 4 * MAX_DOCUMENT_BYTES)
    args = command.split()
    if command.startswith("app"):
        (tmp_path / "file").write_bytes(b"evidence")
        args += [tmp_path / "file"]
    r = run(*args, tmp_path / "doc.json", "--genesis", genesis)
    feeder.join(timeout=60)
    assert r.exit_code == 1, r.output
    assert "larger than" in r.stderr and "Traceback" not in r.output
    assert written[0] < 2 * MAX_DOCUMENT_BYTES, f"{written[0]} bytes were read"


def test_negative_numbers_are_contract_arguments(node):
    # A negative number is a contract argument, not an unknown option.
    r = run("invoke", "kv", "put", "neg", "-5", "--json")
    assert r.exit_code == 0, r.output
    assert node.app.query("kv", "get", "neg") == -5
    r = run("query", "kv", "get", "neg", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"result": -5}
    # A mistyped option is still a usage error, and nothing is sent.
    height = node.height
    r = run("invoke", "kv", "put", "x", "--jsn")
    assert r.exit_code == 2 and "no such option: --jsn" in r.stderr
    assert node.height == height and node.app.query("kv", "get", "x") is None
    r = run("query", "kv", "get", "-x")
    assert r.exit_code == 2 and "no such option: -x" in r.stderr


def test_empty_list_says_none(node):
    r = run("gov", "list")
    assert r.exit_code == 0, r.output
    assert "open proposals: none" in r.stdout


def test_unknown_contract_says_where_to_look(node):
    for cmd in ("invoke", "query"):
        r = run(cmd, "nosuch", "m")
        assert r.exit_code == 1, r.output
        assert "unknown contract 'nosuch'" in r.stderr
        assert "tianfu contract list" in r.stderr and "tianfu contract approve" in r.stderr


@pytest.mark.parametrize("cmd", [["tx", "show"], ["tx", "proof"], ["tx", "absent"]])
def test_malformed_tx_hash_is_a_usage_error(node, cmd):
    for bad in ("deadbeef", "zz" * 32):
        r = run(*cmd, bad)
        assert r.exit_code == 2, r.output
        assert "not a transaction hash" in r.stderr


def test_up_says_how_to_reach_a_network_on_other_ports():
    from tianfu.cli.network_cmds import cli_url_hint

    assert cli_url_hint("http://127.0.0.1:8701") is None  # the commands' default
    hint = cli_url_hint("http://127.0.0.1:18841")
    assert hint is not None and "export TIANFU_URL=http://127.0.0.1:18841" in hint


def test_root_help_names_the_local_network_the_readme_starts():
    r = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "tianfu up" in r.output and "tianfu dev" in r.output


@pytest.mark.parametrize("cmd", [["state"], ["history"], ["validators"], ["tx", "absent"]])
def test_height_option_is_explained(cmd):
    r = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    line = next(ln for ln in r.output.splitlines() if "--height" in ln)
    assert "default: the latest" in line


def test_no_node_and_bad_url_say_what_to_do():
    r = run("status", "--url", "http://127.0.0.1:1")
    assert r.exit_code == 1 and "tianfu up" in r.stderr and "TIANFU_URL" in r.stderr
    r = run("status", "--url", "localhost:8701")
    assert r.exit_code == 2 and "needs the scheme: http://" in r.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:abc", "Invalid port: 'abc'"),
        ("http://[::1", "not a valid URL"),
        ("http://", "names no host"),
        # a port out of range was taken, and tried as a node that is not running
        ("http://127.0.0.1:99999", "port 99999 is not 1-65535"),
        ("http://127.0.0.1:0", "port 0 is not 1-65535"),
        ("http://h:-1", "port -1 is not 1-65535"),
    ],
)
def test_a_malformed_url_is_a_usage_error_not_a_traceback(url, says):
    r = run("status", "--url", url)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: --url:") and says in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_the_sdk_refuses_a_malformed_url_with_a_typed_error():
    from tianfu.client import Client, ClientError, InvalidUrl

    for url in ("http://127.0.0.1:abc", "127.0.0.1:8701", "http://"):
        with pytest.raises(InvalidUrl) as info:
            Client(url)
        assert isinstance(info.value, ClientError) and isinstance(info.value, ValueError)
        assert "e.g. http://127.0.0.1:8701" in str(info.value)


def _groups(command, path=()):
    """Every command group of the CLI, as the argument path that reaches it."""
    if hasattr(command, "commands"):
        yield list(path)
        for name, sub in command.commands.items():
            yield from _groups(sub, (*path, name))


def test_no_command_summary_in_any_help_breaks_mid_sentence():
    """In `tianfu --help` and every `tianfu <group> --help` each command's summary is one
    line (at a width where nothing wraps): a multi-line docstring is not shown broken."""
    import typer.main

    groups = list(_groups(typer.main.get_command(app)))
    assert ["block"] in groups and ["app", "traceability"] in groups
    for path in groups:
        r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "1000", "NO_COLOR": "1"})
        assert r.exit_code == 0, (path, r.output)
        lines = r.output.splitlines()
        start = next(i for i, ln in enumerate(lines) if ln.startswith("╭─ Commands"))
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("╰"))
        rows = lines[start + 1 : end]
        assert rows, path
        for row in rows:
            name = row.strip("│ ").split(" ", 1)[0]
            assert row.startswith("│ ") and row[2] != " " and name, (path, row)


def _commands(command, path=()):
    """Every command (not group) of the CLI, as the argument path that reaches it."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield list(path), command


# Commands that run a network or a node, or write a node's files, print no data
NO_DATA = (["up"], ["dev"], ["node", "start"], ["node", "init"])


def test_every_command_has_help_json_and_exit_code_2_for_usage_errors():
    """The README's conventions, checked on every command: --help, --json where a command
    prints data (read from the commands' definitions: invoking 200 commands takes minutes),
    and, on a sample, exit code 2 for an unknown option. The two local hash commands
    (beneficiary-hash, reporter-hash) had no --json."""
    import typer.main

    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 200
    for path, command in commands:
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert command.add_help_option, path
        assert path in NO_DATA or "--json" in options, path
    for path, _command in commands[::40]:
        assert runner.invoke(app, [*path, "--no-such-option"]).exit_code == 2, path


@pytest.mark.parametrize(
    ("app_name", "command"),
    [("fund_supervision", "beneficiary-hash"), ("city_governance", "reporter-hash")],
)
def test_local_hash_commands_print_json_and_refuse_an_empty_salt_as_usage(app_name, command):
    r = run("app", app_name, command, "12345", "--salt", "s", "--json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)) == 64
    r = run("app", app_name, command, "12345", "--salt", "")
    assert r.exit_code == 2 and "non-empty salt" in r.output


def test_dev_on_a_taken_port_says_so_and_creates_nothing(tmp_path):
    """`make run` then `make dev` (the README's two chains) both want port 8701: the dev
    chain printed its banner, then Uvicorn's bind error, and exited 3 with a new chain
    made in its home."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        home = tmp_path / "dev"
        r = run("dev", "--home", home, "--port", port)
    assert r.exit_code == 1, r.output
    assert f"port {port} on 127.0.0.1 is already in use" in r.stderr
    assert "tianfu up" in r.stderr and "--port" in r.stderr
    assert "Tianfu dev chain" not in r.stdout
    assert not home.exists()
