"""Shared pieces of the command line: options, client construction, output and error handling.

Exit codes: 0 success, 1 a failed transaction / verification / node or file error,
2 a usage error. With `--json` only machine-readable JSON goes to stdout; warnings and
errors always go to stderr as one plain line.
"""

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.api.render import jsonable
from tianfu.client import DEFAULT_URL, Client, ClientError, Result, TxFailed, VerificationError
from tianfu.codec import CodecError, decode
from tianfu.crypto import ECDSA_P256, ED25519, SM2, CryptoError
from tianfu.types import Genesis, ValueTypeError, check_value

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


class UsageProblem(Exception):
    """Bad command-line input detected after parsing (exit code 2)."""


class CommandFailed(Exception):
    """A command that ran but did not succeed (exit code 1)."""


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn every expected failure into one clean line on stderr and an exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except UsageProblem as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except TxFailed as exc:
        typer.echo(f"error: transaction {exc.result.tx_hash} failed: {exc.error}", err=True)
        raise typer.Exit(1) from None
    except VerificationError as exc:
        typer.echo(f"error: verification failed: {exc}", err=True)
        raise typer.Exit(1) from None
    except (ClientError, CommandFailed, CodecError, CryptoError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except FileNotFoundError as exc:
        typer.echo(f"error: no such file: {exc.filename}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:  # IdentityError and other validation errors of our packages
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def scheme_of(name: str) -> int:
    try:
        return SCHEMES[name.lower()]
    except KeyError:
        raise UsageProblem(f"unknown scheme {name!r}; use one of {', '.join(SCHEMES)}") from None


def parse_arg(text: str) -> Any:
    """A contract argument: JSON when it parses as JSON, else the plain string."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    try:
        check_value(value)
    except ValueTypeError as exc:
        raise UsageProblem(f"argument {text!r}: {exc}") from None
    return value


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
    return client_factory(
        url or DEFAULT_URL, identity=load_identity(identity, need_identity), genesis=genesis
    )


def load_genesis_file(path: Path) -> Genesis:
    """A genesis from canonical bytes, from the JSON of GET /v1/genesis, or from hex text."""
    data = path.read_bytes()
    try:
        return decode(data, Genesis)
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
            return decode(raw, Genesis)
        except CodecError as exc:
            raise CommandFailed(f"{path} is not a genesis file: {exc}") from None


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


def print_json(data: Any) -> None:
    typer.echo(json.dumps(jsonable(data), indent=2))


def print_fields(title: str, fields: dict[str, Any]) -> None:
    """A two-column Rich table of readable fields."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in fields.items():
        text = v if isinstance(v, str) else json.dumps(jsonable(v))
        table.add_row(k, text)
    Console().print(table)


def print_rows(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, overflow="fold")
    for row in rows:
        table.add_row(*[v if isinstance(v, str) else json.dumps(jsonable(v)) for v in row])
    Console().print(table)


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


def report_result(result: Result, as_json: bool) -> None:
    """Print a transaction's outcome; exit 1 when it failed."""
    if as_json:
        print_json(result_doc(result))
    elif not result.committed:
        print_fields("transaction", {"hash": result.tx_hash, "status": "pending"})
    else:
        fields: dict[str, Any] = {
            "hash": result.tx_hash,
            "status": "ok" if result.ok else "failed",
            "height": result.height,
            "index": result.index,
        }
        if result.ok:
            fields["result"] = result.result
        else:
            fields["error"] = result.error
        for e in result.events:
            fields[f"event {e.contract}.{e.name}"] = e.data
        print_fields("transaction", fields)
    if result.committed and not result.ok:
        if not as_json:
            typer.echo(f"error: transaction failed: {result.error}", err=True)
        raise typer.Exit(1)


def send_tx(
    contract: str, url: str, identity: Path | None, as_json: bool, method: str, *args: Any
) -> Any:
    """`tianfu app ...` commands that send a transaction: invoke, report, return the result."""
    with handle_errors():
        client = make_client(url, identity, need_identity=True)
        result = client.invoke(contract, method, *args, check=False)
        report_result(result, as_json)
        return result.result


def show_view(
    contract: str,
    url: str,
    as_json: bool,
    method: str,
    *args: Any,
    columns: list[str] | None = None,
) -> None:
    """`tianfu app ...` commands that call a view: print its result as JSON, rows or a document."""
    with handle_errors():
        result = make_client(url).query(contract, method, *args)
        if as_json:
            print_json({"result": result})
        elif columns and isinstance(result, list):
            print_rows(method, columns, [[row.get(c, "") for c in columns] for row in result])
        else:
            typer.echo(json.dumps(jsonable(result), indent=2))


def resolve_address(text: str) -> str:
    """A 40-hex address as given, or the address of an identity directory."""
    if ADDRESS_RE.match(text):
        return text
    path = Path(text)
    if path.is_dir():
        from tianfu.identity import Identity

        return str(Identity.load(path).info.address)
    raise UsageProblem(f"{text!r} is neither an address (40 hex) nor an identity directory")


def parse_time_ms(text: str) -> int:
    """Milliseconds since the epoch: an integer, an ISO date/time (UTC), or +N d|h|m|s from now."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    m = re.fullmatch(r"([+-])(\d+)([dhms])", text)
    if m:
        unit = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}[m.group(3)]
        sign = 1 if m.group(1) == "+" else -1
        return int(time.time() * 1000) + sign * int(m.group(2)) * unit
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"bad time {text!r}: use ms, YYYY-MM-DD[THH:MM], +30d or -1d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


ADDRESS_RE = re.compile(r"^[0-9a-f]{40}$")
