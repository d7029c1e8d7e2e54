"""The node's web console: explorer and application pages, served by the node's API app.

`install_console(app, service)` adds the console's routes (server-rendered, read-only) and
its static files (under `/console/static`, every third-party asset vendored in the package)
to the node's FastAPI application, and replaces FastAPI's CDN-loaded `/docs` and `/redoc`
with pages whose assets the node serves itself (`tianfu.web.apidocs`); a browser asking for
a page gets the console's error pages (404, 500, ...), never the API's JSON or a traceback.
A page is a read of the node's read budget (`tianfu.api.readgate`); a static file is not.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tianfu.api.service import ChainService
from tianfu.web.apidocs import install_api_docs
from tianfu.web.app_pages import app_pages_router
from tianfu.web.applications import applications_router
from tianfu.web.data import ConsoleData
from tianfu.web.explorer import explorer_router
from tianfu.web.i18n import N_
from tianfu.web.orders import orders_router
from tianfu.web.render import (
    STATIC,
    STATIC_URL,
    SecuredStatic,
    error_page,
    not_found,
    shared_error_page,
)
from tianfu.web.route import headless
from tianfu.web.verify import verify_router

__all__ = ["install_console"]


def install_console(app: FastAPI, service: ChainService) -> None:
    data = ConsoleData(service)
    app.include_router(explorer_router(data))
    app.include_router(applications_router(data))
    app.include_router(app_pages_router(data))
    app.include_router(orders_router(data))
    app.include_router(verify_router(data))
    app.mount(STATIC_URL, SecuredStatic(directory=STATIC), name="console-static")
    budget = getattr(app.state, "read_budget", None)
    if budget is not None:  # the vendored files are small: not counted as reads
        budget.exempt_prefix(STATIC_URL + "/")
    install_api_docs(app)
    _html_errors(app)


def _browser_page(request: Request) -> bool:
    """Whether `request` is a browser asking for a console page (not the API, not a file)."""
    path = request.url.path
    return (
        request.method in ("GET", "HEAD")
        and not path.startswith(("/v1/", STATIC_URL + "/"))
        and "text/html" in request.headers.get("accept", "")
    )


def _html_errors(app: FastAPI) -> None:
    """A browser asking for a page gets the console's error page (in its language) when the
    answer is an error: a 404 for a page that does not exist, a 500 page (no traceback, no
    JSON; the error goes to the node's log) when a page fails. API clients and the API's
    own paths keep the API's JSON errors."""
    for kind, api_handler in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, _for_browsers(api_handler))


def _for_browsers(api_handler: Any) -> Any:
    async def handler(request: Request, exc: Exception) -> Response | None:
        answer = api_handler(request, exc)
        response = await answer if inspect.isawaitable(answer) else answer
        # A WebSocket's handler closes it and answers None (a stream's malformed query
        # parameters): no page, and nothing to read a status from.
        if request.scope.get("type") != "http" or not isinstance(response, Response):
            return response
        if response.status_code < 400 or not _browser_page(request):
            return response
        if response.status_code == 404:
            page = not_found(request, N_("No page at %(path)s"), path=request.url.path[:200])
        elif response.status_code >= 500:
            message = N_(
                "This page could not be shown: the node failed to read it. Its log has the error."
            )
            page = error_page(request, response.status_code, message)
        else:  # the same page for every request (a flood's 429s): rendered once, then shared
            message = N_("This request cannot be answered (HTTP %(status)s).")
            status = response.status_code
            page = shared_error_page(request, status, message, status=status)
        if "retry-after" in response.headers:  # a 429's wait, for the browser as for the API
            page.headers["retry-after"] = response.headers["retry-after"]
        return headless(page) if request.method == "HEAD" else page

    return handler
