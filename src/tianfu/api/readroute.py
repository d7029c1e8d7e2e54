"""The read budget's route side (`tianfu.api.readgate`): a counted read takes its slot where
the router hands it to its route (`ReadRoute`, the node's routers' route class; `_RouteRead`
in front of a top-level route), after its path and query parameters pass the route's own
check (`_Params`): what the router or the route refuses takes no slot. A route of class
`OwnReadRoute` decides itself whether a read of it takes the slot (`own_read`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from tianfu.api.readgate import ReadBudget

GATE_KEY = "tianfu.read"  # a counted request's `PendingRead`, taken where its route is chosen
OWN_READ_KEY = "tianfu.read.own"  # the `PendingRead` an `OwnReadRoute`'s handler may take


class PendingRead:
    """One request's read of a `ReadBudget`: its slot, once taken, is held until `release`
    (the answer starts, or the request ends)."""

    def __init__(self, budget: ReadBudget, client: str) -> None:
        self.budget = budget
        self.client = client
        self.started: float | None = None

    async def take(self) -> None:
        """Wait for a slot (`ReadBudget.acquire`: ApiError 429 past its limits)."""
        self.started = await self.budget.acquire(self.client)

    def release(self) -> None:
        if self.started is not None:
            started, self.started = self.started, None
            self.budget.release(self.client, started)


class _Params:
    """The path and query parameters of a FastAPI route (`dependant`), checked before its
    read is counted: `refused(scope)` is whether the route's handler will refuse them. A
    value is validated by its field directly (well under a microsecond); only a value
    missing or refused so is judged by FastAPI's own check (`request_params_to_args`, tens
    of microseconds: it inspects each field's annotation), so what counts as refused is
    what FastAPI refuses. A route with dependencies is never refused here: they run first."""

    def __init__(self, dependant: Any) -> None:
        self.dependant = None if dependant is None or dependant.dependencies else dependant

    def refused(self, scope: Scope) -> bool:
        dependant = self.dependant
        if dependant is None or not (dependant.path_params or dependant.query_params):
            return False
        path = scope.get("path_params", {})
        query = QueryParams(scope.get("query_string", b"")) if dependant.query_params else {}
        if self._plainly_valid(dependant.path_params, path, "path") and self._plainly_valid(
            dependant.query_params, query, "query"
        ):
            return False
        _, errors = request_params_to_args(dependant.path_params, path)
        if not errors:
            _, errors = request_params_to_args(dependant.query_params, query)
        return bool(errors)

    @staticmethod
    def _plainly_valid(fields: list[Any], given: Any, where: str) -> bool:
        for field in fields:
            value = given.get(field.alias)
            if value is None:
                if field.field_info.is_required():
                    return False
                continue
            _, errors = field.validate(value, {}, loc=(where, field.alias))
            if errors:
                return False
        return True


async def take_read(scope: Scope, params: _Params) -> None:
    """Take the slot of the read of `scope` (`GATE_KEY`: none for a request the budget does
    not count), unless its route refuses its parameters (`_Params`); ApiError 429 past the
    budget's limits."""
    read = scope.pop(GATE_KEY, None)
    if isinstance(read, PendingRead) and not params.refused(scope):
        await read.take()


class ReadRoute(APIRoute):
    """The route class of the node's routers (`APIRouter(route_class=ReadRoute)`): its
    handler takes the request's read slot first (`take_read`), so a read is counted where
    the router chose its route (FastAPI builds the handler of an included router's route
    from `get_route_handler`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Any]]:
        handler = super().get_route_handler()
        params = _Params(self.dependant)

        async def app(request: Request) -> Any:
            await take_read(request.scope, params)
            return await handler(request)

        return app


class OwnReadRoute(ReadRoute):
    """A route whose handler decides itself whether a read of it takes a slot of the read
    budget (the photo blobs: a thumbnail is read under a gate of its own, a larger blob takes
    the slot; `tianfu.apps.photo_sharing.serving`). The request's `PendingRead` is left for
    the handler (`own_read`); once taken, the gate releases it when the answer starts, as
    for any read. Its handler must bound by itself whatever it does without the slot."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Any]]:
        handler = APIRoute.get_route_handler(self)

        async def app(request: Request) -> Any:
            read = request.scope.pop(GATE_KEY, None)
            request.scope[OWN_READ_KEY] = read if isinstance(read, PendingRead) else None
            return await handler(request)

        return app


def own_read(scope: Scope) -> PendingRead | None:
    """The read an `OwnReadRoute`'s handler may take (None: a request the budget does not
    count, or an application without a budget)."""
    read = scope.get(OWN_READ_KEY)
    return read if isinstance(read, PendingRead) else None


class _RouteRead:
    """A top-level route's application (a Starlette route or mount, a FastAPI route of the
    application itself), taking the request's read slot first (`take_read`)."""

    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.params = _Params(getattr(route, "dependant", None))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await take_read(scope, self.params)
        await self.app(scope, receive, send)


def gate_routes(routes: list[Any]) -> bool:
    """Put a `_RouteRead` in front of the application of each top-level route in `routes`
    (not a `ReadRoute`: its handler takes the read); True if every route of the routers
    FastAPI includes (`original_router`, served by copies of their routes' handlers) is a
    `ReadRoute` or a WebSocket route, so that every read a route serves takes its slot."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            inner = included.routes
            if not gate_routes(inner) or any(
                isinstance(r, (Route, Mount)) and not isinstance(r, ReadRoute) for r in inner
            ):
                return False
        elif isinstance(route, (Route, Mount)) and not isinstance(route, ReadRoute):
            if not isinstance(route.app, _RouteRead):
                route.app = _RouteRead(route.app, route)
    return True
