"""SM2 signatures (scheme 3, docs/spec/crypto.md) before the three verifiers: the SDK's and
the node's (`tianfu.crypto.verify`, Tongsuo), the spec verifier's (`specwire.verify_sig`)
and the web console's (`chain.js` under Node, noble-curves points and sm-crypto-v2's Z).

Every case is a signature a validator's key holder (or anyone) can make: the standard's
published signature (GB/T 32918.5-2017 Appendix A, with its key compressed), honest
signatures, and the malformed and malicious ones the spec refuses — r or s out of range,
(r, n − s), r + s = n (t = 0), a key that is no point of the curve, and the one whose
[s]G + [t]P_A is the point at infinity (r = e, s = −r·d/(1 + d)), which the console took
(sm-crypto-v2 reads the point at infinity's x as 0) and the other two refuse. All three
MUST give the same verdict on each.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import verifiers_agree_lib as lib

from tianfu.crypto import SM2, SM2_SUITE, generate_keypair, verify
from tianfu.crypto.sm2 import N

SIGNATURE_RUNNER = Path(__file__).resolve().parents[1] / "js" / "signature_runner.mjs"
Point = tuple[int, int] | None

# GB/T 32918.5-2017 Appendix A / GM/T 0003.5-2012 A.2 (as tests/unit/test_sm2.py): the
# recommended curve, the signer's key d and public key, the message and its signature.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
XA = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
YA = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
MESSAGE = b"message digest"
R = "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
S = "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + A) * pow(2 * p[1], -1, P) % P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, P) % P
    x = (slope * slope - p[0] - q[0]) % P
    return x, (slope * (p[0] - x) - p[1]) % P


def _mul(k: int, p: Point) -> Point:
    out: Point = None
    while k:
        if k & 1:
            out = _add(out, p)
        p = _add(p, p)
        k >>= 1
    return out


def _compress(p: Point) -> bytes:
    assert p is not None
    return bytes([2 + (p[1] & 1)]) + p[0].to_bytes(32, "big")


def _e(public: tuple[int, int], message: bytes) -> int:
    """SM3(Z_A || m) with the standard user id, read big-endian (crypto.md)."""
    uid = b"1234567812345678"
    fields = (A, B, GX, GY, *public)
    z = hashlib.new("sm3", b"\x00\x80" + uid + b"".join(v.to_bytes(32, "big") for v in fields))
    return int.from_bytes(hashlib.new("sm3", z.digest() + message).digest(), "big")


def _sig(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def cases() -> list[tuple[str, bytes, bytes, bytes, bool]]:
    """(name, compressed public key, message, signature, valid)."""
    g = (GX, GY)
    standard = (XA, YA)
    assert _mul(D, g) == standard
    d = 0x1234567890ABCDEF1234567890ABCDEF
    pub = _mul(d, g)
    assert pub is not None
    key = _compress(pub)
    msg = bytes(range(32))
    e = _e(pub, msg)
    k = 0x77777777
    kg = _mul(k, g)
    assert kg is not None
    r = (e + kg[0]) % N
    s = pow(1 + d, -1, N) * (k - r * d) % N
    r_inf = e % N
    s_inf = -r_inf * d * pow(1 + d, -1, N) % N
    assert _add(_mul(s_inf, g), _mul((r_inf + s_inf) % N, pub)) is None
    x_off = next(x for x in range(1, 100) if pow((x**3 + A * x + B) % P, (P - 1) // 2, P) != 1)
    tianfu = generate_keypair(SM2)
    return [
        ("GB/T 32918.5 A.2", _compress(standard), MESSAGE, bytes.fromhex(R + S), True),
        ("an honest signature", key, msg, _sig(r, s), True),
        ("tianfu's signature", tianfu.public_key, msg, tianfu.sign(msg), True),
        ("[s]G + [t]P_A at infinity", key, msg, _sig(r_inf, s_inf), False),
        ("(r, n - s)", key, msg, _sig(r, N - s), False),
        ("(n - r, s)", key, msg, _sig(N - r, s), False),
        ("r = 0", key, msg, _sig(0, s), False),
        ("s = 0", key, msg, _sig(r, 0), False),
        ("r = n", key, msg, _sig(N, s), False),
        ("s = n", key, msg, _sig(r, N), False),
        ("r + s = n", key, msg, _sig(r, N - r), False),
        ("r = n + 1", key, msg, _sig(N + 1, s), False),
        ("a key off the curve", bytes([2]) + x_off.to_bytes(32, "big"), msg, _sig(r, s), False),
        ("a key with x = p", bytes([2]) + P.to_bytes(32, "big"), msg, _sig(r, s), False),
        ("the other y", bytes([key[0] ^ 1]) + key[1:], msg, _sig(r, s), False),
        ("a 33-byte uncompressed prefix", b"\x04" + key[1:], msg, _sig(r, s), False),
        ("the point at infinity", bytes(33), msg, _sig(r, s), False),
        ("another message", key, bytes(32), _sig(r, s), False),
    ]


def test_every_verifier_gives_the_spec_verdict_on_sm2_signatures() -> None:
    all_cases = cases()
    expected = [ok for *_, ok in all_cases]
    names = [name for name, *_ in all_cases]
    with SM2_SUITE.use():
        sdk = [verify(SM2, key, m, sig) for _, key, m, sig, _ in all_cases]
    spec = [lib.specwire.verify_sig("sm2", SM2, key, m, sig) for _, key, m, sig, _ in all_cases]
    assert sdk == expected, [n for n, a, b in zip(names, sdk, expected, strict=True) if a != b]
    assert spec == expected, [n for n, a, b in zip(names, spec, expected, strict=True) if a != b]
    if lib.NODE is None:
        pytest.skip("Node.js runs the console's verifier")
    payload = [{"suite": "sm2", "scheme": SM2, "public_key": key.hex(), "message": m.hex(),
                "signature": sig.hex()} for _, key, m, sig, _ in all_cases]  # fmt: skip
    out = subprocess.run([lib.NODE, str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    console = json.loads(out.stdout)
    assert console == expected, [
        n for n, a, b in zip(names, console, expected, strict=True) if a != b
    ]


VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors" / "crypto.json"


def test_the_console_gives_every_signature_vectors_verdict() -> None:
    """docs/spec/vectors/crypto.json's signatures (every scheme, both suites; the SDK's and
    the spec verifier's tests check them too) give the console's verifier their verdict."""
    if lib.NODE is None:
        pytest.skip("Node.js runs the console's verifier")
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))["signatures"]
    assert any("infinity" in c["name"] for c in vectors)
    payload = [{k: c[k] for k in ("suite", "scheme", "public_key", "message", "signature")}
               for c in vectors]  # fmt: skip
    out = subprocess.run([lib.NODE, str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    console = json.loads(out.stdout)
    assert [c["name"] for c, v in zip(vectors, console, strict=True) if v is not c["valid"]] == []
