"""Command tables: an application's command line declared as data.

Each application lists its commands once — name, help, arguments with their types and
parsers, whether it signs a transaction or reads a view, and how its result reads — and
`tianfu.cli.apps` turns the table into `tianfu app <name> ...` with the conventions of every
`tianfu` command: `--url`, `--identity`, `--json`, exit codes 0 / 1 (refused or failed) /
2 (usage error). Nothing here imports the command-line library, so the tables can be read
by the CLI, the docs checks and the tests alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from tianfu.apps.common.display import Fields, Output, Text
from tianfu.apps.common.errors import BadInput, CommandFailed
from tianfu.apps.common.readable import PLAIN, Readable
from tianfu.apps.common.sdk import ContractSDK
from tianfu.client import Client
from tianfu.types import Genesis

REQUIRED: Any = ...  # a parameter without a default
Kind = Literal["tx", "view", "run"]
Show = Literal["json", "fields", "rows"]


@dataclass(frozen=True)
class Param:
    """One argument (positional) or option (`option` set) of a command."""

    name: str  # the Python name; the value's key in the parsed values
    type: Any = str  # str, int, bool, Path, list[str], list[int], X | None
    help: str = ""
    default: Any = REQUIRED
    option: str | None = None  # "--maturity", "--exclusive/--non-exclusive"; None: positional
    parse: Callable[[Any], Any] | None = None  # raises BadInput for a value it cannot use
    min: int | None = None


def arg(
    name: str,
    type: Any = str,  # noqa: A002 - mirrors Param.type
    help: str = "",  # noqa: A002
    *,
    default: Any = REQUIRED,
    parse: Callable[[Any], Any] | None = None,
) -> Param:
    """A positional argument."""
    return Param(name, type, help, default, None, parse)


def opt(
    name: str,
    type: Any = str,  # noqa: A002
    help: str = "",  # noqa: A002
    *,
    default: Any = REQUIRED,
    flag: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    min: int | None = None,  # noqa: A002
) -> Param:
    """An option, `--name-with-dashes` unless `flag` names it."""
    return Param(name, type, help, default, flag or "--" + name.replace("_", "-"), parse, min)


def repeated(name: str, help: str) -> Param:  # noqa: A002
    """An option that may be given several times: its values as a list (None when absent)."""
    return opt(name, list[str] | None, help, default=None)


TRUSTED_GENESIS = opt(
    "genesis",
    Path | None,
    "Trusted genesis file: genesis.bin, or the JSON of GET /v1/genesis. "
    "Without it the genesis is fetched from the node, which is then trusted for it.",
    default=None,
)


class Session(Protocol):
    """What a custom command may use; the command line provides it."""

    def client(self, *, signed: bool = False) -> Client:
        """A client of the node at --url (signing with --identity when `signed`)."""
        ...

    def genesis(self, path: Path | None) -> Genesis:
        """The trust anchor: the genesis file, else the node's own (with a warning)."""
        ...

    def load_genesis(self, path: Path) -> Genesis:
        """A genesis file (canonical bytes, or the JSON of GET /v1/genesis)."""
        ...

    def warn(self, text: str) -> None:
        """A warning on stderr."""
        ...


@dataclass(frozen=True)
class Command:
    """One command of an application's table."""

    name: str
    help: str
    kind: Kind
    params: tuple[Param, ...] = ()
    method: str = ""  # the contract method; default: the name with "-" as "_"
    # The contract's arguments from the parsed values; default: the values in param order.
    args: Callable[[dict[str, Any]], list[Any]] | None = None
    show: Show = "json"  # how a view's result reads
    columns: tuple[str, ...] = ()  # for show="rows"
    headers: tuple[str, ...] = ()  # the columns' headings, if not the columns' keys
    title: str = ""  # str.format()ted with the values; default: the method
    missing: str = ""  # a view's None result is a failure with this message (formatted)
    verdict: Callable[[Any], str | None] | None = None  # tx: a refusal message for a result
    run: Callable[[Session, dict[str, Any]], Output] | None = None  # kind "run"
    uses: frozenset[str] = frozenset()  # kind "run": of "url", "identity", "json"

    @property
    def contract_method(self) -> str:
        return self.method or self.name.replace("-", "_")

    def contract_args(self, values: dict[str, Any]) -> list[Any]:
        if self.args is not None:
            return self.args(values)
        return [values[p.name] for p in self.params]

    @property
    def options(self) -> frozenset[str]:
        """The common options it takes: url, identity, json."""
        if self.kind == "tx":
            return frozenset({"url", "identity", "json"})
        if self.kind == "view":
            return frozenset({"url", "json"})
        return self.uses


def in_order(*names: str) -> Callable[[dict[str, Any]], list[Any]]:
    """A command's contract arguments: the named values in this order (for a method whose
    arguments are not in the command line's order: arguments first, then options)."""
    return lambda values: [values[n] for n in names]


def tx(name: str, help: str, *params: Param, **kw: Any) -> Command:  # noqa: A002
    """A command that signs and sends a transaction calling a contract method."""
    return Command(name, help, "tx", params, **kw)


def view(name: str, help: str, *params: Param, **kw: Any) -> Command:  # noqa: A002
    """A command that reads a contract view."""
    return Command(name, help, "view", params, **kw)


Column = str | tuple[str, str]  # a record's key, or (key, heading) for a column headed otherwise
NUMBER = ("n", "#")  # a record's number in its list
TIME = ("time_ms", "time")  # the block time it was written at


def headed(columns: tuple[Column, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys of `columns` and their headings (none when every column is headed by its key)."""
    keys = tuple(c if isinstance(c, str) else c[0] for c in columns)
    headings = tuple(c if isinstance(c, str) else c[1] for c in columns)
    return keys, () if headings == keys else headings


def table_view(
    name: str,
    help: str,  # noqa: A002
    *params: Param,
    columns: tuple[Column, ...],
    **kw: Any,
) -> Command:
    """A view whose result (a list of records) reads as a table of `columns`."""
    keys, headings = headed(columns)
    return Command(name, help, "view", params, show="rows", columns=keys, headers=headings, **kw)


def record_view(name: str, help: str, *params: Param, **kw: Any) -> Command:  # noqa: A002
    """A view whose result (one record) reads as a table of its fields."""
    return Command(name, help, "view", params, show="fields", **kw)


def custom(
    name: str,
    help: str,  # noqa: A002
    run: Callable[[Session, dict[str, Any]], Output],
    *params: Param,
    uses: tuple[str, ...] = ("url", "json"),
) -> Command:
    """A command that runs `run` (SDK calls, local computation, offline verification)."""
    return Command(name, help, "run", params, run=run, uses=frozenset(uses))


@dataclass(frozen=True)
class CommandTable:
    """An application's command line: `tianfu app <name> <command> ...`."""

    contract: str
    help: str
    commands: tuple[Command, ...]
    readable: Readable = PLAIN
    wrap_json: bool = False  # a view's --json output is {"result": value} (else the value)
    notes: tuple[str, ...] = field(default=())  # lines added to the group's --help

    def command(self, name: str) -> Command:
        for c in self.commands:
            if c.name == name:
                return c
        raise KeyError(name)


def printed(
    compute: Callable[..., str], *names: str
) -> Callable[[Session, dict[str, Any]], Output]:
    """A local command's run: `compute` of the named values, printed as a line (a
    ValueError it raises refuses one of those values: a usage error, exit code 2)."""

    def run(session: Session, values: dict[str, Any]) -> Output:
        try:
            text = compute(*[values[n] for n in names])
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        return Output(text, (Text(text),))

    return run


def record_with(
    sdk: type[ContractSDK], id_name: str, noun: str, *related: str
) -> Callable[[Session, dict[str, Any]], Output]:
    """A `show` command's run: the record `get(id)` of the value `id_name` with the SDK's
    views `related` of the same id beside it, as one table (an unknown id is a failure:
    "unknown <noun> <id>")."""

    def run(session: Session, values: dict[str, Any]) -> Output:
        app = sdk(session.client())
        record_id = values[id_name]
        record = app.get(record_id)  # type: ignore[attr-defined]
        if record is None:
            raise CommandFailed(f"unknown {noun} {record_id}")
        doc = {**record, **{name: getattr(app, name)(record_id) for name in related}}
        return Output(doc, (Fields(f"{noun} {record_id}", doc),))

    return run
