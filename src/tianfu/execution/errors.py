"""Failure messages a contract and a receipt see: the same on every node, whatever Python says.

CPython words its own exceptions differently between versions ("integer division or
modulo by zero" / "division by zero", "local variable 'x' referenced before assignment" /
"cannot access local variable 'x'..."), puts arbitrary `repr`s in them, and builds them
with no bound. So the sandbox never shows an interpreter's message:

- exceptions the sandbox raises, and those a contract constructs (`ValueError(...)`,
  `ContractError(...)`, `assert`), carry their message in `_tf_msg`, set when they are
  made (`own`, `constructed`) from contract values by the bounded `text_of`;
- any other exception gets a fixed message per type (`canonical_message`), except a
  `KeyError`, whose message is the bounded repr of its key (a contract value);
- `except E as e` binds a fresh copy with that message and no traceback or context
  (`caught`), so `str(e)` in a contract is canonical too, and a caught exception cannot
  keep earlier ones alive.

`MemoryError` and `RecursionError` never become a message: the sandbox raises
`HostResourceError` instead, which aborts the block on that node (a failed execution, not
a failed receipt), because whether they happen depends on the host.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import int_str_gas
from tianfu.execution.limits import MAX_MESSAGE, sanitize
from tianfu.execution.walk import bounded_repr

ATTR = "_tf_msg"


class HostResourceError(RuntimeError):
    """The host ran out of memory or stack while executing a contract: not an outcome of
    the transaction (another node would decide differently), so the block fails on this
    node. The sandbox's own limits are meant to be reached long before. A proposer's
    culprit search may still blame the transaction for it: a contract that drives every
    host out of stack would otherwise fail every block holding it, and halt the chain."""


class HostReadError(RuntimeError):
    """A state read failed on the host (the store locked, an I/O error, whatever it
    raised): not an outcome of the transaction, so the call ends with it even if the
    contract caught it, and the block fails on this node."""

    not_a_tx_fault = True


STATE_UNREADABLE = "the node cannot read its state now; try again later"


def host_read_failure(exc: BaseException) -> bool:
    """Whether `exc`, raised by a state or store read, is the host's failure, not an answer:
    the store's typed failures that say `not_a_tx_fault` (locked, damaged, closed, a write
    refused), SQLite's own errors, an OSError, no memory."""
    if getattr(exc, "not_a_tx_fault", False) is True:
        return True
    return isinstance(exc, (OSError, MemoryError, sqlite3.Error))


class StateUnreadable(ContractError):
    """A query could not read the node's state (its store locked, failing or closed, no
    memory), before or during the view's call: the node's failure, not the query's; the
    same query may succeed later."""

    def __init__(self, message: str = STATE_UNREADABLE):
        super().__init__(message)


# The message every node gives an exception the interpreter raised, by type.
_CANONICAL: dict[str, str] = {
    "ZeroDivisionError": "division by zero",
    "IndexError": "index out of range",
    "TypeError": "unsupported operand or argument types",
    "ValueError": "invalid value",
    "OverflowError": "integer too large",
    "AttributeError": "attribute not available",
    "UnboundLocalError": "local variable referenced before assignment",
    "RuntimeError": "container changed size during iteration",
    "UnicodeDecodeError": "invalid text encoding",
    "UnicodeEncodeError": "text cannot be encoded",
    "AssertionError": "",
    "StopIteration": "",
    "ArithmeticError": "arithmetic error",
    "LookupError": "lookup failed",
}


def own(cls: type[BaseException], message: str) -> BaseException:
    """An exception of `cls` with a message the sandbox wrote (marked as canonical)."""
    exc = cls(message)
    setattr(exc, ATTR, message)
    return exc


def text_of(args: tuple[Any, ...]) -> str:
    """What `str()` of an exception made with `args` shows: the one argument, or the tuple
    (as Python does), as bounded deterministic text."""
    if not args:
        return ""
    if len(args) == 1:
        a = args[0]
        if type(a) is str:
            return sanitize(a)
        if isinstance(a, BaseException):
            return message_of(a)
        return bounded_repr(a, MAX_MESSAGE)
    return bounded_repr(args, MAX_MESSAGE)


def walked(args: tuple[Any, ...]) -> bool:
    """Whether `text_of(args)` is made by `bounded_repr` walking a container in Python
    (a few plain-loop gas of work per character made), not by C code."""
    return len(args) > 1 or (len(args) == 1 and type(args[0]) in (list, tuple, dict))


def int_message_gas(args: tuple[Any, ...]) -> int:
    """The decimal conversion of a message that is the repr of the one argument, an
    integer beyond 64 bits (`text_of`): what `str(x)` pays for it. At the exception's
    memory alone, `e = ValueError(x)` of a 4,096-bit x took ~60x a plain loop's CPU per
    gas. (A container's repr is charged per character it makes.)"""
    if len(args) == 1 and type(args[0]) is int:
        bits = args[0].bit_length()
        if bits > 64:
            return int_str_gas(bits)
    return 0


def constructed(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    """`cls(*args)` as contract code makes it: the message computed now, bounded."""
    message = text_of(args)
    exc = cls(message) if args else cls()
    setattr(exc, ATTR, message)
    return exc


def message_of(exc: BaseException) -> str:
    """The message of `exc` as contracts and receipts see it (`str(exc)` in a contract)."""
    marked = getattr(exc, ATTR, None)
    if marked is not None:
        return str(marked)
    if isinstance(exc, ContractError):  # raised by the host (context, meter): its own text
        return sanitize(str(exc))
    if isinstance(exc, KeyError):
        return bounded_repr(exc.args[0], MAX_MESSAGE) if exc.args else ""
    if isinstance(exc, NameError) and not isinstance(exc, UnboundLocalError):
        name = getattr(exc, "name", None)
        return f"name {name!r} is not defined" if type(name) is str else "name is not defined"
    for cls in type(exc).__mro__:
        text = _CANONICAL.get(cls.__name__)
        if text is not None:
            return text
    return "operation failed"


def failure_text(exc: BaseException) -> str:
    """The error of a failed receipt: a `ContractError`'s message, else `Type: message`."""
    message = message_of(exc)
    if isinstance(exc, ContractError):
        return message
    name = _public_name(type(exc))
    return f"{name}: {message}" if message else name


def _public_name(cls: type[BaseException]) -> str:
    return cls.__name__ if cls.__module__ == "builtins" else "ContractError"


def caught(exc: BaseException, visible: dict[str, type[BaseException]]) -> BaseException:
    """The exception `except ... as e` binds: a fresh instance of the nearest class a
    contract can name (`visible`: the catchable classes by name) with the canonical message,
    without traceback, cause or context."""
    message = message_of(exc)
    for cls in type(exc).__mro__:
        if visible.get(cls.__name__) is cls or issubclass(cls, ContractError):
            try:
                copy = cls(message)
            except TypeError:
                continue
            setattr(copy, ATTR, message)
            return copy
    return own(ContractError, message)
