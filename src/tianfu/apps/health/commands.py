"""`tianfu app health ...`: patients and consent, private medical records, prescriptions,
claims and supervision.

Record content and prescription details are private data: the commands that write or read
them encrypt and decrypt on this machine and talk to the node at --url, which must be a node
of the signer's organisation. A PATIENT or DOCTOR is an address or an identity directory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.commands import (
    NUMBER,
    TIME,
    CommandTable,
    arg,
    custom,
    opt,
    record_view,
    repeated,
    table_view,
    tx,
    view,
)
from tianfu.apps.common.display import Fields, Output, Text
from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.params import address, fen, local_file
from tianfu.apps.health import NAME
from tianfu.apps.health.sdk import Health

SIGNED = ("url", "identity", "json")


def _health(session: cmd.Session) -> Health:
    return Health(session.client(signed=True))


def _content(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None


def _done(title: str, doc: dict[str, Any]) -> Output:
    return Output(doc, (Fields(title, doc),))


def add_record(session: cmd.Session, v: dict[str, Any]) -> Output:
    h = _health(session)
    rec_id = h.add_record(v["patient"], v["kind"], _content(v["file"]), v["reader"] or ())
    return _done(f"record {rec_id} written", h.record(rec_id) or {"id": rec_id})


def amend(session: cmd.Session, v: dict[str, Any]) -> Output:
    h = _health(session)
    version = h.amend(v["record_id"], _content(v["file"]))
    return _done(f"record {v['record_id']} version {version}", h.record(v["record_id"]) or {})


def read(session: cmd.Session, v: dict[str, Any]) -> Output:
    content = _health(session).read(v["ref"], v["purpose"], wait_s=v["wait"])
    out: Path | None = v["out"]
    if out is not None:
        out.write_bytes(content)
        doc = {"ref": v["ref"], "bytes": len(content), "written": str(out)}
        return Output(doc, (Fields(f"{v['ref']} read (access logged)", doc),))
    text = content.decode("utf-8", "replace")
    if not sys.stdout.isatty() and not text.endswith("\n"):
        text += "\n"
    return Output({"ref": v["ref"], "content": text}, (Text(text.rstrip("\n")),))


def share(session: cmd.Session, v: dict[str, Any]) -> Output:
    h = _health(session)
    h.share(v["record_id"], v["org"])
    return _done(f"record {v['record_id']} shared with {v['org']}", h.record(v["record_id"]) or {})


def prescribe(session: cmd.Session, v: dict[str, Any]) -> Output:
    h = _health(session)
    rx_id = h.prescribe(v["patient"], v["drug"], v["dose"], v["quantity"], v["expires"], v["note"])
    return _done(f"prescription {rx_id} issued", h.prescription(rx_id) or {"id": rx_id})


def present(session: cmd.Session, v: dict[str, Any]) -> Output:
    h = _health(session)
    h.present(v["rx_id"], v["org"])
    return _done(f"{v['rx_id']} presented to {v['org']}", h.prescription(v["rx_id"]) or {})


def details(session: cmd.Session, v: dict[str, Any]) -> Output:
    doc = _health(session).details(v["rx_id"], v["purpose"], wait_s=v["wait"])
    return _done(f"details of {v['rx_id']} (access logged)", doc)


def share_claim(session: cmd.Session, v: dict[str, Any]) -> Output:
    h = _health(session)
    h.share_claim(v["rx_id"], v["org"])
    return _done(f"{v['rx_id']} shared with {v['org']}", h.prescription(v["rx_id"]) or {})


PATIENT = address("patient", "The patient: address or identity directory.")
RECORD = arg("record_id", help="Record id (REC...).")
RX = arg("rx_id", help="Prescription id (RX...).")
ORG = arg("org", help="An organisation.")
PRESCRIBER = ("org", "prescribed by")  # the column of a prescription's doctor's organisation
WAIT = opt("wait", float, "Seconds to wait while the node fetches the content.", default=30.0)

COMMANDS = CommandTable(
    contract=NAME,
    help="Health: private medical records shared by consent, prescriptions, claims.",
    wrap_json=True,
    notes=(
        "Record content and prescription details are private data: only the nodes of the "
        "organisations granted hold them. Use --url of your own organisation's node.",
    ),
    commands=(
        tx("register-patient", "Register yourself (the signer) as a patient."),
        tx(
            "consent", "(patient) Consent to an organisation treating you and reading records.", ORG
        ),
        tx("withdraw-consent", "(patient) Withdraw a consent.", ORG),
        custom(
            "add-record",
            "(clinician) Write a record (FILE, encrypted here) for a patient.",
            add_record,
            PATIENT,
            arg("kind", help="lab, imaging, diagnosis, discharge or other."),
            local_file("The record's content (kept off the ledger)."),
            repeated(
                "reader", "Another organisation that may read it (repeatable; consented ones only)."
            ),
            uses=SIGNED,
        ),
        custom(
            "amend",
            "(clinician of the writer) A new version of a record, for its current readers.",
            amend,
            RECORD,
            local_file("The new content."),
            uses=SIGNED,
        ),
        custom(
            "read",
            "Log an access to a record or a prescription and read its content.",
            read,
            arg("ref", help="Record id (REC...) or prescription id (RX...)."),
            opt("purpose", help="Why you read it (logged on chain)."),
            opt("out", Path | None, "Write the content to this file.", default=None),
            WAIT,
            uses=SIGNED,
        ),
        custom(
            "share",
            "(patient; or a clinician of a reader, with the patient's consent) Let ORG read it.",
            share,
            RECORD,
            ORG,
            uses=SIGNED,
        ),
        tx("revoke", "(patient) Stop ORG reading a record; its nodes delete it.", RECORD, ORG),
        tx(
            "purge",
            "(patient) Delete a record's content everywhere and take it off her list; its "
            "hash stays.",
            RECORD,
        ),
        custom(
            "prescribe",
            "(doctor) Issue a prescription; drug and dose stay private.",
            prescribe,
            PATIENT,
            opt("drug", help="The drug and strength."),
            opt("dose", help="How to take it."),
            opt("quantity", int, "Units to dispense.", min=1),
            opt(
                "expires",
                help="Expiry: ms, YYYY-MM-DD[THH:MM] or +N d|h|m|s.",
                parse=inputs.time_ms,
            ),
            opt("note", default=""),
            uses=SIGNED,
        ),
        custom(
            "present",
            "(patient) Present a prescription to pharmacy ORG.",
            present,
            RX,
            ORG,
            uses=SIGNED,
        ),
        custom(
            "details",
            "Read a prescription's private details (logged as an access).",
            details,
            RX,
            opt("purpose", help="Why you read them (logged on chain)."),
            WAIT,
            uses=SIGNED,
        ),
        tx(
            "dispense",
            "(pharmacy) Dispense a presented prescription, once.",
            RX,
            arg("quantity", int),
        ),
        tx(
            "cancel",
            "(the prescribing doctor, or the patient declining it) Cancel an undispensed "
            "prescription.",
            RX,
            arg("reason"),
        ),
        tx(
            "dismiss",
            "(patient) Take a dispensed, cancelled or expired prescription off her list.",
            RX,
        ),
        custom(
            "share-claim",
            "(patient or the dispensing pharmacy) Share a dispensed prescription with insurer ORG.",
            share_claim,
            RX,
            ORG,
            uses=SIGNED,
        ),
        tx(
            "reimburse",
            "(insurer) Record the reimbursement of a prescription.",
            RX,
            fen("amount_fen"),
        ),
        tx(
            "suspend-doctor",
            "(regulator) Suspend a doctor's prescribing.",
            address("doctor"),
            arg("reason"),
        ),
        tx(
            "reinstate-doctor",
            "(regulator) Reinstate a suspended doctor.",
            address("doctor"),
        ),
        record_view(
            "patient",
            "A patient and the organisations it consented to.",
            PATIENT,
            title="patient {patient}",
            missing="{patient} is not a registered patient",
        ),
        record_view(
            "record",
            "A record: kind, writer, versions (hashes), readers.",
            RECORD,
            title="record {record_id}",
            missing="unknown record {record_id}",
        ),
        table_view(
            "records",
            "A patient's records (refused past 40: use records-page).",
            PATIENT,
            method="records_of",
            columns=("id", "kind", ("org", "written by"), "readers", "purged", TIME),
            title="records of {patient}",
        ),
        view(
            "records-page",
            "A page of a patient's records, oldest first; 'next' is the --start of the "
            "following page.",
            PATIENT,
            opt("start", int, default=1),
            opt("limit", int, default=40),
            method="records_of_page",
        ),
        table_view(
            "log",
            "Every access to a record or a prescription's details (refused past 150: use "
            "log-page).",
            arg("ref", help="Record or prescription id."),
            method="access_log",
            columns=(NUMBER, "org", ("name", "who"), "purpose", TIME),
            title="access log of {ref}",
        ),
        view(
            "log-page",
            "A page of the accesses to a record or a prescription's details, oldest first; "
            "'next' is the --start of the following page.",
            arg("ref", help="Record or prescription id."),
            opt("start", int, default=1),
            opt("limit", int, default=150),
            method="access_log_page",
        ),
        record_view(
            "prescription",
            "A prescription: quantity, expiry, status (details are private).",
            RX,
            title="prescription {rx_id}",
            missing="unknown prescription {rx_id}",
        ),
        table_view(
            "prescriptions",
            "A patient's prescriptions (refused past 40: use prescriptions-page).",
            PATIENT,
            method="prescriptions_of",
            columns=("id", PRESCRIBER, "quantity", ("expires_ms", "expires"), "status"),
            title="prescriptions of {patient}",
        ),
        view(
            "prescriptions-page",
            "A page of a patient's prescriptions, oldest first; 'next' is the --start of the "
            "following page.",
            PATIENT,
            opt("start", int, default=1),
            opt("limit", int, default=40),
            method="prescriptions_of_page",
        ),
        table_view(
            "claimable",
            "Dispensed prescriptions shared with insurer ORG, not reimbursed yet (refused "
            "past 40: use claimable-page).",
            ORG,
            columns=("id", PRESCRIBER, "quantity", "status"),
            title="claimable by {org}",
        ),
        cmd.view(
            "claimable-page",
            "A page of the claims insurer ORG may still reimburse; 'next' is the --start of "
            "the following page (null after the last).",
            ORG,
            opt("start", int, default=1),
            opt("limit", int, default=40),
            method="claimable_page",
        ),
        record_view(
            "stats",
            "Statistics (no personal data, no content).",
            method="statistics",
            title="health statistics",
        ),
        record_view(
            "suspended",
            "Whether a doctor's prescribing is suspended.",
            address("doctor"),
            title="suspension of {doctor}",
            missing="{doctor} is not suspended",
        ),
    ),
)
