"""`tianfu app ip_rights ...`: register works, transfer, license, link evidence, disputes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.apps.evidence.sdk import file_sha256
from tianfu.apps.ip_rights.sdk import CONTRACT, IpRights
from tianfu.cli.common import (
    CommandFailed,
    IdentityOpt,
    JsonOpt,
    UrlOpt,
    UsageProblem,
    handle_errors,
    make_client,
    print_fields,
    print_json,
    print_rows,
    send_tx,
)
from tianfu.client import DEFAULT_URL

app = typer.Typer(
    help="Intellectual property: works, ownership, licences, infringement evidence, disputes.",
    no_args_is_help=True,
)


def _send(url: str, identity: Path | None, as_json: bool, method: str, *args: Any) -> Any:
    return send_tx(CONTRACT, url, identity, as_json, method, *args)


@app.command("register")
def register(
    title: str,
    authors: Annotated[list[str], typer.Argument(help="One or more author names.")],
    file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--file", help="The work's content; only its SHA-256 is sent."),
    ] = None,
    content_hash: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--hash", help="The content's SHA-256, instead of --file."),
    ] = None,
    work_type: Annotated[
        str, typer.Option("--type", help="music, literary, software, ...")
    ] = "other",
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a work (role creator); the result is the work id."""
    with handle_errors():
        if (file is None) == (content_hash is None):
            raise UsageProblem("give exactly one of --file or --hash")
        digest = file_sha256(file) if file is not None else str(content_hash).lower()
        _send(url, identity, as_json, "register_work", digest, title, list(authors), work_type)


@app.command("transfer")
def transfer(
    work_id: str,
    to: Annotated[str, typer.Argument(help="Address of the new owner.")],
    to_org: Annotated[str, typer.Argument(help="Organisation of the new owner.")],
    price_fen: Annotated[int, typer.Option("--price-fen", min=0)] = 0,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer a work's ownership (owner only)."""
    with handle_errors():
        _send(url, identity, as_json, "transfer_work", work_id, to, to_org, price_fen)


@app.command("license")
def license_(
    work_id: str,
    licensee: Annotated[str, typer.Argument(help="Address of the licensee.")],
    licensee_org: str,
    scope: Annotated[str, typer.Option("--scope", help="e.g. film/CN.")],
    start: Annotated[str, typer.Option("--start", help="YYYY-MM-DD (inclusive).")],
    end: Annotated[str, typer.Option("--end", help="YYYY-MM-DD (inclusive).")],
    exclusive: Annotated[bool, typer.Option("--exclusive/--non-exclusive")] = False,
    fee_fen: Annotated[int, typer.Option("--fee-fen", min=0)] = 0,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant a licence (owner only); it may not overlap an exclusive licence."""
    with handle_errors():
        _send(
            url,
            identity,
            as_json,
            "grant_licence",
            work_id,
            licensee,
            licensee_org,
            exclusive,
            scope,
            start,
            end,
            fee_fen,
        )


@app.command("surrender")
def surrender(
    licence_id: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give up a licence (licensee only)."""
    with handle_errors():
        _send(url, identity, as_json, "surrender_licence", licence_id)


@app.command("link-evidence")
def link_evidence(
    work_id: str,
    deposit_id: Annotated[str, typer.Argument(help="An evidence deposit id (tianfu evidence).")],
    note: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Link an infringement evidence deposit to a work (owner only)."""
    with handle_errors():
        _send(url, identity, as_json, "link_evidence", work_id, deposit_id, note)


@app.command("dispute")
def dispute(
    work_id: str,
    kind: Annotated[str, typer.Argument(help="ownership, infringement or licence.")],
    claim: str,
    evidence: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--evidence", help="Evidence deposit id (repeatable)."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a dispute about a work; the result is the dispute id."""
    with handle_errors():
        _send(url, identity, as_json, "open_dispute", work_id, kind, claim, list(evidence or []))


@app.command("resolve")
def resolve(
    dispute_id: str,
    outcome: Annotated[str, typer.Argument(help="upheld, dismissed or settled.")],
    ruling: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a dispute's outcome (role arbitrator); an upheld ownership claim moves ownership."""
    with handle_errors():
        _send(url, identity, as_json, "resolve_dispute", dispute_id, outcome, ruling)


@app.command("show")
def show(work_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show a work with its licences."""
    with handle_errors():
        ip = IpRights(make_client(url))
        w = ip.work(work_id)
        if w is None:
            raise CommandFailed(f"unknown work {work_id}")
        if as_json:
            print_json({**w, "licence_records": ip.licences(work_id)})
            return
        print_fields(f"work {work_id}", w)
        rows = [
            [
                x["id"],
                x["licensee_org"],
                x["exclusive"],
                x["scope"],
                x["start"],
                x["end"],
                x["fee_fen"],
                x["status"],
            ]
            for x in ip.licences(work_id)
        ]
        cols = ["id", "licensee", "exclusive", "scope", "start", "end", "fee_fen", "status"]
        print_rows("licences", cols, rows)


@app.command("history")
def history(
    work_id: str,
    ownership: Annotated[bool, typer.Option("--ownership", help="Only ownership changes.")] = False,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A work's full history: registration, transfers, licences, evidence, disputes."""
    with handle_errors():
        ip = IpRights(make_client(url))
        items = ip.ownership_history(work_id) if ownership else ip.history(work_id)
        if as_json:
            print_json(items)
            return
        rows = [[h["n"], h["event"], h["org"], h["height"], h["time_ms"], h["data"]] for h in items]
        print_rows(
            f"history of {work_id}", ["#", "event", "by org", "block", "time_ms", "data"], rows
        )


@app.command("dispute-show")
def dispute_show(dispute_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show a dispute and its outcome."""
    with handle_errors():
        d = IpRights(make_client(url)).dispute(dispute_id)
        if d is None:
            raise CommandFailed(f"unknown dispute {dispute_id}")
        if as_json:
            print_json(d)
        else:
            print_fields(f"dispute {dispute_id}", d)
