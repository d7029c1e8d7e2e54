"""`tianfu app fund_supervision ...`: command-line access to every fund supervision operation.

Amounts are integer fen. The fund's pool is the source account "" (or "pool" on the
command line). An ADDRESS argument takes a 40-hex address or an identity directory.
Same conventions as `tianfu`: --url, --identity, --json; exit codes 0 ok, 1 refused or
failed, 2 usage error. `attempt-allocate` / `attempt-disburse` record a refusal on chain
and exit 1 when refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.apps.fund_supervision import NAME
from tianfu.apps.fund_supervision.sdk import POOL, beneficiary_hash, doc_hash
from tianfu.cli.common import (
    CommandFailed,
    IdentityOpt,
    JsonOpt,
    UrlOpt,
    UsageProblem,
    handle_errors,
    make_client,
    parse_time_ms,
    print_rows,
    resolve_address,
    send_tx,
    show_view,
)
from tianfu.client import DEFAULT_URL

app = typer.Typer(
    help="Fund supervision: earmarked funds allocated down a hierarchy and paid to beneficiaries.",
    no_args_is_help=True,
    add_completion=False,
)

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
MemoOpt = Annotated[str, typer.Option("--memo", help="A note recorded with the allocation.")]


def source_account(text: str) -> str:
    return POOL if text in ("", "pool") else text


def document_hash(text: str) -> str:
    """A 64-hex hash as given, or the SHA-256 of the named file."""
    if HASH_RE.match(text):
        return text
    path = Path(text)
    if path.is_file():
        return doc_hash(path.read_bytes())
    raise UsageProblem(f"{text!r} is neither a SHA-256 (64 hex) nor a file")


def _tx(url: str, identity: Path | None, as_json: bool, method: str, *args: Any) -> Any:
    return send_tx(NAME, url, identity, as_json, method, *args)


def _view(
    url: str, as_json: bool, method: str, *args: Any, columns: list[str] | None = None
) -> None:
    show_view(NAME, url, as_json, method, *args, columns=columns)


@app.command()
def enrol(
    display_name: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol yourself (your office) as a participant."""
    _tx(url, identity, as_json, "enrol", display_name)


@app.command("register-account")
def register_account(
    account_id: str,
    name: str,
    level: Annotated[str, typer.Argument(help="province, city, county, township or village.")],
    parent: Annotated[str, typer.Argument(help='Parent account id ("pool" for a province).')],
    manager: Annotated[str, typer.Argument(help="Manager's address or identity directory.")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(fund authority, or the parent's manager) Register an account."""
    with handle_errors():
        address = resolve_address(manager)
    _tx(
        url,
        identity,
        as_json,
        "register_account",
        account_id,
        name,
        level,
        source_account(parent),
        address,
    )


@app.command("beneficiary-hash")
def beneficiary_hash_cmd(
    identity_number: str,
    salt: Annotated[str, typer.Option("--salt", help="The registering office's secret salt.")],
) -> None:
    """Compute (locally) the salted hash under which a beneficiary is registered."""
    with handle_errors():
        typer.echo(beneficiary_hash(identity_number, salt))


@app.command("register-beneficiary")
def register_beneficiary(
    account_id: str,
    id_hash: Annotated[str, typer.Argument(help="Salted hash (see beneficiary-hash).")],
    purposes: Annotated[
        list[str], typer.Argument(help="Purposes the beneficiary is eligible for.")
    ],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(account manager) Register a beneficiary by the salted hash of its identity."""
    _tx(url, identity, as_json, "register_beneficiary", account_id, id_hash, list(purposes))


@app.command("create-fund")
def create_fund(
    fund_id: str,
    purpose: str,
    total: Annotated[int, typer.Argument(help="Total in fen.")],
    start: Annotated[str, typer.Option("--start", help="ms, YYYY-MM-DD, or +N d|h|m|s.")],
    end: Annotated[str, typer.Option("--end", help="ms, YYYY-MM-DD, or +N d|h|m|s.")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(fund authority) Create an earmarked fund."""
    with handle_errors():
        window = (parse_time_ms(start), parse_time_ms(end))
    _tx(url, identity, as_json, "create_fund", fund_id, purpose, total, *window)


def _attempt(outcome: Any) -> None:
    if isinstance(outcome, dict) and outcome.get("ok") is False:
        typer.echo(f"refused ({outcome.get('code')}): {outcome.get('reason')}", err=True)
        raise typer.Exit(1)


@app.command()
def allocate(
    fund_id: str,
    source: Annotated[str, typer.Argument(help='Source account ("pool" = the fund\'s pool).')],
    to: str,
    amount: Annotated[int, typer.Argument(help="Amount in fen.")],
    memo: MemoOpt = "",
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(source's manager) Allocate to a registered sub-account; refused = failed, nothing written."""
    _tx(url, identity, as_json, "allocate", fund_id, source_account(source), to, amount, memo)


@app.command("attempt-allocate")
def attempt_allocate(
    fund_id: str,
    source: str,
    to: str,
    amount: int,
    memo: MemoOpt = "",
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Like allocate, but a refusal is recorded on chain (exit 1 when refused)."""
    _attempt(
        _tx(
            url,
            identity,
            as_json,
            "attempt_allocate",
            fund_id,
            source_account(source),
            to,
            amount,
            memo,
        )
    )


@app.command()
def disburse(
    fund_id: str,
    account_id: str,
    id_hash: str,
    amount: Annotated[int, typer.Argument(help="Amount in fen.")],
    purpose: str,
    doc: Annotated[str, typer.Argument(help="Supporting document: its SHA-256 or the file.")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(account manager) Pay a registered beneficiary; refused = failed, nothing written."""
    with handle_errors():
        digest = document_hash(doc)
    _tx(url, identity, as_json, "disburse", fund_id, account_id, id_hash, amount, purpose, digest)


@app.command("attempt-disburse")
def attempt_disburse(
    fund_id: str,
    account_id: str,
    id_hash: str,
    amount: int,
    purpose: str,
    doc: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Like disburse, but a refusal is recorded on chain (exit 1 when refused)."""
    with handle_errors():
        digest = document_hash(doc)
    _attempt(
        _tx(
            url,
            identity,
            as_json,
            "attempt_disburse",
            fund_id,
            account_id,
            id_hash,
            amount,
            purpose,
            digest,
        )
    )


@app.command()
def fund(fund_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show a fund."""
    _view(url, as_json, "fund", fund_id)


@app.command()
def funds(url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """List fund ids."""
    _view(url, as_json, "funds")


@app.command()
def accounts(url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """List registered accounts, parents first."""
    _view(
        url,
        as_json,
        "accounts",
        columns=["id", "name", "level", "parent", "manager", "beneficiaries"],
    )


@app.command()
def balance(
    fund_id: str, account_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False
) -> None:
    """An account's books for a fund ("pool" = the fund's pool)."""
    _view(url, as_json, "balance", fund_id, source_account(account_id))


@app.command()
def beneficiary(id_hash: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """A beneficiary's record (by its salted hash)."""
    _view(url, as_json, "beneficiary", id_hash)


@app.command()
def movements(
    fund_id: str,
    start: Annotated[int, typer.Option("--start")] = 1,
    limit: Annotated[int, typer.Option("--limit")] = 200,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A fund's allocations and disbursements, in order."""
    _view(
        url,
        as_json,
        "movements",
        fund_id,
        start,
        limit,
        columns=["seq", "kind", "from", "to", "amount", "height"],
    )


@app.command()
def trace(fund_id: str, id_hash: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Every fen a beneficiary received from a fund, with the path through each level."""
    _view(url, as_json, "trace", fund_id, id_hash)


@app.command()
def refusals(fund_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Refused attempts recorded for a fund."""
    _view(
        url, as_json, "refusals", fund_id, columns=["seq", "kind", "code", "reason", "by", "height"]
    )


@app.command()
def report(
    fund_id: str,
    idle_days: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--idle-days", help="Balances unmoved this long are idle (default 30)."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """The regulator's report: per-level balances, conservation, idle funds, refusals."""
    idle_ms = None if idle_days is None else idle_days * 86_400_000
    if as_json:
        _view(url, True, "report", fund_id, idle_ms)
        return
    with handle_errors():
        rep = make_client(url).query(NAME, "report", fund_id, idle_ms)
        if not isinstance(rep, dict):
            raise CommandFailed("malformed report")
        typer.echo(
            f"fund {rep['fund']} ({rep['purpose']}): total {rep['total']} fen, pool {rep['pool']}, "
            f"in accounts {rep['held_in_accounts']}, disbursed {rep['disbursed']}, "
            f"conserved: {rep['conserved']}, period ended: {rep['period_ended']}"
        )
        cols = ["level", "accounts", "received", "allocated_out", "disbursed", "balance"]
        print_rows("balances per level", cols, [[lv[c] for c in cols] for lv in rep["levels"]])
        cols = ["account", "level", "balance", "idle_for_ms", "why"]
        print_rows("idle funds", cols, [[x[c] for c in cols] for x in rep["idle"]])
        cols = ["seq", "kind", "code", "reason", "by", "height"]
        print_rows("refused attempts", cols, [[x[c] for c in cols] for x in rep["refusals"]])
