"""The health and photo sharing applications' pages, read from each contract's latest state.

Health: the medical records and prescriptions a patient shared with consent, newest first:
who holds each (the patient, the organisation that wrote it), which organisations were
granted access, and its access log. Never the private content: the chain holds only its
hash and the readers' wrapped keys, and the pages show neither. Photo sharing: the
photographs registered, each with its authorship proof (the registration transaction,
checked against the validators' signatures on its page, and a certificate to download),
its near-duplicate flags and the infringement reports naming it.

Lists are read a page at a time as the other application pages read them
(`ConsoleData.created_page`); a record's logs through the contracts' own page views
(`access_log_page`, `flags_page`, `reports_page`), a page per request, the `start` of the
next page in the link. Ids in the path are checked against the contracts' id forms first
(a malformed id is a 400 page, an unknown one a 404 page).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tianfu.apps.photo_sharing import BLOB_PREFIX
from tianfu.apps.photo_sharing.certificate import SPEC as PHOTO_CERTIFICATE
from tianfu.proofs.documents import dump_document
from tianfu.web.data import HEIGHT_CURSOR, ConsoleData
from tianfu.web.i18n import N_
from tianfu.web.render import Ids, bad_request, cursor, lookup, not_found, page, secured
from tianfu.web.route import PageRoute

HEALTH = "health"
PHOTO = "photo_sharing"
LOG_PAGE = 50  # access log entries per page (the view gives at most 150)
FLAGS_PAGE = 50  # near-duplicate flags per page (the view gives at most 200)
REPORTS_PAGE = 25  # infringement reports per page (the view gives at most 25)
MAX_START = 10**15  # the `start` of a page: past any log a contract can hold

RECORD = Ids(
    re.compile(r"REC[0-9]{1,13}"), N_("Not a record id: %(value)s"), N_("No record %(id)s")
)
PRESCRIPTION = Ids(
    re.compile(r"RX[0-9]{1,14}"),
    N_("Not a prescription id: %(value)s"),
    N_("No prescription %(id)s"),
)
PHOTO_IDS = Ids(
    re.compile(r"PH[0-9]{1,14}"), N_("Not a photograph id: %(value)s"), N_("No photograph %(id)s")
)


def start_of(request: Request, name: str) -> int | HTMLResponse:
    """The `start` (1-based) of a page of a log read through a page view, from query
    parameter `name` (1 when absent), or a 400 page."""
    value = cursor(request, name, numeric=True)
    if isinstance(value, HTMLResponse):
        return value
    if value is None:
        return 1
    if not 1 <= int(value) <= MAX_START:
        return bad_request(request, N_("Not a page of this list: %(value)s"), value=value[:40])
    return int(value)


def log_page(answer: Any, field: str, start: int) -> dict[str, Any]:
    """A page view's answer ({"count", "start", field: [...], "next"}) with only its well
    formed entries; an empty page when the node does not answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get(field), list):
        return {"count": 0, "start": start, "rows": [], "next": None}
    count, nxt = answer.get("count"), answer.get("next")
    return {
        "count": count if isinstance(count, int) else 0,
        "start": start,
        "rows": [e for e in answer[field] if isinstance(e, dict)],
        "next": nxt if isinstance(nxt, int) and not isinstance(nxt, bool) else None,
    }


def counted_log(rows: Any, count: Any, start: int, limit: int) -> dict[str, Any]:
    """A page of a view that answers a list (`flags_page`, `reports_page`) as `log_page`
    gives it, its "next" from the log's count."""
    total = count if isinstance(count, int) and not isinstance(count, bool) else 0
    listed = [e for e in rows if isinstance(e, dict)] if isinstance(rows, list) else []
    return {
        "count": total,
        "start": start,
        "rows": listed,
        "next": start + limit if start + limit <= total else None,
    }


def app_pages_router(data: ConsoleData) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=PageRoute)

    # -- health ----------------------------------------------------------------------------
    @router.get("/medical", response_class=HTMLResponse)
    def medical(request: Request) -> HTMLResponse:
        pages = {}
        for param, event, prefix in (
            ("before", "RecordAdded", "rec:"),
            ("rx", "PrescriptionIssued", "rx:"),
        ):
            before = cursor(request, param, pattern=HEIGHT_CURSOR)
            if isinstance(before, HTMLResponse):
                return before
            pages[param] = data.created_page(HEALTH, {event: "id"}, prefix, before)
        return page(
            request,
            "medical.html",
            records=[v for _, v in pages["before"].rows if isinstance(v, dict)],
            records_page=pages["before"],
            prescriptions=[v for _, v in pages["rx"].rows if isinstance(v, dict)],
            rx_page=pages["rx"],
            names=data.names(),
            deployed=data.deployed(HEALTH),
        )

    def health_item(
        request: Request, ids: Ids, prefix: str, item_id: str, template: str
    ) -> HTMLResponse:
        item = lookup(request, ids, item_id, lambda i: data.record(HEALTH, prefix + i), id=item_id)
        if isinstance(item, HTMLResponse):
            return item
        start = start_of(request, "log")
        if isinstance(start, HTMLResponse):
            return start
        log = log_page(
            data.view(HEALTH, "access_log_page", item_id, start, LOG_PAGE), "entries", start
        )
        patient = data.view(HEALTH, "patient", item.get("patient"))
        return page(
            request,
            template,
            item=item,
            patient=patient if isinstance(patient, dict) else {},
            log=log,
            names=data.names(),
        )

    @router.get("/medical/records/{rec_id}", response_class=HTMLResponse)
    def medical_record(request: Request, rec_id: str) -> HTMLResponse:
        return health_item(request, RECORD, "rec:", rec_id, "medical_record.html")

    @router.get("/medical/prescriptions/{rx_id}", response_class=HTMLResponse)
    def prescription(request: Request, rx_id: str) -> HTMLResponse:
        return health_item(request, PRESCRIPTION, "rx:", rx_id, "prescription.html")

    # -- photo sharing ---------------------------------------------------------------------
    @router.get("/photos", response_class=HTMLResponse)
    def photos(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.created_page(PHOTO, {"PhotoRegistered": "id"}, "photo:", before)
        return page(
            request,
            "photos.html",
            photos=[v for _, v in p.rows if isinstance(v, dict)],
            paged=p,
            names=data.names(),
            blobs=BLOB_PREFIX,
            deployed=data.deployed(PHOTO),
        )

    @router.get("/photos/{photo_id}", response_class=HTMLResponse)
    def photo(request: Request, photo_id: str) -> HTMLResponse:
        ph = lookup(
            request, PHOTO_IDS, photo_id, lambda i: data.record(PHOTO, "photo:" + i), id=photo_id
        )
        if isinstance(ph, HTMLResponse):
            return ph
        starts = {}
        for param in ("flags", "reports"):
            start = start_of(request, param)
            if isinstance(start, HTMLResponse):
                return start
            starts[param] = start
        flags = counted_log(
            data.view(PHOTO, "flags_page", photo_id, starts["flags"], FLAGS_PAGE),
            data.view(PHOTO, "flag_count", photo_id),
            starts["flags"],
            FLAGS_PAGE,
        )
        reports = counted_log(
            data.view(PHOTO, "reports_page", photo_id, starts["reports"], REPORTS_PAGE),
            data.view(PHOTO, "report_count", photo_id),
            starts["reports"],
            REPORTS_PAGE,
        )
        return page(
            request,
            "photo.html",
            ph=ph,
            flags=flags,
            reports=reports,
            names=data.names(),
            blobs=BLOB_PREFIX,
        )

    @router.get("/photos/{photo_id}/certificate.json")
    def photo_certificate(request: Request, photo_id: str) -> Response:
        """The photograph's authorship certificate, made from the node's proofs (verified
        on /verify against a genesis the visitor trusts, not this server)."""
        if not PHOTO_IDS.pattern.fullmatch(photo_id):
            return bad_request(request, PHOTO_IDS.malformed, value=photo_id[:80])
        doc = data.record_certificate(
            PHOTO_CERTIFICATE.kind, PHOTO_CERTIFICATE.contract, PHOTO_CERTIFICATE.prefix + photo_id
        )
        if doc is None:
            return not_found(request, PHOTO_IDS.missing, id=photo_id)
        return secured(
            Response(
                dump_document(doc),
                media_type="application/json",
                headers={
                    "Content-Disposition": f'attachment; filename="{photo_id}.certificate.json"'
                },
            )
        )

    return router
