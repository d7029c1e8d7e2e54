"""`/docs` (Swagger UI) and `/redoc` that work offline: their assets are served by the node.

The assets come with the `fastapi-offline` package (Swagger UI and ReDoc bundles, under
their licences); the pages load them from `/docs-assets` and start Swagger UI from a
script file of the console (no inline script). Both pages may use inline styles (the two
UIs set styles at run time), nothing else beyond the console's policy.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.routing import Route

from tianfu.web.render import SecuredStatic, page, secured
from tianfu.web.route import headless

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def install_api_docs(app: FastAPI) -> None:
    """Serve `/docs` and `/redoc` from the node (replacing FastAPI's CDN pages)."""
    app.router.routes[:] = [
        r
        for r in app.router.routes
        if not (isinstance(r, Route) and r.path in ("/docs", "/redoc", "/docs/oauth2-redirect"))
    ]
    openapi_url = app.openapi_url or "/openapi.json"

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    def docs(request: Request) -> Response:
        r = page(request, "swagger.html", assets=ASSETS_URL, openapi_url=openapi_url)
        r.headers["Content-Security-Policy"] = DOCS_CSP
        return headless(r) if request.method == "HEAD" else r

    @app.api_route("/redoc", methods=["GET", "HEAD"], include_in_schema=False)
    def redoc(request: Request) -> Response:
        r = page(request, "redoc.html", assets=ASSETS_URL, openapi_url=openapi_url)
        r.headers["Content-Security-Policy"] = DOCS_CSP
        return headless(r) if request.method == "HEAD" else r

    @app.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
    def favicon() -> Response:
        return secured(FileResponse(ASSETS / "favicon.png", media_type="image/png"))

    app.mount(ASSETS_URL, SecuredStatic(directory=ASSETS), name="docs-assets")
    budget = getattr(app.state, "read_budget", None)
    if budget is not None:  # vendored files: not counted as reads (tianfu.api.readgate)
        budget.exempt_prefix(ASSETS_URL + "/")
