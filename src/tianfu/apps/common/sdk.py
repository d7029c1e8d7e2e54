"""The base of every application's SDK class: one client, one contract, invoke and query, and
`view`, which declares a contract view as an SDK method."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

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


class view:  # noqa: N801 - used like a decorator name in SDK class bodies
    """A contract view as an SDK method of the same name.

    `licences = view("photo_id", returns=list)` in an SDK class makes
    `sdk.licences(photo_id)` return `list(...)` of the node's answer to the view `licences`;
    parameters with defaults are keywords: `view("fund_id", start=1, limit=200)`. Without
    `returns` the answer is returned as it is (None for a missing record)."""

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

    def __get__(self, sdk: ContractSDK | None, owner: type | None = None) -> Any:
        if sdk is None:
            return self

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            answer = sdk._query(self.method, *bound.args)
            return answer if self.returns is None else self.returns(answer)

        call.__name__ = self.method
        call.__qualname__ = f"{type(sdk).__name__}.{self.method}"
        call.__doc__ = f"The contract's view `{self.method}`."
        call.__signature__ = self.signature  # type: ignore[attr-defined]
        return call
