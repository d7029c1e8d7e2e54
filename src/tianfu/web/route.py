"""The console's route class: a page answers GET, and HEAD as GET without the body.

Browsers, link checkers and monitoring probes send HEAD to see whether a page is there;
FastAPI's routes answer only the methods listed (a GET route answered HEAD with 405). A
`PageRoute` takes HEAD wherever it takes GET and answers it with the GET answer's status
and headers (its `Content-Length` too) and no body, whatever the server does with a body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tianfu.api.readgate import ReadRoute


class PageRoute(ReadRoute):
    """A console route (`APIRouter(route_class=PageRoute)`): a read of the node's read
    budget (`ReadRoute`) that answers HEAD as GET, without the body."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.methods is not None and "GET" in self.methods:
            self.methods.add("HEAD")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Any]]:
        handler = super().get_route_handler()

        async def app(request: Request) -> Any:
            response = await handler(request)
            if request.method == "HEAD" and isinstance(response, Response):
                return headless(response)
            return response

        return app


def headless(response: Response) -> Response:
    """`response`'s status and headers, without its body (the answer to a HEAD)."""
    if not hasattr(response, "body"):  # a streamed answer: the server sends no body to HEAD
        return response
    bare = Response(status_code=response.status_code, background=response.background)
    bare.raw_headers = list(response.raw_headers)
    return bare
