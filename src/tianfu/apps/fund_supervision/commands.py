"""`tianfu app fund_supervision ...`: every fund supervision operation and query.

Amounts are typed in integer fen and printed in yuan. The fund's pool is the source
account "" (or "pool" on the command line). An ADDRESS argument takes a 40-hex address or
an identity directory. `attempt-allocate` / `attempt-disburse` record a refusal on chain
and exit 1 when refused.
"""

from __future__ import annotations

from typing import Any

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.commands import (
    CommandTable,
    arg,
    custom,
    opt,
    printed,
    table_view,
    tx,
    view,
)
from tianfu.apps.common.display import Output, Rows, Text
from tianfu.apps.common.errors import CommandFailed
from tianfu.apps.common.params import AMOUNT, address, document, fen
from tianfu.apps.common.readable import Readable, yuan
from tianfu.apps.fund_supervision import NAME
from tianfu.apps.fund_supervision.sdk import (
    POOL,
    REFUSAL_PAGE,
    FundSupervision,
    beneficiary_hash,
    paged_report,
)

LEVEL_COLUMNS = ("level", "accounts", "received", "allocated_out", "disbursed", "balance")
IDLE_COLUMNS = ("account", "level", "balance", "idle_for_ms", "why")
REFUSAL_COLUMNS = ("seq", "kind", "code", "reason", "by", "height")


def source_account(text: str) -> str:
    """ "pool" (or "") is the fund's own pool; anything else an account id."""
    return POOL if text in ("", "pool") else text


def refused_attempt(outcome: Any) -> str | None:
    """An attempt's refusal (recorded on chain) as a message; None if it went through."""
    if isinstance(outcome, dict) and outcome.get("ok") is False:
        return f"refused ({outcome.get('code')}): {outcome.get('reason')}"
    return None


def report(session: cmd.Session, v: dict[str, Any]) -> Output:
    idle_ms = None if v["idle_days"] is None else v["idle_days"] * 86_400_000
    client = session.client()
    try:
        rep = paged_report(lambda *a: client.query(NAME, *a), v["fund_id"], idle_ms)
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandFailed(f"malformed or moving report: {exc}") from None
    summary = (
        f"fund {rep['fund']} ({rep['purpose']}): total {yuan(rep['total'])} yuan, pool "
        f"{yuan(rep['pool'])}, in accounts {yuan(rep['held_in_accounts'])}, disbursed "
        f"{yuan(rep['disbursed'])}, conserved: {rep['conserved']}, period ended: "
        f"{rep['period_ended']}"
    )
    shown = (
        Text(summary),
        Rows("balances per level", LEVEL_COLUMNS, rep["levels"]),
        Rows("idle funds", IDLE_COLUMNS, rep["idle"]),
        Rows("refused attempts", REFUSAL_COLUMNS, rep["refusals"]),
    )
    return Output({"result": rep}, shown)


ACCOUNT_COLUMNS = ("id", "name", "level", "parent", "manager", "beneficiaries")


def accounts(session: cmd.Session, v: dict[str, Any]) -> Output:
    items = FundSupervision(session.client()).all_accounts()
    return Output(items, (Rows("accounts", ACCOUNT_COLUMNS, items),))


def children(session: cmd.Session, v: dict[str, Any]) -> Output:
    try:
        ids = FundSupervision(session.client()).all_children(v["account_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandFailed(f"malformed sub-account pages: {exc}") from None
    items = [{"id": i} for i in ids]
    return Output(ids, (Rows("sub-accounts", ("id",), items),))


FUND = arg("fund_id")
ORG = arg("org", help="The organisation whose office registered the beneficiary.")
SOURCE = arg("source", help='Source account ("pool" = the fund\'s pool).', parse=source_account)
MEMO = opt("memo", help="A note recorded with the allocation.", default="")
DOC = document("doc", "Supporting document")
ALLOCATE = (FUND, SOURCE, arg("to"), AMOUNT, MEMO)
DISBURSE = (FUND, arg("account_id"), arg("id_hash"), AMOUNT, arg("purpose"), DOC)

COMMANDS = CommandTable(
    contract=NAME,
    help="Fund supervision: earmarked funds allocated down a hierarchy and paid to beneficiaries.",
    readable=Readable(
        money=frozenset(
            {"total", "pool", "allocated", "disbursed", "received", "allocated_out", "balance"}
            | {"amount", "held_in_accounts", "paid", "plan", "instalments"}
        ),
        durations=frozenset({"idle_for_ms"}),
    ),
    wrap_json=True,
    commands=(
        tx("enrol", "Enrol yourself (your office) as a participant.", arg("display_name")),
        tx(
            "register-account",
            "(fund authority, or the parent's manager) Register an account.",
            arg("account_id"),
            arg("name"),
            arg("level", help="province, city, county, township or village."),
            arg("parent", help='Parent account id ("pool" for a province).', parse=source_account),
            address("manager", "Manager's address or identity directory."),
        ),
        tx(
            "replace-manager",
            "(fund authority, or the parent's manager) Hand an account to a new manager; its "
            "books stay as they are.",
            arg("account_id"),
            address("manager", "The new manager's address or identity directory."),
            arg("reason"),
        ),
        custom(
            "beneficiary-hash",
            "Compute (locally) the salted hash under which a beneficiary is registered.",
            printed(beneficiary_hash, "identity_number", "salt"),
            arg("identity_number"),
            opt("salt", help="The registering office's secret salt."),
            uses=("json",),
        ),
        tx(
            "register-beneficiary",
            "(account manager) Register a beneficiary by the salted hash of its identity.",
            arg("account_id"),
            arg("id_hash", help="Salted hash (see beneficiary-hash)."),
            arg("purposes", list[str], "Purposes the beneficiary is eligible for."),
        ),
        tx(
            "create-fund",
            "(fund authority) Create an earmarked fund.",
            FUND,
            arg("purpose"),
            fen("total", "Total in fen."),
            opt("start", help="ms, YYYY-MM-DD, or +N d|h|m|s.", parse=inputs.time_ms),
            opt("end", help="ms, YYYY-MM-DD, or +N d|h|m|s.", parse=inputs.time_ms),
        ),
        tx(
            "allocate",
            "(source's manager) Allocate to a registered sub-account; refused = failed, "
            "nothing written.",
            *ALLOCATE,
        ),
        tx(
            "attempt-allocate",
            "Like allocate, but a refusal is recorded on chain (exit 1 when refused).",
            *ALLOCATE,
            verdict=refused_attempt,
        ),
        tx(
            "plan",
            "(account manager) Pay a beneficiary from a fund in these instalments instead of "
            "once (before its first payment from the fund).",
            FUND,
            arg("account_id"),
            arg("id_hash"),
            arg("instalments", list[int], "The instalments in fen, in the order they are paid."),
            method="plan_instalments",
        ),
        tx(
            "disburse",
            "(account manager) Pay a registered beneficiary (once per fund, or the next "
            "planned instalment); refused = failed, nothing written.",
            *DISBURSE,
        ),
        tx(
            "attempt-disburse",
            "Like disburse, but a refusal is recorded on chain (exit 1 when refused).",
            *DISBURSE,
            verdict=refused_attempt,
        ),
        view("fund", "Show a fund.", FUND),
        view("funds", "List fund ids."),
        custom(
            "accounts",
            "List registered accounts, parents first (read a page at a time).",
            accounts,
        ),
        view(
            "accounts-page",
            "A page of the registered accounts; 'next' is the --start of the following page.",
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="accounts_page",
        ),
        view("account", "An account's record and how many sub-accounts it has.", arg("account_id")),
        custom(
            "children",
            "List an account's sub-accounts in the order registered (read a page at a time).",
            children,
            arg("account_id"),
        ),
        view(
            "children-page",
            "A page of an account's sub-accounts; 'next' is the --start of the following page.",
            arg("account_id"),
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="children_page",
        ),
        view(
            "handovers",
            "Every handover of an account to a new manager, oldest first.",
            arg("account_id"),
            columns=("from", "to", "reason", "by", "org", "height"),
        ),
        view(
            "handover-page",
            "A page of an account's handovers; 'next' is the --start of the following page.",
            arg("account_id"),
            opt("start", int, default=1),
            opt("limit", int, default=100),
            method="handover_page",
        ),
        view(
            "balance",
            "An account's books for a fund (\"pool\" = the fund's pool).",
            FUND,
            arg("account_id", parse=source_account),
        ),
        view(
            "beneficiary",
            "A beneficiary's record (by its salted hash and registering organisation).",
            arg("id_hash"),
            ORG,
        ),
        view(
            "payee",
            "The organisation (and account) that pays a household from a fund: no other "
            "organisation pays the same hash from it (null: not paid yet).",
            FUND,
            arg("id_hash"),
        ),
        view(
            "payments",
            "A beneficiary's instalment plan (none: one payment) and what it was paid from a fund.",
            FUND,
            arg("id_hash"),
            ORG,
        ),
        table_view(
            "movements",
            "A fund's allocations and disbursements, in order.",
            FUND,
            opt("start", int, default=1),
            opt("limit", int, default=200),
            columns=("seq", "kind", "from", "to", "amount", "height"),
        ),
        view(
            "trace",
            "Every fen a beneficiary received from a fund, with the path through each level "
            "(the newest 20 allocations into each account before a payment, and their count).",
            FUND,
            arg("id_hash"),
            ORG,
        ),
        table_view(
            "allocations-into",
            "The allocations an account received from a fund, oldest first, a page at a time.",
            FUND,
            arg("account_id"),
            opt("start", int, default=1),
            opt("limit", int, default=200),
            columns=("seq", "from", "to", "amount", "height"),
            method="allocations_into",
        ),
        table_view(
            "refusals",
            "The newest 80 refused attempts recorded for a fund (refusal-page: all).",
            FUND,
            columns=REFUSAL_COLUMNS,
        ),
        table_view(
            "refusal-page",
            "A fund's refused attempts, oldest first, a page at a time.",
            FUND,
            opt("start", int, default=1),
            opt("limit", int, default=REFUSAL_PAGE),
            columns=REFUSAL_COLUMNS,
            method="refusal_page",
        ),
        custom(
            "report",
            "The regulator's report: per-level balances, conservation, idle funds, refusals "
            "(read a page at a time).",
            report,
            FUND,
            opt(
                "idle_days",
                int | None,
                "Balances unmoved this long are idle (default 30).",
                default=None,
            ),
        ),
    ),
)
