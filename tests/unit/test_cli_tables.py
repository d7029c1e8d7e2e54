"""The command line's tables at 80 columns, the width of a newcomer's terminal.

A hash was folded across two lines inside the table's borders (`9cbdeb6749c55a416156326ad31
31efd520ee3` / `964cf23c2e89ce8ec8ea400ee5`), which cannot be copied, and an event's data
was one JSON text, its Chinese as `\\u9f99` escapes. Text from the chain was read as Rich
markup: a name holding `[/x]` made every table showing it fail with a MarkupError
traceback, and `[bold]` vanished from the name shown."""

import json
import re

import pytest
from tests.unit.test_cli import node, run  # noqa: F401 - the in-process chain fixture

from tianfu.cli import tables

NARROW = {"COLUMNS": "80"}
HEX = re.compile(r"[0-9a-f]{24,}…?")
NAME = "[/x] 龙井 [bold]tea[/bold]"


def _lines(out: str) -> list[str]:
    return out.splitlines()


def _hexes_whole_or_marked(out: str, full: set[str]) -> list[str]:
    """Every run of hex digits in `out` is one of `full` whole, or a prefix of one ending
    in `…` (never a piece folded onto the next line); returns the shortened ones."""
    shortened = []
    for m in HEX.finditer(out):
        token = m.group(0)
        if token.endswith("…"):
            assert any(h.startswith(token[:-1]) for h in full), token
            shortened.append(token)
        else:
            assert token in full, (token, out)
    return shortened


def test_a_transaction_at_80_columns_keeps_its_hash_on_one_line(node, tmp_path):  # noqa: F811
    r = run("invoke", "kv", "put", NAME, "v", env=NARROW)
    assert r.exit_code == 0, r.output
    doc = json.loads(run("invoke", "kv", "put", NAME, "w", "--json").stdout)
    r = run("invoke", "kv", "put", NAME, "x", env=NARROW)
    assert r.exit_code == 0, r.output
    assert all(len(line) <= 80 for line in _lines(r.stdout)), r.stdout
    (tx_hash,) = (m.group(0) for m in re.finditer(r"[0-9a-f]{64}", r.stdout))
    assert tx_hash != doc["hash"] and len(tx_hash) == 64
    assert _hexes_whole_or_marked(r.stdout, {tx_hash}) == []
    assert tables.SHORTENED_NOTE not in r.stdout
    # the event's name and its data, a field a line, the text as written
    assert "kv.put" in r.stdout and NAME in r.stdout, r.stdout
    assert "\\u" not in r.stdout
    height = json.loads(run("tx", "show", tx_hash, "--json").stdout)["height"]
    r = run("block", "events", height, "--genesis", tmp_path / "genesis.bin", env=NARROW)
    assert r.exit_code == 0, r.output
    assert NAME in r.stdout and "\\u" not in r.stdout, r.stdout  # the data as written


def test_hashes_that_do_not_fit_are_cut_with_an_ellipsis_and_a_note(node):  # noqa: F811
    for n in range(3):
        assert run("invoke", "kv", "put", f"k{n}", n).exit_code == 0
    listed = json.loads(run("block", "list", "--json").stdout)
    hashes = {b["hash"] for b in listed}
    r = run("block", "list", env=NARROW)
    assert r.exit_code == 0, r.output
    assert all(len(line) <= 80 for line in _lines(r.stdout)), r.stdout
    shortened = _hexes_whole_or_marked(r.stdout, hashes)
    assert len(shortened) == len(listed), r.stdout  # one line per block, its hash cut
    assert r.stdout.rstrip().endswith(tables.SHORTENED_NOTE)
    height = listed[-1]["height"]
    shown = json.loads(run("block", "show", height, "--json").stdout)
    header = shown["header"]
    full = {v for v in header.values() if isinstance(v, str)} | set(shown["txs"])
    full |= {shown["hash"], header["last_commit"]["block_hash"]}
    full |= {s[k] for s in header["last_commit"]["signatures"] for k in ("validator", "signature")}
    r = run("block", "show", height, env=NARROW)
    assert r.exit_code == 0, r.output
    assert all(len(line) <= 80 for line in _lines(r.stdout)), r.stdout
    cut = _hexes_whole_or_marked(r.stdout, full)
    assert cut, r.stdout
    for key in ("prev_hash", "state_root", "validators_hash", "hash"):  # whole, to copy
        value = shown["hash"] if key == "hash" else header[key]
        lines = _lines(r.stdout)
        whole = f"  {key}: {value}" in lines or f"│ {value}" in r.stdout
        assert whole or f"  {key}:\n    {value}\n" in r.stdout, key
    assert all(len(line) <= 80 for line in _lines(r.stdout)), r.stdout
    # wide enough, every value is whole and there is no note
    r = run("block", "list", env={"COLUMNS": "200"})
    assert _hexes_whole_or_marked(r.stdout, hashes) == [] and tables.SHORTENED_NOTE not in r.stdout


@pytest.mark.parametrize("width", [60, 80, 120])
def test_text_from_the_chain_is_not_markup(capsys, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    tables.print_rows(NAME, ["name", "data"], [[NAME, {"名称": NAME, "list": [NAME, 1]}]])
    tables.print_fields(NAME, {"name": NAME, "event 1": tables.Event("a.b", {"k": NAME})})
    out = capsys.readouterr().out
    assert out.count(NAME) >= 4 or width < 80, out  # titles and cells, as written
    assert "[/x]" in out and "[bold]" in out and "名称" in out and "\\u" not in out


def test_long_lists_are_counted_not_printed_in_full(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    tables.print_fields("t", {"items": list(range(tables.LIST_ITEMS + 7))})
    out = capsys.readouterr().out
    assert "… 7 more (--json prints all)" in out


def test_up_demo_lines_are_not_broken_at_80_columns(monkeypatch, tmp_path):
    """`tianfu up --demo` printed its `try:` commands through Rich, which broke a command
    longer than the terminal onto the next line (`--genesis` / `/path/genesis.bin`), so a
    copied line ran without its file; a name or error holding `[/x]` failed as markup."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from tianfu.node import demo

    long_try = "try: tianfu app photo_sharing certificate PH000001 --out photo-cert.json " + (
        "--genesis .tianfu/localnet/genesis.bin"
    )

    def broken(env):
        raise ValueError("refused [/x]")

    apps = [
        SimpleNamespace(name="one", create_demo=lambda env: {}, describe=lambda s: [long_try]),
        SimpleNamespace(name="two [/x]", create_demo=broken, describe=lambda s: []),
    ]
    monkeypatch.setattr(demo, "APPLICATIONS", apps)
    monkeypatch.setattr(demo, "LocalnetEnv", lambda net: None)
    home = tmp_path / "a-rather-long-home-directory-for-the-local-network"
    config = SimpleNamespace(name="node1")
    net = SimpleNamespace(home=home, configs=[config], url=lambda c: "http://127.0.0.1:18851")
    out = io.StringIO()
    demo.create_demos(net, Console(file=out, width=80))
    lines = out.getvalue().splitlines()
    wanted = "  " + long_try.replace(demo.DEFAULT_GENESIS, str(home / "genesis.bin"))
    assert wanted in lines, lines
    assert "demo two [/x] failed: ValueError: refused [/x]" in lines, lines
    url = "http://127.0.0.1:18851"
    assert f"(this network's first node is {url}: add --url {url} to the commands above)" in lines


def test_open_proposals_fit_80_columns_with_their_ids_whole(node, tmp_path):  # noqa: F811
    """`gov list` printed every cell as JSON in seven columns: at 80 columns the proposal
    id was folded ('36debbcc8' / '846bddd'), 'rejections' split into 'rejection' / 's'
    and the arguments ran down the table a few letters a line."""
    from tests.unit.test_cli import as_admin

    src = tmp_path / "token.py"
    src.write_text("@view\ndef name(ctx):\n    return 'token'\n")
    r = run("contract", "propose", "token", src, "--json", env=as_admin(tmp_path))
    pid = json.loads(r.stdout)["result"]
    assert run("contract", "approve", pid, env=as_admin(tmp_path, "org2")).exit_code == 0
    r = run("gov", "list", env={**NARROW, **as_admin(tmp_path)})
    assert r.exit_code == 0, r.output
    lines = _lines(r.stdout)
    assert all(len(line) <= 80 for line in lines), r.stdout
    row = next(line for line in lines if pid in line)  # the id whole, on one line
    assert "pending" in row and "for: org2" in row, r.stdout
    assert "contract: name token" in r.stdout
    assert not any('["' in line or '{"' in line for line in lines), r.stdout  # no JSON


HISTORY = [
    [1, "Filed", None, "org1", "2026-12-07 09:34:40 CST", "", "", ""],
    [2, "Dispatched", "urban", "org1", "2026-12-07 09:34:40 CST", "", "", ""],
    [3, "Transferred", "water", "org2", "2026-12-07 09:34:41 CST", "blocked storm drain", "", ""],
    [4, "Handled", "water", "org3", "2026-12-07 09:34:41 CST", "", "", "drain cleared, relined"],
]
HISTORY_COLUMNS = ["#", "action", "dept", "by", "time", "reason", "note", "result"]


def test_a_table_of_many_columns_breaks_no_word_at_80_columns(capsys, monkeypatch):
    """Rich shrank every column alike: `tianfu app city_governance history` at 80 columns
    printed 'Dispatche' / 'd' and '2026-12-0' / '7' though every word fitted; a table of
    eleven counters (`stats`) cut its headings into 'tran' / 'sfer' / 'red_' / 'in'."""
    monkeypatch.setenv("COLUMNS", "80")
    tables.print_rows("history", HISTORY_COLUMNS, HISTORY)
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in _lines(out)), out
    words = {w for row in HISTORY for v in row if isinstance(v, str) for w in v.split()}
    for word in words | set(HISTORY_COLUMNS):
        assert re.search(rf"(^|[\s│┃]){re.escape(word)}($|[\s│┃])", out, re.M), (word, out)
    counters = ["dept"] + [f"counter_{n}" for n in range(10)]
    tables.print_rows("stats", counters, [["urban"] + list(range(10))])
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in _lines(out)), out
    for c in counters:  # too many for one line: a record, a field a line
        assert re.search(rf"│ {c}\s+│", out), (c, out)


def test_a_long_number_is_never_cut_and_a_big_mapping_is_counted(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    amount = 10**30  # 31 digits: not an id, all of it shown
    tables.print_fields("t", {"a fairly long field name": amount})
    out = capsys.readouterr().out
    assert "…" not in out and tables.SHORTENED_NOTE not in out
    assert str(amount) == "".join(re.findall(r"\d+", out)), out
    tables.print_fields("t", {"record": {f"k{i}": i for i in range(tables.LIST_ITEMS + 3)}})
    assert "3 more (--json prints" in capsys.readouterr().out


def test_in_a_pipe_no_value_is_cut_or_folded(node, capsys, monkeypatch):  # noqa: F811
    """Output that is not a terminal (`tianfu block list | grep HASH`, a script reading the
    table) had no width but Rich's 80 columns (or the width of the terminal on stdin): a
    block's hash was cut to `9cbdeb6749c5…` and a long name folded, so `grep` found neither.
    With COLUMNS unset, a pipe gets the table as wide as its values; no colour codes."""
    monkeypatch.delenv("COLUMNS", raising=False)
    name = "成都市锦江区水务局（Jinjiang District Water Bureau, drainage and flood control）"
    hexes = ["ab" * 32, "cd" * 32]
    tables.print_rows("t", ["hash", "name", "other"], [[hexes[0], name, hexes[1]]])
    tables.print_fields("f", {"hash": hexes[0], "name": name, "nested": {"key": hexes[1]}})
    out = capsys.readouterr().out
    assert "…" not in out and tables.SHORTENED_NOTE not in out, out
    assert out.count(hexes[0]) == 2 and out.count(hexes[1]) == 2 and out.count(name) == 2, out
    assert "\x1b[" not in out  # no colour codes
    for n in range(3):
        assert run("invoke", "kv", "put", f"k{n}", n).exit_code == 0
    hashes = {b["hash"] for b in json.loads(run("block", "list", "--json").stdout)}
    r = run("block", "list")
    assert r.exit_code == 0, r.output
    assert _hexes_whole_or_marked(r.stdout, hashes) == [], r.stdout
    assert all(h in r.stdout for h in hashes) and "\x1b[" not in r.stdout
    # COLUMNS still sets the width, as for a terminal
    r = run("block", "list", env=NARROW)
    assert all(len(line) <= 80 for line in _lines(r.stdout)) and "…" in r.stdout, r.stdout


def test_open_proposals_cut_only_hex_values_never_names_or_numbers(node, tmp_path):  # noqa: F811
    """`gov list` shortened every argument longer than 16 characters without a space to 8
    and `…`: an organisation named `sichuan-provincial-finance` read `sichuan-…` (as would
    `sichuan-health-commission`), a power of 10**17 `10000000…`; only a key or hash is."""
    from tests.unit.test_cli import as_admin

    from tianfu.cli.governance_cmds import _subject
    from tianfu.identity import OrgCA
    from tianfu.identity.certs import der_to_pem

    org = "sichuan-provincial-finance"
    (tmp_path / "ca5.pem").write_bytes(der_to_pem(OrgCA.create(org).cert_der))
    r = run("gov", "propose", "add-org", org, "--ca", tmp_path / "ca5.pem", env=as_admin(tmp_path))
    assert r.exit_code == 0, r.output
    r = run("gov", "list", env={**NARROW, **as_admin(tmp_path)})
    assert r.exit_code == 0, r.output
    assert all(len(line) <= 80 for line in _lines(r.stdout)), r.stdout
    assert org in r.stdout and "sichuan-…" not in r.stdout, r.stdout
    key = "ab" * 32
    subject = _subject({"name": "node-sichuan-finance-01", "power": 10**17, "public_key": key})
    assert subject == f"name node-sichuan-finance-01, power {10**17}, public_key abababab…"
    assert _subject({"roles": ["regulator-office"]}) == 'roles ["regulator-office"]'


def test_a_chinese_heading_is_not_broken(capsys, monkeypatch):
    """A column's least width counted a heading's characters, not the terminal cells they
    take: a Chinese heading (two cells a character) got half its width and was broken in
    the middle ('产品名' / '称代码')."""
    monkeypatch.setenv("COLUMNS", "80")
    tables.print_rows("t", ["产品名称代码", "状态"], [["TEA-1", "ok"], ["TEA-2", "已召回"]])
    out = capsys.readouterr().out
    assert "产品名称代码" in out and "已召回" in out, out


@pytest.mark.parametrize("columns_env", [None, "80"])
def test_a_heading_of_several_words_is_on_one_line_when_there_is_room(
    capsys, monkeypatch, columns_env
):
    """A column was at most as wide as the longest word of its heading or of its values:
    `tianfu gov list` printed the heading 'expires at' as 'expires' over 'at' in a pipe (no
    width limit) and at 80 columns with room to spare, a two-line header that `grep`, `awk`
    and readers split wrongly."""
    if columns_env is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns_env)
    columns = ["id", "status", "votes", "expires at", "proposes"]
    tables.print_rows("open proposals", columns, [["ab" * 8, "pending", "for: org2", 10371, "x"]])
    out = capsys.readouterr().out
    heading = next(line for line in _lines(out) if "id" in line and "status" in line)
    assert all(re.search(rf"┃ {c}\s*┃", heading) for c in columns), out
