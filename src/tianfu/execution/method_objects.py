"""The objects a contract holds for `obj.name` (a value's allowed method): each charges
`METHOD_GAS` and the method's cost function (`tianfu.execution.methods`) before it calls the
method, and turns the errors it raises into the sandbox's own (`tianfu.execution.errors`).

A method object is small (five slots and the C method: ~150 bytes), within the `ITER_BYTES`
the meter counts when it is made. As a closure over the same names it took ~620 bytes (~900
with the wrapper of `sort` or `dict.pop`): a contract keeping a list of them held up to
~2.3x the memory the meter counted. Its type reads "function" in messages, as the
closure's did (receipts hold them).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from operator import indexOf as _index_of
from typing import TYPE_CHECKING, Any

from tianfu import unicode14
from tianfu.execution import errors
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import BUILTIN_GAS, METHOD_GAS, items_gas, seq_bytes
from tianfu.execution.keys import deleted

if TYPE_CHECKING:
    from tianfu.execution.runtime import Runtime


def _fail(cls: type[BaseException], message: str) -> BaseException:
    return errors.own(cls, message)


Cost = Callable[["Runtime", Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]


_CAUGHT = (TypeError, ValueError, IndexError, KeyError, OverflowError)


class _Method:
    """`obj.name` for an allowed method: a callable that charges, checks, then calls."""

    __slots__ = ("rt", "obj", "cost", "method", "name")
    rt: Runtime
    obj: Any
    cost: Cost
    method: Callable[..., Any]
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rt = self.rt
        rt.m.charge(METHOD_GAS)
        args = self.cost(rt, self.obj, args, kwargs)
        try:
            return self.method(*args, **kwargs)
        except _CAUGHT as exc:
            raise _method_error(self.qualified(), self.name, exc) from None

    def qualified(self) -> str:
        return f"{type(self.obj).__name__}.{self.name}()"


class _HostMethod(_Method):
    """A method the sandbox implements itself (`sort`, `dict.pop`): `method(rt, obj, ...)`."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rt = self.rt
        rt.m.charge(METHOD_GAS)
        args = self.cost(rt, self.obj, args, kwargs)
        try:
            return self.method(rt, self.obj, *args, **kwargs)
        except _CAUGHT as exc:
            raise _method_error(self.qualified(), self.name, exc) from None


_Method.__name__ = _Method.__qualname__ = "function"
_HostMethod.__name__ = _HostMethod.__qualname__ = "function"
_new = object.__new__


def method_object(rt: Runtime, obj: Any, name: str, cost: Cost) -> _Method:
    """The object for `obj.name`, charging `cost` (its cost function) at every call."""
    if name == "sort":
        bound: _Method = _new(_HostMethod)
        bound.method = _sort_keywords
    elif type(obj) is dict and name == "pop":
        bound = _new(_HostMethod)
        bound.method = _dict_pop
    elif type(obj) is list and name == "index":
        bound = _new(_HostMethod)
        bound.method = _list_index
    elif type(obj) is str and name in unicode14.TEXT_METHODS and not obj.isascii():
        bound = _new(_HostMethod)
        bound.method = _UNICODE_14[name]
    else:
        bound = _new(_Method)
        bound.method = getattr(obj, name)
    bound.rt = rt
    bound.obj = obj
    bound.cost = cost
    bound.name = name
    return bound


def _dict_pop(rt: Runtime, d: dict[Any, Any], *args: Any) -> Any:
    """`d.pop`, counting a deleted key (`keys.deleted`)."""
    size = len(d)
    value = d.pop(*args)
    if len(d) < size:
        deleted(rt.m, d)
    return value


def _list_index(rt: Runtime, lst: list[Any], *args: Any) -> int:
    """`lst.index(value[, start[, stop]])` without CPython's miss message, which holds
    `repr(value)`, made in C before the sandbox replaces it with its own: a needle of 1 MB
    of wide text cost ~20x a plain loop's CPU per gas, and ~10 MB of memory uncounted
    (`tuple.index` and `list.remove` say "x not in ..."). The same search and answer."""
    if not 1 <= len(args) <= 3 or any(type(a) is not int and type(a) is not bool for a in args[1:]):
        return lst.index(*args)  # refused before any search
    start = args[1] if len(args) > 1 else 0
    stop = args[2] if len(args) > 2 else len(lst)
    span = range(len(lst))[start:stop]  # bounded as `index` bounds them
    if len(span) == len(lst):
        return _index_of(lst, args[0])
    # the window read in place: a slice of it was a copy of up to 8 MB the meter never saw
    return span.start + _index_of(islice(lst, span.start, span.stop), args[0])


def _text_method(name: str) -> Callable[..., Any]:
    def method(rt: Runtime, s: str, *args: Any, **kwargs: Any) -> Any:
        """`s.name(...)` of non-ASCII text, answered as Unicode 14.0 answers it on every
        Python version (`tianfu.unicode14`), the check charged on every version alike."""
        rt.m.charge(unicode14.check_gas(s, name))
        replacement = unicode14.text_method(s, name)
        if replacement is None:
            return getattr(s, name)(*args, **kwargs)
        if args or kwargs:
            raise TypeError  # as the interpreter's own method: "bad argument types"
        return replacement()

    return method


_UNICODE_14 = {name: _text_method(name) for name in unicode14.TEXT_METHODS}


def _sort_keywords(rt: Runtime, lst: list[Any], *, key: Any = None, reverse: Any = False) -> None:
    """`lst.sort`: charged as `sorted()`, which does the work. As in CPython, a key function
    sees the list empty while it sorts; a list it left items in raises ValueError "list
    modified during sort" and holds the sorted items (its items dropped; CPython also
    raises for items added and removed again); a key function that
    raises leaves the items as they were."""
    if key is None:
        lst[:] = rt.b_sorted(lst, reverse=reverse)
        return
    rt.m.charge(BUILTIN_GAS)
    # the items move to a list of their own (counted as sorted() counts its copy; the
    # list's buffer, freed, takes the sorted items back)
    rt.m.charge_alloc(items_gas(len(lst)), seq_bytes(len(lst)))
    items = lst.copy()
    lst.clear()
    out = items
    try:
        out = rt.sort_items(items, key, reverse)
    finally:
        modified = len(lst) > 0
        lst[:] = out
    if modified:
        raise _fail(ValueError, "list.sort(): list modified during sort")


def _method_error(qualified: str, name: str, exc: BaseException) -> BaseException:
    if getattr(exc, errors.ATTR, None) is not None or isinstance(exc, ContractError):
        return exc
    if isinstance(exc, KeyError):
        if name == "pop":  # a missing key: its message is the bounded repr of the key
            return exc
        return _fail(KeyError, f"{qualified}: the dict is empty")
    cls: type[BaseException] = type(exc)
    if cls not in _CAUGHT:  # e.g. UnicodeDecodeError: the nearest class a contract names
        cls = next(c for c in _CAUGHT if isinstance(exc, c))
    if cls is ValueError:
        return _fail(ValueError, f"{qualified}: value not found or invalid")
    if cls is IndexError:
        return _fail(IndexError, f"{qualified}: index out of range or empty")
    if cls is OverflowError:
        return _fail(OverflowError, f"{qualified}: integer too large")
    return _fail(TypeError, f"{qualified}: bad argument types")
