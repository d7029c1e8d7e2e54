"""Unit tests: `node_command` / `CommandGroup` (the shared --url/--identity/--json options and
error handling of the CLI's node commands) and `node_files`."""

import inspect
from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from tianfu.cli.common import (
    CommandGroup,
    Node,
    UsageProblem,
    node_command,
    node_files,
)
from tianfu.client import DEFAULT_URL

runner = CliRunner()


def _group() -> tuple[CommandGroup, list[tuple[Node, dict[str, object]]]]:
    seen: list[tuple[Node, dict[str, object]]] = []
    group = CommandGroup("A test group.")

    @group.node_command("send", "url", "identity", "wait", "json")
    def send(
        node: Node,
        target: str,
        wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait.")] = True,
    ) -> None:
        """Send something."""
        seen.append((node, {"target": target, "wait": wait}))

    @group.node_command("fail", "url")
    def fail(node: Node, how: str) -> None:
        """Fail as asked."""
        if how == "usage":
            raise UsageProblem("bad input")
        raise ValueError("it broke")

    return group, seen


def test_options_follow_the_commands_own_parameters_in_the_order_given() -> None:
    @node_command("identity", "url", "json")
    def body(node: Node, a: str, b: int = 1) -> None:
        """Doc."""

    params = inspect.signature(body).parameters
    assert list(params) == ["a", "b", "identity", "url", "as_json"]
    assert params["url"].default == DEFAULT_URL
    assert params["identity"].default is None
    assert params["as_json"].default is False
    assert body.__doc__ == "Doc."


def test_the_options_reach_the_body_as_one_node(tmp_path: Path) -> None:
    group, seen = _group()
    r = runner.invoke(group, ["send", "x", "--url", "http://n:1", "--identity", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert seen == [(Node("http://n:1", tmp_path, False), {"target": "x", "wait": True})]
    r = runner.invoke(group, ["send", "y", "--no-wait", "--json"])
    assert r.exit_code == 0, r.output
    assert seen[-1] == (Node(DEFAULT_URL, None, True), {"target": "y", "wait": False})


def test_an_option_of_the_body_is_placed_among_the_node_options() -> None:
    group, _seen = _group()
    r = runner.invoke(group, ["send", "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert r.exit_code == 0
    shown = [name for name in ("--url", "--identity", "--wait", "--json") if name in r.output]
    assert shown == ["--url", "--identity", "--wait", "--json"]
    positions = [r.output.index(name) for name in shown]
    assert positions == sorted(positions)


def test_expected_failures_become_one_error_line_and_an_exit_code() -> None:
    group, _seen = _group()
    r = runner.invoke(group, ["fail", "usage"])
    assert r.exit_code == 2
    assert r.output.strip() == "error: bad input"
    r = runner.invoke(group, ["fail", "other"])
    assert r.exit_code == 1
    assert r.output.strip() == "error: it broke"


def test_a_group_called_alone_shows_its_help() -> None:
    group, _seen = _group()
    r = runner.invoke(group, [])
    assert "A test group." in r.output
    assert "send" in r.output and "fail" in r.output


def test_node_files_are_in_the_nodes_home(tmp_path: Path) -> None:
    files = node_files(tmp_path / "n1")
    assert files == {
        "home": tmp_path / "n1",
        "genesis": (tmp_path / "n1" / "genesis.bin").resolve(),
        "identity": (tmp_path / "n1" / "identity").resolve(),
        "data": (tmp_path / "n1" / "data").resolve(),
    }
