"""Shared pieces of the command line: options, client construction, output and error handling.

The error handling (exit codes, the one line on stderr, a reader that closed the pipe) is in
`tianfu.cli.errors`; the commands import it through this module, as they import
`print_rows` from `tianfu.cli.tables`.
"""

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Optional, TypedDict, get_type_hints

import typer
from typer.core import TyperCommand, TyperGroup

from tianfu.api.render import jsonable
from tianfu.apps.common.inputs import json_value
from tianfu.apps.common.readable import counted
from tianfu.cli.errors import NO_NODE_HINT as NO_NODE_HINT
from tianfu.cli.errors import NO_PATH_HINT as NO_PATH_HINT
from tianfu.cli.errors import PIPE_CLOSED_EXIT as PIPE_CLOSED_EXIT
from tianfu.cli.errors import UNKNOWN_CONTRACT_HINT as UNKNOWN_CONTRACT_HINT
from tianfu.cli.errors import CommandFailed as CommandFailed
from tianfu.cli.errors import UsageProblem as UsageProblem
from tianfu.cli.errors import handle_errors as handle_errors
from tianfu.cli.tables import Event, print_fields
from tianfu.cli.tables import print_rows as print_rows  # the commands print through common
from tianfu.client import DEFAULT_URL, Client, InvalidUrl, Result
from tianfu.client.transport import check_url
from tianfu.codec import CodecError
from tianfu.crypto import ECDSA_P256, ED25519, SM2
from tianfu.types import Genesis
from tianfu.types.genesis import decode_genesis

UrlOpt = Annotated[str, typer.Option("--url", envvar="TIANFU_URL", help="URL of the node's API.")]
IdentityOpt = Annotated[
    Optional[Path],  # noqa: UP045 (typer needs Optional on 3.11)
    typer.Option(
        "--identity",
        envvar="TIANFU_IDENTITY",
        help="Identity directory (key.pem, cert.pem, ca.pem).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
GenesisOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--genesis",
        help="Trusted genesis file: genesis.bin, or the JSON of GET /v1/genesis. "
        "Without it the genesis is fetched from the node, which is then trusted for it.",
    ),
]
SCHEMES = {"ed25519": ED25519, "ecdsa-p256": ECDSA_P256, "sm2": SM2}
SchemeOpt = Annotated[
    str,
    typer.Option(
        "--scheme",
        help="Signature scheme: ed25519, ecdsa-p256 (the standard suite: SHA-256 hashes) or "
        "sm2 (the SM2/SM3 suite: SM2 signatures, SM3 hashes).",
    ),
]


# Tests replace this to run the CLI against an in-process node.
client_factory: Callable[..., Client] = Client


def scheme_of(name: str) -> int:
    try:
        return SCHEMES[name.lower()]
    except KeyError:
        raise UsageProblem(f"unknown scheme {name!r}; use one of {', '.join(SCHEMES)}") from None


# A contract argument: JSON when it parses as JSON, else the plain string (BadInput: exit 2).
parse_arg = json_value

# For commands taking contract arguments: a word starting with "-" that is not one of the
# command's options reaches the arguments (so `invoke c m -5` passes the number -5), and
# `contract_args` refuses the ones that are not numbers.
CONTRACT_ARGS = {"context_settings": {"ignore_unknown_options": True}}


def contract_args(args: list[str] | None) -> list[Any]:
    """The contract arguments of `invoke`/`query`, each parsed by `parse_arg`; a word that
    looks like an option and is not a number is a usage error (exit 2)."""
    values = []
    for a in args or []:
        if a.startswith("-") and len(a) > 1:
            try:
                float(a)
            except ValueError:
                raise UsageProblem(
                    f"no such option: {a} (an argument starting with '-' must be a number;"
                    " pass other strings as JSON, e.g. '\"-x\"')"
                ) from None
        values.append(parse_arg(a))
    return values


def tx_hash_arg(text: str) -> str:
    """A transaction hash given on the command line: 64 hex digits, else a usage error."""
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise UsageProblem(
            f"not a transaction hash: {text!r} (64 hex digits, as `tianfu invoke` prints it)"
        )
    return text.lower()


def height_value(text: str) -> int:
    """A block height on the command line: N, or -N counting back from the latest block
    (-1 is the latest). A word starting with "-" that is not a number is a mistyped option."""
    try:
        return int(text, 10)
    except ValueError:
        if text.startswith("-"):
            raise typer.BadParameter(f"no such option: {text}") from None
        raise typer.BadParameter(
            f"{text!r} is not a height (N, or -N counting back from the latest block)"
        ) from None


class HeightCommand(TyperCommand):
    """A command taking a HEIGHT argument: unknown options reach the arguments (so that `-1`
    is a height), except a mistyped long option, which is named as one (`--jsn`; it was
    reported as 'unexpected extra argument')."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        known = {o for p in self.params for o in (*p.opts, *p.secondary_opts)}
        known.update(ctx.help_option_names)
        for a in args:
            if a == "--":
                break
            if a.startswith("--") and a.split("=", 1)[0] not in known:
                ctx.fail(f"no such option: {a.split('=', 1)[0]}")
        result: list[str] = super().parse_args(ctx, args)
        return result


# For commands taking a HEIGHT argument: `-1` reaches it as a number (click would take it for
# an unknown option), and `height_value` names any other "-word" as an option that does not
# exist.
HEIGHT_ARGS: dict[str, Any] = {
    "context_settings": {"ignore_unknown_options": True},
    "cls": HeightCommand,
}
HeightArg = Annotated[
    int,
    typer.Argument(
        parser=height_value,
        metavar="HEIGHT",
        help="A block height, or -N counting back from the latest block (-1: the latest).",
        show_default=False,
    ),
]


def chain_height(client: Client, height: int) -> int:
    """`height` as given, or for -N the height N blocks back from the node's latest (-1 is
    the latest); counting back past the first block, or block 0, is a usage error naming
    the range."""
    if height == 0:
        raise UsageProblem(
            "block heights start at 1: the genesis is not a block (`tianfu validators "
            "--genesis FILE` shows its validators; -1 is the latest block)"
        )
    if height > 0:
        return height
    tip = client.status()["height"]
    if tip + 1 + height < 1:
        raise UsageProblem(
            f"block {height} is before the first: the chain has {counted(tip, 'block')} "
            "(-1 is the latest" + (f", -{tip} the first)" if tip > 1 else ")")
        )
    return int(tip + 1 + height)


def load_identity(path: Path | None, required: bool = True) -> Any:
    if path is None:
        if required:
            raise UsageProblem("no identity: pass --identity DIR or set TIANFU_IDENTITY")
        return None
    from tianfu.identity import Identity

    return Identity.load(path)


def make_client(
    url: str,
    identity: Path | None = None,
    *,
    need_identity: bool = False,
    genesis: Genesis | None = None,
) -> Client:
    try:
        url = check_url(url or DEFAULT_URL)
    except InvalidUrl as exc:
        raise UsageProblem(f"--url: {exc}") from None
    return client_factory(url, identity=load_identity(identity, need_identity), genesis=genesis)


def load_genesis_file(path: Path) -> Genesis:
    """A genesis from canonical bytes, from the JSON of GET /v1/genesis, or from hex text."""
    data = path.read_bytes()
    try:
        return decode_genesis(data)
    except CodecError as first:
        try:
            doc = json.loads(data)
            raw = bytes.fromhex(doc["raw"]) if isinstance(doc, dict) else bytes.fromhex(doc)
        except (ValueError, KeyError, TypeError):
            try:
                raw = bytes.fromhex(data.decode().strip())
            except (ValueError, UnicodeDecodeError):
                raise CommandFailed(f"{path} is not a genesis file: {first}") from None
        try:
            return decode_genesis(raw)
        except CodecError as exc:
            raise CommandFailed(f"{path} is not a genesis file: {exc}") from None


def read_cert_file(path: Path) -> bytes:
    """A certificate file, PEM or DER, as DER; CommandFailed naming the file when it holds
    no certificate (checked here, before any transaction carries it)."""
    from tianfu.identity import IdentityError
    from tianfu.identity.certs import der_to_pem, pem_to_der

    data = path.read_bytes()
    try:
        der = pem_to_der(data) if data.lstrip().startswith(b"-----BEGIN") else data
        der_to_pem(der)  # parses every field
    except IdentityError as exc:
        raise CommandFailed(f"{path} is not an X.509 certificate (PEM or DER): {exc}") from None
    return der


def trusted_genesis(client: Client, path: Path | None) -> Genesis:
    """The trust anchor: the given file, else the node's own genesis (with a warning)."""
    if path is not None:
        return load_genesis_file(path)
    typer.echo(
        "warning: verifying against the genesis fetched from this node, which is trusted for "
        "it; pass --genesis FILE to verify against a genesis you hold",
        err=True,
    )
    return client.fetch_genesis()


class NodeFiles(TypedDict):
    """The `NodeConfig` fields that say where a node keeps its files."""

    home: Path
    genesis: Path
    identity: Path
    data: Path


def node_files(home: Path) -> NodeFiles:
    """Where a node set up by the command line keeps its files: the genesis, its identity
    and its data, all in its home."""
    return {
        "home": home,
        "genesis": (home / "genesis.bin").resolve(),
        "identity": (home / "identity").resolve(),
        "data": (home / "data").resolve(),
    }


def print_json(data: Any) -> None:
    typer.echo(json.dumps(jsonable(data), indent=2))


def show_fields(title: str, doc: dict[str, Any], as_json: bool) -> None:
    """`doc` as JSON with --json, else as a titled table of its fields."""
    if as_json:
        print_json(doc)
    else:
        print_fields(title, doc)


def result_doc(result: Result) -> dict[str, Any]:
    return {
        "hash": result.tx_hash,
        "status": "committed" if result.committed else "pending",
        "ok": result.ok,
        "height": result.height,
        "index": result.index,
        "result": jsonable(result.result),
        "error": result.error,
        "events": [
            {"contract": e.contract, "name": e.name, "data": jsonable(e.data)}
            for e in result.events
        ],
    }


def _print_result(result: Result, as_json: bool, readable: Callable[[Any], Any] | None) -> None:
    """Print a transaction's outcome: JSON, or a table of its fields and events."""
    if as_json:
        print_json(result_doc(result))
    elif not result.committed:
        print_fields("transaction", {"hash": result.tx_hash, "status": "pending"})
    else:
        shown = readable or (lambda value: value)
        fields: dict[str, Any] = {
            "hash": result.tx_hash,
            "status": "ok" if result.ok else "failed",
            "height": result.height,
            "index": result.index,
        }
        if result.ok:
            fields["result"] = shown(result.result)
        else:
            fields["error"] = result.error
        for n, e in enumerate(result.events, 1):
            fields[f"event {n}"] = Event(f"{e.contract}.{e.name}", shown(e.data))
        print_fields("transaction", fields)


def report_result(
    result: Result, as_json: bool, readable: Callable[[Any], Any] | None = None
) -> None:
    """Print a transaction's outcome; exit 1 when it failed.

    Every event has its own row (two events of one name are two rows). `readable` turns
    the result and the events' data into their readable form for people (amounts, times);
    --json prints the raw values."""
    failed = result.committed and not result.ok
    try:
        _print_result(result, as_json, readable)
    except BrokenPipeError:
        if not failed:
            raise
        # The reader is gone; the transaction failed all the same: exit 1, not the exit
        # code of a closed pipe.
    if failed:
        if not as_json:
            typer.echo(f"error: transaction failed: {result.error}", err=True)
        raise typer.Exit(1)


@dataclass(frozen=True)
class Node:
    """The node options a command was given: `--url`, `--identity`, `--json`."""

    url: str = DEFAULT_URL
    identity: Path | None = None
    as_json: bool = False

    def client(self, *, need_identity: bool = False, genesis: Genesis | None = None) -> Client:
        return make_client(self.url, self.identity, need_identity=need_identity, genesis=genesis)

    def send(self, contract: str, method: str, *args: Any, **invoke: Any) -> None:
        """Sign and send a call of `contract.method(*args)` (`invoke`: the options of
        `Client.invoke`) and report its outcome."""
        with handle_errors():
            client = self.client(need_identity=True)
            report_result(client.invoke(contract, method, *args, **invoke), self.as_json)

    def governance(self, method: str, *args: Any) -> None:
        """Sign and send a call of the governance contract and report its outcome (a failed
        transaction is reported, not raised)."""
        self.send("governance", method, *args, check=False)


_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    """A command's keyword option `name` (its Typer `Annotated` type and default)."""
    return inspect.Parameter(name, _KEYWORD, default=default, annotation=annotation)


def option_group(cls: type) -> dict[str, inspect.Parameter]:
    """The fields of dataclass `cls`, each typed with its Typer option (`Annotated`) and
    given a default, as command options by field name (for `grouped_command`)."""
    hints = get_type_hints(cls, include_extras=True)
    return {f.name: option(f.name, hints[f.name], f.default) for f in fields(cls)}


def grouped_command(
    make: Callable[..., Any], group: dict[str, inspect.Parameter], *names: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make `body(options, ...)` a Typer command: its parameters after the first, then the
    options `names` in that order, each one of `group` (these reach the body as one
    `make(**values)`, its first argument) or, to place it among them, one of the body's own
    keyword parameters."""

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        own = dict(list(inspect.signature(body, eval_str=True).parameters.items())[1:])
        last = [group[n] if n in group else own.pop(n).replace(kind=_KEYWORD) for n in names]
        made = [group[n].name for n in names if n in group]
        params = [*own.values(), *last]

        @functools.wraps(body)
        def command(**kwargs: Any) -> None:
            body(make(**{name: kwargs.pop(name) for name in made}), **kwargs)

        command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


# The node options a command may take, by the name `node_command` knows them by.
NODE_OPTIONS = {
    "url": option("url", UrlOpt, DEFAULT_URL),
    "identity": option("identity", IdentityOpt, None),
    "json": option("as_json", JsonOpt, False),
}


def node_command(
    *names: str, node: type[Node] = Node, options: dict[str, inspect.Parameter] = NODE_OPTIONS
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make `body(node, ...)` a Typer command: its parameters after `node`, then the options
    `names` in that order: node options (`options`: "url", "identity", "json"), which reach
    the body as one `node` (a `Node`, or a subclass holding more `options`), or (to place it
    among them) one of its own keyword parameters. Every expected failure becomes one error
    line and an exit code (`handle_errors`)."""

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def guarded(given: Node, **kwargs: Any) -> None:
            with handle_errors():
                body(given, **kwargs)

        return grouped_command(node, options, *names)(guarded)

    return decorate


def summary(help_text: str) -> str:
    """The one-line summary of a command's help: its first paragraph with the docstring's
    line breaks joined (a paragraph opened by click's no-rewrap marker \\b is kept)."""
    first = inspect.cleandoc(help_text).partition("\f")[0].split("\n\n")[0]
    return first if first.startswith("\b") else " ".join(first.split())


def reflowed(help_text: str) -> str:
    """A help text whose paragraphs are each one line, for the terminal to wrap at its width:
    Typer's --help keeps the docstring's line breaks after the first paragraph, and Rich
    then wraps each of those lines again ("recent" alone on a line at 80 columns). A
    paragraph opened by \\b, or with an indented line, is kept as written."""
    text, cut, hidden = inspect.cleandoc(help_text).partition("\f")
    paragraphs = [
        p if p.startswith("\b") or "\n " in p else " ".join(p.split()) for p in text.split("\n\n")
    ]
    return "\n\n".join(paragraphs) + cut + hidden


class SummaryGroup(TyperGroup):
    """A click group whose --help lists each command with its summary on one line (Typer's
    command list keeps a multi-line docstring's line breaks, splitting a sentence), and
    whose own and commands' help paragraphs are reflowed (`reflowed`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:
            self.help = reflowed(self.help)
        for command in self.commands.values():
            if command.help:
                command.help = reflowed(command.help)
            if command.short_help is None and command.help:
                command.short_help = summary(command.help)


class CommandGroup(typer.Typer):
    """A group of commands (`tianfu <group> ...`) listing its commands' summaries on one
    line each; it shows its --help when called alone unless `no_args_is_help` says not."""

    def __init__(self, help: str, **settings: Any) -> None:
        settings.setdefault("no_args_is_help", True)
        super().__init__(help=help, cls=SummaryGroup, **settings)

    def node_command(
        self, name: str, *options: str, **settings: Any
    ) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Register `body(node, ...)` as the command `name` taking the node `options`
        (see `node_command`); `settings` are Typer's command settings."""

        def register(body: Callable[..., None]) -> Callable[..., None]:
            command = node_command(*options)(body)
            self.command(name, **settings)(command)
            return command

        return register


def address_role_command(method: str, doc: str) -> Callable[..., None]:
    """A command `ADDRESS ROLE` that calls governance `method(address, role)`; `doc` is its
    --help text."""

    @node_command("url", "identity", "json")
    def command(node: Node, address: str, role: str) -> None:
        node.governance(method, address, role)

    command.__doc__ = doc
    return command
