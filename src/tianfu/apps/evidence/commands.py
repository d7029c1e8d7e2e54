"""`tianfu evidence ...` (also `tianfu app evidence ...`): deposit, attest, certificates, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.apps.common import inputs, readable
from tianfu.apps.common.certificate_commands import verify_file, write_certificate
from tianfu.apps.common.commands import CommandTable, Session, arg, custom, opt, table_view, tx
from tianfu.apps.common.display import Fields, Output, Text
from tianfu.apps.common.errors import CommandFailed
from tianfu.apps.common.readable import Readable
from tianfu.apps.evidence.certificate import CONTRACT, load_certificate, verify_certificate
from tianfu.apps.evidence.sdk import Evidence, file_sha256

GENESIS_HELP = (
    "Trusted genesis file: genesis.bin, or the JSON of GET /v1/genesis. "
    "Without it the genesis is fetched from the node, which is then trusted for it."
)


def show(session: Session, v: dict[str, Any]) -> Output:
    ev = Evidence(session.client())
    record = ev.get(v["deposit_id"])
    if record is None:
        raise CommandFailed(f"unknown deposit {v['deposit_id']}")
    doc = {
        **record,
        "attestations": ev.attestations(v["deposit_id"]),
        "verifications": ev.verifications(v["deposit_id"]),
    }
    return Output(doc, (Fields(f"deposit {v['deposit_id']}", doc),))


def find(session: Session, v: dict[str, Any]) -> Output:
    ids = Evidence(session.client()).by_hash(file_sha256(v["file"]))
    return Output(ids, (Text("\n".join(ids) if ids else "no deposit of this file"),))


def _verified(proven: Any, file: Path) -> str:
    return (
        f"verified: {file} (SHA-256 {proven.file_sha256}) was deposited as "
        f"{proven.deposit_id} in block {proven.height} at {readable.date(proven.time_ms)} "
        f"(time_ms {proven.time_ms}), committed by the validators of chain {proven.chain_id} "
        f"(proven from the genesis through {proven.validator_changes} validator-set changes)"
    )


certificate = write_certificate(
    lambda client, deposit_id: Evidence(client).certificate(deposit_id),
    "deposit_id",
    ("file_sha256", "height", "time_ms"),
    "evidence certificate written",
)
verify = verify_file(
    load_certificate, verify_certificate, Path.read_bytes, "verified evidence deposit", _verified
)


DEPOSIT = arg("deposit_id")
COMMANDS = CommandTable(
    contract=CONTRACT,
    help="Judicial evidence: deposit file hashes, get evidence certificates, verify offline.",
    readable=Readable(),
    commands=(
        tx(
            "deposit",
            "Deposit a file's SHA-256 (role depositor); the result is the deposit id.",
            arg("file", Path, "The file; only its SHA-256 is sent."),
            opt("title", str, "What the file is."),
            opt(
                "meta",
                list[str] | None,
                "KEY=VALUE metadata (repeatable; VALUE parsed as JSON).",
                default=None,
            ),
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
            arg("file", Path, "A file; its SHA-256 is looked up."),
        ),
        tx("attest", "Attest a deposit as a notary (role notary).", DEPOSIT, arg("statement")),
        tx(
            "court-verify",
            "Record that a court verified (or rejected) a deposit (role court).",
            DEPOSIT,
            opt("case_no", str, "Case number.", flag="--case"),
            opt("result", str, "verified or rejected.", default="verified"),
            opt("note", str, default=""),
            method="record_verification",
        ),
        custom(
            "certificate",
            "Export a deposit's evidence certificate (proofs, header, commit certificate).",
            certificate,
            DEPOSIT,
            opt("out", Path, "Where to write the certificate JSON."),
            opt("genesis", Path | None, GENESIS_HELP, default=None),
        ),
        custom(
            "verify",
            "Verify FILE against an evidence CERTIFICATE offline, trusting only the genesis.",
            verify,
            arg("file", Path, "The file whose deposit is to be proven."),
            arg("certificate_file", Path, "The evidence certificate JSON."),
            opt(
                "genesis",
                Path | None,
                "The consortium's genesis (genesis.bin or the JSON of GET /v1/genesis). "
                "Verification is offline: no node is contacted.",
                default=None,
            ),
            uses=("json",),
        ),
        table_view(
            "list-attestations",
            "List a deposit's notary attestations.",
            DEPOSIT,
            method="attestations",
            columns=("org", "name", "height", "statement"),
            headers=("org", "notary", "block", "statement"),
            title="attestations of {deposit_id}",
        ),
    ),
)
