"""`tianfu app supply_finance ...`: every supply-chain finance operation and query.

Amounts are typed in integer fen and printed in yuan. An ADDRESS argument takes either a
40-hex address or an identity directory (its address is used).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.commands import CommandTable, arg, custom, opt, table_view, tx, view
from tianfu.apps.common.display import Output, Rows
from tianfu.apps.common.params import AMOUNT, address, fen
from tianfu.apps.common.readable import Readable
from tianfu.apps.supply_finance import NAME
from tianfu.apps.supply_finance.sdk import SupplyFinance

RID = arg("rid", help="Receivable (or part) id.")


def _issue_args(v: dict[str, Any]) -> list[Any]:
    digest = inputs.one_document(v["doc"], v["doc_hash"], "--doc", "--doc-hash")
    return [v["supplier"], v["amount"], v["maturity"], digest]


TOTALS_COLUMNS = ("root", "amount", "conserved", "outstanding", "paid", "parts")


def totals(session: cmd.Session, v: dict[str, Any]) -> Output:
    figures = SupplyFinance(session.client()).paged_totals(v["rid"])
    return Output(figures, (Rows(f"tree of {figures['root']}", TOTALS_COLUMNS, [figures]),))


COMMANDS = CommandTable(
    contract=NAME,
    help="Supply-chain finance: receivables issued, split, transferred, pledged, repaid.",
    readable=Readable(
        money=frozenset({"amount", "outstanding", "paid", "financed", "amounts"}),
        durations=frozenset({"overdue_ms"}),
    ),
    wrap_json=True,
    commands=(
        tx("enrol", "Enrol yourself (your company) as a participant.", arg("display_name")),
        tx(
            "issue",
            "(core enterprise) Issue a receivable to a tier-1 supplier.",
            address("supplier", "Supplier address or identity directory."),
            AMOUNT,
            opt("maturity", help="ms, YYYY-MM-DD, or +90d.", parse=inputs.time_ms),
            opt(
                "doc",
                Path | None,
                "The contract/invoice file; its SHA-256 is recorded.",
                default=None,
            ),
            opt(
                "doc_hash",
                str | None,
                "The SHA-256 (hex) of the contract/invoice.",
                default=None,
            ),
            args=_issue_args,
        ),
        tx(
            "index-claims",
            "(anyone) File the invoice claims of up to LIMIT more receivables issued before "
            "claims were kept per organisation (issue files the last 50 itself and is refused "
            "while more are unfiled).",
            opt("limit", int, default=200),
            method="index_claims",
        ),
        tx("accept", "(holder) Accept a receivable issued to you.", RID),
        tx("reject", "(holder) Refuse a receivable issued to you.", RID, arg("reason")),
        tx(
            "split",
            "(holder) Split a receivable into parts.",
            RID,
            arg("amounts", list[int], "The parts in fen; they must sum to the whole."),
        ),
        tx(
            "transfer",
            "(holder) Transfer a receivable (or part) to another enrolled participant.",
            RID,
            address("to", help=""),
        ),
        tx(
            "split-transfer",
            "(holder) Split off AMOUNT fen and transfer that part to TO.",
            RID,
            arg("amount", int),
            address("to", help=""),
        ),
        tx(
            "pledge",
            "(holder) Apply to BANK to finance the receivable (it is locked from now on).",
            RID,
            address("bank", help=""),
            method="apply_pledge",
        ),
        tx("cancel-pledge", "(holder) Withdraw a pledge application not yet approved.", RID),
        tx(
            "approve-pledge",
            "(bank) Approve financing of a pledged receivable.",
            RID,
            fen(help="Financing amount in fen."),
            arg("rate_bp", int, "Yearly rate in basis points (450 = 4.50%)."),
        ),
        tx("reject-pledge", "(bank) Decline a pledge application.", RID, arg("reason")),
        tx(
            "disburse",
            "(bank) Record that the approved financing was paid to the holder.",
            RID,
            arg("payment_ref"),
        ),
        tx(
            "release-pledge",
            "(bank) Release a pledge (the loan was settled); the receivable is unlocked.",
            RID,
        ),
        tx(
            "repay",
            "(core enterprise, issuer) Repay every unpaid part of a receivable.",
            RID,
            opt("ref", help="Payment reference.", default=""),
        ),
        tx(
            "audit",
            "(regulator) A recorded audit of the full tree of a receivable (refused past 500 "
            "parts: use audit-page).",
            RID,
        ),
        tx(
            "audit-page",
            "(regulator) A recorded audit of a page of a receivable's tree (parts in the order "
            "made; LIMIT at most 100); 'next' is the START of the following page.",
            RID,
            arg("start", int),
            arg("limit", int),
            method="audit_page",
        ),
        view("show", "Show one receivable or part.", RID, method="get"),
        table_view(
            "lineage",
            "The chain of parts from the original receivable down to RID.",
            RID,
            columns=("id", "amount", "holder", "status"),
        ),
        table_view(
            "holdings",
            "What an address holds (refused past 200: use holdings-page).",
            address("who"),
            columns=("id", "amount", "status", "maturity_ms", "pledge"),
        ),
        view(
            "holdings-page",
            "What an address holds, a page at a time; 'next' is the --start of the following "
            "page (null after the last). A part held throughout a walk is in exactly one page.",
            address("who"),
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="holdings_page",
        ),
        table_view(
            "overdue",
            "Unpaid parts past maturity, with their payees (refused past 1000 open "
            "receivables: use overdue-page).",
            columns=("id", "root", "payee", "amount", "maturity_ms", "overdue_ms"),
        ),
        view(
            "overdue-page",
            "The overdue parts of a page of the open receivables; 'next' is the --start of "
            "the following page (null after the last).",
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="overdue_page",
        ),
        view(
            "open",
            "Original receivables not yet fully repaid (refused past 1000: use open-page).",
            method="open_receivables",
        ),
        view(
            "open-page",
            "A page of the original receivables not yet fully repaid; 'next' is the --start "
            "of the following page (null after the last).",
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="open_page",
        ),
        custom(
            "totals",
            "Conservation figures of a receivable's tree (read a page at a time).",
            totals,
            RID,
        ),
        view(
            "tree-page",
            "A page of a receivable's tree (parts in the order made) with its figures; 'next' "
            "is the --start of the following page.",
            RID,
            opt("start", int, default=1),
            opt("limit", int, default=100),
            method="tree_page",
        ),
        view(
            "transfers-page",
            "A page of a receivable's transfers, oldest first (its record shows the newest "
            "10); 'next' is the --start of the following page.",
            RID,
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="transfers_page",
        ),
        view(
            "pledges-page",
            "A page of a receivable's closed pledges, oldest first (its record shows the "
            "newest 10); 'next' is the --start of the following page.",
            RID,
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="pledges_page",
        ),
        view(
            "invoice-claim",
            "The receivable that backs an invoice hash for an organisation (null: none).",
            arg("org"),
            arg("doc_hash"),
            method="invoice_claim",
        ),
        view(
            "claims-indexed",
            "How many receivables have their invoice claim filed by organisation "
            "(index-claims files the rest).",
            method="claims_indexed",
        ),
        view("party", "A participant's enrolment record.", address("who")),
    ),
)
