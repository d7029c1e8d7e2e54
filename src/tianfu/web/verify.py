"""`/verify`: the page on which a proof document is verified in the visitor's browser.

The server sends only the page and its scripts (`static/js/verify.js` and the vendored
noble libraries); the document, the file and the genesis never leave the browser, and the
verdict is computed there against the genesis the visitor supplies (see docs/console.md for
what the in-browser verifier supports).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tianfu.web.data import ConsoleData
from tianfu.web.render import page
from tianfu.web.route import PageRoute


def verify_router(data: ConsoleData) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=PageRoute)

    @router.get("/verify", response_class=HTMLResponse)
    def verify(request: Request) -> HTMLResponse:
        status = data.status()
        return page(request, "verify.html", node_genesis=str(status.get("genesis_hash", "")))

    return router
