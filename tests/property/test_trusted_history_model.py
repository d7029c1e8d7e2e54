"""The intervals of trusted sets each verifier keeps (`known`: sorted, disjoint, no two
touching intervals of one set) are updated by binary search over the intervals near the
new one (proofs.md#bundle, cost). A plain model — scan every interval for a contradiction,
append, sort, merge touching intervals of one set — says what each sequence of learned
intervals must end with; the SDK's `TrustedHistory._learn`, the spec verifier's
`History.learn` and the console's `TrustedHistory.learn` (under Node) must end with the
same intervals, or refuse at the same sequences. Set 3 has set 0's members in another
object (equal by hash, not by identity)."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
import verifiers_agree_lib as lib
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.proofs.errors import VerificationError
from tianfu.proofs.valchain import TrustedHistory
from tianfu.types import Validator, ValidatorSet

specbundle = pytest.importorskip("specbundle")
specwire = lib.specwire

KNOWN_RUNNER = Path(__file__).resolve().parents[1] / "js" / "known_runner.mjs"
SAME = [0, 1, 2, 0]  # the set each index stands for (by hash)
Steps = list[tuple[int, int, int]]
Result = list[tuple[int, int, int]] | None  # None: refused


def reference(steps: Steps) -> Result:
    """The plain model: every interval scanned, the list sorted and merged each time."""
    known: list[list[int]] = []
    for lo, hi, s in steps:
        if lo > hi:
            continue
        if any(max(lo, a) <= min(hi, b) and SAME[t] != SAME[s] for a, b, t in known):
            return None
        merged: list[list[int]] = []
        for k in sorted([*known, [lo, hi, s]], key=lambda k: (k[0], k[1])):
            if merged and SAME[merged[-1][2]] == SAME[k[2]] and k[0] <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], k[1])
            else:
                merged.append(list(k))
        known = merged
    return [(a, b, SAME[t]) for a, b, t in known]


def _member(i: int) -> Validator:
    return Validator(f"v{i}", "o", 1, bytes([i + 1]) * 32, 1)


SETS = [ValidatorSet([_member(i) for i in ids]) for ids in ([0], [1], [0, 1], [0])]
SPEC_SETS = [[specwire.Validator(v.name, v.org, v.scheme, v.public_key, v.power)
              for v in s.validators] for s in SETS]  # fmt: skip


def sdk(steps: Steps) -> Result:
    h = TrustedHistory(chain_id="model", genesis_set=SETS[0], known=[])
    try:
        for lo, hi, s in steps:
            h._learn(lo, hi, SETS[s])
    except VerificationError:
        return None
    hashes = [s.hash for s in SETS[:3]]
    known = [(k.lo, k.hi, hashes.index(k.valset.hash)) for k in h.known]
    for height in range(0, 42):  # the binary search of `exact_set` against a scan
        found = h.exact_set(height)
        want = next((t for a, b, t in known if a <= height <= b), None)
        assert (None if found is None else hashes.index(found.hash)) == want, height
    return known


def spec(steps: Steps) -> Result:
    h = specbundle.History("standard", "model", SPEC_SETS[0], 0, [], SPEC_SETS[0])
    try:
        for lo, hi, s in steps:
            h.learn(lo, hi, SPEC_SETS[s])
    except specwire.Invalid:
        return None
    hashes = [h.h(s) for s in SPEC_SETS[:3]]
    known = [(a, b, hashes.index(h.h(v))) for a, b, v in h.known]
    for height in range(0, 42):
        found = h.exact(height)
        want = next((t for a, b, t in known if a <= height <= b), None)
        assert (None if found is None else hashes.index(h.h(found))) == want, height
    return known


steps_strategy = st.lists(
    st.tuples(st.integers(1, 30), st.integers(-1, 8), st.integers(0, 3)).map(
        lambda t: (t[0], t[0] + t[1], t[2])
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(steps_strategy)
def test_the_sdk_and_the_spec_verifier_keep_what_the_plain_model_keeps(steps: Steps) -> None:
    want = reference(steps)
    assert sdk(steps) == want
    assert spec(steps) == want


def _random_steps(rng: random.Random) -> Steps:
    out = []
    for _ in range(rng.randint(0, 12)):
        lo = rng.randint(1, 30)
        out.append((lo, lo + rng.randint(-1, 8), rng.randint(0, 3)))
    return out


@pytest.mark.skipif(lib.NODE is None, reason="needs node")
def test_the_console_keeps_what_the_plain_model_keeps() -> None:
    rng = random.Random(6)
    batch = [_random_steps(rng) for _ in range(3000)]
    batch += [[(5, 9, 0), (1, 4, 1)], [(5, 9, 0), (10, 12, 3), (1, 4, 0)],  # touching
              [(5, 9, 0), (9, 12, 1)], [(5, 9, 0), (3, 4, 1), (10, 11, 1), (1, 20, 0)]]  # fmt: skip
    out = subprocess.run([lib.NODE, str(KNOWN_RUNNER)], input=json.dumps(batch),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    refused = 0
    for steps, js in zip(batch, got, strict=True):
        want = reference(steps)
        refused += want is None
        assert (None if isinstance(js, dict) else [tuple(k) for k in js]) == want, steps
        assert sdk(steps) == want and spec(steps) == want, steps
    assert 100 < refused < len(batch) - 100  # both outcomes are exercised
