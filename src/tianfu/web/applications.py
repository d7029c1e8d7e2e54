"""The applications' pages: traceability, fund supervision, supply-chain finance, IP
rights, city governance cases and evidence deposits, read from each contract's latest state.

Read-only, like the explorer: records are read with `ConsoleData.record`, lists a page at a
time (`ConsoleData.scan_page` / `counted_page` / `list_page`, newest first, the cursor of the
next page in the link), and the contracts' own views; ids in the path are checked against the
contracts' id alphabets first (a malformed id is a 400 page, an unknown one a 404 page).
"""

from __future__ import annotations

import io
import re
from typing import Any, NamedTuple

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tianfu.apps.fund_supervision.sdk import paged_report
from tianfu.proofs.documents import dump_document
from tianfu.web.data import (
    HEIGHT_CURSOR,
    HISTORY_CURSOR,
    PAYMENTS_CURSOR,
    TRACE_STEP_CURSOR,
    ConsoleData,
)
from tianfu.web.i18n import N_
from tianfu.web.render import Ids, bad_request, cursor, lookup, not_found, page, secured
from tianfu.web.route import PageRoute
from tianfu.web.words import REFUSAL_REASONS, REFUSED_ATTEMPTS, REFUSED_OTHER

MAX_TREE = 500  # nodes of an allocation or receivable tree shown on one page
MAX_LIST = 200  # records of one kind read to compute a page's summaries (alerts, parties)
ACCOUNTS_PAGE = 200  # accounts of a fund one page of its allocation tree shows
MAX_REPORT_PAGES = 10  # report pages a fund page reads to check the whole fund's conservation
REPEATED_PAYMENTS = 2  # a beneficiary paid at least this many times in one fund is flagged
DAY_MS = 86_400_000
DEFAULT_IDLE_DAYS = 30
MAX_IDLE_DAYS = 36_500
_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# The traceability events that create batches, and their field naming the new batch(es)
BATCH_CREATIONS = {"BatchCreated": "code", "BatchSplit": "into", "BatchesMerged": "code"}


class _Records(NamedTuple):
    """Records of one kind shown on a page: where they are and their ids."""

    contract: str
    prefix: str  # the record of id X is at prefix + X
    ids: Ids


BATCH = _Records(
    "traceability",
    "batch:",
    Ids(_ID, N_("Not a batch code: %(value)s"), N_("No batch with code %(code)s")),
)
RECEIVABLE = _Records(
    "supply_finance",
    "r:",
    Ids(_ID, N_("Not a receivable id: %(value)s"), N_("No receivable %(id)s")),
)
WORK = _Records(
    "ip_rights", "work:", Ids(_ID, N_("Not a work id: %(value)s"), N_("No work %(id)s"))
)
CASE = _Records(
    "city_governance", "case:", Ids(_ID, N_("Not a case id: %(value)s"), N_("No case %(id)s"))
)
# A case history entry's bookkeeping, shown in the entry's line rather than as its data.
CASE_LOG_KEYS = frozenset({"n", "action", "dept", "by", "by_org", "height", "time_ms"})
DEPOSIT = _Records(
    "evidence", "dep:", Ids(_ID, N_("Not a deposit id: %(value)s"), N_("No deposit %(id)s"))
)


def _ok_id(text: str) -> bool:
    return bool(_ID.fullmatch(text))


def trace_url(base: str, code: str) -> str:
    """The public trace page of batch `code` under a console's base URL."""
    return f"{base.rstrip('/')}/trace/{code}"


def qr_svg(url: str) -> bytes:
    """A QR code of `url` as SVG (error correction M, like printed labels)."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=4, border=2)
    return buf.getvalue()


def applications_router(data: ConsoleData) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=PageRoute)

    def record(
        request: Request, kind: _Records, value: str, **ids: str
    ) -> dict[str, Any] | HTMLResponse:
        """The record of `kind` for an id from the path (or its 400 / 404 page)."""

        def load(key: str) -> Any:
            return data.record(kind.contract, kind.prefix + key)

        return lookup(request, kind.ids, value, load, **ids)

    # -- traceability ----------------------------------------------------------------------
    @router.get("/trace", response_class=HTMLResponse)
    def batches(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.created_page("traceability", BATCH_CREATIONS, "batch:", before)
        rows = [v for _, v in p.rows if isinstance(v, dict)]
        products = {str(b.get("product")) for b in rows}
        return page(
            request,
            "trace_list.html",
            batches=rows,
            products={i: data.record("traceability", f"product:{i}") for i in products},
            paged=p,
            names=data.names(),
            deployed=data.deployed("traceability"),
        )

    @router.get("/trace/{code}", response_class=HTMLResponse)
    def trace(request: Request, code: str) -> HTMLResponse:
        batch = record(request, BATCH, code, code=code)
        if isinstance(batch, HTMLResponse):
            return batch
        before = cursor(request, "before", pattern=TRACE_STEP_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        product = data.record("traceability", f"product:{batch.get('product')}")
        steps = data.scan_page("traceability", f"ev:{code}:", before)
        events = [v for _, v in steps.rows]
        return page(
            request,
            "trace.html",
            batch=batch,
            product=product if isinstance(product, dict) else None,
            events=[e for e in events if isinstance(e, dict)],
            steps=steps,
            names=data.names(),
            code=code,
        )

    @router.get("/trace/{code}/qr.svg")
    def trace_qr(request: Request, code: str) -> Response:
        batch = record(request, BATCH, code, code=code)
        if isinstance(batch, HTMLResponse):
            return batch
        svg = qr_svg(trace_url(str(request.base_url), code))
        return secured(Response(svg, media_type="image/svg+xml"))

    # -- fund supervision ------------------------------------------------------------------
    @router.get("/funds", response_class=HTMLResponse)
    def funds(request: Request) -> HTMLResponse:
        before = cursor(request, "before", numeric=True)
        if isinstance(before, HTMLResponse):
            return before
        p = data.list_page(list(data.record("fund_supervision", "funds") or []), before)
        rows = [data.record("fund_supervision", f"fund:{i}") for i in p.rows]
        return page(
            request,
            "funds.html",
            funds=[r for r in rows if isinstance(r, dict)],
            paged=p,
            deployed=data.deployed("fund_supervision"),
        )

    @router.get("/funds/{fund_id}", response_class=HTMLResponse)
    def fund(request: Request, fund_id: str, idle_days: str | None = None) -> HTMLResponse:
        if not _ok_id(fund_id):
            return bad_request(request, N_("Not a fund id: %(value)s"), value=fund_id[:80])
        days = DEFAULT_IDLE_DAYS
        if idle_days is not None:
            if not (idle_days.isascii() and idle_days.isdigit()) or int(idle_days) > MAX_IDLE_DAYS:
                return bad_request(
                    request, N_("Not a number of days: %(value)s"), value=idle_days[:20]
                )
            days = int(idle_days)
        before = cursor(request, "before", pattern=PAYMENTS_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        first = cursor(request, "accounts", numeric=True)
        if isinstance(first, HTMLResponse):
            return first
        if first is not None and int(first) < 1:
            return bad_request(request, N_("Not a page of this list: %(value)s"), value=first)
        f = data.record("fund_supervision", f"fund:{fund_id}")
        if not isinstance(f, dict):
            return not_found(request, N_("No fund %(id)s"), id=fund_id)
        start = 1 if first is None else int(first)
        accounts = _accounts_page(data, fund_id, days * DAY_MS, start)
        report = _fund_report(data, fund_id, days * DAY_MS)
        tree = _page_tree(accounts.get("accounts", []))
        paid = data.scan_page("fund_supervision", f"pay:{fund_id}:", before)
        payments = [v for _, v in paid.rows if isinstance(v, dict)]
        # One more record than is checked tells whether any was left unchecked.
        scanned = [v for _, v in data.scan("fund_supervision", f"pay:{fund_id}:", MAX_LIST + 1)]
        unchecked = len(scanned) > MAX_LIST
        scanned = scanned[:MAX_LIST]
        repeated = [
            v
            for v in scanned
            if isinstance(v, dict) and len(v.get("paid") or []) >= REPEATED_PAYMENTS
        ]
        shared = paid_by_several(scanned)
        return page(
            request,
            "fund.html",
            f=f,
            report=report if isinstance(report, dict) else {},
            checked=isinstance(report, dict),
            accounts=accounts,
            tree=tree,
            payments=payments,
            paid=paid,
            repeated=repeated,
            shared=shared,
            payments_checked=None if not unchecked else MAX_LIST,
            refusals=data.view("fund_supervision", "refusals", fund_id) or [],
            idle_days=days,
            reasons=REFUSAL_REASONS,
            attempts=REFUSED_ATTEMPTS,
            other_attempt=REFUSED_OTHER,
        )

    # -- supply-chain finance --------------------------------------------------------------
    @router.get("/receivables", response_class=HTMLResponse)
    def receivables(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.created_page("supply_finance", {"Issued": "id"}, "r:", before)
        rows = [v for _, v in p.rows if isinstance(v, dict) and v.get("parent") is None]
        return page(
            request,
            "receivables.html",
            rows=rows,
            paged=p,
            deployed=data.deployed("supply_finance"),
            names=data.names(),
            parties=_parties(data, "supply_finance"),
        )

    @router.get("/receivables/{rid}", response_class=HTMLResponse)
    def receivable(request: Request, rid: str) -> HTMLResponse:
        r = record(request, RECEIVABLE, rid, id=rid)
        if isinstance(r, HTMLResponse):
            return r
        root = str(r.get("root") or rid)
        return page(
            request,
            "receivable.html",
            r=r,
            tree=_receivable_tree(data, root),
            names=data.names(),
            parties=_parties(data, "supply_finance"),
        )

    # -- IP rights -------------------------------------------------------------------------
    @router.get("/works", response_class=HTMLResponse)
    def works(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.created_page("ip_rights", {"WorkRegistered": "id"}, "work:", before)
        rows = [v for _, v in p.rows if isinstance(v, dict)]
        return page(
            request,
            "works.html",
            works=rows,
            names=data.names(),
            paged=p,
            deployed=data.deployed("ip_rights"),
        )

    @router.get("/works/{work_id}", response_class=HTMLResponse)
    def work(request: Request, work_id: str) -> HTMLResponse:
        w = record(request, WORK, work_id, id=work_id)
        if isinstance(w, HTMLResponse):
            return w
        cursors = {}
        for name in ("licences", "disputes"):
            cursors[name] = cursor(request, name, numeric=True)
        cursors["history"] = cursor(request, "history", pattern=HISTORY_CURSOR)
        for c in cursors.values():
            if isinstance(c, HTMLResponse):
                return c
        lic_page = data.list_page(list(w.get("licences") or []), _text(cursors["licences"]))
        dispute_page = data.list_page(list(w.get("disputes") or []), _text(cursors["disputes"]))
        history = data.scan_page("ip_rights", f"hist:{work_id}:", _text(cursors["history"]))
        lics = [data.record("ip_rights", f"lic:{i}") for i in lic_page.rows]
        disputes = [data.record("ip_rights", f"dispute:{i}") for i in dispute_page.rows]
        return page(
            request,
            "work.html",
            w=w,
            licences=[x for x in lics if isinstance(x, dict)],
            lic_page=lic_page,
            disputes=[x for x in disputes if isinstance(x, dict)],
            dispute_page=dispute_page,
            history=[x for _, x in history.rows if isinstance(x, dict)],
            history_page=history,
            names=data.names(),
        )

    # -- city governance -------------------------------------------------------------------
    @router.get("/cases", response_class=HTMLResponse)
    def cases(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.created_page("city_governance", {"CaseFiled": "id"}, "case:", before)
        rows = [v for _, v in p.rows if isinstance(v, dict)]
        return page(
            request,
            "cases.html",
            cases=rows,
            depts=_departments(data, [c.get("dept") for c in rows]),
            paged=p,
            deployed=data.deployed("city_governance"),
        )

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    def case(request: Request, case_id: str) -> HTMLResponse:
        c = record(request, CASE, case_id, id=case_id)
        if isinstance(c, HTMLResponse):
            return c
        before = cursor(request, "log", numeric=True)
        if isinstance(before, HTMLResponse):
            return before
        count = c.get("log")
        total = count if isinstance(count, int) and not isinstance(count, bool) else 0
        log = data.counted_page("city_governance", f"log:{case_id}:", total, before)
        entries = [v for _, v in log.rows if isinstance(v, dict)]
        shown = [c.get("dept")] + [e.get(k) for e in entries for k in ("dept", "from_dept")]
        return page(
            request,
            "case.html",
            c=c,
            entries=entries,
            log_page=log,
            log_keys=CASE_LOG_KEYS,
            depts=_departments(data, shown),
            names=data.names(),
        )

    # -- evidence --------------------------------------------------------------------------
    @router.get("/evidence/{deposit_id}", response_class=HTMLResponse)
    def deposit(request: Request, deposit_id: str) -> HTMLResponse:
        d = record(request, DEPOSIT, deposit_id, id=deposit_id)
        if isinstance(d, HTMLResponse):
            return d
        pages = {}
        for log, count in (("att", "natt"), ("cv", "ncv")):
            before = cursor(request, log, numeric=True)
            if isinstance(before, HTMLResponse):
                return before
            n = data.record("evidence", f"{count}:{deposit_id}")
            total = n if isinstance(n, int) else 0
            pages[log] = data.counted_page("evidence", f"{log}:{deposit_id}:", total, before)
        return page(
            request,
            "deposit.html",
            d=d,
            names=data.names(),
            attestations=[v for _, v in pages["att"].rows if isinstance(v, dict)],
            att_page=pages["att"],
            verifications=[v for _, v in pages["cv"].rows if isinstance(v, dict)],
            cv_page=pages["cv"],
        )

    @router.get("/evidence/{deposit_id}/certificate.json")
    def deposit_certificate(request: Request, deposit_id: str) -> Response:
        """The deposit's evidence certificate, made from the node's proofs (the browser
        verifies it on /verify against a genesis the visitor trusts, not this server)."""
        if not _ok_id(deposit_id):
            return bad_request(request, N_("Not a deposit id: %(value)s"), value=deposit_id[:80])
        doc = data.evidence_certificate(deposit_id)
        if doc is None:
            return not_found(request, N_("No deposit %(id)s"), id=deposit_id)
        return secured(
            Response(
                dump_document(doc),
                media_type="application/json",
                headers={
                    "Content-Disposition": f'attachment; filename="{deposit_id}.certificate.json"'
                },
            )
        )

    return router


def _departments(data: ConsoleData, ids: list[Any]) -> dict[str, dict[str, Any]]:
    """The city departments named by `ids` (a page's cases and history), by id: one read
    each, at most a page's worth."""
    found: dict[str, dict[str, Any]] = {}
    for i in ids:
        if isinstance(i, str) and _ID.fullmatch(i) and i not in found:
            dept = data.record("city_governance", f"dept:{i}")
            if isinstance(dept, dict):
                found[i] = dept
    return found


def _text(value: str | None | HTMLResponse) -> str | None:
    return value if isinstance(value, str) else None


class _Parties:
    """Enrolled participants of an application by address, read as the page asks for one
    (`party:<address>`, one record each), so every party shows its display name however
    many have enrolled."""

    def __init__(self, data: ConsoleData, contract: str) -> None:
        self._data, self._contract = data, contract
        self._read: dict[str, Any] = {}

    def get(self, address: Any) -> dict[str, Any] | None:
        if not isinstance(address, str) or not address:
            return None
        if address not in self._read:
            self._read[address] = self._data.record(self._contract, f"party:{address}")
        found = self._read[address]
        return found if isinstance(found, dict) else None


def _parties(data: ConsoleData, contract: str) -> _Parties:
    return _Parties(data, contract)


def paid_by_several(records: list[Any]) -> list[tuple[str, list[str]]]:
    """The households (beneficiary hashes) of a fund's payment records that more than one
    organisation paid, with those organisations in the order found: the contract refuses a
    second organisation's payment, so these are payments made before that rule."""
    orgs: dict[str, list[str]] = {}
    for r in records:
        if (
            not isinstance(r, dict)
            or not r.get("paid")
            or not isinstance(r.get("beneficiary"), str)
        ):
            continue
        named = r.get("org")
        org = named if isinstance(named, str) else "?"
        found = orgs.setdefault(r["beneficiary"], [])
        if org not in found:
            found.append(org)
    return [(h, found) for h, found in orgs.items() if len(found) > 1]


def _fund_report(data: ConsoleData, fund_id: str, idle_ms: int) -> dict[str, Any] | None:
    """The whole fund's report read a page at a time (at most MAX_REPORT_PAGES pages; None
    past that, or when the node does not answer: the page then says the conservation of
    the whole fund is not checked here, instead of reporting a failure)."""
    try:
        return paged_report(
            lambda *a: data.view("fund_supervision", *a),
            fund_id,
            idle_ms,
            most_pages=MAX_REPORT_PAGES,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _accounts_page(data: ConsoleData, fund_id: str, idle_ms: int, start: int) -> dict[str, Any]:
    """One page of the fund's report (`report_page`): the accounts `start`.. (at most
    ACCOUNTS_PAGE, in the order they first received from the fund) with their books, and
    "count" / "next" (empty when the node does not answer)."""
    page = data.view("fund_supervision", "report_page", fund_id, idle_ms, start, ACCOUNTS_PAGE)
    if not isinstance(page, dict) or not isinstance(page.get("accounts"), list):
        return {"accounts": [], "count": 0, "start": start, "next": None}
    return page


def _page_tree(rows: list[Any]) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """The accounts of one report page depth first: (depth, account, books). An account
    receives from its parent after the parent did, so a parent on the page comes before
    its children; an account whose parent is on another page starts a tree of its own."""
    books = [r for r in rows if isinstance(r, dict) and isinstance(r.get("account"), str)]
    on_page = {r["account"] for r in books}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for r in books:
        if r.get("parent") in on_page:
            children.setdefault(r["parent"], []).append(r)
        else:
            roots.append(r)
    out: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    stack = [(0, r) for r in reversed(roots)]
    while stack:
        depth, r = stack.pop()
        acct = {"id": r["account"], "name": r.get("name"), "level": r.get("level")}
        out.append((depth, acct, r))
        stack.extend((depth + 1, c) for c in reversed(children.get(r["account"], [])))
    return out


def _receivable_tree(data: ConsoleData, root: str) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    stack = [(0, root)]
    while stack and len(out) < MAX_TREE:
        depth, rid = stack.pop()
        r = data.record("supply_finance", f"r:{rid}")
        if not isinstance(r, dict):
            continue
        out.append((depth, r))
        stack.extend((depth + 1, c) for c in reversed(list(r.get("children") or [])))
    return out
