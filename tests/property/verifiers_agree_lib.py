"""The three proof-document verifiers and the mutations they are compared over
(tests/property/test_verifiers_agree.py).

- `sdk`: `tianfu.proofs.documents.verify_document` (what `tianfu verify-proof` and the
  client run), with every application's kinds registered;
- `spec`: the independent verifier of tests/spec_verifier (written from docs/spec only);
- `js`: the web console's in-browser verifier (static/js/proof.js) under Node, which
  verifies the kinds `state`, `evidence` and `tx` only.

A mutation is a function of one valid document (JSON value) giving a `Case`: the document
text to verify, and the clock. Every mutation changes one thing; the mutations cover every
readable leaf, every object key, every array, the JSON text, every byte of `raw` and the
decoded bundle's structure (links, blocks, certificates, signatures, encodings).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from tianfu.codec import encode
from tianfu.proofs.documents import verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.valchain import TrustOptions
from tianfu.types.genesis import decode_genesis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "spec_verifier"))

import specverify  # noqa: E402
import specwire  # noqa: E402

NODE = shutil.which("node")
RUNNER = ROOT / "tests" / "js" / "verify_runner.mjs"
JS_KINDS = ("state", "evidence", "tx")
# What the browser verifier refuses by design (it says so and points to `tianfu verify-proof`).
JS_UNSUPPORTED = ("verify it with `tianfu verify-proof`",)
TRUSTING_PERIOD_MS = 7 * 24 * 3600 * 1000
MAX_CLOCK_DRIFT_MS = 10_000


def load_app_kinds() -> None:
    import tianfu.apps.evidence.certificate  # noqa: F401
    import tianfu.apps.photo_sharing.certificate  # noqa: F401
    import tianfu.apps.traceability.proof  # noqa: F401


@dataclass(frozen=True)
class Case:
    name: str
    src: str | Callable[[], str]  # the document as given (JSON text), or how to make it
    now_ms: int

    @property
    def text(self) -> str:
        return self.src if isinstance(self.src, str) else self.src()


def verdict_sdk(case: Case, genesis: bytes, kind: str) -> tuple[bool, str]:
    try:
        verify_document(case.text, decode_genesis(genesis), kind=kind,
                        options=TrustOptions(now_ms=case.now_ms))  # fmt: skip
        return True, ""
    except VerificationError as exc:
        return False, str(exc)[:200]


def verdict_spec(case: Case, genesis: bytes, kind: str) -> tuple[bool, str]:
    try:
        specverify.verify_document(case.text, genesis, case.now_ms, kind)
        return True, ""
    except specwire.Invalid as exc:
        return False, str(exc)[:200]


def verdicts_js(cases: list[tuple[Case, bytes, str]]) -> list[tuple[bool, str]]:
    """One Node process verifies every case (of the kinds it knows)."""
    assert NODE is not None
    payload = [
        {"cert": c.text, "genesis_hex": g.hex(), "file_hex": None, "kind": k, "now_ms": c.now_ms}
        for c, g, k in cases
    ]
    out = subprocess.run([NODE, str(RUNNER)], input=json.dumps(payload), capture_output=True,
                         text=True, timeout=1800)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return [(r["ok"], r["reason"][:200]) for r in json.loads(out.stdout)]


# -- JSON-level mutations ---------------------------------------------------------------------
def paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield at, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*at, i))


def replaced(doc: Any, at: tuple[Any, ...], fn: Callable[[Any], Any]) -> Any:
    """A copy of `doc` whose node at `at` is `fn(node)` (fn may edit it in place)."""
    d = copy.deepcopy(doc)
    if not at:
        return fn(d)
    parent = d
    for k in at[:-1]:
        parent = parent[k]
    parent[at[-1]] = fn(parent[at[-1]])
    return d


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False)


def leaf_variants(v: Any) -> list[tuple[str, Any]]:
    if isinstance(v, bool):
        return [("negated", not v), ("as int", int(v)), ("null", None), ("as text", str(v).lower())]
    if isinstance(v, int):
        return [("+1", v + 1), ("-1", v - 1), ("as float", float(v)), ("as text", str(v)),
                ("as bool", bool(v)), ("null", None), ("2^64", 2**64), ("-2^63-1", -(2**63) - 1),
                ("negated", -v - 1)]  # fmt: skip
    if isinstance(v, str):
        out = [("empty", ""), ("appended", v + "0"), ("upper", v.upper()), ("null", None),
               ("as number", 0), ("padded", " " + v)]  # fmt: skip
        if v[:1].isdigit() or v[:1] in "abcdef":
            out.append(("last char changed", v[:-1] + ("1" if v[-1:] == "0" else "0")))
        return [(n, x) for n, x in out if x != v or type(x) is not type(v)]
    if v is None:
        return [("0", 0), ("empty text", ""), ("false", False), ("empty object", {})]
    if isinstance(v, list):
        out = [("emptied", []), ("as object", {})]
        if v:
            out += [("first dropped", v[1:]), ("last dropped", v[:-1]), ("first duplicated", [v[0], *v]),
                    ("reversed", v[::-1]), ("wrapped", [v])]  # fmt: skip
        return [(n, x) for n, x in out if x != v or n == "as object"]
    if isinstance(v, dict):
        out = [("emptied", {}), ("as array", list(v.values())), ("extra key", {**v, "extra": None})]
        for k in v:
            out.append((f"key {k!r} dropped", {x: y for x, y in v.items() if x != k}))
            out.append(
                (f"key {k!r} renamed", {(x + "_" if x == k else x): y for x, y in v.items()})
            )
        return out
    return []


def json_mutations(doc: dict[str, Any], now: int) -> Iterator[Case]:
    for at, node in paths(doc):
        if at == ("raw",):
            continue
        for name, new in leaf_variants(node):
            yield Case(f"{'/'.join(map(str, at))}: {name}", lambda at=at, x=new: dumps(replaced(doc, at, lambda _: x)), now)  # fmt: skip
    text = json.dumps(doc, ensure_ascii=False)
    compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    yield Case("text: any layout (indented, keys reversed)", json.dumps(
        dict(reversed(list(doc.items()))), indent=1, ensure_ascii=True), now)  # fmt: skip
    yield Case("text: a key repeated (format)", '{"format":"tianfu-proof/v1",' + compact[1:], now)
    yield Case("text: a key repeated (kind)", compact[:-1] + f',"kind":{json.dumps(doc["kind"])}' + "}", now)  # fmt: skip
    yield Case("text: NaN added", compact[:-1] + ',"x":NaN}', now)
    yield Case("text: trailing garbage", text + " x", now)
    yield Case("text: two documents", text + text, now)
    yield Case("text: a top-level array", "[" + text + "]", now)
    yield Case("text: a byte-order mark", "\ufeff" + text, now)
    yield Case("text: a trailing comma", compact[:-1] + ",}", now)
    yield Case("text: single-quoted", compact.replace('"format"', "'format'", 1), now)
    for key in ("format", "kind", "raw"):
        yield Case(f"text: {key} escaped (\\u escapes)", compact.replace(
            f'"{key}"', '"' + "".join(f"\\u{ord(ch):04x}" for ch in key) + '"', 1), now)  # fmt: skip
    for at, node in paths(doc):
        if isinstance(node, int) and not isinstance(node, bool) and at:
            for spelling in (
                f"{node}.0",
                f"{node}e0",
                f"{node}E+0",
                f"{node}.00",
                "1e400",
                "-1e400",
            ):
                yield Case(f"{'/'.join(map(str, at))}: written {spelling}",
                           _with_number_text(doc, at, spelling), now)  # fmt: skip
            if node == 0:
                yield Case(f"{'/'.join(map(str, at))}: written -0", _with_number_text(doc, at, "-0"), now)  # fmt: skip
            break  # the first integer leaf is enough for the spellings


def _with_number_text(doc: dict[str, Any], at: tuple[Any, ...], spelling: str) -> str:
    marker = "__NUMBER_MARKER__"
    return dumps(replaced(doc, at, lambda _: marker)).replace(f'"{marker}"', spelling)


# -- raw-level mutations ----------------------------------------------------------------------
def with_raw(doc: dict[str, Any], raw: str) -> str:
    return dumps({**doc, "raw": raw})


def raw_byte_mutations(
    doc: dict[str, Any], now: int, rng: random.Random, n: int | None
) -> Iterator[Case]:
    """Flip every byte of `raw` (n None), or n bytes chosen by `rng`; and hex spellings."""
    raw = bytes.fromhex(doc["raw"])
    positions = (
        range(len(raw)) if n is None else sorted(rng.sample(range(len(raw)), min(n, len(raw))))
    )
    for i in positions:
        for mask in (0x01, 0xFF) if n is None else (rng.choice((0x01, 0x80, 0xFF)),):
            b = bytearray(raw)
            b[i] ^= mask
            yield Case(f"raw byte {i} ^ {mask:#x}", with_raw(doc, b.hex()), now)
    yield Case("raw: upper-case hex", with_raw(doc, doc["raw"].upper()), now)
    yield Case("raw: odd length", with_raw(doc, doc["raw"][:-1]), now)
    yield Case("raw: truncated by a byte", with_raw(doc, doc["raw"][:-2]), now)
    yield Case("raw: a trailing byte", with_raw(doc, doc["raw"] + "00"), now)
    yield Case("raw: 0x prefix", with_raw(doc, "0x" + doc["raw"]), now)
    yield Case("raw: empty", with_raw(doc, ""), now)


# A generic msgpack tree whose leaves may carry a chosen (non-canonical) encoding.
@dataclass(frozen=True)
class Raw:
    data: bytes  # the exact bytes of this item


def pack(x: Any) -> bytes:
    if isinstance(x, Raw):
        return x.data
    if isinstance(x, list) and any(_has_raw(i) for i in x):
        n = len(x)
        head = bytes([0x90 | n]) if n <= 15 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(i) for i in x)
    return encode(x)


def _has_raw(x: Any) -> bool:
    return isinstance(x, Raw) or (isinstance(x, list) and any(_has_raw(i) for i in x))


def unpack(data: bytes) -> Any:
    return msgspec.msgpack.decode(data)


def non_canonical_int(v: int) -> list[tuple[str, bytes]]:
    out = []
    if 0 <= v < 2**8:
        out.append(("as u16", b"\xcd" + struct.pack(">H", v)))
    if 0 <= v < 2**32:
        out.append(("as u64", b"\xcf" + struct.pack(">Q", v)))
    if 0 <= v < 2**63:
        out.append(("as i64", b"\xd3" + struct.pack(">q", v)))
    out.append(("as float64", b"\xcb" + struct.pack(">d", float(v))))
    out.append(("as bool", b"\xc3" if v else b"\xc2"))
    return out


def non_canonical_bin(v: bytes) -> list[tuple[str, bytes]]:
    n = len(v)
    out = [("bin16 length", b"\xc5" + struct.pack(">H", n) + v)] if n < 256 else []
    out.append(("as str", (bytes([0xA0 | n]) if n <= 31 else b"\xda" + struct.pack(">H", n)) + v))
    return out


@dataclass
class Nested:
    """Bytes inside the bundle that are themselves a canonical msgpack array (a header, a
    certificate, a validator set, a state proof, a transaction, a receipt)."""

    tree: Any


def explode(x: Any) -> Any:
    if isinstance(x, list):
        return [explode(i) for i in x]
    if isinstance(x, bytes) and x[:1] and (0x90 <= x[0] <= 0x9F or x[0] == 0xDC):
        try:
            inner = unpack(x)
        except msgspec.DecodeError:
            return x
        if isinstance(inner, list) and encode(inner) == x:
            return Nested(explode(inner))
    return x


def implode(x: Any) -> Any:
    if isinstance(x, Nested):
        inner = implode(x.tree)
        return pack(inner) if _has_raw(inner) else encode(inner)
    if isinstance(x, list):
        return [implode(i) for i in x]
    return x


def nodes(x: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield at, x
    if isinstance(x, Nested):
        yield from nodes(x.tree, (*at, "nested"))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from nodes(v, (*at, i))


def set_node(x: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    if at[0] == "nested":
        return Nested(set_node(x.tree, at[1:], new))
    out = list(x)
    out[at[0]] = set_node(x[at[0]], at[1:], new)
    return out


def node_variants(v: Any) -> list[tuple[str, Any]]:
    if isinstance(v, bool):
        return [("negated", not v)]
    if isinstance(v, int):
        out: list[tuple[str, Any]] = [("2^64-1", 2**64 - 1), ("-1", -1)]
        out += [(n, x) for n, x in (("+1", v + 1), ("-1 from it", v - 1)) if -(2**63) <= x < 2**64]
        return out + [(n, Raw(b)) for n, b in non_canonical_int(v)]
    if isinstance(v, bytes):
        out = [("empty", b""), ("a byte added", v + b"\x00")]
        if v:
            out += [
                ("last byte dropped", v[:-1]),
                ("first byte flipped", bytes([v[0] ^ 1]) + v[1:]),
            ]
        return out + [(n, Raw(b)) for n, b in non_canonical_bin(v)]
    if v is None:
        return [("empty bytes", b""), ("0", 0)]
    if isinstance(v, str):
        return [("changed", v + "x"), ("as bin", v.encode())]
    if isinstance(v, Nested):
        return [("nested array wrapped", Nested([v.tree])), ("nil", None)]
    if isinstance(v, list):
        out = [("emptied", []), ("nil", None)]
        if v:
            out += [("first dropped", v[1:]), ("last dropped", v[:-1]), ("first duplicated", [v[0], *v]),
                    ("last duplicated", [*v, v[-1]]), ("an item appended", [*v, 0])]  # fmt: skip
        if len(v) > 1:
            out += [("reversed", v[::-1]), ("first two swapped", [v[1], v[0], *v[2:]])]
        return out
    return []


def bundle_mutations(
    doc: dict[str, Any], now: int, rng: random.Random, n: int | None
) -> Iterator[Case]:
    """Structural changes of the decoded bundle: every node (n None) or n nodes chosen by
    `rng`, each changed in every way of `node_variants`, the bundle encoded again."""
    tree = explode(unpack(bytes.fromhex(doc["raw"])))
    all_nodes = [(at, v) for at, v in nodes(tree) if at]
    chosen = all_nodes if n is None else rng.sample(all_nodes, min(n, len(all_nodes)))
    for at, v in chosen:
        for name, new in node_variants(v):
            t = implode(set_node(tree, at, new))
            raw = (pack(t) if _has_raw(t) else encode(t)).hex()
            if raw != doc["raw"]:
                yield Case(f"bundle {'/'.join(map(str, at))}: {name}", with_raw(doc, raw), now)


def signature_mutations(doc: dict[str, Any], now: int) -> Iterator[Case]:
    """Every byte of the first signature of each certificate; the signatures of each
    certificate reordered, one repeated, one dropped."""
    tree = unpack(bytes.fromhex(doc["raw"]))
    lights = [("link", i, link[0]) for i, link in enumerate(tree[1])]
    lights += [("block", i, b[0]) for i, b in enumerate(tree[2])]
    for where, i, light in lights:
        cert = unpack(light[1])
        sigs = cert[5]

        def with_sigs(new: list[Any], where: str = where, i: int = i, light: Any = light,
                      cert: Any = cert) -> str:  # fmt: skip
            c2 = [*cert[:5], new]
            l2 = [light[0], encode(c2), light[2]]
            t = copy.deepcopy(tree)
            if where == "link":
                t[1][i] = [l2, *t[1][i][1:]]
            else:
                t[2][i] = [l2, *t[2][i][1:]]
            return with_raw(doc, encode(t).hex())

        first = sigs[0]
        changes: list[tuple[str, list[Any]]] = []
        for j in range(len(first[2])):
            flipped = bytearray(first[2])
            flipped[j] ^= 0x01
            changes.append((f"signature byte {j}", [[*first[:2], bytes(flipped)], *sigs[1:]]))
        changes += [("signatures reversed", sigs[::-1]), ("a signature repeated", [*sigs, first]),
                    ("a signature dropped", sigs[1:]),
                    ("a signer's time +1", [[first[0], first[1] + 1, first[2]], *sigs[1:]])]  # fmt: skip
        for name, new in changes:
            yield Case(f"{where} {i} {name}", lambda w=with_sigs, x=new: w(x), now)


def has_skipping_link(doc: dict[str, Any]) -> bool:
    """Whether a link of the bundle carries its header's own set (the clock matters)."""
    return any(link[0][2] for link in unpack(bytes.fromhex(doc["raw"]))[1])


def clock_mutations(doc: dict[str, Any], genesis_time: int) -> Iterator[Case]:
    """The clock at, just before and just after every trusting-period and clock-drift edge
    of the bundle's headers (they matter to skipping links)."""
    tree = unpack(bytes.fromhex(doc["raw"]))
    times = {genesis_time}
    for link in tree[1]:
        times.add(unpack(link[0][0])[3])
    for t in sorted(times):
        for edge, name in ((t + TRUSTING_PERIOD_MS, "trusting period"), (t - MAX_CLOCK_DRIFT_MS, "clock drift")):  # fmt: skip
            for d in (-1, 0, 1):
                yield Case(f"now = {name} edge of {t} {d:+d}", dumps(doc), edge + d)


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal JSON values of the same types (an int never equals a float or a bool)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(strictly_equal, a, b))
    return bool(a == b)


def readable_part(doc: Any) -> Any:
    return {k: v for k, v in doc.items() if k != "raw"} if isinstance(doc, dict) else doc
