"""A value nested just short of the host's recursion limit: the decoder takes it, and the
step after it — re-encoding to check the bytes are canonical, or a walk over the decoded
value — runs out of stack. Each verifier must still refuse it with a verdict (documents.md
#parsing: never fail), at every depth and whatever the stack depth it is called at.

The twelfth review found two such windows that test_verifiers_agree_bounds.py (depths 33 and
5000) passed over: the SDK's re-encoding (`codec.try_encode`, after `decode_value_strict`,
`codec.decode` and `decode_tx`) raised `RecursionError` at the one depth where msgspec's
decoder had a level or two of stack left, and the spec verifier's walk over a decoded value
(`specwire._plain`, two Python frames a level) at every depth from about 500 to 990."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import verifiers_agree_lib as lib
from test_verifiers_agree_bounds import deep_state_document, deep_value
from test_verifiers_agree_eighth import three

from tianfu.codec import CodecError, decode
from tianfu.proofs.values import ValueBytesError, check_receipt, decode_value_strict
from tianfu.types.tx import Receipt, decode_tx

specwire = lib.specwire
DEPTHS = range(33, 1100)  # past msgspec's limit (the interpreter's 1000 frames) from any stack


def receipt_bytes(depth: int) -> bytes:
    """A Receipt [status 0, gas 0, result nested `depth` deep, error "", no events]."""
    return b"\x95\x00\x00" + deep_value(depth) + b"\xa0\x90"


def tx_bytes(depth: int) -> bytes:
    """A Transaction whose one argument is nested `depth` deep (shape only, no signature)."""
    body = (b"\x9a\x01\xa1c\x01\xc4\x20" + b"\x01" * 32 + b"\x00\x0a\xa2kv\xa1m"
            + b"\x91" + deep_value(depth) + b"\xc4\x00")  # fmt: skip
    return b"\x92" + body + b"\xc4\x40" + b"\x02" * 64


def sdk_receipt(data: bytes) -> None:
    check_receipt(decode(data, Receipt))


DECODERS: dict[str, tuple[Callable[[bytes], Any], Callable[[int], bytes], tuple[type, ...]]] = {
    "sdk value": (decode_value_strict, deep_value, (ValueBytesError,)),
    "sdk receipt": (sdk_receipt, receipt_bytes, (CodecError, ValueBytesError)),
    "sdk transaction": (decode_tx, tx_bytes, (CodecError,)),
    "spec value": (specwire.decode_value, deep_value, (specwire.Invalid,)),
    "spec receipt": (specwire.parse_receipt, receipt_bytes, (specwire.Invalid,)),
}


def at_stack(frames: int, run: Callable[[], None]) -> None:
    """`run()` called `frames` Python frames deeper than here."""
    if frames:
        at_stack(frames - 1, run)
    else:
        run()


@pytest.mark.parametrize("name", sorted(DECODERS))
@pytest.mark.parametrize("frames", [0, 150])
def test_a_value_nested_past_32_levels_is_refused_at_every_depth(name: str, frames: int) -> None:
    """Every depth from 33 to past the decoder's own limit is refused with the decoder's
    typed error. Main raised RecursionError from the SDK's re-encoding at one depth (about
    996 less the stack in use) and from the spec verifier's walk at hundreds."""
    run, make, refused = DECODERS[name]
    crashed = []
    for depth in DEPTHS:
        data = make(depth)
        try:
            at_stack(frames, lambda data=data: run(data))
        except refused:
            continue
        except RecursionError:
            crashed.append(depth)
            continue
        pytest.fail(f"{name}: a value nested {depth} deep was taken")
    assert crashed == [], f"{name}: RecursionError, no verdict, at depths {crashed[:5]}…"


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_state_document_with_a_value_nested_600_deep_is_refused_by_every_verifier(
    suite: str,
) -> None:
    """600 levels: msgspec decodes it, the spec verifier's walk (1200 frames) did not finish
    — main's `specverify` raised RecursionError instead of refusing the document."""
    verdicts = three(deep_state_document(suite, 600))
    assert [ok for ok, _ in verdicts] == [False] * len(verdicts), verdicts


def sdk_reason(depth: int) -> str:
    """The SDK's refusal of a state document whose value is nested `depth` deep ("crash"
    for a RecursionError), always called from this frame depth."""
    base = deep_state_document("standard", depth)
    case = lib.Case(base["name"], lib.dumps(base["document"]), base["now_ms"])
    try:
        ok, why = lib.verdict_sdk(case, base["genesis"], "state")
    except RecursionError:
        return "crash"
    assert not ok, depth
    return why


def test_a_document_at_the_sdk_decoders_last_level_is_refused() -> None:
    """The depth where the SDK's decoder itself gives up ("nested too deeply"), found by
    bisection, and the depths around it: each document is refused with a verdict. Main's
    `verify_document` raised RecursionError at the last depth the decoder took (its
    re-encoding needed a level more), so `tianfu verify-proof` crashed on that document."""
    lo, hi = 33, 2000  # the decoder takes lo, and gives up (or crashes) at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        why = sdk_reason(mid)
        if why == "crash" or "nested too deeply" in why:
            hi = mid
        else:
            lo = mid
    reasons = {d: sdk_reason(d) for d in range(lo - 2, hi + 3)}
    assert "crash" not in reasons.values(), reasons
