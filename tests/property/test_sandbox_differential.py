"""Differential test of the sandbox: generated contracts give byte-identical blocks in two
fresh processes that differ in everything a contract must not be able to observe.

Hypothesis draws contracts from a small grammar (loops, comprehensions, list/dict/tuple/
str/bytes/int operations, comparisons, try/except, events, `ctx.put`/`ctx.get`, returns)
and arguments (ints, text, lists, dicts with short keys). A chain deploys them and signs
calls; then two fresh processes (`differential_child.py`) each build the block through the
real `Ledger` and `Executor`, one with `PYTHONHASHSEED=0`, no other history and a 1.5 GB
address-space limit, the other with another hash seed, after decoding thousands of
unrelated messages with dict keys (as a node's API does with transactions it refuses:
msgspec's cache of short keys), without a memory limit. The headers (state and receipts
roots), receipts, gas, events, state updates and query answers must be identical bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.codec import encode
from tianfu.testing.appchain import AppChain

CHILD = Path(__file__).with_name("differential_child.py")
METHODS = 12

WORDS = st.sampled_from(["a", "k", "key", "x", "ab", "to", "amount", "é", "日本", "\U0001f600"])
K = st.integers(1, 60)
INT = st.sampled_from(
    [
        "a + {k}", "a * {k}", "a // {k}", "a % {k}", "a - {k}", "len(s)", "len(L)", "len(d)",
        "sum(v for v in L if isinstance(v, int) and not isinstance(v, bool))",
        "(a << {k}) >> 3", "-a", "abs(a)", "min(a, {k})", "max([a, {k}])", "int(str(a))",
        "a ** 2", "pow(a, {k}, 1000003)", "divmod(a, {k})[0]", "len(str(d))", "a & 255 | {k}",
        "a ^ {k}", "len(s.split('a'))", "s.count('a')", "s.find('{w}')", "L.count(a)",
        "len(sorted(d))", "len(b)", "b[0] if b else 0",
    ]
)  # fmt: skip
STR = st.sampled_from(
    [
        "s + '{w}'", "s.upper()", "s.lower()", "s[1:{k}]", "str(a)", "f'{a}-{s}'",
        "','.join(sorted(d))", "s.replace('a', '{w}')", "s * 2", "'{w}'.join([s, s])",
        "s.strip('a')", "str(L)[:200]", "str(d)[:200]", "hex(a)", "s.split('a')[0]",
        "s.casefold()", "s.title()", "s[::-1]", "s.zfill({k})", "'-'.join(str(v) for v in L)",
        "str(b)", "s.encode('utf-8').hex()", "str(sorted(d.items()))",
    ]
)  # fmt: skip
LIST = st.sampled_from(
    [
        "[a, a + 1]", "L + [a]", "sorted(L, key=str)", "[v for v in L if v != a]", "list(d)",
        "list(reversed(L))", "L[::2]", "[*L, a]", "sorted(d.items())[:5]",
        "[list(p) for p in zip(L, L)]", "list(range(a % 50))", "[c for c in s][:20]",
        "sorted(set_like(L))", "[d.get(k, 0) for k in sorted(d)]", "[[a], [s]]",
        "[v if isinstance(v, int) else len(str(v)) for v in L]",
    ]
)  # fmt: skip
DICT = st.sampled_from(
    [
        "{s: a}", "dict(d)", "{str(v): v for v in L[:20]}", "{**d, 'k': a}", "d | {'z': a}",
        "{k: len(k) for k in d}", "dict(zip([str(v) for v in L[:5]], L[:5]))", "{'n': {'m': a}}",
    ]
)  # fmt: skip
BOOL = st.sampled_from(
    [
        "L == [1, 2]", "s < '{w}'", "a in L", "s in d", "d == {}", "x is None",
        "(1, s) < (1, '{w}')", "L >= L[1:]", "[a] in [L]", "'{w}' in s", "d != dict(d)",
        "y is not None and y == x", "len(L) > {k}", "str(a) in str(L)", "b'a' in b",
    ]
)  # fmt: skip
STATEMENT = st.sampled_from(
    [
        "a = {int}", "s = {str}", "L = {list}", "d = {dict}", "t = {bool}",
        "for v in L[:20]:\n    a = a + len(str(v))",
        "while a < {k}:\n    a += 7",
        "try:\n    a = d['missing' + s[:3]] + a\nexcept KeyError as e:\n    s = s + str(e)",
        "try:\n    a = a // (a - a)\nexcept ZeroDivisionError as e:\n    s = str(e)",
        "try:\n    L = L + s\nexcept TypeError as e:\n    s = s[:20] + str(e)",
        "ctx.emit('E{k}', a=a % 1000, s=s[:50], l=L[:5])",
        "ctx.put('k' + s[:20], [a % 10000, s[:30]])",
        "a = a + len(ctx.get('k' + s[:20], []))",
        "d[s[:10]] = a",
        "L.append(a % 1000)",
        "if {bool}:\n    a = a + 1\nelse:\n    s = s + 'e'",
        "L = L[-40:]",
        "s = s[-200:]",
        "a = a % 1000003",
        "b = bytes(s[:40], 'utf-8')",
        "d = {k: d[k] for k in sorted(d)[:20]}",
        "a = a + sum(len(k) for k in d)",
        "if a % 17 == 3:\n    raise ContractError('fail ' + s[:20])",
        "t = sorted([(len(k), k) for k in d])[:3] == sorted([(len(k), k) for k in d])[:3]",
    ]
)  # fmt: skip

PRELUDE = """
def set_like(items):
    out = []
    for v in items:
        if v not in out:
            out.append(v)
    return out


@view
def q(ctx, key):
    return ctx.get(key)
"""


def _fill(template: str, draw: Any) -> str:
    text = template
    for slot, strategy in (("{int}", INT), ("{str}", STR), ("{list}", LIST), ("{dict}", DICT)):
        while slot in text:
            text = text.replace(slot, draw(strategy), 1)
    while "{bool}" in text:
        text = text.replace("{bool}", draw(BOOL), 1)
    while "{k}" in text:
        text = text.replace("{k}", str(draw(K)), 1)
    while "{w}" in text:
        text = text.replace("{w}", draw(WORDS), 1)
    return text


@st.composite
def method(draw: Any, i: int) -> str:
    lines = [
        "a = x if isinstance(x, int) and not isinstance(x, bool) else 7",
        "s = y if isinstance(y, str) else str(y)[:100]",
        "L = x if isinstance(x, list) else [1, 2, a % 100]",
        "d = y if isinstance(y, dict) else {'k': 1, 'key': 2}",
        "b = b'ab'",
        "t = False",
    ]
    for _ in range(draw(st.integers(3, 10))):
        lines.append(_fill(draw(STATEMENT), draw))
    lines.append("return [a % (1 << 60), s[:100], L[:10], d if len(str(d)) < 500 else 0, t]")
    body = "\n".join("    " + ln.replace("\n", "\n    ") for ln in lines)
    return f"def m{i}(ctx, x, y):\n{body}\n"


SHORT_KEYS = st.text(alphabet="abkexyz", min_size=1, max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.integers(-1000, 1000)
    | st.text(max_size=30)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(SHORT_KEYS, inner, max_size=5),
    max_leaves=12,
)


@st.composite
def programs(draw: Any) -> tuple[str, list[tuple[int, Any, Any]]]:
    source = PRELUDE + "\n\n".join(draw(method(i)) for i in range(METHODS))
    calls = [(i, draw(VALUES), draw(VALUES)) for i in range(METHODS) for _ in range(3)]
    return source, calls


def _run_child(job: Path, out: Path, env: dict[str, str], extra: list[str]) -> bytes:
    subprocess.run(
        [sys.executable, str(CHILD), str(job), str(out), *extra],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    return out.read_bytes()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_two_fresh_processes_build_the_very_same_block(program: tuple[str, Any]) -> None:
    source, calls = program
    with tempfile.TemporaryDirectory(prefix="tianfu-diff-") as tmp:
        work = Path(tmp)
        (work / "chain").mkdir()
        chain = AppChain(work / "chain")
        try:
            chain.deploy("gen", source)
            user = chain.identity("org2", "differ")
            chain.call(user, "governance", "get_identity", user.info.address)  # registers it
            txs = [chain.sign(user, "gen", f"m{i}", x, y) for i, x, y in calls]
            head = chain.ledger.head()
            assert head is not None
            job = {
                "genesis": encode(chain.genesis),
                "txs": [tx.encoded() for tx in txs],
                "time_ms": head.time_ms + 1000,
                "proposer": chain.genesis.validators[0].public_key,
                "queries": [["gen", "q", ["k" + str(v)[:20]]] for _, _, v in calls[:6]]
                + [["gen", "q", ["k"]]],
            }
        finally:
            chain.close()
        outputs = []
        for side, (seed, noise, limit) in enumerate([("0", 0, 1_500_000_000), ("4242", 5000, 0)]):
            store = work / f"store{side}"
            shutil.copytree(work / "chain", store)
            job_file = work / f"job{side}"
            job_file.write_bytes(msgspec.msgpack.encode({**job, "store": str(store)}))
            env = dict(os.environ, PYTHONHASHSEED=seed)
            extra = ["--noise", str(noise)] + (["--memory-limit", str(limit)] if limit else [])
            outputs.append(_run_child(job_file, work / f"out{side}", env, extra))
    a, b = (msgspec.msgpack.decode(o) for o in outputs)
    a.pop("hash_seed"), b.pop("hash_seed")
    for key in a:
        assert a[key] == b[key], key
    # Every call is in the block, or left for the next one once the block's gas or receipt
    # budget is full (a program of expensive calls can fill it) — the same ones on both sides.
    assert a["receipts"] and len(a["receipts"]) + a["deferred"] == len(calls)
