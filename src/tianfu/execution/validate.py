"""Contract source validation: the subset of Python a contract may use, refused line by line.

`Validator.check_module` walks a parsed contract and raises `ContractRejected` ("line N:
why") for anything outside the subset (docs/adr/0005-contract-sandbox.md): imports,
classes, `global`, generators, sets, floats, dunder names, private attributes, forbidden
builtins, identity comparisons other than `is None` / `is True` / `is False`, exception
classes used as values, `raise ... from`, starred loop targets, scopes nested too deep.
It also collects the contract's methods and views: its public top-level `def`s and its view
exports, `name = view(function)` (docs/adr/0029).
"""

from __future__ import annotations

import ast

from tianfu.execution.limits import MAX_INT_BITS, MAX_SCOPE_NESTING
from tianfu.execution.runtime import CATCHABLE, EXCEPTION_NAMES, SAFE_BUILTIN_NAMES

MAX_SOURCE_BYTES = 256 * 1024
MAX_AST_DEPTH = 200
TOO_DEEP = f"code nested more than {MAX_AST_DEPTH} levels deep"

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
BUILTIN_NAMES = SAFE_BUILTIN_NAMES

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
_SCOPES = (ast.FunctionDef, ast.Lambda, ast.ListComp, ast.DictComp, ast.GeneratorExp)

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
_IDENTITY_LITERALS = (None, True, False)


class ContractRejected(ValueError):
    """Contract source refused at deployment; the message says what and at which line."""


# While `Validator.check_module` runs (under the sandbox's compile lock): the line of the
# f-string holding a node, by node id — a refusal inside an f-string names the f-string's
# line, which is the same on every Python version (its parts' lines are not: `grammar`).
_FSTRING_LINES: dict[int, int] = {}


def reject(node: ast.AST | None, why: str, line: int | None = None) -> ContractRejected:
    line = _FSTRING_LINES.get(id(node)) or getattr(node, "lineno", line)
    return ContractRejected(f"line {line}: {why}" if line else why)


def _literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and any(node.value is v for v in _IDENTITY_LITERALS)


class Validator(ast.NodeVisitor):
    def __init__(self) -> None:
        self.methods: set[str] = set()
        self.views: set[str] = set()
        self.fn_depth = 0
        self.scopes = 0
        self.line: int | None = None
        # Exception class names in a place where they may stand: called, caught, raised,
        # or tested with isinstance. Anywhere else a class would be a value.
        self._class_ok: set[int] = set()

    def check_module(self, tree: ast.Module, fstring_lines: dict[int, int] | None = None) -> None:
        """Validate a parsed contract; `fstring_lines` (`grammar.fstring_lines`): refusals
        inside an f-string name its line."""
        _FSTRING_LINES.clear()
        _FSTRING_LINES.update(fstring_lines or {})
        try:
            self._check_module(tree)
        finally:
            _FSTRING_LINES.clear()

    def _check_module(self, tree: ast.Module) -> None:
        defined: set[str] = set()
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                names = [stmt.name]
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                self._check_export(stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            elif type(stmt) in _WHY:
                raise reject(stmt, _WHY[type(stmt)])
            else:
                raise reject(
                    stmt,
                    "only function definitions and constant assignments are allowed at module level",
                )
            for name in names:
                if name in defined:
                    raise reject(stmt, f"{name!r} is defined twice at module level")
                defined.add(name)
            if isinstance(stmt, ast.FunctionDef):
                self._check_method(stmt)
        self.visit(tree)

    def _check_export(self, stmt: ast.Assign | ast.AnnAssign) -> None:
        """A module-level `name = view(function)` exports `function` as the view `name`
        (what `@view` does to a `def`): the function is made by the contract's own code,
        e.g. by a helper that returns a nested `def`. Any other assignment of a `view(...)`
        call at module level is refused."""
        value = stmt.value
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "view"
        ):
            return
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else None
        if (
            not isinstance(stmt, ast.Assign)
            or len(stmt.targets) != 1
            or not isinstance(target, ast.Name)
            or len(value.args) != 1
            or isinstance(value.args[0], ast.Starred)
            or value.keywords
        ):
            raise reject(
                stmt, "a view is exported as `name = view(function)`: one name, one function"
            )
        if not target.id.startswith("_"):
            self.methods.add(target.id)
            self.views.add(target.id)

    def _check_method(self, fn: ast.FunctionDef) -> None:
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Name) and dec.id == "view"):
                raise reject(dec, "the only decorator allowed is @view")
        if fn.name.startswith("_"):
            return
        if not fn.args.args and not fn.args.posonlyargs:
            raise reject(fn, f"method {fn.name}() must take ctx as its first parameter")
        self.methods.add(fn.name)
        if fn.decorator_list:
            self.views.add(fn.name)

    def generic_visit(self, node: ast.AST) -> None:
        self.line = getattr(node, "lineno", self.line)
        if type(node) not in ALLOWED_NODES:
            why = _WHY.get(type(node), f"{type(node).__name__} is not allowed in contracts")
            raise reject(node, why, self.line)
        nested_def = isinstance(node, ast.FunctionDef) and self.fn_depth > 1
        if nested_def or isinstance(node, _SCOPES[1:]):
            # a scope inside a top-level function (or a module-level lambda/comprehension)
            self.scopes += 1
            if self.scopes > MAX_SCOPE_NESTING:
                raise reject(
                    node,
                    "functions, lambdas and comprehensions nested more than "
                    f"{MAX_SCOPE_NESTING} deep",
                    self.line,
                )
            super().generic_visit(node)
            self.scopes -= 1
            return
        super().generic_visit(node)

    def _check_name(self, node: ast.AST, name: str, store: bool) -> None:
        if name.startswith("__"):
            raise reject(node, f"name {name!r} is not allowed: names must not start with '__'")
        if name in FORBIDDEN_NAMES:
            raise reject(
                node,
                f"{name!r} is not allowed in contracts (no dynamic code, I/O, "
                "introspection, sets or floats)",
            )
        if store and name in BUILTIN_NAMES:
            raise reject(node, f"cannot rebind the builtin name {name!r}")

    def visit_Name(self, node: ast.Name) -> None:
        self._check_name(node, node.id, not isinstance(node.ctx, ast.Load))
        if node.id in EXCEPTION_NAMES and id(node) not in self._class_ok:
            raise reject(
                node,
                f"{node.id} can only be raised, caught or tested with isinstance, "
                "not used as a value",
            )
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._check_name(node, node.arg, True)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_name(node, node.name, True)
        if self.fn_depth and node.decorator_list:
            raise reject(node, "nested functions cannot have decorators")
        self.fn_depth += 1
        self.generic_visit(node)
        self.fn_depth -= 1

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            raise reject(
                node, f"attribute {node.attr!r} is not allowed: attributes must not start with '_'"
            )
        if node.attr in FORBIDDEN_ATTRS:
            raise reject(node, f"attribute {node.attr!r} is not allowed in contracts")
        if not isinstance(node.ctx, ast.Load):
            raise reject(node, "assigning or deleting attributes is not allowed")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, float | complex):
            raise reject(
                node,
                "float literals are not allowed: use integers (e.g. amounts in the smallest unit)",
            )
        if v is Ellipsis:
            raise reject(node, "'...' is not allowed")
        if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > MAX_INT_BITS:
            raise reject(node, f"integer literal wider than {MAX_INT_BITS} bits")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Store | ast.Del):
            raise reject(node, "slice assignment is not allowed: build a new list instead")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Subscript) and isinstance(node.target.slice, ast.Slice):
            raise reject(node, "slice assignment is not allowed: build a new list instead")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for middle in node.comparators[:-1]:
            if not isinstance(middle, ast.Name | ast.Constant):
                raise reject(
                    node,
                    "in a chained comparison the middle operands must be names or "
                    "constants; assign the expression to a variable first",
                )
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                _literal(operands[i]) or _literal(operands[i + 1])
            ):
                raise reject(
                    node,
                    "'is' compares object identity, which differs between nodes: use it only "
                    "with None, True or False ('x is None'), and '==' for anything else",
                )
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.conversion != -1 or node.format_spec is not None:
            raise reject(
                node, "f-string conversions and format specs are not allowed: use {value} only"
            )
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for t in caught:
            if t is None:
                raise reject(node, "a bare 'except:' is not allowed: name the exceptions to catch")
            if not (isinstance(t, ast.Name) and t.id in CATCHABLE):
                raise reject(node, f"contracts may only catch {', '.join(sorted(CATCHABLE))}")
            self._class_ok.add(id(t))
        if node.name is not None:
            self._check_name(node, node.name, True)
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.cause is not None:
            raise reject(node, "'raise ... from ...' is not allowed")
        if isinstance(node.exc, ast.Name):
            self._class_ok.add(id(node.exc))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in EXCEPTION_NAMES:
            self._class_ok.add(id(func))
            if node.keywords:
                raise reject(node, f"{func.id}() takes no keyword arguments")
        if isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2:
            spec = node.args[1]
            for n in spec.elts if isinstance(spec, ast.Tuple) else [spec]:
                if isinstance(n, ast.Name):
                    self._class_ok.add(id(n))
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if node.args.vararg is not None or node.args.kwarg is not None:
            raise reject(node, "lambdas cannot take *args or **kwargs: write a def")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._no_starred_target(node.target)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._no_starred_target(node.target)
        self.generic_visit(node)

    def _no_starred_target(self, target: ast.expr) -> None:
        if any(isinstance(n, ast.Starred) for n in ast.walk(target)):
            raise reject(target, "starred loop targets are not allowed: unpack in the body")


def check_depth(tree: ast.AST) -> None:
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            # no line: a parser that cannot parse it says the same (`sandbox._build`)
            raise ContractRejected(TOO_DEEP)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
