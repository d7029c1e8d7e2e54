"""Differential audit of the three proof-document verifiers (docs/spec/documents.md).

The valid documents, for each crypto suite (Ed25519 / ECDSA P-256 and SM2 / SM3): those of
docs/spec/vectors/documents.json (a chain where a validator of a new organisation is added,
a power changed, that validator removed), and those of verifiers_agree_chain (an
organisation admitted with a validator, a validator re-weighted, a key rotated, a
validator removed; values at the edges of the formats; evidence and photo authorship
certificates) — with sequential and skipping validator chains. Each document is changed in
many ways (verifiers_agree_lib) and every change is verified by the SDK verifier (`tianfu verify-proof`), the independent
spec verifier (tests/spec_verifier) and, for the kinds it knows, the web console's verifier
under Node. All of them MUST give the same verdict, and a document any of them accepts MUST
prove exactly what the unchanged one proves (its readable part is the same, types included).

The CI test samples a few changes of each kind per document (a fixed seed); the `slow` one
makes 150 of each kind per document and flips every byte of a signature of every
certificate.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import verifiers_agree_chain
import verifiers_agree_lib as lib

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors" / "documents.json"


def vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def bases_of_vectors(suite: str) -> list[dict[str, Any]]:
    v = vectors()
    genesis = bytes.fromhex(v["geneses"][suite])
    return [
        {**c, "genesis": genesis} for c in v["cases"] if "document" in c and c["suite"] == suite
    ]


@functools.cache
def bases(suite: str) -> list[dict[str, Any]]:
    """The valid documents of `suite`: the vectors', then those of the membership chain."""
    out = bases_of_vectors(suite)
    for docs, genesis, now in (verifiers_agree_chain.build(suite),
                               verifiers_agree_chain.record_documents(suite)):  # fmt: skip
        out += [{"suite": suite, "name": name, "kind": kind, "document": d, "genesis": genesis,
                 "now_ms": now} for name, (kind, d) in docs.items()]  # fmt: skip
    return out


def genesis_time(genesis: bytes) -> int:
    return lib.decode_genesis(genesis).time_ms


def mutations(base: dict[str, Any], sample: int, every_signature_byte: bool) -> Iterator[lib.Case]:
    """The unchanged document, then `sample` changes of each kind (chosen by a seed of the
    document's name): JSON, bytes of `raw`, nodes of the decoded bundle (`sample // 3`,
    each changed in every way), signatures (every byte of one signature per certificate if
    `every_signature_byte`) and, for a bundle with a skipping link, the clock at its edges."""
    doc, now = base["document"], base["now_ms"]
    rng = random.Random(f"{base['suite']}/{base['name']}")

    def some(cases: Iterator[lib.Case], n: int | None = sample) -> list[lib.Case]:
        every = list(cases)
        return every if n is None else rng.sample(every, min(n, len(every)))

    yield lib.Case("unchanged", lib.dumps(doc), now)
    yield from some(lib.json_mutations(doc, now))
    yield from lib.raw_byte_mutations(doc, now, rng, sample)
    yield from lib.bundle_mutations(doc, now, rng, max(1, sample // 3))
    yield from some(lib.signature_mutations(doc, now), None if every_signature_byte else sample)
    if lib.has_skipping_link(doc):
        yield from some(lib.clock_mutations(doc, genesis_time(base["genesis"])), 2 * sample)


def disagreements(
    sample: int, suites: tuple[str, ...], every_signature_byte: bool = False
) -> tuple[list[str], int]:
    lib.load_app_kinds()
    problems: list[str] = []
    js_cases: list[tuple[lib.Case, bytes, str]] = []
    js_expected: list[tuple[str, bool, str]] = []
    count = 0
    for base in [b for suite in suites for b in bases(suite)]:
        genesis, kind = base["genesis"], base["kind"]
        for case in mutations(base, sample, every_signature_byte):
            count += 1
            label = f"{base['suite']} / {base['name']} / {case.name}"
            sdk = lib.verdict_sdk(case, genesis, kind)
            spec = lib.verdict_spec(case, genesis, kind)
            if case.name == "unchanged" and not (sdk[0] and spec[0]):
                problems.append(f"{label}: a valid document refused: sdk {sdk}, spec {spec}")
            if sdk[0] != spec[0]:
                problems.append(f"{label}: sdk {sdk}, spec {spec}")
            if (sdk[0] or spec[0]) and not proves_the_same(case, base["document"]):
                problems.append(f"{label}: accepted but proves something else")
            if kind in lib.JS_KINDS and lib.NODE is not None:
                js_cases.append((case, genesis, kind))
                js_expected.append((label, sdk[0] and spec[0], f"sdk {sdk}, spec {spec}"))
    if js_cases:
        for (label, expected, others), (ok, reason) in zip(
            js_expected, lib.verdicts_js(js_cases), strict=True
        ):
            if ok != expected and not (expected and any(u in reason for u in lib.JS_UNSUPPORTED)):
                problems.append(f"{label}: js {(ok, reason)}, {others}")
    return problems, count


def proves_the_same(case: lib.Case, original: dict[str, Any]) -> bool:
    given = json.loads(case.text)
    return lib.strictly_equal(lib.readable_part(given), lib.readable_part(original))


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_three_verifiers_agree_on_sampled_changes(suite: str) -> None:
    problems, count = disagreements(3, (suite,))
    assert count > 600
    assert not problems, "\n".join(problems[:40])


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_three_verifiers_agree_on_many_changes(suite: str) -> None:
    problems, count = disagreements(150, (suite,), every_signature_byte=True)
    assert count > 20_000
    assert not problems, "\n".join(problems[:40])


def three_verdicts(doc: dict[str, Any], genesis: bytes, now: int) -> list[bool]:
    lib.load_app_kinds()
    case = lib.Case("one", lib.dumps(doc), now)
    verdicts = [
        lib.verdict_sdk(case, genesis, "state")[0],
        lib.verdict_spec(case, genesis, "state")[0],
    ]
    if lib.NODE is not None:
        verdicts += [ok for ok, _ in lib.verdicts_js([(case, genesis, "state")])]
    return verdicts


def test_a_value_nested_deeper_than_32_levels_is_refused_by_every_verifier() -> None:
    """encoding.md: a proven value nests at most 32 levels below the outermost one. The
    console's verifier accepted a state document proving a value nested 33 levels deep (its
    msgpack decoder allows 64 for any structure)."""
    at_limit, genesis, now = verifiers_agree_chain.value_document(
        "standard", verifiers_agree_chain.nested(32)
    )
    assert three_verdicts(at_limit, genesis, now) == [True] * (3 if lib.NODE else 2)
    for depth in (33, 62):
        doc, genesis, now = verifiers_agree_chain.value_document(
            "standard", verifiers_agree_chain.nested(depth), depth_limit=64
        )
        assert three_verdicts(doc, genesis, now) == [False] * (3 if lib.NODE else 2), depth


@pytest.mark.parametrize(
    "value", [{"__proto__": 5}, {"x": {"__proto__": {"a": 1}}, "constructor": 1}]
)
def test_a_map_key_named___proto___is_rendered_by_every_verifier(value: Any) -> None:
    """readable(): a map renders as an object with the same keys. The console's verifier set
    the key "__proto__" by assignment (which sets the object's prototype instead), so it
    refused valid documents proving such a map."""
    doc, genesis, now = verifiers_agree_chain.value_document("standard", value)
    assert doc["entries"][0]["value"] == json.loads(json.dumps(value))
    assert three_verdicts(doc, genesis, now) == [True] * (3 if lib.NODE else 2)


REFUSE = Path(__file__).resolve().parent / "data" / "verifiers_refuse.json"


def test_documents_the_sdk_accepted_are_refused_by_every_verifier() -> None:
    """documents.md: an evidence record's `height` and `time_ms` are the block's as
    integers, and a traceability batch's `events` is an integer; a boolean is never an
    integer. The SDK (Python's `True == 1`) accepted a record whose height was `true` in
    block 1, and a batch whose event count was `true` (the spec verifier accepted the
    first too; the console refused it). The documents were made by the code before."""
    lib.load_app_kinds()
    v = json.loads(REFUSE.read_text(encoding="utf-8"))
    genesis = bytes.fromhex(v["genesis"])
    for c in v["cases"]:
        case = lib.Case(c["name"], lib.dumps(c["document"]), v["now_ms"])
        assert lib.verdict_sdk(case, genesis, c["kind"])[0] is False, c["name"]
        assert lib.verdict_spec(case, genesis, c["kind"])[0] is False, c["name"]
        if c["kind"] in lib.JS_KINDS and lib.NODE is not None:
            assert lib.verdicts_js([(case, genesis, c["kind"])])[0][0] is False, c["name"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E999"])
def test_a_number_beyond_a_doubles_range_is_a_verification_error(number: str) -> None:
    """The SDK raised a bare ValueError (from its JSON comparison) for a document holding
    a number such as 1e400, where `verify_document` promises a `VerificationError`."""
    lib.load_app_kinds()
    base = next(b for b in bases_of_vectors("standard") if b["name"] == "evidence")
    text = lib._with_number_text(base["document"], ("height",), number)
    case = lib.Case(number, text, base["now_ms"])
    ok, reason = lib.verdict_sdk(case, base["genesis"], "evidence")
    assert not ok and "beyond any range" in reason
    assert lib.verdict_spec(case, base["genesis"], "evidence")[0] is False


def test_record_certificates_of_both_kinds_verify_in_the_sdk_and_the_spec_verifier() -> None:
    """documents.md#record-certificates: `photo_authorship` is specified like `evidence`.
    The spec verifier refused every authorship certificate (the kind was not in the
    specification); both verifiers accept one, and refuse it with a shown field changed."""
    lib.load_app_kinds()
    docs, genesis, now = verifiers_agree_chain.record_documents("standard")
    for kind, doc in docs.values():
        case = lib.Case(kind, lib.dumps(doc), now)
        assert lib.verdict_sdk(case, genesis, kind) == (True, "")
        assert lib.verdict_spec(case, genesis, kind) == (True, "")
        for field in ("title", "height", "org"):
            changed = lib.Case(field, lib.dumps({**doc, field: None}), now)
            assert lib.verdict_sdk(changed, genesis, kind)[0] is False
            assert lib.verdict_spec(changed, genesis, kind)[0] is False


GENESIS_RUNNER = Path(__file__).resolve().parents[1] / "js" / "genesis_runner.mjs"


def test_the_three_verifiers_agree_on_every_genesis_vector() -> None:
    """blocks.md#genesis: every rule of a genesis is checked by each verifier before it
    trusts it. The console's verifier accepted a genesis with a validator of power 0, a
    key listed twice, a validator of an unlisted organisation or of a scheme the suite
    does not accept (and then verified documents against it)."""
    from tianfu.codec import CodecError
    from tianfu.crypto import CryptoError

    blocks = json.loads((VECTORS.parent / "blocks.json").read_text(encoding="utf-8"))
    cases = [(s["genesis"], True, s["suite"]) for s in blocks["suites"]]
    cases += [
        (c["genesis"], False, c["name"]) for s in blocks["suites"] for c in s["invalid_geneses"]
    ]
    for hexed, valid, name in cases:
        try:
            lib.decode_genesis(bytes.fromhex(hexed))
            sdk = True
        except (CodecError, CryptoError, ValueError):
            sdk = False
        try:
            lib.specwire.parse_genesis(bytes.fromhex(hexed))
            spec = True
        except lib.specwire.Invalid:
            spec = False
        assert (sdk, spec) == (valid, valid), name
    if lib.NODE is None:
        return
    out = subprocess.run([lib.NODE, str(GENESIS_RUNNER)], input=json.dumps([c[0] for c in cases]),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    for (_, valid, name), r in zip(cases, json.loads(out.stdout), strict=True):
        assert r["ok"] is valid, (name, r["reason"])
