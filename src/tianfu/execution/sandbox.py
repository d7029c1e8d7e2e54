"""The restricted, deterministic Python contract sandbox: validate, instrument, compile, call.

`compile_contract(source)` parses a contract, refuses anything outside the allowed subset
of Python with the line and the reason (`tianfu.execution.validate`), rewrites the tree so
that every step is charged and every size-amplifying operation checked
(`tianfu.execution.instrument`), and compiles it once. `CompiledContract.call` runs a method
against the transaction's `Meter` in an instance of the module: one whose top level bound
only immutable values is executed once and reused by later calls
(`tianfu.execution.instances`, docs/adr/0015); any other module is executed afresh for
every call. Every failure comes out as a `ContractError` with a message that is the same on
every node (`tianfu.execution.errors`) — except the host running out of memory or stack
(`HostResourceError`) and a state read the host failed (the store locked, an I/O error:
raised as it is, even if the contract caught it), which are not outcomes of the
transaction. See
docs/adr/0005-contract-sandbox.md for the rules and the reasons.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any

from tianfu.codec import hash_domain
from tianfu.execution import errors
from tianfu.execution import runtime as g
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import result_gas
from tianfu.execution.errors import HostResourceError
from tianfu.execution.grammar import SYNTAX_ERROR, NotPython311, check_311, fstring_lines
from tianfu.execution.instances import MAX_FREE, ModuleInstance, ModuleInstances, entry_point
from tianfu.execution.instrument import (  # noqa: F401 - re-exported
    HELPER_PREFIX,
    Instrumenter,
    instrument,
    region_costs,
)
from tianfu.execution.limits import MAX_RESULT_BYTES
from tianfu.execution.meter import Meter
from tianfu.execution.proxy import ContextProxy
from tianfu.execution.validate import (  # noqa: F401 - re-exported
    FORBIDDEN_ATTRS,
    FORBIDDEN_NAMES,
    MAX_AST_DEPTH,
    MAX_SOURCE_BYTES,
    TOO_DEEP,
    ContractRejected,
    Validator,
    check_depth,
)
from tianfu.execution.walk import copy_args, copy_value
from tianfu.types.values import MAX_INT, MIN_INT

SOURCE_TAG = "tianfu/contract/source/v1"
BUILTIN_NAMES = g.SAFE_BUILTIN_NAMES

# The names tests and tools used for the pieces that moved into their own modules.
_Validator = Validator
_Instrumenter = Instrumenter

# Contract code nests at most `MAX_CALL_DEPTH` calls and `MAX_SCOPE_NESTING` scopes in each,
# and every deep walk stops at `MAX_WALK_DEPTH`: at most ~300 interpreter frames in all
# (`test_the_deepest_contract_stack_stays_far_below_the_recursion_limit`), far below
# Python's limit of 1000 plus the host's own stack. A RecursionError that happens anyway is
# the host's, never an outcome (`HostResourceError`).
MAX_CONTRACT_FRAMES = 400


@dataclass(frozen=True)
class CompiledContract:
    """A validated, instrumented contract, ready to be called any number of times."""

    source_hash: bytes
    methods: frozenset[str]
    views: frozenset[str]
    code: CodeType = field(repr=False, compare=False)
    # Executed modules kept for reuse by later calls (`tianfu.execution.instances`).
    instances: ModuleInstances = field(
        default_factory=ModuleInstances, init=False, repr=False, compare=False
    )

    def call(self, ctx: Any, method: str, args: list[Any], gas: Meter | int) -> tuple[Any, int]:
        """Run `method(ctx, *args)` charging `gas` (the transaction's meter, or a gas limit
        for a meter of its own); return (result, gas this call used) or raise
        `ContractError` (`OutOfGas` when the budget ran out), which carries `gas_used`."""
        if not isinstance(method, str) or method not in self.methods:
            raise ContractError(f"unknown method {method!r}")
        meter = gas if type(gas) is Meter else Meter(gas)  # type: ignore[arg-type]
        start = meter.left
        depth = meter.depth
        instance = self.instances.take()
        if instance is not None:
            instance.bind(meter)
            rt = instance.rt
        else:
            rt = g.Runtime(meter)
        held = [instance]  # the instance this call uses, once there is one
        try:
            result = self._run(rt, meter, held, ctx, method, args)
        except (MemoryError, RecursionError) as exc:
            raise HostResourceError(
                f"the host ran out of {'memory' if isinstance(exc, MemoryError) else 'stack'}"
                " executing a contract"
            ) from None
        except Exception as exc:  # noqa: BLE001 - every contract failure becomes a ContractError
            if meter.host_failure is not None:
                raise meter.host_failure from None
            raise _failure(meter, start, exc) from None
        finally:
            meter.depth = depth
            if held[0] is not None:
                self.instances.give(held[0])
        if meter.host_failure is not None:  # the contract caught it: it still ends the call
            raise meter.host_failure
        return result, start - meter.left

    def _run(
        self,
        rt: g.Runtime,
        meter: Meter,
        held: list[ModuleInstance | None],
        ctx: Any,
        method: str,
        args: list[Any],
    ) -> Any:
        n = len(args)
        args = copy_args(meter, args)
        instance = held[0]
        if instance is not None and (
            meter.left < instance.setup_gas or meter.mem < instance.setup_mem
        ):
            # The module's top level would run out here: it runs afresh, so that it stops
            # at the very charge (with the very gas and error) it stops at on a node
            # without an idle instance; the instance stays for later calls.
            self.instances.give(instance)
            held[0] = instance = None
            rt = g.Runtime(meter)
        if instance is not None:  # the module's top level ran when the instance was set up
            meter.spend(instance.setup_gas, instance.setup_mem)
            fn: Any = instance.functions[method]
            low, high = instance.arity[method]
            if n < low or n > high:
                _check_arity(fn, method, n)  # raises, with the message
        else:
            namespace = rt.module_globals(meter)
            before, before_mem, counted = meter.left, meter.mem, _counted_keys(meter)
            exec(self.code, namespace)  # noqa: S102 - the instrumented, validated contract
            if _counted_keys(meter) == counted:
                held[0] = self.instances.adopt(
                    namespace, rt, before - meter.left, before_mem - meter.mem, self.methods
                )
            # else the top level counted dict keys (`keys.store_key`) that a call reusing
            # the instance would not count: each call executes the module afresh.
            fn = entry_point(namespace, method)
            _check_arity(fn, method, n)
        result = fn(ContextProxy(ctx, rt), *args)
        if meter.left < 0 or meter.mem < 0:
            meter.fail()
        t = type(result)
        if t in _SCALARS or (t is int and MIN_INT <= result <= MAX_INT):
            size = len(result) + 5 if t is str or t is bytes else 9
            if t is str and not result.isascii():
                result, size = copy_value(meter, result, "return value")
        else:
            result, size = copy_value(meter, result, "return value")
        if size > MAX_RESULT_BYTES:
            raise ContractError(f"return value larger than {MAX_RESULT_BYTES} bytes")
        meter.charge(result_gas(size))
        return result


def _failure(meter: Meter, start: int, exc: BaseException) -> ContractError:
    """The error a failed call raises: running out of gas or memory wins (even if the
    contract caught it); anything else with its canonical message."""
    err = meter.error()
    if err is None:
        if isinstance(exc, ContractError) and type(exc).__module__.startswith("tianfu."):
            err = type(exc)(errors.message_of(exc))
        else:
            err = ContractError(errors.failure_text(exc))
    used = start if meter.left < 0 else start - meter.left
    err.gas_used = used  # type: ignore[attr-defined]
    return err


_SCALARS = frozenset({type(None), bool, str, bytes})


def _counted_keys(meter: Meter) -> int:
    """How many dict keys the meter's transaction has counted (`keys.store_key`)."""
    hashed = meter.hashed
    return 0 if hashed is None else sum(map(len, hashed.values()))


def _check_arity(fn: FunctionType, method: str, n: int) -> None:
    code = fn.__code__
    params = code.co_varnames[1 : code.co_argcount]
    n_defaults = len(fn.__defaults__ or ())
    required = len(params) - n_defaults
    takes_varargs = bool(code.co_flags & 0x04)
    if n < required or (n > len(params) and not takes_varargs):
        expected = f"{required}" if n_defaults == 0 else f"{required} to {len(params)}"
        if takes_varargs:
            expected = f"at least {required}"
        names = ", ".join(params)
        raise ContractError(f"method {method}({names}) takes {expected} argument(s), got {n}")


# -- compile --------------------------------------------------------------------------------


def compile_contract(source: str, max_source_bytes: int = MAX_SOURCE_BYTES) -> CompiledContract:
    """Validate and instrument contract source. Raises `ContractRejected`. A pure function
    of its arguments (and cached)."""
    if not isinstance(source, str):
        raise ContractRejected("contract source must be a str")
    # One compilation at a time in the process: CPython's AST constructor is not safe to
    # run from several threads at once (it failed spuriously on a node: "AST constructor
    # recursion depth mismatch"), and the API thread and the consensus worker both compile.
    with _COMPILE_LOCK:
        return _compile(source, max_source_bytes)


_COMPILE_LOCK = threading.Lock()
# The compile thread's stack (`_on_fresh_stack`): far above the ~1 MB the deepest source
# takes to parse, validate, instrument and compile (reserved, not committed, until used).
COMPILE_STACK_BYTES = 32 << 20


def parse_source(source: str) -> ast.Module:
    """`ast.parse(source)` for a reader of contract sources outside execution (the console
    naming a call's arguments): under the same lock as `compile_contract`, as every parse in
    the process must be (two at once can fail: "AST constructor recursion depth mismatch",
    a SystemError, in the consensus worker's compile as well as in the reader's), on a
    fresh stack. Raises what `ast.parse` raises."""
    with _COMPILE_LOCK:
        return _on_fresh_stack(ast.parse, source)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=128)
def _compile(source: str, max_source_bytes: int) -> CompiledContract:
    return _on_fresh_stack(_build, source, max_source_bytes)


def _on_fresh_stack(fn: Any, *args: Any) -> Any:
    """`fn(*args)` in a new thread, whose stack is empty: parsing, validating and
    instrumenting recurse as deep as the source is nested, and where Python's recursion
    limit stops them depends on how deep the caller's stack already is (a block's build,
    its re-execution, catch-up and a query call from different depths). From a fresh
    stack, the same source gives the same answer, or the same `ContractRejected`, on every
    node and every path."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as is
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name="tianfu-compile", daemon=True)
    # A stack of its own size, not the host's default for new threads (RLIMIT_STACK, 128
    # KiB under musl, or what the process set): parsing recurses in C as deep as the
    # source nests, ~700 KB before the parser's own limit refuses it, and a smaller stack
    # crashed the node. The size is the process's for threads started meanwhile too
    # (every caller holds `_COMPILE_LOCK`; another thread started then gets a bigger one).
    previous = threading.stack_size(COMPILE_STACK_BYTES)
    try:
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Parsing and compiling warn (an invalid escape: DeprecationWarning in 3.11,
    SyntaxWarning in 3.12), and a process whose filters turn warnings into errors
    (`-W error`) would refuse what others take: warnings are ignored here (every compile
    holds `_COMPILE_LOCK`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _build(source: str, max_source_bytes: int) -> CompiledContract:
    try:
        raw = source.encode()
    except UnicodeEncodeError:
        raise ContractRejected("source is not valid text (a lone surrogate)") from None
    if len(raw) > max_source_bytes:
        raise ContractRejected(f"source is {len(raw)} bytes; the limit is {max_source_bytes}")
    # CPython's own words for a source it cannot parse, and the line it names, differ
    # between versions (and so does what it parses: `grammar`): the refusal is fixed text.
    if "\x00" in source:  # 3.11 raises ValueError for it, 3.12 SyntaxError
        raise ContractRejected(SYNTAX_ERROR)
    try:
        with _no_warnings():
            tree = ast.parse(source, filename="<contract>", mode="exec")
    except (SyntaxError, ValueError):
        # ValueError: 3.12.0-3.12.4's parser on a debug field in a format spec (gh-121130),
        # which `check_311` refuses as a syntax error wherever it parses
        raise ContractRejected(SYNTAX_ERROR) from None
    except (RecursionError, MemoryError):
        # nested too deep for this parser: for another, `check_depth` says the same
        raise ContractRejected(TOO_DEEP) from None
    try:
        check_311(tree, source)
    except NotPython311:
        raise ContractRejected(SYNTAX_ERROR) from None
    check_depth(tree)
    validator = Validator()
    validator.check_module(tree, fstring_lines(tree))
    tree = instrument(tree)
    try:
        with _no_warnings():
            code = compile(tree, "<contract>", "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ContractRejected("source cannot be compiled (too complex)") from None
    return CompiledContract(
        source_hash=hash_domain(SOURCE_TAG, raw),
        methods=frozenset(validator.methods),
        views=frozenset(validator.views),
        code=code,
    )


__all__ = [
    "CompiledContract",
    "ContractRejected",
    "HostResourceError",
    "MAX_FREE",
    "compile_contract",
    "parse_source",
]
