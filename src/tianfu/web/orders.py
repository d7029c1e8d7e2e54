"""The manufacturing application's pages: purchase orders newest first, and an order with
its bill of materials, the tree of orders it belongs to, the tree's alerts (late, overdue,
rejected deliveries), its milestones and its quality inspections.

Read-only, like the other application pages: the list is read a page at a time through the
orders' creation events (`ConsoleData.created_page`), an order's logs through the contract's
page views (`tree_page`, `alerts_page`, `milestones_page`, `inspections_page`), a page per
request with the `start` of the next page in the link. An order id is
`<organisation>/<id>`; a malformed one is a 400 page, an unknown one a 404 page.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tianfu.web.app_pages import log_page, start_of
from tianfu.web.data import HEIGHT_CURSOR, ConsoleData
from tianfu.web.i18n import N_
from tianfu.web.render import Ids, cursor, lookup, page
from tianfu.web.route import PageRoute

MANUFACTURING = "manufacturing"
TREE_PAGE = 100  # orders of a tree per page (the view gives at most 150)
ALERTS_PAGE = 50  # alerts of a tree per page (the view gives at most 75)
RECORDS_PAGE = 50  # milestones or inspections per page (the view gives at most 100)
# `<organisation>/<id>`: an organisation name holds no '/' nor white space, the id is the
# contract's alphabet.
ORDER = Ids(
    re.compile(r"[^/\s]{1,64}/[A-Za-z0-9_.\-]{1,64}"),
    N_("Not an order id: %(value)s"),
    N_("No order %(id)s"),
)


def orders_router(data: ConsoleData) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=PageRoute)

    @router.get("/orders", response_class=HTMLResponse)
    def orders(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.created_page(MANUFACTURING, {"OrderPlaced": "id"}, "order:", before)
        return page(
            request,
            "orders.html",
            orders=[v for _, v in p.rows if isinstance(v, dict)],
            paged=p,
            names=data.names(),
            deployed=data.deployed(MANUFACTURING),
        )

    @router.get("/orders/{order_id:path}", response_class=HTMLResponse)
    def order(request: Request, order_id: str) -> HTMLResponse:
        starts = {}
        for param in ("tree", "alerts", "ms", "insp"):
            start = start_of(request, param)
            if isinstance(start, HTMLResponse):
                return start
            starts[param] = start
        o = lookup(
            request,
            ORDER,
            order_id,
            lambda i: data.record(MANUFACTURING, "order:" + i),
            id=order_id,
        )
        if isinstance(o, HTMLResponse):
            return o

        def paged(method: str, field: str, start: int, limit: int) -> dict[str, Any]:
            return log_page(data.view(MANUFACTURING, method, order_id, start, limit), field, start)

        tree = paged("tree_page", "orders", starts["tree"], TREE_PAGE)
        if not tree["rows"] and starts["tree"] == 1:  # a tree placed before the paged index
            whole = data.view(MANUFACTURING, "tree", order_id)
            if isinstance(whole, list):
                rows = [r for r in whole if isinstance(r, dict)][:TREE_PAGE]
                tree = {"count": len(rows), "start": 1, "rows": rows, "next": None}
        return page(
            request,
            "order.html",
            o=o,
            items=[i for i in o.get("items") or [] if isinstance(i, dict)],
            tree=tree,
            alerts=paged("alerts_page", "alerts", starts["alerts"], ALERTS_PAGE),
            milestones=paged("milestones_page", "milestones", starts["ms"], RECORDS_PAGE),
            inspections=paged("inspections_page", "inspections", starts["insp"], RECORDS_PAGE),
            names=data.names(),
        )

    return router
