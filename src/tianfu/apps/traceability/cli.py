"""`tianfu app traceability ...`: products, batches, events, splits, merges, recalls, lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.apps.traceability.proof import KIND
from tianfu.apps.traceability.sdk import Traceability
from tianfu.cli.common import (
    CommandFailed,
    GenesisOpt,
    IdentityOpt,
    JsonOpt,
    UrlOpt,
    UsageProblem,
    handle_errors,
    load_genesis_file,
    make_client,
    parse_arg,
    print_fields,
    print_json,
    print_rows,
    send_tx,
)
from tianfu.client import DEFAULT_URL
from tianfu.proofs.documents import dump_document, verify_document

app = typer.Typer(
    help="Product traceability: batches from origin to shelf, splits, merges, recalls.",
    no_args_is_help=True,
)
CONTRACT = "traceability"


def _send(url: str, identity: Path | None, as_json: bool, method: str, *args: Any) -> Any:
    return send_tx(CONTRACT, url, identity, as_json, method, *args)


def _show(value: Any, as_json: bool, title: str) -> None:
    if as_json:
        print_json(value)
    elif isinstance(value, dict):
        print_fields(title, value)
    else:
        print_json(value)


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageProblem(f"{what} {item!r} must look like KEY=VALUE")
        out.append((key, value))
    return out


@app.command("register-product")
def register_product(
    product_id: str,
    name: str,
    category: Annotated[str, typer.Option("--category")] = "general",
    unit: Annotated[str, typer.Option("--unit", help="Smallest unit, e.g. g or piece.")] = "g",
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a product (role producer or processor)."""
    with handle_errors():
        _send(url, identity, as_json, "register_product", product_id, name, category, unit)


@app.command("create-batch")
def create_batch(
    code: str,
    product_id: str,
    quantity: Annotated[int, typer.Argument(help="In the product's smallest unit.")],
    origin: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a batch of your product (role producer)."""
    with handle_errors():
        _send(url, identity, as_json, "create_batch", code, product_id, quantity, origin)


@app.command("event")
def record_event(
    code: str,
    kind: Annotated[
        str,
        typer.Argument(
            help="planting, raising, input, harvest, processing, inspection, storage, "
            "transport or retail."
        ),
    ],
    fields: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="KEY=VALUE fields (VALUE parsed as JSON, else a string)."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append a signed event to a batch (the role depends on the event type)."""
    with handle_errors():
        data = {k: parse_arg(v) for k, v in _pairs(fields or [], "field")}
        _send(url, identity, as_json, "record_event", code, kind, data)


@app.command("transfer")
def transfer(
    code: str,
    to: Annotated[str, typer.Argument(help="Address of the next holder.")],
    to_org: Annotated[str, typer.Argument(help="Organisation of the next holder.")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hand custody of a batch to the next participant (holder only)."""
    with handle_errors():
        _send(url, identity, as_json, "transfer_batch", code, to, to_org)


@app.command("split")
def split(
    code: str,
    parts: Annotated[list[str], typer.Argument(help="CODE=QUANTITY for each new batch.")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Split a batch; the parts must sum exactly to its quantity (holder only)."""
    with handle_errors():
        items = []
        for c, q in _pairs(parts, "part"):
            try:
                items.append({"code": c, "quantity": int(q)})
            except ValueError:
                raise UsageProblem(f"quantity {q!r} of part {c} is not an integer") from None
        _send(url, identity, as_json, "split_batch", code, items)


@app.command("merge")
def merge(
    new_code: str,
    product_id: str,
    codes: Annotated[list[str], typer.Argument(help="The batches to merge (2 or more).")],
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge batches you hold into a new batch of PRODUCT_ID."""
    with handle_errors():
        _send(url, identity, as_json, "merge_batches", new_code, list(codes), product_id)


@app.command("recall")
def recall(
    code: str,
    reason: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recall a batch and all its descendants (role regulator)."""
    with handle_errors():
        _send(url, identity, as_json, "recall", code, reason)


@app.command("product")
def product(product_id: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show a product."""
    with handle_errors():
        _show(Traceability(make_client(url)).product(product_id), as_json, product_id)


@app.command("batch")
def batch(code: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Show a batch record (holder, quantity, parents, children, recall)."""
    with handle_errors():
        _show(Traceability(make_client(url)).batch(code), as_json, code)


@app.command("events")
def events(code: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """List a batch's events."""
    with handle_errors():
        items = Traceability(make_client(url)).events(code)
        if as_json:
            print_json(items)
        else:
            _event_rows(code, items)


@app.command("descendants")
def descendants(code: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """List a batch and every batch made from it."""
    with handle_errors():
        _show(Traceability(make_client(url)).descendants(code), as_json, code)


def _event_rows(code: str, items: list[Any]) -> None:
    rows = [
        [e["seq"], e["type"], e["org"], e["name"], e["height"], e["time_ms"], e["data"]]
        for e in items
    ]
    cols = ["#", "type", "org", "signer", "block", "time_ms", "data"]
    print_rows(f"events of {code}", cols, rows)


@app.command("lookup")
def lookup(
    code: str,
    genesis: GenesisOpt = None,
    height: Annotated[Optional[int], typer.Option("--height", min=1)] = None,  # noqa: UP045
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Write the lookup's proof document to this file."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Public lookup: the full provenance of a batch, every record verified by proofs.

    Needs no identity. Pass --genesis FILE to verify against a genesis you hold; without
    it the node's genesis is fetched and trusted for it (a warning says so). --out saves
    the proof document: `tianfu app traceability verify FILE --genesis GENESIS` (or
    `tianfu verify-proof`) checks it offline, against the genesis alone.
    """
    with handle_errors():
        client = make_client(url)
        if genesis is not None:
            client.genesis = load_genesis_file(genesis)
        else:
            typer.echo(
                "warning: verifying against the genesis fetched from this node; pass "
                "--genesis FILE to verify against a genesis you hold",
                err=True,
            )
            client.genesis = client.fetch_genesis()
        try:
            doc = Traceability(client).lookup_document(code, height)
        except LookupError as exc:
            raise CommandFailed(str(exc)) from None
        if out is not None:
            out.write_text(dump_document(doc), encoding="utf-8")
        if as_json:
            print_json(doc)
            return
        _print_lookup(doc)
        if out is not None:
            typer.echo(f"proof document written to {out}")


def _print_lookup(doc: dict[str, Any]) -> None:
    if doc["recalled"] and doc["recall"] is not None:
        r = doc["recall"]
        typer.echo(
            f"RECALLED: {r['reason']} (recall of {r['root']} by {r['org']} at block {r['height']})"
        )
    for entry in doc["lineage"]:
        b, prod = entry["batch"], entry["product"] or {}
        typer.echo(
            f"batch {b['code']}: {prod.get('name', b['product'])}, {b['quantity']} "
            f"{b['unit']}, origin {b['origin']}, status {b['status']}, holder "
            f"{b['holder_org']}, parents {b['parents'] or '-'}"
        )
        _event_rows(b["code"], entry["events"])
    changes = len(doc["validator_changes"]) - 1
    typer.echo(
        f"verified: {doc['records_proven']} records proven at height {doc['height']} by a "
        f"commit certificate of the validators of that height (through {changes} "
        "validator-set changes from the genesis)"
    )


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A lookup's proof document (lookup --out).")],
    genesis: Annotated[Path, typer.Option("--genesis", help="The trusted genesis file.")],
    as_json: JsonOpt = False,
) -> None:
    """Verify a saved lookup offline, against the genesis alone."""
    with handle_errors():
        proven = verify_document(file.read_bytes(), load_genesis_file(genesis), kind=KIND)
        if as_json:
            print_json({"verified": True, **proven.readable})
        else:
            _print_lookup(proven.document)
