"""`tianfu app supply_finance ...`: command-line access to every supply-chain finance operation.

Amounts are integer fen. An ADDRESS argument takes either a 40-hex address or an identity
directory (its address is used). Same conventions as `tianfu`: --url, --identity, --json;
exit codes 0 ok, 1 refused or failed, 2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.apps.supply_finance import NAME
from tianfu.apps.supply_finance.sdk import doc_hash
from tianfu.cli.common import (
    IdentityOpt,
    JsonOpt,
    UrlOpt,
    UsageProblem,
    handle_errors,
    parse_time_ms,
    resolve_address,
    send_tx,
    show_view,
)
from tianfu.client import DEFAULT_URL

app = typer.Typer(
    help="Supply-chain finance: receivables issued, split, transferred, pledged, repaid.",
    no_args_is_help=True,
    add_completion=False,
)

DocOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--doc", help="The contract/invoice file; its SHA-256 is recorded."),
]
DocHashOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--doc-hash", help="The SHA-256 (hex) of the contract/invoice."),
]


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
    """Enrol yourself (your company) as a participant."""
    _tx(url, identity, as_json, "enrol", display_name)


@app.command()
def issue(
    supplier: Annotated[str, typer.Argument(help="Supplier address or identity directory.")],
    amount: Annotated[int, typer.Argument(help="Amount in fen.")],
    maturity: Annotated[str, typer.Option("--maturity", help="ms, YYYY-MM-DD, or +90d.")],
    doc: DocOpt = None,
    doc_hash_hex: DocHashOpt = None,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(core enterprise) Issue a receivable to a tier-1 supplier."""
    with handle_errors():
        if (doc is None) == (doc_hash_hex is None):
            raise UsageProblem("give exactly one of --doc FILE or --doc-hash HEX")
        digest = doc_hash(doc.read_bytes()) if doc is not None else str(doc_hash_hex)
        args = (resolve_address(supplier), amount, parse_time_ms(maturity), digest)
    _tx(url, identity, as_json, "issue", *args)


@app.command()
def accept(
    rid: str, url: UrlOpt = DEFAULT_URL, identity: IdentityOpt = None, as_json: JsonOpt = False
) -> None:
    """(holder) Accept a receivable issued to you."""
    _tx(url, identity, as_json, "accept", rid)


@app.command()
def reject(
    rid: str,
    reason: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(holder) Refuse a receivable issued to you."""
    _tx(url, identity, as_json, "reject", rid, reason)


@app.command()
def split(
    rid: str,
    amounts: Annotated[
        list[int], typer.Argument(help="The parts in fen; they must sum to the whole.")
    ],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(holder) Split a receivable into parts."""
    _tx(url, identity, as_json, "split", rid, list(amounts))


@app.command()
def transfer(
    rid: str,
    to: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(holder) Transfer a receivable (or part) to another enrolled participant."""
    with handle_errors():
        address = resolve_address(to)
    _tx(url, identity, as_json, "transfer", rid, address)


@app.command("split-transfer")
def split_transfer(
    rid: str,
    amount: int,
    to: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(holder) Split off AMOUNT fen and transfer that part to TO."""
    with handle_errors():
        address = resolve_address(to)
    _tx(url, identity, as_json, "split_transfer", rid, amount, address)


@app.command()
def pledge(
    rid: str,
    bank: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(holder) Apply to BANK to finance the receivable (it is locked from now on)."""
    with handle_errors():
        address = resolve_address(bank)
    _tx(url, identity, as_json, "apply_pledge", rid, address)


@app.command("cancel-pledge")
def cancel_pledge(
    rid: str, url: UrlOpt = DEFAULT_URL, identity: IdentityOpt = None, as_json: JsonOpt = False
) -> None:
    """(holder) Withdraw a pledge application not yet approved."""
    _tx(url, identity, as_json, "cancel_pledge", rid)


@app.command("approve-pledge")
def approve_pledge(
    rid: str,
    amount: Annotated[int, typer.Argument(help="Financing amount in fen.")],
    rate_bp: Annotated[int, typer.Argument(help="Yearly rate in basis points (450 = 4.50%).")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(bank) Approve financing of a pledged receivable."""
    _tx(url, identity, as_json, "approve_pledge", rid, amount, rate_bp)


@app.command("reject-pledge")
def reject_pledge(
    rid: str,
    reason: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(bank) Decline a pledge application."""
    _tx(url, identity, as_json, "reject_pledge", rid, reason)


@app.command()
def disburse(
    rid: str,
    payment_ref: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(bank) Record that the approved financing was paid to the holder."""
    _tx(url, identity, as_json, "disburse", rid, payment_ref)


@app.command("release-pledge")
def release_pledge(
    rid: str, url: UrlOpt = DEFAULT_URL, identity: IdentityOpt = None, as_json: JsonOpt = False
) -> None:
    """(bank) Release a pledge (the loan was settled); the receivable is unlocked."""
    _tx(url, identity, as_json, "release_pledge", rid)


@app.command()
def repay(
    rid: str,
    ref: Annotated[str, typer.Option("--ref", help="Payment reference.")] = "",
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """(core enterprise, issuer) Repay every unpaid part of a receivable."""
    _tx(url, identity, as_json, "repay", rid, ref)


@app.command()
def audit(
    rid: str, url: UrlOpt = DEFAULT_URL, identity: IdentityOpt = None, as_json: JsonOpt = False
) -> None:
    """(regulator) A recorded audit of the full tree of a receivable."""
    _tx(url, identity, as_json, "audit", rid)


@app.command()
def show(rid: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show one receivable or part."""
    _view(url, as_json, "get", rid)


@app.command()
def lineage(rid: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """The chain of parts from the original receivable down to RID."""
    _view(url, as_json, "lineage", rid, columns=["id", "amount", "holder", "status"])


@app.command()
def holdings(
    who: Annotated[str, typer.Argument(help="Address or identity directory.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """What an address holds."""
    with handle_errors():
        address = resolve_address(who)
    _view(
        url,
        as_json,
        "holdings",
        address,
        columns=["id", "amount", "status", "maturity_ms", "pledge"],
    )


@app.command()
def overdue(url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Unpaid parts past maturity, with their payees."""
    _view(
        url,
        as_json,
        "overdue",
        columns=["id", "root", "payee", "amount", "maturity_ms", "overdue_ms"],
    )


@app.command("open")
def open_(url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Original receivables not yet fully repaid."""
    _view(url, as_json, "open_receivables")


@app.command()
def totals(rid: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Conservation figures of a receivable's tree."""
    _view(url, as_json, "tree_totals", rid)


@app.command()
def party(
    who: Annotated[str, typer.Argument(help="Address or identity directory.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A participant's enrolment record."""
    with handle_errors():
        address = resolve_address(who)
    _view(url, as_json, "party", address)
