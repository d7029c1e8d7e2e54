"""The node's web console: explorer and application pages, served by the node's API app.

`install_console(app, service)` adds the console's routes (server-rendered, read-only) and
its static files (under `/console/static`, every third-party asset vendored in the package)
to the node's FastAPI application, and replaces FastAPI's CDN-loaded `/docs` and `/redoc`
with pages whose assets the node serves itself (`tianfu.web.apidocs`); a browser asking for
a page that does not exist gets the console's 404 page.
"""

from __future__ import annotations

import inspect

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from tianfu.api.service import ChainService
from tianfu.web.apidocs import install_api_docs
from tianfu.web.applications import applications_router
from tianfu.web.data import ConsoleData
from tianfu.web.explorer import explorer_router
from tianfu.web.i18n import N_
from tianfu.web.render import STATIC, STATIC_URL, SecuredStatic, not_found
from tianfu.web.verify import verify_router

__all__ = ["install_console"]


def install_console(app: FastAPI, service: ChainService) -> None:
    data = ConsoleData(service)
    app.include_router(explorer_router(data))
    app.include_router(applications_router(data))
    app.include_router(verify_router(data))
    app.mount(STATIC_URL, SecuredStatic(directory=STATIC), name="console-static")
    install_api_docs(app)
    _html_not_found(app)


def _html_not_found(app: FastAPI) -> None:
    """A browser asking for a page that does not exist gets the console's 404 page (in its
    language); API clients and the API's own paths keep the API's JSON error."""
    api_handler = app.exception_handlers[HTTPException]

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if (
            exc.status_code == 404
            and request.method in ("GET", "HEAD")
            and not request.url.path.startswith("/v1/")
            and "text/html" in request.headers.get("accept", "")
        ):
            return not_found(request, N_("No page at %(path)s"), path=request.url.path[:200])
        answer = api_handler(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(HTTPException, handler)
