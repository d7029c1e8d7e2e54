"""`tianfu app traceability ...`: products, batches, events, splits, merges, recalls, lookup."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import segno

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.commands import (
    TRUSTED_GENESIS,
    CommandTable,
    arg,
    custom,
    opt,
    record_view,
    tx,
    view,
)
from tianfu.apps.common.display import Display, Output, Rows, Text
from tianfu.apps.common.errors import BadInput, CommandFailed
from tianfu.apps.common.params import address, local_file
from tianfu.apps.common.readable import counted
from tianfu.apps.traceability import NAME
from tianfu.apps.traceability.proof import KIND
from tianfu.apps.traceability.sdk import Traceability
from tianfu.proofs.documents import dump_document, verify_document

CONSOLE_URL_ENV = "TIANFU_CONSOLE_URL"  # the base URL printed in QR codes, when not --base-url
CODE_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
EVENT_COLUMNS = ("seq", "type", "org", "name", "height", "time_ms", "data")
EVENT_HEADERS = ("#", "type", "org", "signer", "block", "time", "data")


def _split_args(v: dict[str, Any]) -> list[Any]:
    items = []
    for c, q in inputs.pairs(v["parts"], "part"):
        try:
            items.append({"code": c, "quantity": int(q)})
        except ValueError:
            raise BadInput(f"quantity {q!r} of part {c} is not an integer") from None
    return [v["code"], items]


def _events(code: str, items: list[Any]) -> Rows:
    return Rows(f"events of {code}", EVENT_COLUMNS, items, EVENT_HEADERS)


def _lookup_lines(doc: dict[str, Any]) -> tuple[Display, ...]:
    out: list[Display] = []
    if doc["recalled"] and doc["recall"] is not None:
        r = doc["recall"]
        out.append(
            Text(
                f"RECALLED: {r['reason']} (recall of {r['root']} by {r['org']} "
                f"at block {r['height']})"
            )
        )
    for entry in doc["lineage"]:
        b, prod = entry["batch"], entry["product"] or {}
        out.append(
            Text(
                f"batch {b['code']}: {prod.get('name', b['product'])}, {b['quantity']} "
                f"{b['unit']}, origin {b['origin']}, status {b['status']}, holder "
                f"{b['holder_org']}, parents {b['parents'] or '-'}"
            )
        )
        out.append(_events(b["code"], entry["events"]))
    changes = len(doc["validator_changes"]) - 1
    out.append(
        Text(
            f"verified: {counted(doc['records_proven'], 'record')} proven at height "
            f"{doc['height']} by a commit certificate of the validators of that height "
            f"(through {counted(changes, 'validator-set change')} from the genesis)"
        )
    )
    return tuple(out)


def lookup(session: cmd.Session, v: dict[str, Any]) -> Output:
    client = session.client()
    client.genesis = session.genesis(v["genesis"])
    try:
        doc = Traceability(client).lookup_document(v["code"], v["height"])
    except LookupError as exc:
        raise CommandFailed(str(exc)) from None
    shown = _lookup_lines(doc)
    if v["out"] is not None:
        v["out"].write_text(dump_document(doc), encoding="utf-8")
        shown += (Text(f"proof document written to {v['out']}"),)
    return Output(doc, shown)


def verify(session: cmd.Session, v: dict[str, Any]) -> Output:
    genesis = session.load_genesis(v["genesis"])
    proven = verify_document(v["file"].read_bytes(), genesis, kind=KIND)
    return Output({"verified": True, **proven.readable}, _lookup_lines(proven.document))


def qr(session: cmd.Session, v: dict[str, Any]) -> Output:
    """A QR code of the batch's public trace page on the web console (PNG, or SVG when the
    file name ends in .svg)."""
    if not CODE_PATTERN.fullmatch(v["code"]):
        raise BadInput("a batch code is 1-64 letters, digits and - _ .")
    base = v["base_url"] or os.environ.get(CONSOLE_URL_ENV) or session.client().url
    if not base.startswith(("http://", "https://")):
        raise BadInput(f"the base URL must start with http:// or https://, not {base[:40]!r}")
    url = f"{base.rstrip('/')}/trace/{v['code']}"
    out: Path = v["out"]
    kind = "svg" if out.suffix.lower() == ".svg" else "png"
    try:
        segno.make(url, error="m").save(str(out), kind=kind, scale=8, border=4)
    except OSError as exc:
        raise CommandFailed(f"cannot write {out}: {exc}") from None
    return Output({"code": v["code"], "url": url, "file": str(out)}, (Text(f"{url} -> {out}"),))


def all_descendants(session: cmd.Session, v: dict[str, Any]) -> Output:
    items = Traceability(session.client()).all_descendants(v["code"])
    return Output(items, (Text("\n".join(items)),))


def events(session: cmd.Session, v: dict[str, Any]) -> Output:
    items = Traceability(session.client()).all_events(v["code"])
    return Output(items, (_events(v["code"], items),))


CODE = arg("code", help="Batch code.")
COMMANDS = CommandTable(
    contract=NAME,
    help="Product traceability: batches from origin to shelf, splits, merges, recalls.",
    commands=(
        tx(
            "register-product",
            "Register a product (role producer or processor).",
            arg("product_id"),
            arg("name"),
            opt("category", default="general"),
            opt("unit", help="Smallest unit, e.g. g or piece.", default="g"),
        ),
        tx(
            "create-batch",
            "Create a batch of your product (role producer).",
            CODE,
            arg("product_id"),
            arg("quantity", int, "In the product's smallest unit."),
            arg("origin"),
        ),
        tx(
            "event",
            "Append a signed event to a batch (the role depends on the event type).",
            CODE,
            arg(
                "kind",
                help="planting, raising, input, harvest, processing, inspection, storage, "
                "transport or retail.",
            ),
            arg(
                "fields",
                list[str] | None,
                "KEY=VALUE fields (VALUE parsed as JSON, else a string).",
                default=None,
            ),
            method="record_event",
            args=lambda v: [v["code"], v["kind"], inputs.fields(v["fields"], "field")],
        ),
        tx(
            "transfer",
            "Hand custody of a batch to the next participant (holder only); its "
            "organisation is the one its certificate on chain names.",
            CODE,
            address(
                "to", "Address (or identity directory) of the next holder: a registered member."
            ),
            method="transfer_batch",
        ),
        tx(
            "split",
            "Split a batch; the parts must sum exactly to its quantity (holder only).",
            CODE,
            arg("parts", list[str], "CODE=QUANTITY for each new batch."),
            method="split_batch",
            args=_split_args,
        ),
        tx(
            "merge",
            "Merge batches you hold into a new batch of PRODUCT_ID.",
            arg("new_code"),
            arg("product_id"),
            arg("codes", list[str], "The batches to merge (2 or more)."),
            method="merge_batches",
            args=lambda v: [v["new_code"], list(v["codes"]), v["product_id"]],
        ),
        tx(
            "recall",
            "Recall a batch and all its descendants (role regulator); a recall of more than "
            "a few hundred batches goes on with continue-recall.",
            CODE,
            arg("reason"),
        ),
        tx(
            "continue-recall",
            "Go on with a recall that is not done: the next few hundred batches (regulator).",
            CODE,
            method="continue_recall",
        ),
        tx(
            "grant-prefix",
            "Grant a code prefix to a member organisation (regulator): only its members may "
            "then register product ids and batch codes starting with it.",
            arg("prefix", help="1-32 letters and digits (case does not matter)."),
            arg("org", help="The organisation it is granted to."),
        ),
        tx(
            "revoke-prefix",
            "Revoke the grant of a code prefix (regulator); codes registered stay.",
            arg("prefix"),
        ),
        record_view(
            "code-prefix",
            "Show which organisation a code prefix is granted to.",
            arg("prefix"),
            title="prefix {prefix}",
            missing="prefix {prefix} is granted to nobody",
        ),
        record_view(
            "recall-progress",
            "Show how far the recall of a batch has got (done, batches reached).",
            CODE,
            method="recall_progress",
            title="recall of {code}",
        ),
        record_view("product", "Show a product.", arg("product_id"), title="{product_id}"),
        record_view(
            "batch",
            "Show a batch record (holder, quantity, parents, children, recall).",
            CODE,
            title="{code}",
        ),
        custom("events", "List a batch's events (read a page at a time).", events, CODE),
        view(
            "events-page",
            "A page of a batch's events; 'next' is the --start of the following page.",
            CODE,
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="events_page",
        ),
        view(
            "provenance-page",
            "A page of a batch's lineage (it, then its ancestors, breadth first), each batch "
            "with its product and event count; 'next' is the --start of the following page.",
            CODE,
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="provenance_page",
        ),
        view(
            "descendants",
            "List a batch and every batch made from it (refused past 1000: use all-descendants).",
            CODE,
        ),
        custom(
            "all-descendants",
            "List a batch and every batch made from it, breadth first, however many they are "
            "(read 200 batches at a time).",
            all_descendants,
            CODE,
        ),
        view(
            "descendants-page",
            "A page of a batch and every batch made from it, in the order recorded; 'next' "
            "is the --start of the following page (null after the last). Refused past 2000 "
            "descendants: all-descendants lists any number.",
            CODE,
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="descendants_page",
        ),
        custom(
            "lookup",
            "Public lookup: the full provenance of a batch, every record verified by proofs.\n\n"
            "Needs no identity. Pass --genesis FILE to verify against a genesis you hold; "
            "without it the node's genesis is fetched and trusted for it (a warning says so). "
            "--out saves the proof document: `tianfu app traceability verify FILE --genesis "
            "GENESIS` (or `tianfu verify-proof`) checks it offline, against the genesis alone.",
            lookup,
            CODE,
            TRUSTED_GENESIS,
            opt("height", int | None, default=None, min=1),
            opt(
                "out",
                Path | None,
                "Write the lookup's proof document to this file.",
                default=None,
            ),
        ),
        custom(
            "qr",
            "Write a QR code linking to the batch's public trace page on the web console.\n\n"
            "The link is BASE_URL/trace/CODE; BASE_URL is --base-url, else $TIANFU_CONSOLE_URL, "
            "else the node's --url (every node serves the console). FILE.png or FILE.svg.",
            qr,
            CODE,
            opt("out", Path, "The image file to write (.png or .svg)."),
            opt("base_url", str | None, "The console's public base URL.", default=None),
        ),
        custom(
            "verify",
            "Verify a saved lookup offline, against the genesis alone.",
            verify,
            local_file("A lookup's proof document (lookup --out)."),
            opt("genesis", Path, "The trusted genesis file."),
            uses=("json",),
        ),
    ),
)
