"""Regression tests of the fourth hostile audit of the sandbox: contract code built cheaply
that made host code recurse past the interpreter's limit (every node aborted the block).

Each fails on the code before its fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tianfu.testing.appchain import AppChain

# -- generator expressions pulled from C code: `in`, unpacking ------------------------------------

CHAINS = """
def chain(n, how):
    g = (x for x in [1])
    for i in range(n):
        if how == "in":
            g = (1 in h for h in [g])
        elif how == "target":
            g = (a for h in [g] for (a,) in [h])
        elif how == "nested":
            g = (a for h in [g] for k, [a] in [(0, h)])
        elif how == "list":
            g = ([a for (a,) in [h]][0] for h in [g])
        elif how == "dict":
            g = ({a: 1 for (a,) in [h]}.popitem()[0] for h in [g])
        elif how == "call":
            g = (unpack(h) for h in [g])
    return g

def unpack(h):
    k, (a,) = 0, h
    return a

def pull(ctx, n, how):
    return [x for x in chain(n, how)]

@view
def pull_view(ctx, n, how):
    return [x for x in chain(n, how)]
"""
HOWS = ["in", "target", "nested", "list", "dict", "call"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("audit4"))
    c.deploy("chains", CHAINS)
    yield c
    c.close()


@pytest.mark.parametrize("how", HOWS)
def test_generators_pulled_by_in_or_unpacking_fail_the_call_not_the_block(
    chain: AppChain, how: str
) -> None:
    """`x in g` and a comprehension's target that unpacks `g` (`for (a,) in [g]`, at any
    nesting) pull from the generator `g` through C code: nothing counted that as a level
    of call depth, so a chain of 3,000 generator expressions, each pulling from the one
    before that way (~100,000 gas), ran the host out of stack (`HostResourceError`: every
    node aborted the block). A pull from a generator expression is now one level of call
    depth whoever pulls ("call", unpacking in a function, was counted by the call)."""
    user = chain.admin("org1")
    receipt = chain.call(user, "chains", "pull", 3000, how)
    assert not receipt.ok and "maximum call depth of 64" in receipt.error, receipt.error
    with pytest.raises(Exception, match="maximum call depth of 64"):
        chain.query("chains", "pull_view", 3000, how)
    assert chain.call(user, "chains", "pull", 20, how).result == [1]
    assert chain.query("chains", "pull_view", 20, how) == [1]


def test_the_deepest_stack_through_generators_stays_below_the_recursion_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each level a sort key calling a lambda that pulls, with `in`, from the generator
    expression of the level below, inside comprehensions: 31 levels (62 of call depth)
    answer with a stack far below the interpreter's limit, 32 fail the call."""
    import sys

    from tests.unit.test_sandbox_findings import call

    from tianfu.execution import runtime as g
    from tianfu.execution.sandbox import MAX_CONTRACT_FRAMES

    deepest = [0]
    original = g.Runtime.eq

    def eq(self: Any, a: Any, b: Any) -> Any:
        frame, n = sys._getframe(), 0
        while frame is not None:
            n, frame = n + 1, frame.f_back
        deepest[0] = max(deepest[0], n)
        return original(self, a, b)

    monkeypatch.setattr(g.Runtime, "eq", eq)
    source = (
        "def f(ctx, n):\n"
        "    g = ([[1]] == [[1]] for x in [1])\n"
        "    for i in range(n):\n"
        "        g = ([[sorted([0], key=lambda v: 1 in h)[0] for a in [1]] for b in [1]]"
        " for h in [g])\n"
        "    return len([x for x in g])\n"
    )
    base, frame = 0, sys._getframe()
    while frame is not None:
        base, frame = base + 1, frame.f_back
    assert call(source, 31, gas=10**8)[0] == "ok"
    assert 200 < deepest[0] - base <= MAX_CONTRACT_FRAMES
    assert "maximum call depth" in call(source, 32, gas=10**8)[1]
