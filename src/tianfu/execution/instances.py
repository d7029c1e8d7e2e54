"""Contract module instances shared between calls: set up once, proven immutable, reused.

Executing a contract's module (its top level: constants, `def`s) is most of the fixed cost
of a call. A *module instance* is one such execution — its globals, function objects and
the `Runtime` their helpers are bound to — kept after the call and reused by later calls
of the same compiled contract, one call at a time (`ModuleInstances.take`/`give`; a call
running while all instances are busy, e.g. a query on the API thread, sets up its own).

Why reuse cannot leak anything from one call into another (docs/adr/0015):

- An instance is kept only if, right after its module was executed and *before any method
  ran*, every value its top level bound is **deeply immutable** (`frozen_namespace`):
  None/bool/int/str/bytes, tuples of them, the module's own functions — without
  attributes, with immutable defaults, closing over immutable values only — module-level
  lambdas wrapped by this instance's runtime, and the sandbox's own builtins and helpers.
  A closure's cells cannot change once the function that made it returned (`nonlocal` is
  refused), so a view a library helper made at the top level (docs/adr/0029) is as
  immutable as a `def`. A module-level list, dict, iterator, a mutable default, anything
  else: the contract is marked not shareable and every call executes its module afresh.
- Contract code cannot rebind module names (`global`/`nonlocal` are refused), cannot
  assign or delete attributes, cannot reach `__builtins__`, `globals()`, function
  internals (`__defaults__`, `__dict__`: names and attributes starting with `_` are
  refused), and `@view` does not mark the function (`runtime.sandbox_view`). So no call can
  change what the next one finds in the instance; the `Runtime` is re-armed by
  `Runtime.reset` (limit, gas left, call depth) for every call.

Gas is the same as executing the module afresh: the gas and the tracked memory the module's
top level used when the instance was set up (a deterministic function of the code: the top
level has no `ctx`) are charged at the start of every call that reuses it, at the point where
the module would run — after the arguments are copied, before the method is entered — so a
budget too small for the setup runs out with `gas_used` equal to the budget. A reused instance
is bound to the new call's meter (`ModuleInstance.bind`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import CellType, CodeType, FunctionType
from typing import Any

from tianfu.execution import runtime as g
from tianfu.execution.contract_api import ContractError
from tianfu.execution.meter import Meter

MAX_FREE = 4  # idle instances kept per compiled contract
_MAX_NODES = 10_000  # module values walked by the immutability check (else: not shared)
_MAX_NESTING = 32
_SCALARS = frozenset({type(None), bool, int, str, bytes})
# The code object of the wrapper `Runtime.wrap_lambda` puts around every lambda.
_LAMBDA_WRAPPER: CodeType = g._lambda_wrapper(g.Runtime(0), lambda: None, 1, 0).__code__


@dataclass(slots=True, eq=False, repr=False)
class ModuleInstance:
    """One executed module: its globals and runtime, its methods (with the numbers of
    arguments each accepts besides ctx: least, most), and the gas and tracked memory its
    top level used."""

    rt: g.Runtime
    namespace: dict[str, Any]
    functions: dict[str, FunctionType]
    setup_gas: int
    setup_mem: int
    arity: dict[str, tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.arity = {name: _arity(fn) for name, fn in self.functions.items()}

    def bind(self, meter: Meter) -> None:
        """Make this instance's code and helpers charge `meter` (the next call's)."""
        self.rt.m = meter
        self.namespace["__tf_m"] = meter


def _arity(fn: FunctionType) -> tuple[int, int]:
    code = fn.__code__
    params = code.co_argcount - 1
    most = sys.maxsize if code.co_flags & 0x04 else params  # 0x04: takes *args
    return params - len(fn.__defaults__ or ()), most


class ModuleInstances:
    """The idle instances of one compiled contract. `take`/`give` are single list
    operations (atomic under the GIL), so the API thread and the consensus worker can call
    the same contract at once: each call holds its own instance."""

    __slots__ = ("_free", "shareable")

    def __init__(self) -> None:
        self._free: list[ModuleInstance] = []
        # None: not known yet; False: the module's top level binds something mutable.
        self.shareable: bool | None = None

    def take(self) -> ModuleInstance | None:
        try:
            return self._free.pop()
        except IndexError:
            return None

    def give(self, instance: ModuleInstance) -> None:
        if len(self._free) < MAX_FREE:
            self._free.append(instance)

    def adopt(
        self,
        namespace: dict[str, Any],
        rt: g.Runtime,
        setup_gas: int,
        setup_mem: int,
        methods: frozenset[str],
    ) -> ModuleInstance | None:
        """An instance of the module just executed into `namespace` (by `rt`, using
        `setup_gas` gas and `setup_mem` tracked bytes), if it may be shared; None otherwise.
        Call before any method."""
        if self.shareable is False or rt.exhausted:
            return None
        if not frozen_namespace(namespace, rt):
            self.shareable = False
            return None
        functions = {}
        for name in methods:
            try:
                functions[name] = entry_point(namespace, name)
            except ContractError:  # a bad view export: each call of it fails afresh
                self.shareable = False
                return None
        self.shareable = True
        return ModuleInstance(rt, namespace, functions, setup_gas, setup_mem)


def entry_point(namespace: dict[str, Any], method: str) -> FunctionType:
    """The function the module executed into `namespace` binds to `method`: a function its
    own code made (a top-level `def`, or a nested one a view export names) that takes ctx
    first. Anything else (a host function, a wrapped lambda, a value) is refused."""
    fn = namespace.get(method)
    if type(fn) is not FunctionType or fn.__globals__ is not namespace:
        raise ContractError(f"{method} is not a function defined by the contract")
    if fn.__code__.co_argcount < 1:
        raise ContractError(f"method {method}() must take ctx as its first parameter")
    return fn


def frozen_namespace(namespace: dict[str, Any], rt: g.Runtime) -> bool:
    """Whether every value the module's top level bound is deeply immutable (see the module
    docstring). The `__`-names are the sandbox's own (contract names cannot start so)."""
    host = {id(v) for k, v in namespace.items() if k.startswith("__")}
    builtins = namespace.get("__builtins__")
    if not isinstance(builtins, dict):
        return False
    host.update(id(v) for v in builtins.values())
    budget = [_MAX_NODES]

    def frozen(v: Any, depth: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0 or depth > _MAX_NESTING:
            return False
        t = type(v)
        if t in _SCALARS:
            return True
        if t is tuple:
            return all(frozen(x, depth + 1) for x in v)
        if t is FunctionType:
            if v.__code__ is _LAMBDA_WRAPPER:  # a lambda, wrapped by a runtime's helper
                cells = dict(zip(v.__code__.co_freevars, v.__closure__ or (), strict=True))
                return _cell(cells, "rt") is rt and own_function(_cell(cells, "fn"), depth)
            return own_function(v, depth)
        return id(v) in host

    def own_function(fn: Any, depth: int) -> bool:
        return (
            type(fn) is FunctionType
            and fn.__globals__ is namespace
            and all(frozen(_contents(cell), depth + 1) for cell in fn.__closure__ or ())
            and not fn.__dict__
            and frozen(fn.__defaults__ or (), depth + 1)
            and frozen(tuple((fn.__kwdefaults__ or {}).values()), depth + 1)
        )

    return all(frozen(v, 0) for k, v in namespace.items() if not k.startswith("__"))


def _cell(cells: dict[str, CellType], name: str) -> Any:
    cell = cells.get(name)
    return None if cell is None else _contents(cell)


def _contents(cell: CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None
