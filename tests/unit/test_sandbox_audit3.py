"""Regression tests of the third hostile audit of the sandbox and of the transaction path: a
contract or a request built cheaply that made host code recurse past the interpreter's limit
(every node aborted the block) or spend far more CPU than anything charged for it.

Each fails on the code before its fix.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.unit.test_sandbox_findings import call

from tianfu.testing.appchain import AppChain

# -- generator expressions chained through enumerate() and zip() ---------------------------------

CHAINS = """
def chain(n, how):
    g = (x for x in [1, 2, 3])
    for i in range(n):
        if how == "enumerate":
            g = (x[1] for x in enumerate(g))
        elif how == "zip":
            g = (x[0] for x in zip(g))
        elif how == "zip5":
            g = (x[0] for x in zip(g, [1, 2, 3], b"abc", "abc", range(3)))
        else:
            g = enumerate(g)
    return g

def pull(ctx, n, how):
    return sum([1 for x in chain(n, how)])

@view
def pull_view(ctx, n, how):
    return sum([1 for x in chain(n, how)])
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("audit3"))
    c.deploy("chains", CHAINS)
    yield c
    c.close()


@pytest.mark.parametrize("how", ["enumerate", "zip", "zip5", "bare"])
def test_generators_chained_through_enumerate_or_zip_fail_the_call_not_the_block(
    chain: AppChain, how: str
) -> None:
    """Only a pull from a generator counted as a level of call depth: a generator
    expression over `enumerate(g)` or `zip(g)` pulled from `g` through C code, uncounted,
    so 3,000 of them (~114,000 gas of a 1,000,000 budget) ran the host out of stack
    (`HostResourceError`: every node aborted the block). `enumerate`/`zip` over an
    iterator now pull through it one counted level at a time ("zip5" was counted already,
    through the generator that counts a wide zip's tuples; "bare", `enumerate` nested 3,000
    deep over a generator, ran on C recursion and is now held to 64 levels too)."""
    user = chain.admin("org1")
    receipt = chain.call(user, "chains", "pull", 3000, how)
    assert not receipt.ok and "maximum call depth of 64" in receipt.error, receipt.error
    with pytest.raises(Exception, match="maximum call depth of 64"):
        chain.query("chains", "pull_view", 3000, how)
    assert chain.call(user, "chains", "pull", 20, how).result == 3
    assert chain.query("chains", "pull_view", 20, how) == 3


def test_enumerate_and_zip_over_values_answer_and_cost_as_before() -> None:
    source = (
        "def f(ctx):\n"
        "    d = {'a': 1, 'b': 2}\n"
        "    out = [list(enumerate([5, 6], 1)), list(zip('ab', b'xy', range(2))),\n"
        "           [k for k, v in zip(d, d.values())], list(enumerate(d.items())),\n"
        "           list(zip([1], [2], [3], [4], [5], [6]))]\n"
        "    g = (x * 2 for x in range(3))\n"
        "    out.append([i + v for i, v in enumerate(g)])\n"
        "    out.append(list(zip(enumerate('ab'), (c for c in 'xy'))))\n"
        "    return out\n"
    )
    status, result, _ = call(source)
    assert status == "ok"
    assert result == [
        [(1, 5), (2, 6)],
        [("a", 120, 0), ("b", 121, 1)],
        ["a", "b"],
        [(0, ("a", 1)), (1, ("b", 2))],
        [(1, 2, 3, 4, 5, 6)],
        [0, 3, 6],
        [((0, "a"), "x"), ((1, "b"), "y")],
    ]
