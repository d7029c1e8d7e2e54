"""The restricted, deterministic Python contract sandbox: validate, instrument, compile, call.

`compile_contract(source)` parses a contract, refuses anything outside the allowed subset
of Python (with the line and the reason), rewrites the tree so that every step is metered
and every size-amplifying operation is checked (see `tianfu.execution.gas`), and compiles
it once. `CompiledContract.call` runs the method in an instance of the module: one whose
top level bound only immutable values is executed once and reused by later calls, each
re-arming its meter and paying the module's setup gas again (`tianfu.execution.instances`,
docs/adr/0015); any other module is executed afresh in new globals for every call. Either
way the globals hold only the safe builtins and this call's helpers, and every failure
comes out as a `ContractError`. See docs/adr/0005-contract-sandbox.md for the rules and
the reasons.
"""

from __future__ import annotations

import ast
import functools
import threading
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any

from tianfu.codec import hash_domain
from tianfu.execution import gas as g
from tianfu.execution.api import ContractError, OutOfGas
from tianfu.execution.instances import MAX_FREE, ModuleInstance, ModuleInstances
from tianfu.execution.proxy import ContextProxy
from tianfu.types.values import MAX_INT, MIN_INT, check_value

SOURCE_TAG = "tianfu/contract/source/v1"
MAX_SOURCE_BYTES = 256 * 1024
MAX_AST_DEPTH = 200
HELPER_PREFIX = "__tf_"

FORBIDDEN_NAMES = frozenset(
    "eval exec compile open input print getattr setattr delattr hasattr globals locals vars "
    "dir type object super memoryview bytearray breakpoint help exit quit id hash set "
    "frozenset float complex iter next map filter repr format round callable classmethod "
    "staticmethod property issubclass aiter anext slice ascii Exception BaseException "
    "SystemExit KeyboardInterrupt GeneratorExit RuntimeError RecursionError MemoryError "
    "StopIteration __import__ __builtins__ __build_class__ __loader__ __spec__".split()
)
FORBIDDEN_ATTRS = frozenset(
    "format format_map mro f_globals f_locals f_builtins f_code f_back gi_frame gi_code "
    "gi_yieldfrom cr_frame cr_code cr_await ag_frame ag_code tb_frame tb_next func_globals "
    "func_code expandtabs translate maketrans with_traceback args".split()
)
BUILTIN_NAMES = frozenset(
    ["int", "str", "bytes", "list", "tuple", "dict", "range", "sorted", "sum", "min", "max"]
    + ["any", "all", "pow", "isinstance", "view"]
    + list(g.SAFE_NATIVE_BUILTINS)
    + ["ContractError"]
)

_EXPR_NODES = (
    "Expr BoolOp BinOp UnaryOp Lambda IfExp Dict List Tuple ListComp DictComp GeneratorExp "
    "comprehension Compare Call keyword JoinedStr FormattedValue Constant Attribute Subscript "
    "Slice Starred Name NamedExpr Load Store Del And Or Not USub UAdd Invert arguments arg"
)
_STMT_NODES = (
    "Module FunctionDef Return Assign AugAssign AnnAssign For While If Break Continue Pass Raise "
    "Try ExceptHandler Assert Delete"
)
_OPERATORS = "Add Sub Mult FloorDiv Mod Pow LShift RShift BitOr BitXor BitAnd"
_CMPOPS = "Eq NotEq Lt LtE Gt GtE Is IsNot In NotIn"
ALLOWED_NODES = frozenset(
    getattr(ast, n) for n in f"{_EXPR_NODES} {_STMT_NODES} {_OPERATORS} {_CMPOPS}".split()
)
CMP_CODES = {
    getattr(ast, n): i for i, n in enumerate("Eq NotEq Lt LtE Gt GtE Is IsNot In NotIn".split())
}
BINOP_NAMES = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
    ast.LShift: "lshift",
    ast.RShift: "rshift",
    ast.BitAnd: "bitand",
    ast.BitOr: "bitor",
    ast.BitXor: "bitxor",
}
INPLACE_NAMES = {ast.Add: "iadd", ast.Mult: "imul", ast.BitOr: "ibitor"}

_WHY = {
    ast.Import: "import is not allowed: contracts use only ctx and the safe builtins",
    ast.ImportFrom: "import is not allowed: contracts use only ctx and the safe builtins",
    ast.ClassDef: "class definitions are not allowed: use functions, dicts and lists",
    ast.Global: "'global' is not allowed: keep state in ctx.put/ctx.get",
    ast.Nonlocal: "'nonlocal' is not allowed",
    ast.With: "'with' is not allowed",
    ast.AsyncFunctionDef: "async functions are not allowed",
    ast.AsyncFor: "async loops are not allowed",
    ast.AsyncWith: "'async with' is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "generators ('yield') are not allowed",
    ast.YieldFrom: "generators ('yield from') are not allowed",
    ast.Set: "set literals are not allowed: set order differs between nodes (use a dict or a sorted list)",
    ast.SetComp: "set comprehensions are not allowed: set order differs between nodes",
    ast.Div: "true division '/' produces floats: use integer division '//'",
    ast.MatMult: "the '@' operator is not allowed",
    ast.Match: "'match' statements are not allowed: use if/elif",
    ast.TryStar: "'except*' is not allowed",
}


class ContractRejected(ValueError):
    """Contract source refused at deployment; the message says what and at which line."""


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

    def call(self, ctx: Any, method: str, args: list[Any], gas_limit: int) -> tuple[Any, int]:
        """Run `method(ctx, *args)`; return (result, gas used) or raise `ContractError`
        (`OutOfGas` when the budget ran out). A raised error carries `gas_used`."""
        if not isinstance(method, str) or method not in self.methods:
            raise ContractError(f"unknown method {method!r}")
        free = self.instances._free  # `ModuleInstances.take`/`give`, inlined: one list
        try:  # operation each, atomic under the GIL (the API thread may call at once)
            instance: ModuleInstance | None = free.pop()
        except IndexError:
            instance = None
        if instance is None:
            rt = g.Runtime(gas_limit)
        else:
            rt = instance.rt
            if type(gas_limit) is int and gas_limit >= 0:  # `rt.reset(gas_limit)`, inlined
                rt.limit = rt.left = gas_limit
                rt.depth = 0
            else:
                rt.reset(gas_limit)  # raises
        held = [instance]  # the instance this call uses, once there is one
        try:
            result = self._run(rt, held, ctx, method, args)
        except ContractError as exc:
            raise _failure(rt, exc) from None
        except RecursionError:
            raise _failure(rt, "RecursionError: maximum recursion depth exceeded") from None
        except MemoryError:
            raise _failure(rt, "MemoryError: out of memory") from None
        except Exception as exc:
            raise _failure(rt, f"{type(exc).__name__}: {g.sanitize(str(exc))}") from None
        finally:
            if held[0] is not None and len(free) < MAX_FREE:
                free.append(held[0])
        left = rt.left  # `rt.used`, inlined: left >= 0 here (`_run` checked it)
        return result, rt.limit - left if left >= 0 else rt.limit

    def _run(
        self,
        rt: g.Runtime,
        held: list[ModuleInstance | None],
        ctx: Any,
        method: str,
        args: list[Any],
    ) -> Any:
        copy = rt.copy_value
        n = len(args)
        if g.all_scalars(args):  # each copy is the value itself, one step: charged at once
            if n:
                rt.left -= n
                if rt.left < 0:
                    raise rt.out_of_gas()
        else:
            args = [copy(a, f"argument {i + 1}") for i, a in enumerate(args)]
        instance = held[0]
        if instance is not None:  # the module's top level ran when the instance was set up
            setup_gas = instance.setup_gas
            if setup_gas:
                rt.left -= setup_gas
                if rt.left < 0:
                    raise rt.out_of_gas()
            fn: Any = instance.functions[method]
            low, high = instance.arity[method]
            if n < low or n > high:
                _check_arity(fn, method, n)  # raises, with the message
        else:
            namespace = rt.module_globals()
            before = rt.left
            exec(self.code, namespace)  # noqa: S102 - the instrumented, validated contract
            held[0] = self.instances.adopt(namespace, rt, before - rt.left, self.methods)
            fn = namespace.get(method)
            if not isinstance(fn, FunctionType):
                raise ContractError(f"unknown method {method!r}")
            _check_arity(fn, method, n)
        result = fn(ContextProxy(ctx, rt), *args)
        if rt.left < 0:
            raise rt.out_of_gas()
        t = type(result)
        if t in _SCALARS or (t is int and _MIN_INT <= result <= _MAX_INT):
            rt.left -= 1  # `copy_value` of an immutable scalar: itself, one step
            if rt.left < 0:
                raise rt.out_of_gas()
            return result
        result = copy(result, "return value")
        check_value(result)
        return result


def _failure(rt: g.Runtime, cause: ContractError | str) -> ContractError:
    """The error a failed call raises: out of gas wins (even if the contract caught it)."""
    if rt.exhausted:
        err: ContractError = rt.out_of_gas()
    elif isinstance(cause, OutOfGas):  # raised by the host Context's own meter
        err = cause
    elif isinstance(cause, ContractError):
        err = ContractError(g.sanitize(str(cause)))
    else:
        err = ContractError(cause)
    err.gas_used = rt.limit if rt.exhausted else rt.used  # type: ignore[attr-defined]
    return err


_SCALARS = frozenset({type(None), bool, str, bytes})
_MIN_INT, _MAX_INT = MIN_INT, MAX_INT


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


# -- validation --------------------------------------------------------------------------


def _reject(node: ast.AST | None, why: str, line: int | None = None) -> ContractRejected:
    line = getattr(node, "lineno", line)
    return ContractRejected(f"line {line}: {why}" if line else why)


class _Validator(ast.NodeVisitor):
    def __init__(self) -> None:
        self.methods: set[str] = set()
        self.views: set[str] = set()
        self.fn_depth = 0
        self.line: int | None = None

    def check_module(self, tree: ast.Module) -> None:
        defined: set[str] = set()
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                names = [stmt.name]
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            elif type(stmt) in _WHY:
                raise _reject(stmt, _WHY[type(stmt)])
            else:
                raise _reject(
                    stmt,
                    "only function definitions and constant assignments are allowed at module level",
                )
            for name in names:
                if name in defined:
                    raise _reject(stmt, f"{name!r} is defined twice at module level")
                defined.add(name)
            if isinstance(stmt, ast.FunctionDef):
                self._check_method(stmt)
        self.visit(tree)

    def _check_method(self, fn: ast.FunctionDef) -> None:
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Name) and dec.id == "view"):
                raise _reject(dec, "the only decorator allowed is @view")
        if fn.name.startswith("_"):
            return
        if not fn.args.args and not fn.args.posonlyargs:
            raise _reject(fn, f"method {fn.name}() must take ctx as its first parameter")
        self.methods.add(fn.name)
        if fn.decorator_list:
            self.views.add(fn.name)

    def generic_visit(self, node: ast.AST) -> None:
        self.line = getattr(node, "lineno", self.line)
        if type(node) not in ALLOWED_NODES:
            why = _WHY.get(type(node), f"{type(node).__name__} is not allowed in contracts")
            raise _reject(node, why, self.line)
        super().generic_visit(node)

    def _check_name(self, node: ast.AST, name: str, store: bool) -> None:
        if name.startswith("__"):
            raise _reject(node, f"name {name!r} is not allowed: names must not start with '__'")
        if name in FORBIDDEN_NAMES:
            raise _reject(
                node,
                f"{name!r} is not allowed in contracts (no dynamic code, I/O, "
                "introspection, sets or floats)",
            )
        if store and name in BUILTIN_NAMES:
            raise _reject(node, f"cannot rebind the builtin name {name!r}")

    def visit_Name(self, node: ast.Name) -> None:
        self._check_name(node, node.id, not isinstance(node.ctx, ast.Load))
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._check_name(node, node.arg, True)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_name(node, node.name, True)
        if self.fn_depth and node.decorator_list:
            raise _reject(node, "nested functions cannot have decorators")
        self.fn_depth += 1
        self.generic_visit(node)
        self.fn_depth -= 1

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            raise _reject(
                node, f"attribute {node.attr!r} is not allowed: attributes must not start with '_'"
            )
        if node.attr in FORBIDDEN_ATTRS:
            raise _reject(node, f"attribute {node.attr!r} is not allowed in contracts")
        if not isinstance(node.ctx, ast.Load):
            raise _reject(node, "assigning or deleting attributes is not allowed")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, float | complex):
            raise _reject(
                node,
                "float literals are not allowed: use integers (e.g. amounts in the smallest unit)",
            )
        if v is Ellipsis:
            raise _reject(node, "'...' is not allowed")
        if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > g.MAX_INT_BITS:
            raise _reject(node, f"integer literal wider than {g.MAX_INT_BITS} bits")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Store):
            raise _reject(node, "slice assignment is not allowed: build a new list instead")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Subscript) and isinstance(node.target.slice, ast.Slice):
            raise _reject(node, "slice assignment is not allowed: build a new list instead")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for middle in node.comparators[:-1]:
            if not isinstance(middle, ast.Name | ast.Constant):
                raise _reject(
                    node,
                    "in a chained comparison the middle operands must be names or "
                    "constants; assign the expression to a variable first",
                )
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.conversion != -1 or node.format_spec is not None:
            raise _reject(
                node, "f-string conversions and format specs are not allowed: use {value} only"
            )
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for t in caught:
            if t is None:
                raise _reject(node, "a bare 'except:' is not allowed: name the exceptions to catch")
            if not (isinstance(t, ast.Name) and t.id in g.CATCHABLE):
                raise _reject(node, f"contracts may only catch {', '.join(sorted(g.CATCHABLE))}")
        if node.name is not None:
            self._check_name(node, node.name, True)
        self.generic_visit(node)


def _check_depth(tree: ast.AST) -> None:
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise _reject(node, f"code nested more than {MAX_AST_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


# -- instrumentation ----------------------------------------------------------------------


def _helper(name: str) -> ast.Name:
    return ast.Name(id=HELPER_PREFIX + name, ctx=ast.Load())


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_helper(name), args=list(args), keywords=[])


class _Instrumenter(ast.NodeTransformer):
    """Rewrites validated code so each step goes through `gas.Runtime`."""

    def __init__(self) -> None:
        self.temps = 0

    def _temp(self) -> str:
        self.temps += 1
        return f"{HELPER_PREFIX}t{self.temps}"

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        """Every function body becomes `Runtime.enter()`; try: body; finally: `leave()`,
        both inlined as statements on the runtime (`__tf_rt`; see `_ENTRY`): the same
        charge, checks, order and errors, without two Python calls per function call."""
        self.generic_visit(node)
        node.returns = None
        node.body = [
            *_template(_ENTRY),
            ast.Try(body=node.body, handlers=[], orelse=[], finalbody=_template(_EXIT)),
        ]
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None  # annotations are documentation: never evaluated
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt:
        self.generic_visit(node)
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value)

    def visit_Lambda(self, node: ast.Lambda) -> ast.Call:
        self.generic_visit(node)
        return _call("lambda", node)

    def visit_While(self, node: ast.While) -> ast.While:
        self.generic_visit(node)
        node.body.insert(0, ast.Expr(_call("tick")))
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        self.generic_visit(node)
        node.iter = _call("iter", node.iter)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.iter = _call("iter", node.iter)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.Call:
        self.generic_visit(node)
        return _call(BINOP_NAMES[type(node.op)], node.left, node.right)

    def visit_AugAssign(self, node: ast.AugAssign) -> list[ast.stmt]:
        self.generic_visit(node)
        op = INPLACE_NAMES.get(type(node.op), BINOP_NAMES[type(node.op)])
        target = node.target
        if isinstance(target, ast.Name):
            load = ast.Name(id=target.id, ctx=ast.Load())
            return [ast.Assign(targets=[target], value=_call(op, load, node.value))]
        assert isinstance(target, ast.Subscript)  # attributes were rejected by validation
        obj, key = self._temp(), self._temp()
        return [
            ast.Assign(targets=[ast.Name(id=obj, ctx=ast.Store())], value=target.value),
            ast.Assign(targets=[ast.Name(id=key, ctx=ast.Store())], value=target.slice),
            ast.Assign(
                targets=[
                    ast.Subscript(
                        value=ast.Name(id=obj, ctx=ast.Load()),
                        slice=ast.Name(id=key, ctx=ast.Load()),
                        ctx=ast.Store(),
                    )
                ],
                value=_call(
                    op,
                    ast.Subscript(
                        value=ast.Name(id=obj, ctx=ast.Load()),
                        slice=ast.Name(id=key, ctx=ast.Load()),
                        ctx=ast.Load(),
                    ),
                    node.value,
                ),
            ),
        ]

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        pairs: list[ast.expr] = [
            _call("cmp", ast.Constant(CMP_CODES[type(op)]), operands[i], operands[i + 1])
            for i, op in enumerate(node.ops)
        ]
        return pairs[0] if len(pairs) == 1 else ast.BoolOp(op=ast.And(), values=pairs)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Load):
            s = node.slice
            none = ast.Constant(None)
            return _call("slice", node.value, s.lower or none, s.upper or none, s.step or none)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        """`obj.name` becomes `Runtime.getattr(obj, "name")`. When `obj` is a plain name and
        `name` one the hot host class exposes (`ctx.get`, `ctx.put`, ...: `g.hot_host`),
        it becomes `obj.name if type(obj) is HOT else Runtime.getattr(obj, "name")`: what
        `getattr` answers for that class, without calling it (a name can be read twice:
        nothing runs between the reads, and an unbound one fails at the first)."""
        self.generic_visit(node)
        call = _call("getattr", node.value, ast.Constant(node.attr))
        value = node.value
        if not (isinstance(value, ast.Name) and node.attr in g._hot_names):
            return call
        return ast.IfExp(
            test=ast.Compare(
                left=ast.Call(
                    func=_helper("type"), args=[ast.Name(id=value.id, ctx=ast.Load())], keywords=[]
                ),
                ops=[ast.Is()],
                comparators=[_helper("hot")],
            ),
            body=ast.Attribute(
                value=ast.Name(id=value.id, ctx=ast.Load()), attr=node.attr, ctx=ast.Load()
            ),
            orelse=call,
        )

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.FormattedValue:
        self.generic_visit(node)
        node.value = _call("str", node.value)
        return node

    def visit_Call(self, node: ast.Call) -> ast.Call:
        """`isinstance(x, T)` with T a builtin's name, or a flat tuple of them, calls the
        real `isinstance` with the types the sandbox's wrappers stand for (`int` -> int,
        `str` -> str, ...), as `Runtime.b_isinstance` would at run time: a builtin name
        always means the builtin (validation refuses rebinding it, and `isinstance`
        itself), and neither path charges gas. Anything else (a variable, an attribute,
        a nested tuple) still goes through `b_isinstance`."""
        self.generic_visit(node)
        func, args = node.func, node.args
        if (
            isinstance(func, ast.Name)
            and func.id == "isinstance"
            and len(args) == 2
            and not node.keywords
            and not isinstance(args[0], ast.Starred)
        ):
            spec = _static_spec(args[1])
            if spec is not None:
                node.func = _helper("isinstance")
                node.args = [args[0], spec]
        return node


# `Runtime.enter()` and `Runtime.leave()`, statement for statement, on the call's runtime
# (`__tf_rt` in the module globals; contract names cannot start with `__`). Built after
# the instrumenter visited the function, so these attribute reads are not rewritten.
_ENTRY = ast.parse(
    f"{HELPER_PREFIX}rt.left -= {g.CALL_GAS}\n"
    f"if {HELPER_PREFIX}rt.left < 0:\n"
    f"    raise {HELPER_PREFIX}rt.out_of_gas()\n"
    f"if {HELPER_PREFIX}rt.depth >= {g.MAX_CALL_DEPTH}:\n"
    f"    {HELPER_PREFIX}too_deep()\n"
    f"{HELPER_PREFIX}rt.depth += 1\n"
).body
_EXIT = ast.parse(f"{HELPER_PREFIX}rt.depth -= 1\n").body


def _template(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """Fresh copies of `stmts` without source positions (`ast.fix_missing_locations`
    gives them the function's, as it did to the helper calls they replace)."""
    out = []
    for stmt in stmts:
        copy = ast.parse(ast.unparse(stmt)).body[0]
        for n in ast.walk(copy):
            for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
                if attr in n._attributes:
                    delattr(n, attr)
        out.append(copy)
    return out


def _static_spec(node: ast.expr) -> ast.expr | None:
    """The second argument of a rewritten `isinstance` (see `visit_Call`), or None."""
    if isinstance(node, ast.Name) and node.id in BUILTIN_NAMES:
        if node.id in g.CHECKED_TYPE_NAMES:
            return _helper("type_" + node.id)
        return node  # its value as it is (`b_isinstance` maps only the wrappers)
    if isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Load):
        elts: list[ast.expr] = []
        for e in node.elts:
            mapped = _static_spec(e) if isinstance(e, ast.Name) else None
            if mapped is None:  # nested tuples are not mapped by `b_isinstance` either
                return None
            elts.append(mapped)
        return ast.Tuple(elts=elts, ctx=ast.Load())
    return None


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


@functools.lru_cache(maxsize=128)
def _compile(source: str, max_source_bytes: int) -> CompiledContract:
    try:
        raw = source.encode()
    except UnicodeEncodeError as exc:
        raise ContractRejected(f"source is not valid text: {exc}") from None
    if len(raw) > max_source_bytes:
        raise ContractRejected(f"source is {len(raw)} bytes; the limit is {max_source_bytes}")
    try:
        tree = ast.parse(source, filename="<contract>", mode="exec")
    except SyntaxError as exc:
        raise ContractRejected(f"line {exc.lineno}: syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ContractRejected(f"source cannot be parsed: {exc}") from None
    _check_depth(tree)
    validator = _Validator()
    validator.check_module(tree)
    tree = _Instrumenter().visit(tree)
    ast.fix_missing_locations(tree)
    try:
        code = compile(tree, "<contract>", "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise ContractRejected(f"source cannot be compiled: {exc}") from None
    return CompiledContract(
        source_hash=hash_domain(SOURCE_TAG, raw),
        methods=frozenset(validator.methods),
        views=frozenset(validator.views),
        code=code,
    )
