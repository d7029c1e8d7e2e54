"""The SM2 signature example of GB/T 32918.2-2016 Appendix A (GM/T 0003.2-2012 A.2): the
256-bit test curve over F_p, user id "ALICE123@YAHOO.COM", message "message digest".

Tongsuo (the node's SM2) knows only the recommended curve, whose example
`tests/unit/test_sm2.py` checks; this one checks what does not depend on the curve: the
chain's SM3 (both of its implementations) on Z_A's 212-byte input and on Z_A || M, the Z_A
formula of docs/spec/crypto.md with an id of another length (ENTL = 0x0090, 144 bits), and
the verification steps crypto.md states (§7: ranges, t = (r + s) mod n, (x1, y1) =
[s]G + [t]P_A, R = (e + x1) mod n), written here from the spec alone.
"""

from __future__ import annotations

import hashlib

import pytest

from tianfu.codec import SM3, _tongsuo_sm3

# GB/T 32918.2-2016 Appendix A.2 (the test curve of GB/T 32918.5's predecessor examples)
P = 0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3
A = 0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498
B = 0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A
GX = 0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D
GY = 0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2
N = 0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7
D = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
XA = 0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A
YA = 0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857
USER_ID = b"ALICE123@YAHOO.COM"
MESSAGE = b"message digest"
Z_A = "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a"
E = "b524f552cd82b8b028476e005c377fb19a87e6fc682d48bb5d42e3d9b9effe76"
K = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
R = 0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1
S = 0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7

Point = tuple[int, int] | None
G: Point = (GX, GY)
PUBLIC: Point = (XA, YA)


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


def _u256(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _z_input(user_id: bytes, public: tuple[int, int]) -> bytes:
    """crypto.md: ENTL (the id's length in bits, 2 bytes big-endian) || ID || a || b ||
    x_G || y_G || x_A || y_A."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return entl + user_id + b"".join(_u256(v) for v in (A, B, GX, GY, *public))


def _verify(public: tuple[int, int], message: bytes, r: int, s: int) -> bool:
    """crypto.md's SM2 verification, on the example's curve and with its user id."""
    if not (1 <= r < N and 1 <= s < N):
        return False
    e = int.from_bytes(SM3.hash(SM3.hash(_z_input(USER_ID, public)) + message), "big")
    t = (r + s) % N
    if t == 0:
        return False
    point = _add(_mul(s, G), _mul(t, public))
    if point is None:
        return False
    return (e + point[0]) % N == r


def test_the_example_curve_and_key() -> None:
    assert (GY * GY - (GX**3 + A * GX + B)) % P == 0
    assert _mul(N, G) is None
    assert _mul(D, G) == PUBLIC


@pytest.mark.parametrize(
    "sm3",
    [
        pytest.param(lambda data: SM3.hash(data), id="chain-sm3"),
        pytest.param(lambda data: _tongsuo_sm3(data).digest(), id="tongsuo-sm3"),
        pytest.param(
            lambda data: hashlib.new("sm3", data).digest(),
            id="hashlib-sm3",
            marks=pytest.mark.skipif(
                "sm3" not in hashlib.algorithms_available, reason="OpenSSL without SM3"
            ),
        ),
    ],
)
def test_z_a_and_e_of_the_example_with_an_id_of_144_bits(sm3) -> None:  # type: ignore[no-untyped-def]
    data = _z_input(USER_ID, (XA, YA))
    assert data[:2] == b"\x00\x90" and len(data) == 2 + 18 + 6 * 32
    z_a = sm3(data)
    assert z_a.hex() == Z_A
    assert sm3(z_a + MESSAGE).hex() == E


def test_the_examples_signature_by_the_spec_steps() -> None:
    e = int.from_bytes(bytes.fromhex(E), "big")
    kg = _mul(K, G)
    assert kg is not None
    r = (e + kg[0]) % N
    s = pow(1 + D, -1, N) * (K - r * D) % N
    assert (r, s) == (R, S)  # signing with the standard's k gives the standard's signature
    assert _verify(PUBLIC, MESSAGE, R, S)
    assert not _verify(PUBLIC, MESSAGE + b".", R, S)
    assert not _verify(PUBLIC, MESSAGE, R, N - S)  # (r, n - s): not another valid form
    assert not _verify(PUBLIC, MESSAGE, N - R, S)
    assert not _verify(PUBLIC, MESSAGE, R + N, S)
    assert not _verify((XA, P - YA), MESSAGE, R, S)  # the other point with x_A
