"""Instrumentation of validated contract code: every step charged, every amplifier checked.

`instrument(tree)` rewrites a validated contract (`tianfu.execution.validate`) so that:

- every function body, lambda, loop iteration and comprehension item first charges its
  *region*: `CALL_GAS`/`LOOP_GAS`, plus the static weight of every node it may run
  (`costs.NODE_UNITS`, both branches of an `if` counted) and the bytes its displays, dict
  stores, keyword calls, nested functions and generators may allocate — so no straight-line
  code is free, however long. Function entries inline the meter's own charge
  (`meter.charge_source`) and the call depth check; loops call `__tf_tick`/`__tf_iter`;
- operators, comparisons (except `is None`/`True`/`False`), slices, subscript indexes that
  are not a str or int, unary `-`/`~`, f-string fields, `*x`/`**x` unpacking, exception
  construction, generator expressions and `except ... as e` bindings call the runtime's
  checked helpers
  (`tianfu.execution.runtime`), which charge by operand size before the work;
- every attribute read goes through `Runtime.getattr` (or, for `ctx.name`, an inline
  exact-type test of the hot host class).
"""

from __future__ import annotations

import ast
from typing import Any

from tianfu.execution import runtime as g
from tianfu.execution.costs import (
    CALL_GAS,
    DEFAULT_UNITS,
    DICT_ENTRY_BYTES,
    EXC_GAS,
    FUNC_BYTES,
    GEN_BYTES,
    LOOP_GAS,
    NODE_UNITS,
    OBJ_BYTES,
    SLOT_BYTES,
    SMALL_BYTES,
    dict_bytes,
    seq_bytes,
    static_gas,
)
from tianfu.execution.keys import INJECTIVE
from tianfu.execution.meter import charge_source
from tianfu.execution.scopes import scope_sizes
from tianfu.execution.walk import INT_HASHED_FREE

HELPER_PREFIX = "__tf_"
METER = HELPER_PREFIX + "m"

CMP_HELPERS = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.In: "in",
    ast.NotIn: "notin",
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
_FREE_NODES = (
    ast.expr_context,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.arguments,
    ast.arg,
)
_PLAIN_INDEX = (str, int, bytes, bool, type(None))
_COMPS = (ast.ListComp, ast.DictComp, ast.GeneratorExp)


# -- static costs of regions ------------------------------------------------------------------


def _units(node: ast.AST) -> int:
    if isinstance(node, _FREE_NODES):
        return 0
    return NODE_UNITS.get(type(node).__name__, DEFAULT_UNITS)


def _mem(node: ast.AST, sizes: dict[int, int]) -> int:
    """Bytes one evaluation of `node` may allocate beyond helpers' counts (`scope_sizes`)."""
    if isinstance(node, ast.List | ast.Tuple) and isinstance(node.ctx, ast.Load):
        k = sum(not isinstance(e, ast.Starred) for e in node.elts)
        return seq_bytes(k) + k * SMALL_BYTES
    if isinstance(node, ast.Dict):
        k = len(node.keys)
        return dict_bytes(k) + k * SMALL_BYTES
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
        return DICT_ENTRY_BYTES + SMALL_BYTES  # a new dict entry, or a new item in a slot
    if isinstance(node, ast.Call) and node.keywords:
        k = len(node.keywords)
        return dict_bytes(k) + k * SMALL_BYTES
    if isinstance(node, ast.FunctionDef):
        return sizes.get(id(node), FUNC_BYTES)
    if isinstance(node, ast.GeneratorExp):
        return sizes.get(id(node), GEN_BYTES)
    if isinstance(node, ast.ListComp):
        return seq_bytes(0)
    if isinstance(node, ast.DictComp):
        return dict_bytes(0)
    if isinstance(node, ast.JoinedStr):
        chars = sum(len(str(v.value)) for v in node.values if isinstance(v, ast.Constant))
        fields = sum(1 for v in node.values if isinstance(v, ast.FormattedValue))
        return OBJ_BYTES + 4 * chars + 64 * fields
    return 0


def _members(node: ast.AST) -> list[ast.AST]:
    """The children of `node` that run in the same region (nested bodies are their own)."""
    if isinstance(node, ast.FunctionDef):
        a = node.args
        return [*node.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d is not None)]
    if isinstance(node, ast.Lambda):
        a = node.args
        return [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
    if isinstance(node, _COMPS):
        return [node.generators[0].iter]
    if isinstance(node, ast.For):
        return [node.iter, *node.orelse]
    if isinstance(node, ast.While):
        return [node.test, *node.orelse]
    if isinstance(node, ast.AnnAssign):
        return [node.target] + ([node.value] if node.value is not None else [])
    if isinstance(node, ast.ExceptHandler):  # its body runs only when it catches
        return [node.type] if node.type is not None else []
    return list(ast.iter_child_nodes(node))


def _region(nodes: list[ast.AST], extra_mem: int, sizes: dict[int, int]) -> tuple[int, int]:
    """(units, bytes) of one execution of the region made of `nodes`."""
    units, mem = 0, extra_mem
    stack = list(nodes)
    while stack:
        n = stack.pop()
        units += _units(n)
        mem += _mem(n, sizes)
        stack.extend(_members(n))
    return units, mem


def region_costs(
    tree: ast.Module, sizes: dict[int, int] | None = None
) -> dict[int, tuple[int, int]]:
    """(gas, bytes) per region owner, by `id()` of its node in `tree` (before rewriting):
    functions, lambdas, loops, comprehension generators and the module itself."""
    out: dict[int, tuple[int, int]] = {}
    made = scope_sizes(tree) if sizes is None else sizes

    def put(owner: ast.AST, nodes: list[ast.AST], base: int, extra_mem: int = 0) -> None:
        units, mem = _region(nodes, extra_mem, made)
        out[id(owner)] = (static_gas(units, mem, base), mem)

    put(tree, list(tree.body), 0)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            put(node, list(node.body), CALL_GAS)
        elif isinstance(node, ast.Lambda):
            put(node, [node.body], CALL_GAS)
        elif isinstance(node, ast.For):
            put(node, [node.target, *node.body], LOOP_GAS)
        elif isinstance(node, ast.While):
            put(node, [node.test, *node.body], LOOP_GAS)
        elif isinstance(node, ast.ExceptHandler):
            put(node, list(node.body), EXC_GAS)
        elif isinstance(node, _COMPS):
            gens = node.generators
            for i, gen in enumerate(gens):
                nodes: list[ast.AST] = [gen.target, *gen.ifs]
                item_mem = 0
                if i + 1 < len(gens):
                    nodes.append(gens[i + 1].iter)
                elif isinstance(node, ast.DictComp):
                    nodes += [node.key, node.value]
                    item_mem = DICT_ENTRY_BYTES + SMALL_BYTES
                else:
                    nodes.append(node.elt)
                    if isinstance(node, ast.ListComp):
                        item_mem = SLOT_BYTES + SMALL_BYTES
                put(gen, nodes, LOOP_GAS, item_mem)
    return out


# -- the rewriter -------------------------------------------------------------------------------


def _helper(name: str) -> ast.Name:
    return ast.Name(id=HELPER_PREFIX + name, ctx=ast.Load())


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_helper(name), args=list(args), keywords=[])


def _plain_key_test(k: str, bound: int) -> ast.expr:
    """`k` is text, or an integer within `bound` (hashed in constant work), tested inline."""
    return ast.parse(
        f"__tf_type({k}) is __tf_strtype or "
        f"__tf_type({k}) is __tf_inttype and {-bound} <= {k} <= {bound}",
        mode="eval",
    ).body


def _stmts(source: str) -> list[ast.stmt]:
    return ast.parse(source).body


def _const(v: Any) -> ast.Constant:
    return ast.Constant(v)


class Instrumenter(ast.NodeTransformer):
    """Rewrites validated code so that each step goes through the meter and the runtime.
    Construct it with the region costs of the very tree it visits (`region_costs`)."""

    def __init__(
        self, costs: dict[int, tuple[int, int]] | None = None, sizes: dict[int, int] | None = None
    ) -> None:
        self.costs = costs or {}
        self.sizes = sizes or {}  # bytes each lambda's object holds (`scopes.scope_sizes`)
        self.temps = 0

    def _cost(self, node: ast.AST, base: int) -> tuple[int, int]:
        return self.costs.get(id(node), (base, 0))

    def _temp(self) -> str:
        self.temps += 1
        return f"{HELPER_PREFIX}t{self.temps}"

    def instrument(self, tree: ast.Module) -> ast.Module:
        gas, mem = self._cost(tree, 0)
        tree = self.visit(tree)
        if gas or mem:
            tree.body[:0] = _stmts(charge_source(METER, str(gas), str(mem) if mem else None, False))
        return tree

    # -- regions ------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        gas, mem = self._cost(node, CALL_GAS)
        self.generic_visit(node)
        node.returns = None
        entry = _stmts(charge_source(METER, str(gas), str(mem) if mem else None, True))
        counted: list[ast.stmt] = []
        if node.args.vararg is not None:  # the tuple of extra arguments
            counted += _stmts(
                f"{METER}.alloc({SLOT_BYTES + SMALL_BYTES} * len({node.args.vararg.arg}))"
            )
        if node.args.kwarg is not None:
            counted += _stmts(
                f"{METER}.alloc({DICT_ENTRY_BYTES + SMALL_BYTES} * len({node.args.kwarg.arg}))"
            )
        node.body = [
            *entry,
            ast.Try(
                body=counted + node.body,
                handlers=[],
                orelse=[],
                finalbody=_stmts(f"{METER}.depth -= 1"),
            ),
        ]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.Call:
        gas, mem = self._cost(node, CALL_GAS)
        size = self.sizes.get(id(node), FUNC_BYTES)
        self.generic_visit(node)
        return _call("lambda", node, _const(gas), _const(mem), _const(size))

    def visit_While(self, node: ast.While) -> ast.While:
        gas, mem = self._cost(node, LOOP_GAS)
        self.generic_visit(node)
        tick = (
            _call("tick")
            if (gas, mem) == (LOOP_GAS, 0)
            else _call("tickn", _const(gas), _const(mem))
        )
        node.body.insert(0, ast.Expr(tick))
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        gas, mem = self._cost(node, LOOP_GAS)
        self.generic_visit(node)
        node.iter = self._iter(node.iter, gas, mem)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        gas, mem = self._cost(node, LOOP_GAS)
        self.generic_visit(node)
        node.iter = self._iter(node.iter, gas, mem)
        return node

    def visit_ListComp(self, node: ast.ListComp) -> ast.ListComp:
        self.generic_visit(node)
        return self._keep(node)

    def _keep(self, node: Any) -> Any:
        """A list or dict comprehension keeps what it makes of each item of its innermost
        generator: that one iterates through `__tf_keep` (`Runtime.keep`)."""
        it = node.generators[-1].iter
        if isinstance(it, ast.Call) and len(it.args) == 3:
            it.func = _helper("keep")
        return node

    def _iter(self, it: ast.expr, gas: int, mem: int) -> ast.Call:
        if (gas, mem) == (LOOP_GAS, 0):
            return _call("iter", it)
        return _call("iter", it, _const(gas), _const(mem))

    # -- annotations --------------------------------------------------------------------
    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None  # annotations are documentation: never evaluated
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt:
        self.generic_visit(node)
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value)

    # -- operators ------------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> ast.Call:
        self.generic_visit(node)
        return _call(BINOP_NAMES[type(node.op)], node.left, node.right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        operand = node.operand
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, bool):
            value = int(operand.value)  # type: ignore[arg-type]
            if isinstance(node.op, ast.USub):
                return ast.copy_location(_const(-value), node)
            if isinstance(node.op, ast.Invert):
                return ast.copy_location(_const(~value), node)
        self.generic_visit(node)
        if isinstance(node.op, ast.USub):
            return _call("neg", node.operand)
        if isinstance(node.op, ast.Invert):
            return _call("inv", node.operand)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> list[ast.stmt]:
        self.generic_visit(node)
        op = INPLACE_NAMES.get(type(node.op), BINOP_NAMES[type(node.op)])
        target = node.target
        if isinstance(target, ast.Name):
            load = ast.Name(id=target.id, ctx=ast.Load())
            return [ast.Assign(targets=[target], value=_call(op, load, node.value))]
        assert isinstance(target, ast.Subscript)  # attributes were rejected by validation
        obj, key = self._temp(), self._temp()

        def name(n: str, ctx: ast.expr_context) -> ast.Name:
            return ast.Name(id=n, ctx=ctx)

        return [
            ast.Assign(targets=[name(obj, ast.Store())], value=target.value),
            ast.Assign(targets=[name(key, ast.Store())], value=target.slice),
            ast.Assign(
                targets=[
                    ast.Subscript(
                        value=name(obj, ast.Load()), slice=name(key, ast.Load()), ctx=ast.Store()
                    )
                ],
                value=_call(
                    op,
                    ast.Subscript(
                        value=name(obj, ast.Load()), slice=name(key, ast.Load()), ctx=ast.Load()
                    ),
                    node.value,
                ),
            ),
        ]

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        pairs: list[ast.expr] = []
        for i, op in enumerate(node.ops):
            a, b = operands[i], operands[i + 1]
            if isinstance(op, ast.Is | ast.IsNot):  # only with None/True/False (validated)
                pairs.append(ast.Compare(left=a, ops=[op], comparators=[b]))
            else:
                pairs.append(_call(CMP_HELPERS[type(op)], a, b))
        return pairs[0] if len(pairs) == 1 else ast.BoolOp(op=ast.And(), values=pairs)

    # -- subscripts, keys, unpacking ---------------------------------------------------------
    def _key(self, index: ast.expr) -> ast.expr:
        """A subscript index or dict key: a str or int constant as it is; a name tested
        inline (a str or int passes, anything else goes through `Runtime.key`)."""
        if isinstance(index, ast.Constant) and type(index.value) in _PLAIN_INDEX:
            v = index.value
            if type(v) is not int or -INT_HASHED_FREE <= v <= INT_HASHED_FREE:
                return index
        if isinstance(index, ast.Name):
            return ast.IfExp(
                test=_plain_key_test(index.id, INT_HASHED_FREE),
                body=ast.Name(id=index.id, ctx=ast.Load()),
                orelse=_call("key", ast.Name(id=index.id, ctx=ast.Load())),
            )
        return _call("key", index)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.slice, ast.Slice):
            if isinstance(node.ctx, ast.Load):
                s = node.slice
                none = _const(None)
                return _call("slice", node.value, s.lower or none, s.upper or none, s.step or none)
            return node
        store = isinstance(node.ctx, ast.Store)
        node.slice = self._store_key(node.slice) if store else self._key(node.slice)
        return node

    def _store_key(self, index: ast.expr) -> ast.expr:
        """A key stored into a dict (or an index assigned to): a str, or an int that no
        other int shares a hash with, as it is; anything else through `Runtime.skey`
        (`tianfu.execution.keys`)."""
        if isinstance(index, ast.Constant) and (
            type(index.value) is str
            or (type(index.value) is int and -INJECTIVE <= index.value <= INJECTIVE)
        ):
            return index
        if isinstance(index, ast.Name):
            k = index.id
            return ast.IfExp(
                test=_plain_key_test(k, INJECTIVE),
                body=ast.Name(id=k, ctx=ast.Load()),
                orelse=_call("skey", ast.Name(id=k, ctx=ast.Load())),
            )
        return _call("skey", index)

    def visit_Delete(self, node: ast.Delete) -> list[ast.stmt]:
        """`del x[i]` moves every later item of a list: `Runtime.delitem`, charged by the
        length. Deleting names stays a statement."""
        self.generic_visit(node)
        out: list[ast.stmt] = []
        names: list[ast.expr] = []
        for target in node.targets:
            if isinstance(target, ast.Subscript):
                if names:
                    out.append(ast.Delete(targets=names))
                    names = []
                out.append(ast.Expr(_call("delitem", target.value, target.slice)))
            else:
                names.append(target)
        if names:
            out.append(ast.Delete(targets=names))
        return out

    def visit_Dict(self, node: ast.Dict) -> ast.Dict:
        self.generic_visit(node)
        node.keys = [None if k is None else self._store_key(k) for k in node.keys]
        node.values = [
            _call("dstar", v) if k is None else v
            for k, v in zip(node.keys, node.values, strict=True)
        ]
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.DictComp:
        self.generic_visit(node)
        node.key = self._store_key(node.key)
        return self._keep(node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.Call:
        """A generator expression is handed out as `__tf_gen(...)`: each pull from it is
        one level of call depth, whoever pulls (a loop, `in`, a comprehension's target
        unpacking it, a builtin)."""
        self.generic_visit(node)
        return _call("gen", node)

    def visit_Starred(self, node: ast.Starred) -> ast.Starred:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("star", node.value)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        self.generic_visit(node)
        if any(isinstance(n, ast.Starred) for t in node.targets for n in ast.walk(t)):
            node.value = _call("star", node.value)  # `a, *b = x` builds a list from x
        return node

    # -- attributes, calls, text --------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        """`obj.name` becomes `Runtime.getattr(obj, "name")`. When `obj` is a plain name and
        `name` one the hot host class exposes (`ctx.get`, `ctx.put`, ...: `g.hot_host`),
        it becomes `obj.name if type(obj) is HOT else Runtime.getattr(obj, "name")`: what
        `getattr` answers for that class, without calling it."""
        self.generic_visit(node)
        call = _call("getattr", node.value, _const(node.attr))
        value = node.value
        if not (isinstance(value, ast.Name) and node.attr in g.hot_names()):
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
        node.value = _call("fpart", node.value)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.keyword:
        self.generic_visit(node)
        if node.arg is None:
            node.value = _call("kwstar", node.value)
        return node

    def visit_Call(self, node: ast.Call) -> ast.Call:
        """`E(...)` for an exception class becomes `__tf_exc(E, ...)` (its message made
        now, bounded). `isinstance(x, T)` with T a builtin's name, or a flat tuple of them,
        calls the real `isinstance` with the types the sandbox's wrappers stand for, as
        `b_isinstance` would at run time (validation refuses rebinding builtin names)."""
        self.generic_visit(node)
        func, args = node.func, node.args
        if isinstance(func, ast.Name) and func.id in g.EXCEPTION_NAMES:
            return ast.Call(func=_helper("exc"), args=[func, *args], keywords=[])
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

    # -- exceptions ---------------------------------------------------------------------------
    def visit_Raise(self, node: ast.Raise) -> ast.Raise:
        self.generic_visit(node)
        if isinstance(node.exc, ast.Name) and node.exc.id in g.EXCEPTION_NAMES:
            node.exc = _call("exc", node.exc)  # `raise E` is `raise E()`
        return node

    def visit_Assert(self, node: ast.Assert) -> ast.If:
        self.generic_visit(node)
        args: list[ast.expr] = [ast.Name(id="AssertionError", ctx=ast.Load())]
        if node.msg is not None:
            args.append(node.msg)
        return ast.If(
            test=ast.UnaryOp(op=ast.Not(), operand=node.test),
            body=[ast.Raise(exc=_call("exc", *args), cause=None)],
            orelse=[],
        )

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        """A handler's body is a region of its own, charged (with `EXC_GAS` for the
        exception) when it catches; `except E as name` binds the canonical copy."""
        gas, mem = self._cost(node, EXC_GAS)
        self.generic_visit(node)
        if node.name is not None:
            node.body.insert(
                0,
                ast.Assign(
                    targets=[ast.Name(id=node.name, ctx=ast.Store())],
                    value=_call("caught", ast.Name(id=node.name, ctx=ast.Load())),
                ),
            )
        node.body[:0] = _stmts(charge_source(METER, str(gas), str(mem) if mem else None, False))
        return node


def _static_spec(node: ast.expr) -> ast.expr | None:
    """The second argument of a rewritten `isinstance` (see `visit_Call`), or None."""
    if isinstance(node, ast.Name) and node.id in g.SAFE_BUILTIN_NAMES:
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


def instrument(tree: ast.Module) -> ast.Module:
    """Rewrite a validated module in place (see the module docstring) and return it."""
    sizes = scope_sizes(tree)
    tree = Instrumenter(region_costs(tree, sizes), sizes).instrument(tree)
    ast.fix_missing_locations(tree)
    return tree
