"""What a newcomer trips over on the command line.

`tianfu block list` and `block show` print a block's time as a date in TIANFU_TZ (as the
application commands do); `--json` keeps `time_ms`, milliseconds since the epoch. Both
printed the raw `time_ms` (`1796562000123`) to people.

A `--url` with a path (`http://127.0.0.1:8701/v1`, as the API's paths begin) was answered
`error: HTTP 404: Not Found` alone; the line now says the URL is the node's base URL."""

import io
import json
import re
import socket
import tokenize
from pathlib import Path

from fastapi.testclient import TestClient
from tests.unit.test_cli import node, run  # noqa: F401 - the in-process chain fixture

from tianfu.api.app import create_app
from tianfu.apps.common.readable import counted, date, zone
from tianfu.cli import common
from tianfu.client import Client

WIDE = {"COLUMNS": "200"}  # the table's columns unfolded


def test_block_times_are_dates_for_people_and_milliseconds_in_json(node):  # noqa: F811
    r = run("invoke", "kv", "put", "color", "red", "--json")
    assert r.exit_code == 0, r.output
    height = json.loads(r.stdout)["height"]
    r = run("block", "list", "--from", height, "--json")
    listed = json.loads(r.stdout)
    assert [b["height"] for b in listed] == [height]
    time_ms = listed[0]["time_ms"]
    assert isinstance(time_ms, int) and time_ms > 1_600_000_000_000
    r = run("block", "show", height, "--json")
    assert json.loads(r.stdout)["header"]["time_ms"] == time_ms
    for tz in ("UTC", "Asia/Shanghai"):
        readable = date(time_ms, zone(tz))
        r = run("block", "list", "--from", height, env={**WIDE, "TIANFU_TZ": tz})
        assert r.exit_code == 0, r.output
        assert readable in r.stdout and str(time_ms) not in r.stdout, r.stdout
        r = run("block", "show", height, env={**WIDE, "TIANFU_TZ": tz})
        assert r.exit_code == 0, r.output
        rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if "│" in line}
        assert readable in rows["time"] and "time_ms" not in rows, r.stdout
    r = run("block", "list", env={**WIDE, "TIANFU_TZ": "Mars/Olympus"})
    assert r.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in r.stderr, r.output


def test_status_shows_the_latest_block_time_as_a_date(node):  # noqa: F811
    """`tianfu status` printed `time_ms 1796629666744` to people; it is now a date in
    TIANFU_TZ like the block commands, and --json keeps time_ms."""
    r = run("invoke", "kv", "put", "color", "blue", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(run("status", "--json").stdout)
    time_ms = doc["time_ms"]
    assert isinstance(time_ms, int) and time_ms > 1_600_000_000_000 and "time" not in doc
    for tz in ("UTC", "Asia/Shanghai"):
        r = run("status", env={**WIDE, "TIANFU_TZ": tz})
        assert r.exit_code == 0, r.output
        rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if "│" in line}
        assert date(time_ms, zone(tz)) in rows["time"] and "time_ms" not in rows, r.stdout
        assert str(time_ms) not in r.stdout, r.stdout
    r = run("status", env={**WIDE, "TIANFU_TZ": "Mars/Olympus"})
    assert r.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in r.stderr, r.output


def test_a_url_with_the_api_path_says_what_the_url_is(node, monkeypatch):  # noqa: F811
    app = create_app(node.service)
    monkeypatch.setattr(  # requests go to the path of the URL given, as over the network
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=genesis, http=TestClient(app, base_url=url)
        ),
    )
    for args in (["status"], ["block", "list"], ["query", "kv", "get", "color"]):
        r = run(*args, "--url", "http://127.0.0.1:8701/v1")
        assert r.exit_code == 1, r.output
        assert r.stderr.strip() == (
            "error: HTTP 404: Not Found — the node has no such API path: --url (or "
            "TIANFU_URL) is the node's base URL, e.g. http://127.0.0.1:8701"
        ), r.stderr
    r = run("block", "show", "999", "--url", "http://127.0.0.1:8701")
    assert r.exit_code == 1 and r.stderr.strip() == "error: HTTP 404: block 999 not found"


def test_dev_binds_its_port_once_and_serves_on_that_socket(tmp_path, monkeypatch, capsys):
    """`tianfu dev` checked its port with a socket it closed, and Uvicorn bound the port
    later: a second start in that window passed the same check. The port is now bound once
    and the listening socket handed to the server, so another bind fails all along."""
    from tianfu.node import dev, runner

    seen: dict[str, object] = {}

    def serve(data_dir, genesis, ident, host, port, listener=None):  # noqa: ARG001
        with socket.socket() as other:  # a second start, as Uvicorn binds
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                other.bind((host, port))
                seen["second bind"] = "taken"
            except OSError:
                seen["second bind"] = "refused"
        seen["listener"] = None if listener is None else listener.getsockname()

    monkeypatch.setattr(runner, "run_solo_node", serve)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dev.run_dev(tmp_path / "dev", "127.0.0.1", port)
    assert seen == {"second bind": "refused", "listener": ("127.0.0.1", port)}
    # On a port other than the commands' default, the banner says how to reach it (it said
    # nothing, and the README's next command went to 8701: "cannot connect").
    assert f"export TIANFU_URL=http://127.0.0.1:{port}" in capsys.readouterr().out
    with socket.socket() as after:  # released when the chain stops
        after.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        after.bind(("127.0.0.1", port))


def test_a_negative_height_counts_back_from_the_latest_block(node, tmp_path):  # noqa: F811
    """`tianfu block show -1` said "No such option: -1": click took the number for an
    option. -N now counts back from the latest block; past the first is a usage error
    naming the range, and a mistyped option is still named as one."""
    from tianfu.codec import encode

    for v in ("a", "b"):
        r = run("invoke", "kv", "put", "n", v, "--json")
        assert r.exit_code == 0, r.output
    last = json.loads(r.stdout)["height"]
    tip = json.loads(run("status", "--json").stdout)["height"]
    assert tip == last  # no block is made without a transaction
    r = run("block", "show", "-1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["header"]["height"] == tip
    r = run("block", "show", "-2", env=WIDE)
    assert r.exit_code == 0, r.output
    assert f"block {tip - 1}" in r.stdout
    r = run("block", "show", "--json", f"-{tip}")  # options before it, too
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["header"]["height"] == 1
    r = run("block", "show", f"-{tip + 1}")
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (
        f"error: block -{tip + 1} is before the first: the chain has {tip} blocks "
        f"(-1 is the latest, -{tip} the first)"
    )
    r = run("block", "show", "--jsn")
    assert r.exit_code == 2 and "no such option: --jsn" in r.output, r.output
    (tmp_path / "g.bin").write_bytes(encode(node.genesis))
    r = run("block", "events", "-1", "--genesis", tmp_path / "g.bin", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["height"] == tip
    assert json.loads(r.stdout)["events"] == [
        {"tx_index": 0, "contract": "kv", "name": "put", "data": {"key": "n"}}
    ]


def test_counts_of_one_are_singular(node, tmp_path):  # noqa: F811
    """The CLI printed "verified: 1 versions", "all 1 matching events ... (1 receipts",
    "through 0 changes" was right but one change read "1 changes": every count it prints
    now takes its noun in the singular for one."""
    from tianfu.codec import encode

    g = tmp_path / "g.bin"
    g.write_bytes(encode(node.genesis))
    r = run("invoke", "kv", "put", "one", "1", "--json")
    assert r.exit_code == 0, r.output
    height = json.loads(r.stdout)["height"]
    r = run("history", "kv", "one", "--genesis", g, env=WIDE)
    assert r.exit_code == 0, r.output
    assert "verified: 1 version, none left out" in r.stdout, r.stdout
    r = run("block", "events", height, "--genesis", g, env=WIDE)
    assert r.exit_code == 0, r.output
    assert f"verified: all 1 matching event of block {height} (1 receipt under" in r.stdout
    r = run("invoke", "kv", "put", "one", "2", "--json")
    r = run("history", "kv", "one", "--genesis", g, env=WIDE)
    assert "verified: 2 versions, none left out" in r.stdout, r.stdout


def test_counted_nouns() -> None:
    assert [counted(n, "version") for n in (0, 1, 2)] == ["0 versions", "1 version", "2 versions"]
    assert counted(1, "block body", "block bodies") == "1 block body"
    assert counted(3, "block body", "block bodies") == "3 block bodies"


def test_no_printed_count_hedges_its_plural() -> None:
    """Counts are printed with `counted` (singular for one), never "validator(s)"."""
    src = Path(common.__file__).parents[1]
    files = [*src.glob("cli/*.py"), *src.glob("bench/*.py"), *src.glob("apps/*/commands*.py")]
    files += [*src.glob("node/*.py"), *src.glob("apps/common/*.py")]
    hedged = [
        f"{f.relative_to(src)}:{tok.start[0]}"
        for f in files
        for tok in tokenize.generate_tokens(io.StringIO(f.read_text(encoding="utf-8")).readline)
        if tok.type == tokenize.STRING and re.search(r"[a-z]\((s|es)\)", tok.string)
    ]
    assert hedged == []


def test_an_identity_directory_that_is_not_there_says_what_to_do(tmp_path, monkeypatch):
    """The README's commands name identities by relative paths (.tianfu/dev/identities/user):
    run in another directory, they said only "missing identity file .../key.pem", and a file
    given as the directory "cannot read README.md/key.pem: [Errno 20] Not a directory"."""
    monkeypatch.chdir(tmp_path)
    r = run("invoke", "kv", "put", "a", "1", "--identity", ".tianfu/dev/identities/user")
    assert r.exit_code == 1, r.output
    assert r.stderr.strip() == (
        "error: missing identity file .tianfu/dev/identities/user/key.pem: "
        f".tianfu/dev/identities/user does not exist (looked for in {tmp_path}) — give an "
        "identity directory (key.pem, cert.pem, ca.pem; `tianfu identity issue` makes one), "
        "or run the command in the directory that holds the chain's .tianfu/"
    )
    (tmp_path / "notes.txt").write_text("x")
    r = run("invoke", "kv", "put", "a", "1", "--identity", tmp_path / "notes.txt")
    assert r.exit_code == 1, r.output
    assert f"{tmp_path / 'notes.txt'} is a file, not a directory — give an identity" in r.stderr
    assert "Errno" not in r.stderr


def test_a_key_file_tianfu_cannot_use_says_why_and_what_to_do(tmp_path):
    """A password-protected key said "Password was not given but private key is encrypted"
    (tianfu has no password to give), a damaged one pointed at cryptography's FAQ
    ("MalformedFraming"), and a key of another identity did not say what to do."""
    from cryptography.hazmat.primitives import serialization

    from tianfu.crypto import ED25519
    from tianfu.identity import OrgCA

    ca = OrgCA.create("acme", ED25519)
    for name in ("bob", "eve"):
        ca.issue(name, "member", ED25519).save(tmp_path / name)
    key_file = tmp_path / "bob" / "key.pem"
    plain = key_file.read_bytes()
    key = serialization.load_pem_private_key(plain, None)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    r = run("identity", "show", tmp_path / "bob")
    assert r.exit_code == 1, r.output
    assert "the private key is encrypted with a password" in r.stderr
    assert "`openssl pkey -in key.pem -out plain.pem`" in r.stderr
    key_file.write_text("garbage\n")
    r = run("identity", "show", tmp_path / "bob")
    assert r.exit_code == 1, r.output
    assert "not a private key in PEM form" in r.stderr and "http" not in r.stderr
    key_file.write_bytes((tmp_path / "eve" / "key.pem").read_bytes())
    r = run("identity", "show", tmp_path / "bob")
    assert r.exit_code == 1, r.output
    assert "must come from the same identity directory" in r.stderr
    key_file.write_bytes(plain)
    assert run("identity", "show", tmp_path / "bob").exit_code == 0


def test_demo_descriptions_count_in_the_singular_for_one() -> None:
    """`tianfu up --demo` printed "licensed 1 times" and "1 accesses logged"."""
    from tianfu.apps.health import demo as health
    from tianfu.apps.ip_rights import demo as ip_rights

    work = {"participants": {"creator": "ip-composer org1"}, "title": "T", "work_id": "W1"}
    work |= {"evidence_deposit": "EV1", "exclusive_licence": True, "owner_org": "org2"}
    text = "\n".join(ip_rights.describe({**work, "licences": 1}))
    assert "licensed 1 time (exclusive" in text, text
    assert "licensed 2 times (exclusive" in "\n".join(ip_rights.describe({**work, "licences": 2}))
    record = {"patient": "ab" * 20, "record": "R1", "record_readers": ["org2"], "accesses": 1}
    record |= {"prescription": "P1", "prescription_status": "filled", "reimbursed_fen": 100}
    assert "; 1 access logged)" in "\n".join(health.describe(record))
    assert "; 3 accesses logged)" in "\n".join(health.describe({**record, "accesses": 3}))


def test_a_mistyped_option_after_a_height_is_named_as_an_option():
    """`block show` and `block events` pass unknown options on (so that -1 is a height):
    `tianfu block show 5 --jsn` said 'Got unexpected extra argument(s) (--jsn)'."""
    for args in (["block", "show", "5", "--jsn"], ["block", "events", "5", "--contrac", "x"]):
        r = run(*args, env={"COLUMNS": "200"})
        assert r.exit_code == 2, r.output
        assert f"no such option: {args[3]}" in r.output and "extra argument" not in r.output


def test_identity_show_gives_the_expiry_as_a_date(node, tmp_path):  # noqa: F811
    """`identity show` printed `not_after_ms 1867886304000` to people; the other commands
    show dates in TIANFU_TZ and keep the milliseconds for --json."""
    doc = json.loads(run("identity", "show", tmp_path / "u", "--json").stdout)
    ms = doc["not_after_ms"]
    assert isinstance(ms, int) and ms > 1_600_000_000_000
    r = run("identity", "show", tmp_path / "u", env={**WIDE, "TIANFU_TZ": "UTC"})
    assert r.exit_code == 0, r.output
    assert date(ms, zone("UTC")) in r.stdout and str(ms) not in r.stdout, r.stdout
    assert "valid until" in r.stdout


def test_block_zero_says_where_heights_start(node):  # noqa: F811
    """`tianfu block show 0` answered 'error: HTTP 404: block 0 not found'."""
    for args in (["block", "show", "0"], ["block", "events", "0"]):
        r = run(*args)
        assert r.exit_code == 2, r.output
        assert "block heights start at 1" in r.stderr and "404" not in r.stderr, r.stderr


def test_identity_show_of_a_certificate_valid_until_the_year_9999(tmp_path, monkeypatch):
    """RFC 5280 gives a certificate with no expiry the date 9999-12-31 23:59:59 UTC; in
    TIANFU_TZ Asia/Shanghai that is in the year 10000, which Python's dates cannot hold:
    `identity show` failed with an OverflowError traceback (exit 1, no table)."""
    import datetime as dt

    from tianfu.crypto.keys import generate_keypair
    from tianfu.crypto.suite import ED25519
    from tianfu.identity import Identity, certs

    start = dt.datetime(2026, 1, 1, 23, 59, 59, tzinfo=dt.UTC)
    days = (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC) - start).days
    monkeypatch.setattr(certs, "_now", lambda: start)
    key, ca = certs.create_ca("org9", days=days)
    kp = generate_keypair(ED25519)
    Identity(kp, certs.issue_cert(key, ca, "forever", "member", kp, days=days), ca).save(
        tmp_path / "id"
    )
    doc = json.loads(run("identity", "show", tmp_path / "id", "--json").stdout)
    assert doc["not_after_ms"] == 253402300799000  # --json: the milliseconds, unchanged
    for tz, shown in (
        ("Asia/Shanghai", "9999-12-31 23:59:59 UTC"),
        ("UTC", "9999-12-31 23:59:59 UTC"),
    ):
        r = run("identity", "show", tmp_path / "id", env={**WIDE, "TIANFU_TZ": tz})
        assert r.exit_code == 0, (r.output, r.exception)
        assert shown in r.stdout and "forever" in r.stdout, r.stdout


def test_identity_show_of_an_account_without_a_certificate(tmp_path):
    """`identity show` of `tianfu account create`'s directory (a key, no certificate) failed
    with 'malformed certificate: error parsing asn1 value: ParseError ...'."""
    r = run("account", "create", "--out", tmp_path / "me", "--json")
    assert r.exit_code == 0, r.output
    address = json.loads(r.stdout)["address"]
    doc = json.loads(run("identity", "show", tmp_path / "me", "--json").stdout)
    assert doc["address"] == address and doc["kind"] == "account" and doc["org"] is None
    r = run("identity", "show", tmp_path / "me", env=WIDE)
    assert r.exit_code == 0, r.output
    assert address in r.stdout and "no certificate" in r.stdout and "asn1" not in r.output


def test_operator_lines_with_a_command_or_hash_are_never_broken(tmp_path):
    """`tianfu genesis create` and `tianfu node init` printed their one line through Rich at
    the console's width (80 in a pipe or a log): the genesis hash every member must check
    out of band went onto the next line apart from 'hash', and the command to run next
    was broken in two ('tianfu node start' / '--home org1/node'), so a copied line failed;
    a directory named with brackets ('[org1]') lost them as markup."""
    from tianfu.types.genesis import decode_genesis

    base = tmp_path / "[org1] deployment" / ("d" * 90)
    ca, node_id = base / "ca", base / "node1-identity"
    assert run("ca", "create", "org1", "--out", ca).exit_code == 0
    r = run("identity", "issue", "--ca", ca, "--name", "node1", "--kind", "node", "--out", node_id)
    assert r.exit_code == 0, r.output
    genesis = base / "genesis.bin"
    r = run(
        "genesis", "create", "--org", f"org1={ca / 'ca.pem'}",
        "--validator", node_id / "cert.pem", "--out", genesis,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    digest = decode_genesis(genesis.read_bytes()).hash.hex()
    assert f"genesis {genesis} (hash {digest}, suite standard)" in r.stdout.splitlines()[0], (
        r.stdout
    )
    home = base / "node"
    r = run("node", "init", "--home", home, "--identity", node_id, "--genesis", genesis)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        f"node node1 of org1 configured in {home}: start it with `tianfu node start --home {home}`"
    ], r.stdout


def test_a_reader_that_stops_early_gets_no_error_line(tmp_path):
    """`tianfu block list | head -1` (any reader closing the pipe before the output ends)
    made the command print `error: [Errno 32] Broken pipe` and exit 1, as if it had failed;
    or, when the pipe broke at the last flush, Python's 'Exception ignored' lines. The
    reader chose to stop: nothing on stderr."""
    import os
    import subprocess
    import sys

    assert run("ca", "create", "org1", "--out", tmp_path / "ca").exit_code == 0
    ident = tmp_path / "admin"
    r = run("identity", "issue", "--ca", tmp_path / "ca", "--name", "admin", "--kind", "admin",
            "--out", ident)  # fmt: skip
    assert r.exit_code == 0, r.output
    for extra in ([], ["--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tianfu", "identity", "show", str(ident), *extra],
                stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False,
            )  # fmt: skip
        finally:
            os.close(write_end)
        # No error line; the exit code is a closed pipe's (as for git, ls, grep), not 0:
        # see test_cli_broken_pipe.py.
        assert (done.returncode, done.stderr.decode()) == (common.PIPE_CLOSED_EXIT, ""), extra
