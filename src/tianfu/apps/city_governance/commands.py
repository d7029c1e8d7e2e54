"""`tianfu app city_governance ...`: departments, cases from filing to closing, deadlines,
and public statistics per department.

Durations are typed as ms or N d|h|m|s (`72h`) and printed readably; a citizen appears
only as a salted hash (`reporter-hash`), a complaint only as the SHA-256 of its text.
"""

from __future__ import annotations

from tianfu.apps.city_governance import NAME
from tianfu.apps.city_governance.sdk import reporter_hash
from tianfu.apps.common import inputs
from tianfu.apps.common.commands import (
    NUMBER,
    TIME,
    CommandTable,
    arg,
    custom,
    in_order,
    opt,
    printed,
    record_view,
    table_view,
    tx,
    view,
)
from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.params import document
from tianfu.apps.common.readable import Readable


def verdict(text: str) -> bool:
    if text not in ("pass", "fail"):
        raise BadInput(f"verdict {text!r} must be pass or fail")
    return text == "pass"


def optional_hash(text: str) -> str:
    """ "" stays "" (none given); anything else is a SHA-256 or a file to hash."""
    return "" if text == "" else inputs.hash_or_file(text)


CASE = arg("case_id", help="Case id.")
COMMANDS = CommandTable(
    contract=NAME,
    help="City governance: cases across departments, deadlines in block time, public statistics.",
    readable=Readable(durations=frozenset({"sla_ms", "overdue_ms"})),
    wrap_json=True,
    commands=(
        tx(
            "register-department",
            "(city_admin) Register a department of a member organisation with its service level.",
            arg("dept_id"),
            arg("name"),
            arg("org", help="The member organisation whose staff work for it."),
            opt(
                "sla",
                help="Deadline after dispatch: ms or N d|h|m|s (urgent: a quarter).",
                parse=inputs.duration_ms,
            ),
        ),
        custom(
            "reporter-hash",
            "Compute (locally) the salted hash under which a citizen is recorded.",
            printed(reporter_hash, "contact", "salt"),
            arg("contact", help="The citizen's phone number or ID (never sent)."),
            opt("salt", help="The service centre's secret salt."),
            uses=("json",),
        ),
        tx(
            "file",
            "(service_centre or sensor) File a case.",
            CASE,
            arg(
                "category",
                help="road, water, sanitation, noise, lighting, greenery, traffic, other.",
            ),
            arg("location", help="A public place: street, grid cell (no personal data)."),
            arg("summary", help="What is wrong (no names, phone or ID numbers)."),
            opt("priority", help="normal or urgent.", default="normal"),
            opt(
                "details",
                help="The complaint's full text: its SHA-256 or the file.",
                default="",
                parse=optional_hash,
            ),
            opt("reporter", help="The citizen's salted hash (see reporter-hash).", default=""),
            opt("sensor_ref", help="(sensor) The alarm's reference.", default=""),
            method="file_case",
            args=in_order(
                "case_id",
                "category",
                "priority",
                "location",
                "summary",
                "details",
                "reporter",
                "sensor_ref",
            ),
        ),
        tx("dispatch", "(dispatcher) Send a filed case to a department.", CASE, arg("dept_id")),
        tx(
            "transfer",
            "(the case's department or a dispatcher; after 10 transfers the supervising "
            "office) Hand a case to another department.",
            CASE,
            arg("to_dept"),
            arg("reason"),
        ),
        tx(
            "handle",
            "(the case's department) Report a case handled.",
            CASE,
            arg("result", help="What was done."),
            document("evidence", "Photos or work order", option=True),
        ),
        tx(
            "check",
            "(supervisor) Check a handled case: pass closes it, fail sends it back.",
            CASE,
            arg("verdict", help="pass or fail.", parse=verdict),
            arg("note"),
        ),
        tx("reopen", "(supervisor) Reopen a closed case.", CASE, arg("reason")),
        tx("flag-overdue", "Record that a case is past its deadline and not handled.", CASE),
        record_view(
            "show",
            "Show a case (overdue_ms: how late it is now).",
            CASE,
            method="case",
            title="case {case_id}",
        ),
        table_view(
            "history",
            "A case's history: filed, dispatched, transferred (with reasons), handled, checked "
            "(refused past 100 entries: use history-page).",
            CASE,
            columns=(NUMBER, "action", "dept", ("by_org", "by"), TIME, "reason", "note", "result"),
        ),
        view(
            "history-page",
            "A page of a case's history; 'next' is the --start of the following page.",
            CASE,
            opt("start", int, default=1),
            opt("limit", int, default=100),
            method="history_page",
        ),
        table_view("departments", "The departments.", columns=("id", "name", "org", "sla_ms")),
        table_view(
            "stats",
            "Public statistics per department (counts only, no personal data).",
            columns=("dept", "received", "transferred_in", "transferred_out", "handled", "late")
            + ("closed", "reopened", "open", "overdue_now", "overdue_flagged"),
        ),
        table_view(
            "overdue",
            "Cases past their deadline and not handled, at the current block time (refused "
            "past 1000 open cases: use overdue-in).",
            columns=("id", "dept", "priority", "due_ms", "overdue_ms"),
        ),
        view(
            "overdue-in",
            "The overdue cases among a page of a department's open cases; 'next' is the "
            "--start of the following page (null after the last).",
            arg("dept_id"),
            opt("start", int, default=1),
            opt("limit", int, default=200),
        ),
        view(
            "cases",
            "Case ids in filing order.",
            opt("start", int, default=1),
            opt("limit", int, default=200),
        ),
    ),
)
