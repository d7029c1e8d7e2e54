"""`tianfu evidence ...` (also `tianfu app evidence ...`): deposit, attest, certificates, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.certificate_commands import certificate_commands
from tianfu.apps.common.commands import (
    CommandTable,
    arg,
    custom,
    opt,
    repeated,
    table_view,
    tx,
    view,
)
from tianfu.apps.common.display import Fields, Output, Text
from tianfu.apps.common.errors import CommandFailed
from tianfu.apps.common.params import local_file
from tianfu.apps.evidence.certificate import CONTRACT, SPEC, VerifiedDeposit, verify_certificate
from tianfu.apps.evidence.sdk import Evidence, file_sha256


def show(session: cmd.Session, v: dict[str, Any]) -> Output:
    """A deposit with every attestation and verification record (read a page at a time)."""
    app = Evidence(session.client())
    record = app.get(v["deposit_id"])
    if record is None:
        raise CommandFailed(f"unknown deposit {v['deposit_id']}")
    doc = {
        **record,
        "attestations": app.all_attestations(v["deposit_id"]),
        "verifications": app.all_verifications(v["deposit_id"]),
    }
    return Output(doc, (Fields(f"deposit {v['deposit_id']}", doc),))


def find(session: cmd.Session, v: dict[str, Any]) -> Output:
    ids = Evidence(session.client()).by_hash(file_sha256(v["file"]))
    return Output(ids, (Text("\n".join(ids) if ids else "no deposit of this file"),))


def _deposited(proven: VerifiedDeposit) -> str:
    return f"(SHA-256 {proven.file_sha256}) was deposited as {proven.deposit_id}"


DEPOSIT = arg("deposit_id")
COMMANDS = CommandTable(
    contract=CONTRACT,
    help="Judicial evidence: deposit file hashes, get evidence certificates, verify offline.",
    commands=(
        tx(
            "deposit",
            "Deposit a file's SHA-256 (role depositor); the result is the deposit id.",
            local_file("The file; only its SHA-256 is sent."),
            opt("title", help="What the file is."),
            repeated("meta", "KEY=VALUE metadata (repeatable; VALUE parsed as JSON)."),
            args=lambda v: [file_sha256(v["file"]), v["title"], inputs.fields(v["meta"], "--meta")],
        ),
        custom(
            "show",
            "Show a deposit with its attestations and court verification records.",
            show,
            DEPOSIT,
        ),
        custom(
            "find",
            "List the deposits of a file's hash, oldest first.",
            find,
            local_file("A file; its SHA-256 is looked up."),
        ),
        tx("attest", "Attest a deposit as a notary (role notary).", DEPOSIT, arg("statement")),
        tx(
            "court-verify",
            "Record that a court verified (or rejected) a deposit (role court).",
            DEPOSIT,
            opt("case_no", help="Case number.", flag="--case"),
            opt("result", help="verified or rejected.", default="verified"),
            opt("note", default=""),
            method="record_verification",
        ),
        *certificate_commands(SPEC, DEPOSIT, Path.read_bytes, verify_certificate, _deposited),
        view(
            "attestations-page",
            "A page of a deposit's notary attestations, oldest first; 'next' is the --start "
            "of the following page.",
            DEPOSIT,
            opt("start", int, default=1),
            opt("limit", int, default=45),
            method="attestations_page",
        ),
        view(
            "verifications-page",
            "A page of a deposit's court verification records, oldest first; 'next' is the "
            "--start of the following page.",
            DEPOSIT,
            opt("start", int, default=1),
            opt("limit", int, default=45),
            method="verifications_page",
        ),
        table_view(
            "list-attestations",
            "List a deposit's notary attestations (refused past 45: use attestations-page).",
            DEPOSIT,
            method="attestations",
            columns=("org", ("name", "notary"), ("height", "block"), "statement"),
            title="attestations of {deposit_id}",
        ),
    ),
)
