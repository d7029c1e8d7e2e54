"""The base of every application's SDK class: one client, one contract, invoke and query, and
`view` and `operation`, which declare a contract view or operation as an SDK method."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, cast

from tianfu.client import Client


class ContractSDK:
    """Calls one application contract through an SDK `Client`. A refused call raises
    `tianfu.client.errors.TxFailed` (its `.error` is the contract's message)."""

    CONTRACT: ClassVar[str]

    def __init__(self, client: Client, contract: str | None = None) -> None:
        self.client = client
        self.contract = contract or self.CONTRACT

    def _invoke(self, method: str, *args: Any) -> Any:
        """Send a transaction calling `method`, wait for its commit, return its result."""
        return self.client.invoke(self.contract, method, *args).result

    def _query(self, method: str, *args: Any) -> Any:
        """Run the view `method` on the node's committed state."""
        return self.client.query(self.contract, method, *args)


_ARG = inspect.Parameter.POSITIONAL_OR_KEYWORD


class _ContractCall:
    """A contract method as an SDK method of the same name, declared by its parameters:
    `f = view("a", "b", c=1, returns=list)` makes `sdk.f(a, b, c=1)` call the contract's
    `f(a, b, c)` and return `list(...)` of the answer (the answer as it is without `returns`)."""

    call_doc = ""

    def __init__(
        self, *params: str, returns: Callable[[Any], Any] | None = None, **defaults: Any
    ) -> None:
        self.returns = returns
        self.method = ""
        self.signature = inspect.Signature(
            [inspect.Parameter(p, _ARG) for p in params]
            + [inspect.Parameter(p, _ARG, default=d) for p, d in defaults.items()]
        )

    def __set_name__(self, owner: type, name: str) -> None:
        self.method = name

    def send(self, sdk: ContractSDK, args: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def __get__(self, sdk: ContractSDK | None, owner: type | None = None) -> Any:
        if sdk is None:
            return self

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            answer = self.send(sdk, bound.args)
            return answer if self.returns is None else self.returns(answer)

        call.__name__ = self.method
        call.__qualname__ = f"{type(sdk).__name__}.{self.method}"
        call.__doc__ = self.call_doc.format(self.method)
        call.__signature__ = self.signature  # type: ignore[attr-defined]
        return call


class view(_ContractCall):  # noqa: N801 - used like a decorator name in SDK class bodies
    """A contract view as an SDK method of the same name.

    `licences = view("photo_id", returns=list)` in an SDK class makes
    `sdk.licences(photo_id)` return `list(...)` of the node's answer to the view `licences`;
    parameters with defaults are keywords: `view("fund_id", start=1, limit=200)`. Without
    `returns` the answer is returned as it is (None for a missing record)."""

    call_doc = "The contract's view `{}`."

    def send(self, sdk: ContractSDK, args: tuple[Any, ...]) -> Any:
        return sdk._query(self.method, *args)


class operation(_ContractCall):  # noqa: N801 - used like a decorator name in SDK class bodies
    """A contract operation as an SDK method of the same name: it signs and sends the
    transaction, waits for its commit and returns its result (`returns` of it, if given);
    a refused call raises `TxFailed`. `accept = operation("order_id", returns=dict)`."""

    call_doc = "Send the contract's operation `{}`; its result."

    def send(self, sdk: ContractSDK, args: tuple[Any, ...]) -> Any:
        return sdk._invoke(self.method, *args)


def following(page: Any, start: int) -> int | None:
    """The `start` of the page after `page` (read from `start`): its "next", None after the
    last. ValueError when it does not advance past `start` (a node answering so would keep
    a reader asking for the same pages for ever)."""
    nxt = page["next"]
    if nxt is not None and (type(nxt) is not int or nxt <= start):
        raise ValueError(f"the page from {start} gives next {nxt!r}, which does not advance")
    return cast(int | None, nxt)


def walk_pages(read: Callable[[int], Any], key: str, most: int = 100_000) -> list[Any]:
    """The entries under `key` of every page `read(start)` answers, from start 1 until a
    page's "next" is None (at most `most` pages). An entry the contract pages by its slot of
    an indexed set is in one page while it stays a member; one removed and added again
    between two pages can be in two, so an entry whose id (its "id", or itself when it is
    not a record) was read already is left out."""
    out: list[Any] = []
    ids: set[Any] = set()
    start: int | None = 1
    for _ in range(most):
        if start is None:
            return out
        page = read(start)
        for x in page[key]:
            ident = x["id"] if isinstance(x, dict) else x
            if ident not in ids:
                ids.add(ident)
                out.append(x)
        start = following(page, start)
    raise ValueError(f"more than {most} pages")


def walk_log(read: Callable[[int], Any], key: str, most: int = 100_000) -> list[Any]:
    """Every entry under `key` of the pages `read(start)` answers of a numbered log (entries
    only added, so consecutive pages neither skip nor repeat one), from start 1 until a
    page's "next" is None (at most `most` pages)."""
    out: list[Any] = []
    start: int | None = 1
    for _ in range(most):
        if start is None:
            return out
        page = read(start)
        out.extend(page[key])
        start = following(page, start)
    raise ValueError(f"more than {most} pages")
