"""`tianfu app <name> ...`: every application's command table turned into Typer commands.

A table (`tianfu.apps.common.commands.CommandTable`) says what each command takes and does;
this module gives each one the conventions of every `tianfu` command — `--url`,
`--identity`, `--json`, errors as one line on stderr, exit codes 0 / 1 / 2 — and prints its
result: raw values with `--json`, amounts in yuan and block times as dates otherwise.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from tianfu.api.render import jsonable
from tianfu.apps.common import errors
from tianfu.apps.common.commands import REQUIRED, Command, CommandTable, Param
from tianfu.apps.common.display import Display, Fields, Json, Output, Rows, Text
from tianfu.apps.registry import APPLICATIONS, application
from tianfu.cli import common
from tianfu.cli.common import CommandGroup
from tianfu.client import DEFAULT_URL, Client
from tianfu.types import Genesis


class _Session:
    """What a custom command may use: clients of --url, the trusted genesis, warnings."""

    def __init__(self, url: str, identity: Path | None) -> None:
        self.url = url
        self.identity = identity

    def client(self, *, signed: bool = False) -> Client:
        return common.make_client(self.url, self.identity if signed else None, need_identity=signed)

    def genesis(self, path: Path | None) -> Genesis:
        if path is not None:
            return common.load_genesis_file(path)
        return common.trusted_genesis(self.client(), None)

    def load_genesis(self, path: Path) -> Genesis:
        return common.load_genesis_file(path)

    def warn(self, text: str) -> None:
        typer.echo(f"warning: {text}", err=True)


# -- output ----------------------------------------------------------------------------------
def show(table: CommandTable, items: tuple[Display, ...]) -> None:
    """Print displays for people, every amount, time and duration made readable."""
    readable = table.readable
    for item in items:
        if isinstance(item, Text):
            typer.echo(item.text)
        elif isinstance(item, Json):
            typer.echo(
                json.dumps(jsonable(readable.tree(item.value)), indent=2, ensure_ascii=False)
            )
        elif isinstance(item, Fields):
            common.print_fields(item.title, readable.tree(dict(item.values)))
        elif isinstance(item, Rows):
            rows = [readable.tree({c: row.get(c, "") for c in item.columns}) for row in item.rows]
            headers = list(item.headers or item.columns)
            common.print_rows(item.title, headers, [[r[c] for c in item.columns] for r in rows])


def _view_displays(command: Command, title: str, result: Any) -> tuple[Display, ...]:
    if command.show == "rows" and isinstance(result, list):
        rows = [r if isinstance(r, dict) else {} for r in result]
        return (Rows(title, command.columns, rows, command.headers),)
    if command.show == "fields" and isinstance(result, dict):
        return (Fields(title, result),)
    return (Json(result),)


# -- running one command ---------------------------------------------------------------------
def _run(table: CommandTable, command: Command, kw: dict[str, Any]) -> None:
    as_json = bool(kw.pop("as_json", False))
    url = kw.pop("url", DEFAULT_URL)
    identity = kw.pop("identity", None)
    with common.handle_errors():
        values = {}
        for p in command.params:
            value = kw[p.name]
            values[p.name] = p.parse(value) if p.parse is not None and value is not None else value
        if command.kind == "tx":
            _send(table, command, values, url, identity, as_json)
            return
        if command.kind == "view":
            result = common.make_client(url).query(
                table.contract, command.contract_method, *command.contract_args(values)
            )
            if result is None and command.missing:
                raise errors.CommandFailed(command.missing.format(**values))
            title = command.title.format(**values) if command.title else command.contract_method
            output = Output(
                {"result": result} if table.wrap_json else result,
                _view_displays(command, title, result),
            )
        else:
            if command.run is None:
                raise errors.CommandFailed(f"command {command.name} has nothing to run")
            output = command.run(_Session(url, identity), values)
        if as_json:
            common.print_json(output.data)
        else:
            show(table, output.display)


def _send(
    table: CommandTable,
    command: Command,
    values: dict[str, Any],
    url: str,
    identity: Path | None,
    as_json: bool,
) -> None:
    client = common.make_client(url, identity, need_identity=True)
    args = command.contract_args(values)
    result = client.invoke(table.contract, command.contract_method, *args, check=False)
    refusal = command.verdict(result.result) if command.verdict is not None else None
    try:
        common.report_result(result, as_json, readable=table.readable.tree)
    except BrokenPipeError:
        if not refusal:
            raise
        # the reader is gone; the refusal is still the command's outcome: exit 1
    if refusal:
        typer.echo(refusal, err=True)
        raise typer.Exit(1)


# -- building the Typer commands -------------------------------------------------------------
def _parameter(p: Param) -> inspect.Parameter:
    info = (
        typer.Option(p.option, help=p.help, min=p.min)
        if p.option
        else typer.Argument(help=p.help, min=p.min)
    )
    default = inspect.Parameter.empty if p.default is REQUIRED else p.default
    return inspect.Parameter(
        p.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[p.type, info]
    )


def command_function(table: CommandTable, command: Command) -> Callable[..., None]:
    """A function Typer reads as the command: its signature is the table's parameters plus
    the common options the command takes."""

    def callback(**kw: Any) -> None:
        _run(table, command, kw)

    params = [_parameter(p) for p in command.params]
    params += [common.NODE_OPTIONS[o] for o in ("url", "identity", "json") if o in command.options]
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__name__ = command.name.replace("-", "_")
    callback.__doc__ = command.help
    return callback


def typer_app(table: CommandTable) -> typer.Typer:
    """One application's `tianfu app <name>` group."""
    help_text = "\n\n".join([table.help, *table.notes])
    group = CommandGroup(help_text, add_completion=False)
    for command in table.commands:
        group.command(command.name, help=command.help)(command_function(table, command))
    return group


def app_cli(name: str) -> typer.Typer:
    """The `tianfu app <name>` group of the application called `name`."""
    return typer_app(application(name).commands)


def register(root: typer.Typer) -> None:
    """`tianfu app <name> ...` for every application (and the top-level aliases some have)."""
    group = CommandGroup("The industry applications.")
    for app in APPLICATIONS:
        sub = typer_app(app.commands)
        group.add_typer(sub, name=app.name, help=app.commands.help)
        if app.alias:
            root.add_typer(sub, name=app.alias, help=app.commands.help)
    root.add_typer(group, name="app")
