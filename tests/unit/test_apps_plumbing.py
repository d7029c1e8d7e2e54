"""The plumbing every application shares: the registry, the command tables against the
contracts, readable values, the scenario runner's refusal check, and the layering (the
applications never import the command line)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tianfu
from tianfu.apps.common import readable
from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.inputs import address, fields, hash_or_file, time_ms
from tianfu.apps.common.scenario import Scenario, ScenarioFailed
from tianfu.apps.registry import APPLICATIONS, NAMES, application
from tianfu.cli.main import app as tianfu_app
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

APPS_DIR = Path(tianfu.__file__).parent / "apps"


def test_the_registry_lists_every_application_package_once() -> None:
    packages = sorted(p.name for p in APPS_DIR.iterdir() if (p / "contract.py").exists())
    assert sorted(NAMES) == packages
    assert len(set(NAMES)) == len(NAMES)
    with pytest.raises(KeyError):
        application("no_such_app")


@pytest.mark.parametrize("name", NAMES)
def test_every_command_calls_a_method_or_view_of_its_contract(name: str) -> None:
    entry = application(name)
    compiled = compile_contract(entry.source())
    table = entry.commands
    assert table.contract == name
    names = [c.name for c in table.commands]
    assert len(set(names)) == len(names), "a command name is listed twice"
    for command in table.commands:
        if command.kind == "tx":
            assert command.contract_method in compiled.methods, command.name
            assert command.contract_method not in compiled.views, command.name
        elif command.kind == "view":
            assert command.contract_method in compiled.views, command.name
        else:
            assert command.run is not None, command.name
        assert command.help, f"{command.name} has no help"


def test_tianfu_app_help_lists_every_application() -> None:
    out = CliRunner().invoke(tianfu_app, ["app", "--help"], terminal_width=200).stdout
    for name in NAMES:
        assert name in out
    for entry in APPLICATIONS:
        r = CliRunner().invoke(tianfu_app, ["app", entry.name, "--help"], terminal_width=200)
        assert r.exit_code == 0
        for command in entry.commands.commands:
            assert command.name in r.stdout


def test_readable_amounts_times_and_durations() -> None:
    assert readable.yuan(0) == "0.00" and readable.yuan(5) == "0.05"
    assert readable.yuan(123_456_789) == "1,234,567.89" and readable.yuan(-150) == "-1.50"
    shanghai = readable.zone("Asia/Shanghai")
    assert readable.date(0, shanghai) == "1970-01-01 08:00:00 CST"
    assert readable.duration(90_061_000) == "1d 1h 1m 1s" and readable.duration(250) == "250 ms"
    spec = readable.Readable(money=frozenset({"amount"}), durations=frozenset({"late_ms"}))
    shown = spec.tree(
        {
            "amount": 1050,
            "fee_fen": 1,
            "at_ms": 0,
            "late_ms": 60_000,
            "n": 3,
            "ok": True,
            "parts": [{"amount": 1}],
            "amounts": None,
        },
        shanghai,
    )
    assert shown == {
        "amount": "10.50 yuan",
        "fee_fen": "0.01 yuan",
        "at_ms": "1970-01-01 08:00:00 CST",
        "late_ms": "1m",
        "n": 3,
        "ok": True,
        "parts": [{"amount": "0.01 yuan"}],
        "amounts": None,
    }
    with pytest.raises(BadInput, match="unknown time zone"):
        readable.zone("Nowhere/Atlantis")


def test_inputs(tmp_path: Path) -> None:
    assert address("ab" * 20) == "ab" * 20
    with pytest.raises(BadInput, match="neither an address"):
        address("xyz")
    assert time_ms("2024-01-01") == 1_704_067_200_000
    assert time_ms("2024-01-01T08:00+08:00") == 1_704_067_200_000
    with pytest.raises(BadInput, match="bad time"):
        time_ms("tomorrow")
    f = tmp_path / "doc.txt"
    f.write_bytes(b"abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_or_file(str(f)) == digest and hash_or_file(digest) == digest
    with pytest.raises(BadInput):
        hash_or_file(str(tmp_path / "missing"))
    assert fields(["a=1", "b=x", "c=[1]"], "field") == {"a": 1, "b": "x", "c": [1]}
    with pytest.raises(BadInput, match="KEY=VALUE"):
        fields(["novalue"], "field")


def test_the_scenario_runner_catches_accepted_and_state_changing_refusals(tmp_path: Path) -> None:
    from tianfu.contracts.examples import example_source

    chain = AppChain(tmp_path)
    try:
        run = Scenario(chain, [("asset", lambda: example_source("asset"))])
        chain.deploy("asset", example_source("asset"))
        admin = chain.admin("org1")
        chain.grant(admin, "minter")
        c = chain.client(admin)
        run.watch(lambda: c.query("asset", "balance", admin.info.address))
        error = run.refused(lambda: c.invoke("asset", "transfer", "bb" * 20, 5), "insufficient")
        assert "insufficient" in error
        with pytest.raises(ScenarioFailed, match="accepted"):
            run.refused(lambda: c.invoke("asset", "mint", admin.info.address, 5), "x")
        with pytest.raises(ScenarioFailed, match="does not mention"):
            run.refused(lambda: c.invoke("asset", "transfer", "bb" * 20, 50), "some other reason")
        # A change the watched view does not show is still seen in the contract's state.
        run.watch(lambda: None)
        with pytest.raises(ScenarioFailed, match="accepted"):
            run.refused(lambda: c.invoke("asset", "mint", "cc" * 20, 1), "x")
    finally:
        chain.close()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_applications_import_neither_the_command_line_nor_test_helpers() -> None:
    for path in APPS_DIR.rglob("*.py"):
        if path.name == "contract.py":
            continue  # sandboxed sources import nothing (the sandbox refuses any import)
        bad = [
            m
            for m in _imports(path)
            if m.split(".")[:2] in (["tianfu", "cli"], ["tianfu", "testing"])
            or m.split(".")[0] in ("typer", "importlib")
        ]
        assert not bad, f"{path.relative_to(APPS_DIR)} imports {bad}"
    demo = Path(tianfu.__file__).parent / "node" / "demo.py"
    assert "importlib" not in _imports(demo)
