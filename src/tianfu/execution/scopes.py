"""The memory held by the object a nested scope makes: a function, a lambda or a generator.

A function made by `def` or `lambda` holds its closure (a reference per free variable, and
the variable's cell, made afresh on each entry of the scope that binds it), its defaults
(a tuple) and its keyword-only defaults (a dict); a generator expression holds its frame
(a slot per name it uses and per value its evaluation stack may hold) and its closure. So
the object's size grows with the code, not only with what it is given: a flat charge
(`FUNC_BYTES`, `GEN_BYTES`) let a generator expression using 300 names hold ~4x the
memory the meter counted, and a `def` with 300 keyword-only defaults ~7x (as many as the
source holds: ~360 bytes a gas, ~360 MB in one transaction of 1,000,000 gas).

`scope_sizes` bounds each from above, from the tree: a name used inside that is bound by an
enclosing function scope may be free (56 bytes: a closure slot, a frame slot and a cell),
a default 16 bytes, a keyword-only default 48 (a dict entry), a stack slot 8, on top of the
object's own size measured under CPython 3.11 (`tests/unit/test_sandbox_audit8.py`). The
charge is the larger of that bound and the flat charge, so the small scopes contracts use
(the shipped applications' every one) cost what they did.
"""

from __future__ import annotations

import ast

from tianfu.execution.costs import FUNC_BYTES, GEN_BYTES

_DEF_BASE = 192  # a function object made by `def` (~140 bytes measured)
_LAMBDA_BASE = 576  # a lambda and the sandbox's wrapper around it (~530 bytes measured)
_GEN_BASE = 768  # a generator expression: generator, frame, function, wrapper (~830 with a name)
_NAME_BYTES = 56  # a free variable: its closure slot, its frame slot, its cell
_DEFAULT_BYTES = 16
_KW_DEFAULT_BYTES = 48
_STACK_SLOT_BYTES = 8
_FUNCTIONS = (ast.FunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.DictComp, ast.GeneratorExp)


def scope_sizes(tree: ast.AST) -> dict[int, int]:
    """Bytes charged when each `def`, `lambda` and generator expression in `tree` makes its
    object, by `id()` of its node."""
    out: dict[int, int] = {}

    def walk(node: ast.AST, enclosing: frozenset[str]) -> None:
        if isinstance(node, _FUNCTIONS):
            args = node.args
            params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
            params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
            body: list[ast.AST] = (
                list(node.body) if isinstance(node, ast.FunctionDef) else [node.body]
            )
            free = (_loaded(body) - params) & enclosing
            kw = [d for d in args.kw_defaults if d is not None]
            size = (
                (_DEF_BASE if isinstance(node, ast.FunctionDef) else _LAMBDA_BASE)
                + _NAME_BYTES * len(free)
                + _DEFAULT_BYTES * len(args.defaults)
                + _KW_DEFAULT_BYTES * len(kw)
            )
            out[id(node)] = max(FUNC_BYTES, size)
            outside = [*args.defaults, *kw]
            if isinstance(node, ast.FunctionDef):
                outside += node.decorator_list
            for x in outside:
                walk(x, enclosing)
            inner = enclosing | params | _stored(body)
            for b in body:
                walk(b, inner)
            return
        if isinstance(node, _COMPREHENSIONS):
            first, *rest = node.generators
            walk(first.iter, enclosing)
            parts: list[ast.AST] = [first.target, *first.ifs]
            for gen in rest:
                parts += [gen.target, gen.iter, *gen.ifs]
            if isinstance(node, ast.DictComp):
                parts += [node.key, node.value]
            else:
                parts.append(node.elt)
            if isinstance(node, ast.GeneratorExp):
                names = {n.id for p in parts for n in ast.walk(p) if isinstance(n, ast.Name)}
                stack = 2 + max(_stack(p) for p in parts)
                size = _GEN_BASE + _NAME_BYTES * len(names) + _STACK_SLOT_BYTES * stack
                out[id(node)] = max(GEN_BYTES, size)
            inner = enclosing | _stored(parts)
            for p in parts:
                walk(p, inner)
            return
        for child in ast.iter_child_nodes(node):
            walk(child, enclosing)

    for top in ast.iter_child_nodes(tree):  # the module's names are globals, not cells
        walk(top, frozenset())
    return out


def _loaded(nodes: list[ast.AST]) -> set[str]:
    return {n.id for x in nodes for n in ast.walk(x) if isinstance(n, ast.Name)}


def _stored(nodes: list[ast.AST]) -> frozenset[str]:
    """The names `nodes` bind (assigned, loop and comprehension targets, `def` names, caught
    exceptions): at most the scope's own variables."""
    names: set[str] = set()
    for x in nodes:
        for n in ast.walk(x):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                names.add(n.id)
            elif isinstance(n, ast.FunctionDef):
                names.add(n.name)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                names.add(n.name)
            elif isinstance(n, ast.arg):
                names.add(n.arg)
    return frozenset(names)


def _stack(node: ast.AST) -> int:
    """An upper bound of the evaluation stack `node` needs: each value evaluated before a
    child stays on the stack while the child runs, and a call or a subscript needs two more."""
    children = list(ast.iter_child_nodes(node))
    if not children:
        return 1
    return 2 + max(i + _stack(c) for i, c in enumerate(children))
