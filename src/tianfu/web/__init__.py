"""The node's web console: explorer and application pages, served by the node's API app.

`install_console(app, service)` adds the console's routes (server-rendered, read-only) and
its static files (under `/console/static`, every third-party asset vendored in the package)
to the node's FastAPI application, and replaces FastAPI's CDN-loaded `/docs` and `/redoc`
with pages whose assets the node serves itself (`tianfu.web.apidocs`).
"""

from __future__ import annotations

from fastapi import FastAPI

from tianfu.api.service import ChainService
from tianfu.web.apidocs import install_api_docs
from tianfu.web.applications import applications_router
from tianfu.web.data import ConsoleData
from tianfu.web.explorer import explorer_router
from tianfu.web.render import STATIC, STATIC_URL, SecuredStatic
from tianfu.web.verify import verify_router

__all__ = ["install_console"]


def install_console(app: FastAPI, service: ChainService) -> None:
    data = ConsoleData(service)
    app.include_router(explorer_router(data))
    app.include_router(applications_router(data))
    app.include_router(verify_router(data))
    app.mount(STATIC_URL, SecuredStatic(directory=STATIC), name="console-static")
    install_api_docs(app)
