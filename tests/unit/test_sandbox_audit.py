"""Regression tests of a hostile audit of the sandbox: values a contract builds cheaply that
made host code (C recursion, uncharged walks, unbounded reprs) crash a node, abort its block,
or spend far more CPU than the gas charged.

Each runs through the real chain (`AppChain`) or the real sandbox, and fails on the code
before its fix; the ones that crashed the interpreter run in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from tests.unit.test_sandbox import FakeContext, admin
from tests.unit.test_sandbox_findings import call

from tianfu.execution.contract_api import ContractError
from tianfu.execution.meter import Meter
from tianfu.execution.methods import bound_method
from tianfu.execution.runtime import Runtime
from tianfu.execution.sandbox import ContractRejected, compile_contract
from tianfu.testing.appchain import AppChain

DEEP = """
def nest(n):
    t = ("r",)
    for i in range(n):
        t = (t,)
    return t

def spec_deep(ctx, n):
    return isinstance(1, (nest(n), 1))

@view
def spec_deep_view(ctx, n):
    return isinstance(1, (nest(n), 1))

def role_deep(ctx, n, how):
    if how == "has":
        return ctx.has_role(nest(n))
    ctx.require_role(nest(n))

def role_wide(ctx, n):
    ctx.require_role(("auditor",) * n)

def role_long(ctx, n, k):
    role = "a" * n
    failed = 0
    for i in range(k):
        try:
            ctx.require_role(role)
        except ContractError:
            failed += 1
    return failed

def roles(ctx):
    return [ctx.has_role("admin"), ctx.has_role("auditor")]
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("audit"))
    c.deploy("deep", DEEP)
    yield c
    c.close()


# -- isinstance: the tuple of types is walked, charged and bounded ---------------------------


def test_isinstance_against_a_deeply_nested_tuple_fails_the_call_not_the_block(
    chain: AppChain,
) -> None:
    """Python tests (and hashes) nested tuples of types by C recursion: 3,000 levels raised
    RecursionError (every node aborted the block), 200,000 crashed the interpreter."""
    user = chain.admin("org1")
    for n in (3000, 200_000):
        receipt = chain.call(user, "deep", "spec_deep", n)
        assert not receipt.ok
        assert "nested at most 32 levels" in receipt.error
    with pytest.raises(Exception, match="nested at most 32 levels"):
        chain.query("deep", "spec_deep_view", 3000)


def test_isinstance_charges_every_item_of_its_tuple() -> None:
    """Mapping a tuple of n types cost n steps of host work for `BUILTIN_GAS`: a loop over
    a 200,000-item tuple ran ~500x the CPU of a plain loop per gas."""
    source = textwrap.dedent(
        """
        def f(ctx, n, k):
            t = (int,) * n
            c = 0
            for i in range(k):
                if isinstance("x", t):
                    c += 1
            return c
        """
    )
    _, _, one = call(source, 200_000, 1)
    status, _, five = call(source, 200_000, 5)
    assert status == "ok"
    assert five - one >= 4 * 50_000  # each test: at least one gas per four items walked
    same = "def f(ctx):\n    t = (int, str)\n    return [isinstance('x', t), isinstance(b'', t)]\n"
    assert call(same)[:2] == ("ok", [True, False])
    nested = "def f(ctx, x):\n    t = ((), ((),))\n    return isinstance(x, (ValueError, t, int))\n"
    assert call(nested, 1)[:2] == ("ok", True)


# -- roles are text ----------------------------------------------------------------------------


def test_a_role_that_is_not_text_fails_the_call(chain: AppChain) -> None:
    user = chain.admin("org1")
    for how in ("has", "require"):
        receipt = chain.call(user, "deep", "role_deep", 3, how)
        assert not receipt.ok and "takes a role as a str, not tuple" in receipt.error
    receipt = chain.call(user, "deep", "role_wide", 500_000)
    assert not receipt.ok and "takes a role as a str, not tuple" in receipt.error
    assert chain.call(user, "deep", "roles").result == [True, False]


def test_a_long_role_is_charged_for_its_hash_and_repr(chain: AppChain) -> None:
    """A missing role's message held the repr of the whole role: a 1,000,000-character
    role cost ~1 ms of host work per failed `require_role` for ~30 gas."""
    user = chain.admin("org1")
    short = chain.call(user, "deep", "role_long", 60, 10)
    assert short.ok and short.result == 10
    long = chain.call(user, "deep", "role_long", 100_000, 10)
    assert long.ok and long.result == 10
    assert long.gas_used - short.gas_used >= 10 * 100_000 // 64


_CRASH = """
import sys
from tests.unit.test_sandbox import FakeContext, admin
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

source = '''
def f(ctx, how):
    t = ("r",)
    for i in range(300000):
        t = (t,)
    if how == "role":
        return ctx.has_role(t)
    return isinstance(1, (t, 1))
'''
compiled = compile_contract(source)
try:
    compiled.call(FakeContext(admin()), "f", [sys.argv[1]], 1_000_000)
except ContractError as exc:
    print("failed:", exc)
"""


@pytest.mark.parametrize("how", ["role", "isinstance"])
def test_hashing_a_deep_tuple_cannot_crash_the_interpreter(how: str) -> None:
    """Hashing a tuple nested 300,000 deep (300,000 gas to build) is a C recursion with no
    guard: the node's process died of a segmentation fault."""
    done = subprocess.run(
        [sys.executable, "-c", _CRASH, how], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "failed:" in done.stdout


# -- compiling does not depend on the caller's stack --------------------------------------------


def _at_depth(frames: int, source: str) -> tuple[str, str]:
    if frames:
        return _at_depth(frames - 1, source)
    try:
        compiled = compile_contract(source)
    except ContractRejected as exc:
        return ("rejected", str(exc))
    except RecursionError:
        return ("recursion", "")
    return ("ok", ",".join(sorted(compiled.methods)))


@pytest.mark.parametrize(
    ("source", "outcome"),
    [
        # the validator recurses four frames per level of nesting
        ("def f(ctx):\n    return ctx" + ".a" * 196 + "\n# depth\n", ("ok", "f")),
        # the parser's own limit is scaled from the caller's depth
        ("x = " + "-" * 2950 + "1\n# depth\n", ("rejected", "code nested more than 200")),
        # too deep for the parser: the same refusal as `check_depth`'s (3.13's parser took
        # what 3.11's could not, and refused it as nested too deep: one text for both)
        ("x = " + "-" * 3100 + "1\n# depth\n", ("rejected", "code nested more than 200")),
    ],
)
def test_compiling_a_source_gives_one_answer_from_any_stack_depth(
    source: str, outcome: tuple[str, str]
) -> None:
    """Where Python's recursion limit stopped parsing and validating depended on how deep
    the caller's stack was: the same source compiled at one depth, was refused with one
    message at another and raised RecursionError at a third (a deploy's receipt, or the
    block, differed between a block's build, its re-execution and catch-up)."""
    answers = [_at_depth(frames, source) for frames in (600, 400, 200, 0)]  # deepest first
    assert len(set(answers)) == 1, answers
    assert answers[0][0] == outcome[0] and outcome[1] in answers[0][1]


# -- the host's limit on decimal conversions ---------------------------------------------------

_DIGITS_SOURCE = """
def f(ctx):
    x = 7 ** 1400
    return [len(str(x)), len(f"{x}"), int("9" * 1230) % 1000, len(str([x]))]
"""


def test_a_node_started_with_a_lower_int_digits_limit_gives_the_same_answers() -> None:
    """`str(int)` and `int(str)` obey a per-process digit limit the host sets: a node run
    with PYTHONINTMAXSTRDIGITS=640 failed conversions every other node made."""
    script = (
        "import json\nfrom tests.unit.test_sandbox_findings import call\n"
        f"print(json.dumps(call({_DIGITS_SOURCE!r})))\n"
    )
    env = {**os.environ, "PYTHONINTMAXSTRDIGITS": "640"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    here = call(_DIGITS_SOURCE)
    assert here[:2] == ("ok", [1184, 1184, 999, 1186])
    assert json.loads(done.stdout) == list(here)


# -- dict keys built to share a hash ---------------------------------------------------------

_M64 = (1 << 64) - 1
_XX1, _XX2, _XX5 = 11400714785074694791, 14029467366897019727, 2870177450012600261


def _colliding_pairs(n: int) -> list[list[int]]:
    """n pairs of integers below 2**61 whose tuples all have one hash: CPython's tuple hash
    (xxHash's mixing of the items' hashes, with no seed) inverted for the second item."""

    def rot(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) & _M64

    goal = rot((12345 * pow(_XX1, -1, 1 << 64)) & _M64, 33)
    inverse2 = pow(_XX2, -1, 1 << 64)
    out: list[list[int]] = []
    a = 0
    while len(out) < n:
        a += 1
        first = (rot((_XX5 + a * _XX2) & _M64, 31) * _XX1) & _M64
        lane = ((goal - first) * inverse2) & _M64
        b = lane - (1 << 64) if lane >> 63 else lane
        if 0 <= b < (1 << 61) - 1 or -((1 << 61) - 1) < b < -2:
            out.append([a, b])
    return out


KEYS = """
def f(ctx, pairs, how):
    d = {}
    for p in pairs:
        k = (p[0], p[1])
        if how == "subscript":
            d[k] = 1
        elif how == "augmented":
            d[k] = d.get(k, 0) + 1
        elif how == "comprehension":
            return len({(q[0], q[1]): 1 for q in pairs})
        elif how == "pairs":
            return len(dict([((q[0], q[1]), 1) for q in pairs]))
        elif how == "update":
            d.update([(k, 1)])
        elif how == "setdefault":
            d.setdefault(k, 1)
        elif how == "display":
            d = {k: 1, **d}
        elif how == "big int":
            d[p[0] * ((1 << 61) - 1)] = 1
        elif how == "fine":
            d[(p[0], p[0] + 1)] = 1
            d[(p[0], "x", None, b"")] = 1
            d[p[0] << 70] = 1
            d[p[0]] = 1
    return len(d)
"""


def test_crafted_pairs_share_one_hash() -> None:
    pairs = _colliding_pairs(50)
    assert len({hash((a, b)) for a, b in pairs}) == 1
    assert max(abs(x) for pair in pairs for x in pair) < 1 << 61


@pytest.mark.parametrize(
    "how",
    [
        "subscript",
        "augmented",
        "comprehension",
        "pairs",
        "update",
        "setdefault",
        "display",
        "big int",
    ],
)
def test_dict_keys_built_to_share_a_hash_fail_the_call(how: str) -> None:
    """Python hashes integers and tuples of them without a seed: n keys with one hash made
    building a dict n*n/2 comparisons for n stores' gas (3,000 crafted pairs: ~100x a plain
    loop's CPU per gas, 300,000 keys in one transaction held every node for minutes)."""
    status, message, _ = call(KEYS, _colliding_pairs(3000), how)
    assert status == "failed"
    assert "more than 8 different dict keys with the same hash" in message


def test_dict_keys_that_do_not_collide_are_stored_as_before() -> None:
    pairs = [[i, -i] for i in range(1, 3001)]
    assert call(KEYS, pairs, "fine")[:2] == ("ok", 12000)
    assert call(KEYS, pairs, "subscript")[:2] == ("ok", 3000)
    assert call(KEYS, pairs[:20], "display")[:2] == ("ok", 20)
    repeated = (
        "def f(ctx):\n    d = {}\n    for i in range(50):\n        d[(1, 2)] = i\n"
        "    return [len(d), d[(1, 2)]]\n"
    )
    assert call(repeated)[:2] == ("ok", [1, 49])


def test_keys_a_module_counts_at_its_top_level_count_in_every_call() -> None:
    """A module instance reused by a later call does not run its top level again: keys it
    counted there must not make the first call fail and the later ones succeed."""
    source = textwrap.dedent(
        """
        _P = (1 << 61) - 1
        _K = len({_P: 1})

        def f(ctx):
            d = {}
            for i in range(2, 10):
                d[i * _P] = i
            return len(d)
        """
    )
    compiled = compile_contract(source)
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(compiled.call(FakeContext(admin()), "f", [], 1_000_000))
        except ContractError as exc:
            outcomes.append((str(exc), exc.gas_used))  # type: ignore[attr-defined]
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert "more than 8 different dict keys" in str(outcomes[0][0])


# -- generator expressions nested deep ------------------------------------------------------------

GENERATORS = """
def chain(n):
    g = [1, 2, 3]
    for i in range(n):
        g = (x + 1 for x in g)
    return g

def pull(ctx, n, how):
    g = chain(n)
    if how == "sum":
        return sum(g)
    if how == "in":
        return 5 in g
    if how == "unpack":
        a, b, c = g
        return a
    return [x for x in g]

@view
def pull_view(ctx, n):
    return sum(chain(n))
"""


def test_generators_nested_deep_fail_the_call_not_the_block(chain: AppChain) -> None:
    """Each generator expression pulls from the one inside it through a Python frame: 3,000
    nested (21,000 gas) raised RecursionError when iterated, and every node aborted the
    block. A pull from a generator is now one level of call depth."""
    chain.deploy("gens", GENERATORS)
    user = chain.admin("org1")
    for how in ("sum", "in", "unpack", "list"):
        receipt = chain.call(user, "gens", "pull", 3000, how)
        assert not receipt.ok and "maximum call depth of 64" in receipt.error, how
    with pytest.raises(Exception, match="maximum call depth of 64"):
        chain.query("gens", "pull_view", 3000)
    assert chain.call(user, "gens", "pull", 60, "list").result == [61, 62, 63]
    assert chain.query("gens", "pull_view", 10) == 36


# -- a dict emptied by deletions ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["del", "pop"])
def test_a_dict_keeps_few_empty_slots_however_many_keys_are_deleted(how: str) -> None:
    """A deleted key leaves an empty slot that every later loop over the dict steps over for
    no gas: 99,999 keys deleted of 100,000, each `for k in d: break` stepped over all of
    them (~65 us for ~4 gas, ~160x a plain loop's CPU per gas)."""
    rt = Runtime(Meter(10_000_000))
    d = {i: i for i in range(10_000)}
    full = sys.getsizeof(d)
    pop = bound_method(rt, d, "pop")
    for i in range(9_990):
        if how == "del":
            rt.delitem(d, i)
        else:
            pop(i)
    assert list(d.items()) == [(i, i) for i in range(9_990, 10_000)]
    assert sys.getsizeof(d) < full // 10  # compacted: not 9,990 empty slots


DELETES = """
def f(ctx, n):
    d = {}
    for i in range(n):
        d[str(i)] = i
    for i in range(0, n, 2):
        del d[str(i)]
    for i in range(1, n, 4):
        d.pop(str(i))
    d["new"] = -1
    return [len(d), list(d.items())[:3], [k for k in d][-2:], sum(d.values())]
"""


def test_deleting_many_keys_keeps_the_order_and_the_answers() -> None:
    n = 1000
    d = {str(i): i for i in range(n)}
    for i in range(0, n, 2):
        del d[str(i)]
    for i in range(1, n, 4):
        d.pop(str(i))
    d["new"] = -1
    expected = [len(d), list(d.items())[:3], list(d)[-2:], sum(d.values())]
    assert call(DELETES, n)[:2] == ("ok", expected)
