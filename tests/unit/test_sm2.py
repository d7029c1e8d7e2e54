"""SM3 and SM2 against the standards' published vectors, and the SM2 suite's refusals.

Vectors: GB/T 32905-2016 Appendix A (SM3 of "abc" and of "abcd" x 16); GB/T 32918.5-2017
Appendix A / GM/T 0003.5-2012 A.2 (SM2 signature on the recommended curve: message
"message digest", user id "1234567812345678", fixed k). Tongsuo offers no way to fix k, so
the fixed-k signature is checked with the pure-Python `gmssl` package (an independent
implementation), and the two implementations verify each other's random signatures.
"""

from __future__ import annotations

import threading

import pytest
from gmssl import sm2 as pysm2  # type: ignore[import-untyped]

from tianfu.codec import SHA256, SM3, current_hash, hash_domain, hash_scope
from tianfu.crypto import (
    ED25519,
    SM2,
    SM2_SUITE,
    STANDARD,
    CryptoError,
    KeyPair,
    current_suite,
    generate_keypair,
    load_private_key_pem,
    verify,
)
from tianfu.crypto import sm2 as sm2mod
from tianfu.crypto.suite import get_suite

# GB/T 32905-2016 Appendix A
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GB/T 32918.5-2017 Appendix A (GM/T 0003.5-2012 A.2): the recommended curve
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
XA = bytes.fromhex("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020")
YA = bytes.fromhex("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
MESSAGE = b"message digest"
USER_ID = b"1234567812345678"
Z_A = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
E = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
K = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
R = "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
S = "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"


def _u256(v: int) -> bytes:
    return v.to_bytes(32, "big")


def test_sm3_vectors() -> None:
    assert SM3.hash(b"abc").hex() == SM3_ABC
    assert SM3.hash(b"abcd" * 16).hex() == SM3_ABCD16
    h = SM3.new(b"ab")
    h.update(b"c")
    assert h.digest().hex() == SM3_ABC


def test_sm3_without_openssl_sm3_uses_tongsuo() -> None:
    from tianfu.codec import _tongsuo_sm3

    assert _tongsuo_sm3(b"abc").digest().hex() == SM3_ABC
    h = _tongsuo_sm3(b"abcd" * 8)
    h.copy().update(b"zz")  # a copy does not change the original
    h.update(b"abcd" * 8)
    assert h.digest().hex() == SM3_ABCD16


def test_hash_domain_is_sm3_in_an_sm3_scope() -> None:
    tag, part = "tianfu/tx/v1", b"body bytes"
    raw = bytes([len(tag)]) + tag.encode() + len(part).to_bytes(8, "big") + part
    assert hash_domain(tag, part) == SHA256.hash(raw)
    with hash_scope(SM3):
        assert current_hash() is SM3
        assert hash_domain(tag, part) == SM3.hash(raw)
        big = b"x" * (20 << 10)  # the streaming path
        raw_big = bytes([len(tag)]) + tag.encode() + len(big).to_bytes(8, "big") + big
        assert hash_domain(tag, big) == SM3.hash(raw_big)
    assert hash_domain(tag, part) == SHA256.hash(raw)


def test_a_scope_holds_for_its_own_thread_only() -> None:
    seen: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        inside.wait(10)
        seen.append(current_hash().name)
        seen.append(current_suite().name)
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with SM2_SUITE.use():
        assert current_suite() is SM2_SUITE and current_hash() is SM3
        inside.set()
        assert release.wait(10)
    t.join(10)
    assert seen == ["sha256", "standard"]


def test_z_a_and_e_of_the_standard_example() -> None:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) per GM/T 0009 / GB/T 32918.2."""
    entl = (len(USER_ID) * 8).to_bytes(2, "big")
    z_a = SM3.hash(entl + USER_ID + _u256(A) + _u256(B) + _u256(GX) + _u256(GY) + XA + YA)
    assert z_a.hex() == Z_A
    assert SM3.hash(z_a + MESSAGE).hex() == E


def test_key_encoding_of_the_standard_example() -> None:
    pub = KeyPair.from_private(sm2mod.private_key_from_int(D)).public_key
    # y is odd: compressed form 03 || x (GB/T 32918.1 4.2.9)
    assert pub == b"\x03" + XA
    assert sm2mod.expand_public_key(pub) == b"\x04" + XA + YA
    assert sm2mod.compress_public_key(b"\x04" + XA + YA) == pub
    kp = load_private_key_pem(KeyPair.from_private(sm2mod.private_key_from_int(D)).private_pem())
    assert kp.scheme == SM2 and kp.public_key == pub
    with pytest.raises(CryptoError):
        sm2mod.compress_public_key(b"\x04" + XA + bytes(32))  # not on the curve
    with pytest.raises(CryptoError):
        sm2mod.private_key_from_int(0)


def test_the_standard_signature_verifies() -> None:
    suite = get_suite(SM2)
    pub = b"\x03" + XA
    sig = bytes.fromhex(R + S)
    assert suite.verify(pub, MESSAGE, sig)
    assert not suite.verify(pub, b"message digesT", sig)
    assert not suite.verify(pub, MESSAGE, sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not suite.verify(b"\x02" + XA, MESSAGE, sig)  # the other point with that x


def test_fixed_k_signature_with_the_independent_implementation() -> None:
    """Tongsuo cannot fix k; gmssl can: its signature with the standard's k is the
    standard's, and it and Tongsuo verify each other's signatures."""
    py = pysm2.CryptSM2(private_key=f"{D:064x}", public_key=(XA + YA).hex())
    assert py.sign_with_sm3(MESSAGE, K) == R + S
    ours = KeyPair.from_private(sm2mod.private_key_from_int(D))
    for msg in (MESSAGE, b"", bytes(range(256)), b"\x00" * 32):
        sig = ours.sign(msg)
        assert len(sig) == 64
        assert py.verify_with_sm3(sig.hex(), msg)
        theirs = bytes.fromhex(py.sign_with_sm3(msg))
        assert get_suite(SM2).verify(ours.public_key, msg, theirs)


def test_signatures_out_of_range_or_malformed_are_refused() -> None:
    suite = get_suite(SM2)
    kp = generate_keypair(SM2)
    msg = b"m" * 32
    sig = kp.sign(msg)
    assert suite.verify(kp.public_key, msg, sig)
    n = sm2mod.N.to_bytes(32, "big")
    for bad in (
        bytes(32) + sig[32:],  # r = 0
        sig[:32] + bytes(32),  # s = 0
        n + sig[32:],  # r = n
        sig[:32] + n,  # s = n
        sig + b"\x00",
        sig[:63],
        b"",
    ):
        assert not suite.verify(kp.public_key, msg, bad)
    for bad_key in (kp.public_key[:-1], b"\x05" + kp.public_key[1:], b"\x02" + b"\xff" * 32):
        assert not suite.verify(bad_key, msg, sig)


def test_the_chain_suite_decides_which_schemes_verify() -> None:
    sm2_key, ed_key = generate_keypair(SM2), generate_keypair(ED25519)
    msg = b"h" * 32
    sm2_sig, ed_sig = sm2_key.sign(msg), ed_key.sign(msg)
    assert current_suite() is STANDARD
    assert verify(ED25519, ed_key.public_key, msg, ed_sig)
    assert not verify(SM2, sm2_key.public_key, msg, sm2_sig)  # refused on a standard chain
    with SM2_SUITE.use():
        assert verify(SM2, sm2_key.public_key, msg, sm2_sig)
        assert not verify(ED25519, ed_key.public_key, msg, ed_sig)
        why = current_suite().refusal(ED25519)
        assert why is not None and "ed25519" in why and "sm2" in why
    assert STANDARD.refusal(SM2) is not None and STANDARD.refusal(ED25519) is None


def test_sm2_public_keys_of_every_size_are_refused_by_other_schemes() -> None:
    kp = generate_keypair(SM2)
    assert not get_suite(ED25519).verify(kp.public_key, b"x", kp.sign(b"x"))


def test_a_private_key_of_n_minus_1_is_refused_where_it_is_read() -> None:
    """An SM2 private key is in [1, n - 2] (GB/T 32918.1 6.1: 1 + d must be invertible).
    Tongsuo reads d = n - 1 from a PKCS#8 file without complaint and then never returns
    from signing with it (it retries for an s forever): a node with such a key file hung
    at its first vote instead of refusing the key at start with a clear error."""
    from tongsuopy.crypto import serialization as tser
    from tongsuopy.crypto.asymciphers import ec as tec

    key = tec.derive_private_key(sm2mod.N - 1, tec.SM2())
    pem = key.private_bytes(tser.Encoding.PEM, tser.PrivateFormat.PKCS8, tser.NoEncryption())
    with pytest.raises(CryptoError, match=r"\[1, n - 2\]"):
        load_private_key_pem(pem)
    with pytest.raises(CryptoError, match=r"\[1, n - 2\]"):
        KeyPair.from_private(key)
    with pytest.raises(CryptoError, match=r"\[1, n - 2\]"):
        sm2mod.load_private_pem(pem)
    # n - 2, the largest valid key, is read and signs.
    top = load_private_key_pem(
        KeyPair.from_private(sm2mod.private_key_from_int(sm2mod.N - 2)).private_pem()
    )
    assert get_suite(SM2).verify(top.public_key, b"m" * 32, top.sign(b"m" * 32))


def test_a_key_file_whose_public_key_is_not_its_private_keys_is_refused() -> None:
    """A PKCS#8 or SEC1 file carries the public key beside d. Tongsuo took the one written
    in the file without checking it is [d]G, and the key pair then claimed that key while
    signing with d: every signature failed under the key the node announced (a validator
    silently signing nothing valid; an identity whose certificate matched the written key
    passed its check). `cryptography` refuses such a P-256 file; SM2 now too."""
    import base64

    from tongsuopy.crypto import serialization as tser

    mine, other = generate_keypair(SM2), generate_keypair(SM2)
    mine_point = sm2mod.expand_public_key(mine.public_key)
    other_point = sm2mod.expand_public_key(other.public_key)
    for fmt, label in (
        (tser.PrivateFormat.PKCS8, b"PRIVATE KEY"),
        (tser.PrivateFormat.TraditionalOpenSSL, b"EC PRIVATE KEY"),
    ):
        der = mine.private.private_bytes(tser.Encoding.DER, fmt, tser.NoEncryption())
        assert der.count(mine_point) == 1
        swapped = der.replace(mine_point, other_point)
        pem = b"-----BEGIN %s-----\n%s-----END %s-----\n" % (
            label,
            base64.encodebytes(swapped),
            label,
        )
        with pytest.raises(CryptoError, match="public key"):
            load_private_key_pem(pem)
        # The file as written (its own public key) is read, and signs for that key.
        good = b"-----BEGIN %s-----\n%s-----END %s-----\n" % (
            label,
            base64.encodebytes(der),
            label,
        )
        kp = load_private_key_pem(good)
        assert kp.public_key == mine.public_key
        assert get_suite(SM2).verify(kp.public_key, b"m" * 32, kp.sign(b"m" * 32))


def test_a_key_file_with_d_out_of_range_is_refused() -> None:
    """SEC1 files holding d = 0, n, n + 1 or 2^256 - 1 (their public key written as G's):
    Tongsuo read them all; each is refused as a key outside [1, n - 2]."""
    import base64

    from tongsuopy.crypto import serialization as tser

    der = sm2mod.private_key_from_int(1).private_bytes(
        tser.Encoding.DER, tser.PrivateFormat.TraditionalOpenSSL, tser.NoEncryption()
    )
    one = (1).to_bytes(32, "big")
    assert der.count(one) == 1
    for d in (0, sm2mod.N, sm2mod.N + 1, 2**256 - 1):
        body = base64.encodebytes(der.replace(one, d.to_bytes(32, "big")))
        pem = b"-----BEGIN EC PRIVATE KEY-----\n" + body + b"-----END EC PRIVATE KEY-----\n"
        with pytest.raises(CryptoError, match=r"\[1, n - 2\]"):
            load_private_key_pem(pem)
