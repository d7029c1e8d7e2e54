"""Unit tests: `node_command` / `CommandGroup` (the shared --url/--identity/--json options and
error handling of the CLI's node commands), `grouped_command` / `option_group` (a dataclass
of options shared by several commands) and `node_files`."""

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from tianfu.cli.common import (
    CommandGroup,
    Node,
    UsageProblem,
    grouped_command,
    node_command,
    node_files,
    option_group,
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


@dataclass(frozen=True)
class Shared:
    size: Annotated[int, typer.Option("--size", min=1, help="How many.")] = 3
    label: Annotated[str, typer.Option("--label", help="What to call it.")] = "x"


def test_a_dataclass_of_options_is_shared_by_commands_and_reaches_each_as_one_value() -> None:
    options = option_group(Shared)
    assert list(options) == ["size", "label"]
    assert [p.default for p in options.values()] == [3, "x"]
    seen: list[tuple[Shared, dict[str, object]]] = []
    group = CommandGroup("Shared options.")

    @group.command("one")
    @grouped_command(Shared, options, "size", "own", "label")
    def one(shared: Shared, name: str, own: Annotated[bool, typer.Option("--own")] = False) -> None:
        seen.append((shared, {"name": name, "own": own}))

    @group.command("two")
    @grouped_command(Shared, options, *options)
    def two(shared: Shared, count: Annotated[int, typer.Option("--count")] = 0) -> None:
        seen.append((shared, {"count": count}))

    assert list(inspect.signature(one).parameters) == ["name", "size", "own", "label"]
    assert list(inspect.signature(two).parameters) == ["count", "size", "label"]
    assert runner.invoke(group, ["one", "n", "--own", "--label", "y"]).exit_code == 0
    assert runner.invoke(group, ["two", "--size", "7", "--count", "2"]).exit_code == 0
    assert seen == [
        (Shared(3, "y"), {"name": "n", "own": True}),
        (Shared(7, "x"), {"count": 2}),
    ]
    r = runner.invoke(group, ["two", "--size", "0"])
    assert r.exit_code == 2  # the option's own checks still apply
    r = runner.invoke(group, ["one", "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})
    positions = [r.output.index(name) for name in ("--size", "--own", "--label")]
    assert positions == sorted(positions)


def test_node_files_are_in_the_nodes_home(tmp_path: Path) -> None:
    files = node_files(tmp_path / "n1")
    assert files == {
        "home": tmp_path / "n1",
        "genesis": (tmp_path / "n1" / "genesis.bin").resolve(),
        "identity": (tmp_path / "n1" / "identity").resolve(),
        "data": (tmp_path / "n1" / "data").resolve(),
    }
