"""`tianfu app ip_rights ...`: register works, transfer, license, link evidence, disputes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.commands import (
    CommandTable,
    arg,
    custom,
    in_order,
    opt,
    record_view,
    repeated,
    tx,
)
from tianfu.apps.common.display import Fields, Output, Rows
from tianfu.apps.common.errors import CommandFailed
from tianfu.apps.common.params import address
from tianfu.apps.ip_rights.sdk import CONTRACT, IpRights

LICENCE_COLUMNS = ("id", "licensee_org", "exclusive", "scope", "start", "end", "fee_fen", "status")
LICENCE_HEADERS = ("id", "licensee", "exclusive", "scope", "start", "end", "fee", "status")
HISTORY_COLUMNS = ("n", "event", "org", "height", "time_ms", "data")
HISTORY_HEADERS = ("#", "event", "by org", "block", "time", "data")


def _register_args(v: dict[str, Any]) -> list[Any]:
    digest = inputs.one_document(v["file"], v["content_hash"], "--file", "--hash")
    return [digest, v["title"], list(v["authors"]), v["work_type"]]


def show(session: cmd.Session, v: dict[str, Any]) -> Output:
    ip = IpRights(session.client())
    w = ip.work(v["work_id"])
    if w is None:
        raise CommandFailed(f"unknown work {v['work_id']}")
    licences = ip.licences(v["work_id"])
    shown = (
        Fields(f"work {v['work_id']}", w),
        Rows("licences", LICENCE_COLUMNS, licences, LICENCE_HEADERS),
    )
    return Output({**w, "licence_records": licences}, shown)


def history(session: cmd.Session, v: dict[str, Any]) -> Output:
    ip = IpRights(session.client())
    work_id = v["work_id"]
    items = ip.all_ownership(work_id) if v["ownership"] else ip.all_history(work_id)
    shown = (Rows(f"history of {v['work_id']}", HISTORY_COLUMNS, items, HISTORY_HEADERS),)
    return Output(items, shown)


WORK = arg("work_id")
COMMANDS = CommandTable(
    contract=CONTRACT,
    help="Intellectual property: works, ownership, licences, infringement evidence, disputes.",
    commands=(
        tx(
            "register",
            "Register a work (role creator); the result is the work id.",
            arg("title"),
            arg("authors", list[str], "One or more author names."),
            opt(
                "file",
                Path | None,
                "The work's content; only its SHA-256 is sent.",
                default=None,
            ),
            opt(
                "content_hash",
                str | None,
                "The content's SHA-256, instead of --file.",
                default=None,
                flag="--hash",
            ),
            opt("work_type", help="music, literary, software, ...", default="other", flag="--type"),
            method="register_work",
            args=_register_args,
        ),
        tx(
            "transfer",
            "Transfer a work's ownership (owner only) to a registered member address; the new "
            "owner's organisation is the one its certificate on chain names.",
            WORK,
            address("to", "Address (or identity directory) of the new owner."),
            opt("price_fen", int, default=0, min=0),
            method="transfer_work",
        ),
        tx(
            "license",
            "Grant a licence (owner only); it may not overlap an exclusive licence. The "
            "licensee's organisation is the one its certificate on chain names.",
            WORK,
            address("licensee", "Address (or identity directory) of the licensee."),
            opt("scope", help="e.g. film/CN."),
            opt("start", help="YYYY-MM-DD (inclusive)."),
            opt("end", help="YYYY-MM-DD (inclusive)."),
            opt("exclusive", bool, default=False, flag="--exclusive/--non-exclusive"),
            opt("fee_fen", int, default=0, min=0),
            method="grant_licence",
            args=in_order("work_id", "licensee", "exclusive", "scope", "start", "end", "fee_fen"),
        ),
        tx(
            "surrender",
            "Give up a licence (licensee only).",
            arg("licence_id"),
            method="surrender_licence",
        ),
        tx(
            "link-evidence",
            "Link an infringement evidence deposit to a work (owner only).",
            WORK,
            arg("deposit_id", help="An evidence deposit id (tianfu evidence)."),
            arg("note"),
        ),
        tx(
            "dispute",
            "Open a dispute about a work; the result is the dispute id.",
            WORK,
            arg("kind", help="ownership, infringement or licence."),
            arg("claim"),
            repeated("evidence", "Evidence deposit id (repeatable)."),
            method="open_dispute",
            args=lambda v: [v["work_id"], v["kind"], v["claim"], list(v["evidence"] or [])],
        ),
        tx(
            "withdraw",
            "Withdraw a dispute you opened (claimant only) while it is open.",
            arg("dispute_id"),
            arg("reason"),
            method="withdraw_dispute",
        ),
        tx(
            "resolve",
            "Record a dispute's outcome (role arbitrator); an upheld ownership claim moves "
            "ownership.",
            arg("dispute_id"),
            arg("outcome", help="upheld, dismissed or settled."),
            arg("ruling"),
            method="resolve_dispute",
        ),
        custom("show", "Show a work with its licences.", show, WORK),
        custom(
            "history",
            "A work's full history: registration, transfers, licences, evidence, disputes.",
            history,
            WORK,
            opt("ownership", bool, "Only ownership changes.", default=False),
        ),
        record_view(
            "dispute-show",
            "Show a dispute and its outcome.",
            arg("dispute_id"),
            method="dispute",
            title="dispute {dispute_id}",
            missing="unknown dispute {dispute_id}",
        ),
    ),
)
