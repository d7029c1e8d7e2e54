"""Calling a native contract (governance; on an open-profile chain accounts and staking):
the same failure text on every node, whatever Python version it runs.

A native method is `method(ctx, *args)` with the transaction's arguments, which any signer
chooses. Called as it is, a wrong count of arguments or a value of the wrong type fails
inside CPython, whose messages are its own ("Governance.list_orgs() takes 2 positional
arguments but 3 were given", "'int' object has no attribute 'startswith'", a `KeyError`'s
repr) and change between versions; a failed receipt holding one would give nodes on
different versions different receipts roots. So the arguments are bound here, against an
arity read from the method's signature once, with this module's message, and an exception
the method raised by accident becomes a fixed text naming its class only
(`ADR 0005`, "Messages are the sandbox's"; ADR 0042).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tianfu.execution.contract_api import ContractError
from tianfu.execution.errors import host_read_failure

# The exceptions a native method may raise by accident on arguments it was given: each
# fails the call with its class's name (the first of these it is an instance of).
_ACCIDENTS: tuple[type[Exception], ...] = (
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ZeroDivisionError,
    OverflowError,
    ValueError,
    LookupError,
    ArithmeticError,
)


def arity(method: Callable[..., Any]) -> tuple[int, int | None]:
    """(required, most) positional arguments of a bound native method after `ctx`; most is
    None with `*args`. Keyword-only parameters are not allowed (a transaction's arguments
    are positional)."""
    params = list(inspect.signature(method).parameters.values())[1:]  # after ctx
    required, most = 0, 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return required, None
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise TypeError(f"native method {method.__name__} has a non-positional parameter")
        most += 1
        if p.default is p.empty:
            required += 1
    return required, most


def arity_text(required: int, most: int | None) -> str:
    """'1 argument', '1 to 2 arguments', 'at least 4 arguments', '0 arguments'."""
    if most is None:
        n, prefix = required, "at least "
    elif most == required:
        n, prefix = required, ""
    else:
        return f"{required} to {most} arguments"
    return f"{prefix}{n} argument{'' if n == 1 else 's'}"


def call_native(
    obj: object,
    contract: str,
    method: str,
    bounds: tuple[int, int | None],
    ctx: Any,
    args: list[Any],
) -> Any:
    """`obj.method(ctx, *args)` with the arguments bound against `bounds` (`arity`). Raises
    `ContractError` with a fixed text for a wrong count of arguments or an accidental
    exception; `ContractError`s the method raised, and the host's failures (a state read,
    no memory), pass as they are."""
    required, most = bounds
    if len(args) < required or (most is not None and len(args) > most):
        raise ContractError(
            f"bad arguments for {contract}.{method}: it takes "
            f"{arity_text(required, most)}, {len(args)} given"
        )
    try:
        return getattr(obj, method)(ctx, *args)
    except _ACCIDENTS as exc:
        if host_read_failure(exc):
            raise
        name = next(c.__name__ for c in _ACCIDENTS if isinstance(exc, c))
        raise ContractError(f"{contract}.{method} failed: {name}") from None
