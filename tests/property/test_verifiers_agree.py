"""Differential audit of the three proof-document verifiers (docs/spec/documents.md).

The valid documents, for each crypto suite (Ed25519 / ECDSA P-256 and SM2 / SM3): those of
docs/spec/vectors/documents.json (a chain where a validator of a new organisation is added,
a power changed, that validator removed), and those of verifiers_agree_chain (an
organisation admitted with a validator, a validator re-weighted, a key rotated, a
validator removed; values at the edges of the formats; evidence and photo authorship
certificates), and those of verifiers_agree_corners (a record written in the block that
changes the set, 50 changes in a row, a key rotated twice and back, an organisation removed
and re-admitted under its name, a validator switching scheme and one of a scheme the suite
does not accept) — with sequential and skipping validator chains. Each document is changed in
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
import verifiers_agree_corners
import verifiers_agree_lib as lib

from tianfu.codec import encode
from tianfu.proofs.documents import verify_document
from tianfu.proofs.errors import VerificationError

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors" / "documents.json"


def vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def bases_of_vectors(suite: str) -> list[dict[str, Any]]:
    v = vectors()
    genesis = bytes.fromhex(v["geneses"][suite])
    return [
        {**c, "genesis": genesis}
        for c in v["cases"]
        if "document" in c and c["valid"] and c["suite"] == suite
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


@functools.cache
def corner_bases(suite: str) -> list[dict[str, Any]]:
    return [{**c, "corner": True} for c in verifiers_agree_corners.corner_documents(suite)]


def links_of(base: dict[str, Any]) -> int:
    return len(lib.unpack(bytes.fromhex(base["document"]["raw"]))[1])


def genesis_time(genesis: bytes) -> int:
    return lib.decode_genesis(genesis).time_ms


def mutations(base: dict[str, Any], sample: int, every_signature_byte: bool) -> Iterator[lib.Case]:
    """The unchanged document, then `sample` changes of each kind (chosen by a seed of the
    document's name): JSON, bytes of `raw`, nodes of the decoded bundle (`sample // 3`,
    each changed in every way), signatures (every byte of one signature per certificate if
    `every_signature_byte`) and, for a bundle with a skipping link, the clock at its edges."""
    doc, now = base["document"], base["now_ms"]
    rng = random.Random(f"{base['suite']}/{base['name']}")
    if links_of(base) > 10:  # each case checks every link's certificate: fewer of them
        sample, every_signature_byte = max(1, sample // 10), False

    def some(cases: Iterator[lib.Case], n: int | None = sample) -> list[lib.Case]:
        every = list(cases)
        return every if n is None else rng.sample(every, min(n, len(every)))

    if base.get("corner") and sample < 10:  # the CI run: a few changes of the corners
        yield lib.Case("unchanged", lib.dumps(doc), now)
        yield from lib.raw_byte_mutations(doc, now, rng, 1)
        yield from some(lib.signature_mutations(doc, now), 1)
        if lib.has_skipping_link(doc):
            yield from some(lib.clock_mutations(doc, genesis_time(base["genesis"])), 2)
        return

    yield lib.Case("unchanged", lib.dumps(doc), now)
    yield from some(lib.json_mutations(doc, now))
    yield from lib.raw_byte_mutations(doc, now, rng, sample)
    yield from lib.bundle_mutations(doc, now, rng, max(1, sample // 3))
    yield from some(lib.signature_mutations(doc, now), None if every_signature_byte else sample)
    if lib.has_skipping_link(doc):
        yield from some(lib.clock_mutations(doc, genesis_time(base["genesis"])), 2 * sample)


def disagreements(
    sample: int,
    suites: tuple[str, ...],
    every_signature_byte: bool = False,
    *,
    chains: bool = True,
    corners: bool = True,
    extra: tuple[dict[str, Any], ...] = (),
) -> tuple[list[str], int]:
    """The verdicts that differ on the mutations of each base document of `suites`: those
    of the vectors and the membership chain (`chains`), of the corner chains (`corners`)
    and the `extra` ones."""
    lib.load_app_kinds()
    problems: list[str] = []
    js_cases: list[tuple[lib.Case, bytes, str]] = []
    js_expected: list[tuple[str, bool, str]] = []
    count = 0
    chosen = [
        b
        for suite in suites
        for b in (*(bases(suite) if chains else ()), *(corner_bases(suite) if corners else ()))
    ] + [b for b in extra if b["suite"] in suites]
    for base in chosen:
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
    problems, count = disagreements(3, (suite,), corners=False)
    assert count > 600
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_three_verifiers_agree_on_sampled_changes_at_membership_corners(suite: str) -> None:
    """The corner chains (`verifiers_agree_corners`) on their own, so that each test stays
    well within the per-test timeout on a busy machine."""
    problems, count = disagreements(3, (suite,), chains=False)
    assert count > 100
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


def verdicts(base: dict[str, Any]) -> list[bool]:
    """The verdicts of the SDK, the spec verifier and (under Node) the console."""
    lib.load_app_kinds()
    case = lib.Case(base["name"], lib.dumps(base["document"]), base["now_ms"])
    genesis, kind = base["genesis"], base["kind"]
    out = [lib.verdict_sdk(case, genesis, kind)[0], lib.verdict_spec(case, genesis, kind)[0]]
    if lib.NODE is not None:
        out += [ok for ok, _ in lib.verdicts_js([(case, genesis, kind)])]
    return out


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_valid_signature_of_a_scheme_the_suite_does_not_accept_is_refused(suite: str) -> None:
    """crypto.md#suites: a signature of a scheme the chain's suite does not accept is
    invalid whatever its bytes, and blocks.md rule 5: one invalid signature rejects the
    certificate. A set may still list such a member (here one whose power the others
    outweigh): a certificate carrying its valid signature (SM2 on a standard chain,
    Ed25519 on an SM2 chain) is refused by every verifier, the same without it verifies."""
    valid, refused = verifiers_agree_corners.foreign_signed(suite)
    n = 3 if lib.NODE else 2
    assert verdicts(valid) == [True] * n
    assert verdicts(refused) == [False] * n


@pytest.mark.slow
def test_a_bundle_of_4097_links_is_refused_and_one_of_4096_verifies() -> None:
    """proofs.md#bundle: at most 4096 validator links, which bounds what a document costs
    to verify. A document with 4096 sequential links (one Ed25519 validator) verifies in
    every verifier; the same with a 4097th link (valid, in order) is refused by every one."""
    at_cap, over = verifiers_agree_corners.many_links(4096)
    n = 3 if lib.NODE else 2
    assert verdicts(at_cap) == [True] * n
    assert verdicts(over) == [False] * n


@pytest.mark.parametrize("suite", ["standard", "sm2"])
@pytest.mark.parametrize("what", list(verifiers_agree_corners.ODD_MEMBERS))
def test_a_validator_record_no_verifier_takes_is_refused_by_every_verifier(
    suite: str, what: str
) -> None:
    """blocks.md#validator-sets: a proven validator record has a scheme `>= 0` and a public
    key of at most 65 bytes (as a `Validator` decodes). The console refused a record with a
    negative scheme or a longer key; the SDK and the spec verifier took it (its member,
    which cannot sign, was simply outweighed), in a sequential and in a skipping chain."""
    for base in verifiers_agree_corners.odd_member(suite, what):
        assert verdicts(base) == [False] * (3 if lib.NODE else 2), base["name"]


LINK_RUNNER = Path(__file__).resolve().parents[1] / "js" / "link_runner.mjs"


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_header_or_certificate_beyond_its_bounds_is_refused_by_every_verifier(
    suite: str,
) -> None:
    """blocks.md: a header's and a certificate's chain id has 1 … 64 characters, a proposer
    and a signer's key at most 65 bytes, a signature at most 72, a certificate at most 1024
    signatures. The console decoded a link's header and certificate without these bounds
    (a 66-byte proposer or a 65-character chain id passed), which the SDK and the spec
    verifier refuse when decoding."""
    from tianfu.crypto import chain_suite
    from tianfu.proofs.valchain import TrustError, prepare_link

    genesis, cases = verifiers_agree_corners.link_beyond_bounds(suite)
    expected = [name == "unchanged" for name, _ in cases]
    with chain_suite(suite).use():
        sdk = []
        for _, link in cases:
            try:
                prepare_link(link, genesis.validator_set)
                sdk.append(True)
            except TrustError:
                sdk.append(False)
    spec = []
    for _, link in cases:
        try:
            lib.specverify.parse_link(suite, lib.unpack(encode(link)), lib.specwire.parse_genesis(encode(genesis)))  # fmt: skip
            spec.append(True)
        except lib.specwire.Invalid:
            spec.append(False)
    assert sdk == expected and spec == expected, (sdk, spec)
    if lib.NODE is None:
        return
    payload = json.dumps([{"link_hex": encode(link).hex(), "suite": suite} for _, link in cases])
    out = subprocess.run([lib.NODE, str(LINK_RUNNER)], input=payload, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    js = [r["ok"] for r in json.loads(out.stdout)]
    assert js == expected, list(zip([n for n, _ in cases], js, strict=True))


def test_a_document_file_that_is_not_utf8_json_text_is_refused_by_every_verifier() -> None:
    """documents.md#parsing: a document is JSON text in UTF-8, with no byte-order mark. Read
    from a file's bytes, the SDK (`tianfu verify-proof`) and the spec verifier took a
    UTF-8 byte-order mark, UTF-16 and UTF-32 (Python's `json.loads` of bytes guesses the
    encoding) and encoded surrogates; the console's /verify page dropped a byte-order mark
    and replaced invalid UTF-8 with U+FFFD. The file's own bytes are still accepted."""
    lib.load_app_kinds()
    base = next(b for b in corner_bases("standard") if b["kind"] == "state")
    text = lib.dumps(base["document"])
    utf8 = text.encode("utf-8")
    cases = [
        ("utf-8", utf8, True),
        ("a byte-order mark", b"\xef\xbb\xbf" + utf8, False),
        ("utf-16", text.encode("utf-16"), False),
        ("utf-16-le", text.encode("utf-16-le"), False),
        ("utf-32", text.encode("utf-32"), False),
        ("an invalid byte", utf8[:-1] + b'"\xff"' + utf8[-1:], False),
        ("an encoded surrogate", utf8[:-1] + b', "x": "\xed\xa0\x80"' + utf8[-1:], False),
    ]
    genesis = base["genesis"]
    for name, data, valid in cases:
        try:
            verify_document(data, lib.decode_genesis(genesis), kind="state",
                            options=lib.TrustOptions(now_ms=base["now_ms"]))  # fmt: skip
            sdk = True
        except VerificationError:
            sdk = False
        try:
            lib.specverify.verify_document(data, genesis, base["now_ms"], "state")
            spec = True
        except lib.specwire.Invalid:
            spec = False
        assert (sdk, spec) == (valid, valid), name
    if lib.NODE is None:
        return
    payload = [{"cert": None, "cert_hex": data.hex(), "genesis_hex": genesis.hex(), "file_hex": None,
                "kind": "state", "now_ms": base["now_ms"]} for _, data, _ in cases]  # fmt: skip
    out = subprocess.run([lib.NODE, str(lib.RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    js = [r["ok"] for r in json.loads(out.stdout)]
    assert js == [valid for _, _, valid in cases], list(zip([c[0] for c in cases], js, strict=True))


# -- Ed25519 signatures a key's holder can make (crypto.md#signature-schemes) -------------
ED_P, ED_L = 2**255 - 19, 2**252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, -1, ED_P) % ED_P
ED_B = lib.specwire.ed_point((4 * pow(5, -1, ED_P) % ED_P).to_bytes(32, "little"), True)
ORDER_8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


def _ed_add(p: tuple[int, int], q: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = p, q
    t = ED_D * x1 * x2 * y1 * y2 % ED_P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, -1, ED_P) % ED_P,
            (y1 * y2 + x1 * x2) * pow(1 - t, -1, ED_P) % ED_P)  # fmt: skip


def _ed_mul(n: int, p: tuple[int, int]) -> tuple[int, int]:
    out = (0, 1)
    while n:
        if n & 1:
            out = _ed_add(out, p)
        p, n = _ed_add(p, p), n >> 1
    return out


def _ed_encode(p: tuple[int, int]) -> bytes:
    return (p[1] | ((p[0] & 1) << 255)).to_bytes(32, "little")


def _ed_hash(*parts: bytes) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % ED_L


def holder_made_ed25519_signatures() -> list[tuple[str, bytes, bytes, bytes]]:
    """(name, public key, message, signature): signatures a key's holder can make that a
    cofactored verifier takes and crypto.md's (cofactorless, small-order R refused) does
    not — an R of order 2 with S = k·a, and a public key with an order-8 component."""
    a = 0x1234567 * 8 + 2**254
    msg = bytes(range(32))
    pub = _ed_encode(_ed_mul(a, ED_B))
    r_small = _ed_encode((0, ED_P - 1))  # the point of order 2
    s = _ed_hash(r_small, pub, msg) * a % ED_L
    out = [("R of order 2, S = k·a", pub, msg, r_small + s.to_bytes(32, "little"))]
    mixed = _ed_encode(_ed_add(_ed_mul(a, ED_B), lib.specwire.ed_point(ORDER_8, True)))
    for i in range(8):  # a message whose k is not a multiple of 8
        m = bytes([i]) * 32
        r = 7 + i
        big_r = _ed_encode(_ed_mul(r, ED_B))
        k = _ed_hash(big_r, mixed, m)
        if k % 8:
            sig = big_r + ((r + k * a) % ED_L).to_bytes(32, "little")
            out.append(("a public key with an order-8 component", mixed, m, sig))
            break
    honest_r = _ed_encode(_ed_mul(11, ED_B))
    honest = honest_r + ((11 + _ed_hash(honest_r, pub, msg) * a) % ED_L).to_bytes(32, "little")
    return [("an honest signature", pub, msg, honest), *out]


SIGNATURE_RUNNER = Path(__file__).resolve().parents[1] / "js" / "signature_runner.mjs"


def test_ed25519_signatures_only_a_cofactored_check_takes_are_refused_by_every_verifier() -> None:
    """crypto.md: Ed25519 is verified cofactorless (encode([S]B − [k]A) = R), with a
    small-order R refused. The console used noble's `verify`, which is cofactored and lets
    a small-order R through: it took signatures a validator can make with its own key (an
    R of order 2 with S = k·a; a public key with an order-8 component) that the SDK
    (libsodium) and the spec verifier refuse, so a certificate could verify in one only."""
    from tianfu.crypto import ED25519, STANDARD, verify

    cases = holder_made_ed25519_signatures()
    assert len(cases) == 3
    expected = [name == "an honest signature" for name, *_ in cases]
    with STANDARD.use():
        sdk = [verify(ED25519, pub, m, sig) for _, pub, m, sig in cases]
    spec = [lib.specwire.verify_sig("standard", 1, pub, m, sig) for _, pub, m, sig in cases]
    assert sdk == expected and spec == expected, (sdk, spec)
    if lib.NODE is None:
        return
    payload = [{"suite": "standard", "scheme": 1, "public_key": pub.hex(), "message": m.hex(),
                "signature": sig.hex()} for _, pub, m, sig in cases]  # fmt: skip
    out = subprocess.run([lib.NODE, str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected, [c[0] for c in cases]


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_quorum_is_computed_exactly_when_powers_sum_past_2_53(suite: str) -> None:
    """proofs.md#trust-options (arithmetic): sums of powers and the quorum comparison are
    exact. The console summed powers as JavaScript numbers, so a set of powers 2^52, 2^52
    and 2^52 - 1 had the total 3·2^52 and two signers did not reach its 2/3: it refused a
    block the SDK and the spec verifier accept."""
    base = verifiers_agree_corners.powers_past_2_53(suite)
    assert verdicts(base) == [True] * (3 if lib.NODE else 2)


STRICTJSON = Path(__file__).resolve().parents[2] / "src" / "tianfu" / "web" / "static" / "js" / "strictjson.js"  # fmt: skip


def test_the_console_parses_a_document_with_a_string_of_millions_of_characters() -> None:
    """documents.md#parsing: any valid document up to 40 MiB is parsed. The console matched
    each string with a regular expression that overflowed V8's stack from about 8.4 million
    characters, so it refused ("Maximum call stack size exceeded") every document whose
    `raw` holds a bundle of more than about 4 MiB — such as one of 4096 links — which the
    SDK and the spec verifier verify. Escapes and refusals are unchanged."""
    if lib.NODE is None:
        pytest.skip("Node.js runs the console's parser")
    script = f"""
import {{ parseDocumentJson }} from {json.dumps(STRICTJSON.as_uri())};
const out = [];
const run = (t) => {{ try {{ return JSON.stringify(parseDocumentJson(t)); }} catch (e) {{ return "refused: " + e.message; }} }};
const long = "ab".repeat(10_000_000);
const r = parseDocumentJson('{{"raw": "' + long + '", "x": "a\\\\n\\\\u00e9\\\\"\\\\\\\\/"}}');
out.push(r.raw === long && r.x === 'a\\n\\u00e9"\\\\/');
for (const t of ['{{"a": "\\\\x"}}', '{{"a": "\\\\u12"}}', '{{"a": "b}}', '{{"a": "\\u0001"}}', '{{"a": "\\\\"}}']) out.push(run(t));
out.push(run('{{"a": "\\\\u0041\\\\t"}}'));
process.stdout.write(JSON.stringify(out));
"""
    done = subprocess.run([lib.NODE, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out[0] is True
    assert all(r.startswith("refused") for r in out[1:6]), out[1:6]
    assert json.loads(out[6]) == {"a": "A\t"}


@pytest.mark.slow  # a document of 32 MiB, parsed by each verifier
def test_a_bundle_over_16_mib_is_refused_by_every_verifier_before_decoding() -> None:
    """proofs.md#bundle: a bundle is decoded with a limit of 16 MiB (a document of 40 MiB
    can carry a `raw` of up to 20 MiB). The SDK and the spec verifier refuse a larger one
    by its size; the console had no limit and decoded (and verified) whatever `raw` held."""
    lib.load_app_kinds()
    base = next(b for b in corner_bases("standard") if b["kind"] == "state")
    doc = base["document"]
    tree = lib.unpack(bytes.fromhex(doc["raw"]))
    entry = tree[2][0][2][0]
    padded = [tree[0], tree[1], [[tree[2][0][0], tree[2][0][1], [entry, [b"x" * (16 << 20), None, b""]]]]]  # fmt: skip
    case = lib.Case("over 16 MiB", lib.dumps({**doc, "raw": encode(padded).hex()}), base["now_ms"])
    sdk = lib.verdict_sdk(case, base["genesis"], "state")
    spec = lib.verdict_spec(case, base["genesis"], "state")
    assert not sdk[0] and not spec[0]
    if lib.NODE is not None:
        ok, reason = lib.verdicts_js([(case, base["genesis"], "state")])[0]
        assert not ok and "larger than 16 MiB" in reason, reason
