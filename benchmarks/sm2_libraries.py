"""Compare SM2/SM3 libraries from PyPI: the standards' vectors and sign/verify speed, one run.

Not part of the project's dependencies: run it in a scratch virtualenv that has the
candidates (ADR 0022 records one run):

    python3 -m venv /tmp/smeval && /tmp/smeval/bin/pip install pynacl cryptography \
        tongsuopy gmalglib gmssl-pyx gmssl-fast gmssl gmalg
    /tmp/smeval/bin/python benchmarks/sm2_libraries.py [NAME ...]

Names: ed25519 (for scale), tongsuopy, gmssl_pyx, gmalglib, gmssl_fast, gmssl, gmalg, and
smcryptopy (not in the default list: a raw signature makes its Rust code panic and abort
the process). Vectors: GB/T 32905 SM3 ("abc", "abcd" x 16); GB/T 32918.5-2017 A / GM/T
0003.5 A.2 (d, user id "1234567812345678", "message digest", fixed k where the library
allows it). Speeds: sign and verify of a 32-byte message (the chain signs hashes).
"""

import hashlib
import sys
import time

D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
PX = bytes.fromhex("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020")
PY = bytes.fromhex("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
K = bytes.fromhex("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21")
R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
ZA = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
M = b"message digest"
UID = b"1234567812345678"
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_64 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
MSG = hashlib.sha256(b"x").digest()  # a 32-byte message, as the chain signs


def der(r, s):
    def i(b):
        b = b.lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        return b"\x02" + bytes([len(b)]) + b

    body = i(r) + i(s)
    return b"\x30" + bytes([len(body)]) + body


def undert(sig):
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(sig)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def rate(f, secs=1.5):
    n = 0
    t0 = time.perf_counter()
    t = t0
    while t - t0 < secs:
        for _ in range(20):
            f()
        n += 20
        t = time.perf_counter()
    return n / (t - t0)


results = {}


def report(name, sm3ok, vec_verify, vec_sign_k, rt, s_rate, v_rate, note=""):
    results[name] = (sm3ok, vec_verify, vec_sign_k, rt, s_rate, v_rate, note)
    print(
        f"{name:14s} sm3={sm3ok} vec_verify={vec_verify} fixed_k_sign={vec_sign_k} roundtrip={rt} sign/s={s_rate:,.0f} verify/s={v_rate:,.0f} {note}",
        flush=True,
    )


which = sys.argv[1:] or [
    "ed25519",
    "tongsuopy",
    "gmssl_pyx",
    "gmalglib",
    "gmssl_fast",
    "gmssl",
    "gmalg",
]


def measure(name: str) -> None:
    try:
        if name == "ed25519":
            import nacl.bindings as nb

            pk, sk = nb.crypto_sign_keypair()
            sig = nb.crypto_sign(MSG, sk)[:64]
            report(
                name,
                "-",
                "-",
                "-",
                True,
                rate(lambda: nb.crypto_sign(MSG, sk)),
                rate(lambda: nb.crypto_sign_open(sig + MSG, pk)),
            )
        elif name == "tongsuopy":
            from tongsuopy.crypto import hashes
            from tongsuopy.crypto.asymciphers import ec
            from tongsuopy.crypto.exceptions import InvalidSignature

            h = hashes.Hash(hashes.SM3())
            h.update(b"abc")
            a = h.finalize().hex()
            h = hashes.Hash(hashes.SM3())
            h.update(b"abcd" * 16)
            b64 = h.finalize().hex()
            priv = ec.derive_private_key(int.from_bytes(D, "big"), ec.SM2())
            pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), b"\x04" + PX + PY)
            from tongsuopy.crypto import serialization

            pkok = (
                priv.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
                == b"\x04" + PX + PY
            )
            try:
                pub.verify(der(R, S), M, ec.ECDSA(hashes.SM3()))
                vv = True
            except InvalidSignature:
                vv = False
            sig = priv.sign(MSG, ec.ECDSA(hashes.SM3()))

            def ver():
                pub2.verify(sig, MSG, ec.ECDSA(hashes.SM3()))

            pub2 = priv.public_key()
            ver()
            rt = True
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                vv,
                "n/a",
                rt and pkok,
                rate(lambda: priv.sign(MSG, ec.ECDSA(hashes.SM3()))),
                rate(ver),
            )
        elif name == "gmssl_pyx":
            import gmssl_pyx as g

            a = g.sm3_hash(b"abc").hex()
            b64 = g.sm3_hash(b"abcd" * 16).hex()
            vv = g.sm2_verify(PX + PY, M, der(R, S), UID)
            sig = g.sm2_sign(D, PX + PY, MSG, UID)
            rt = g.sm2_verify(PX + PY, MSG, sig, UID)
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                vv,
                "n/a",
                rt,
                rate(lambda: g.sm2_sign(D, PX + PY, MSG, UID)),
                rate(lambda: g.sm2_verify(PX + PY, MSG, sig, UID)),
            )
        elif name == "gmalglib":
            from gmalglib.sm2 import SM2
            from gmalglib.sm3 import SM3

            a = SM3(b"abc").digest().hex()
            b64 = SM3(b"abcd" * 16).digest().hex()
            s = SM2(D, uid=UID, rnd_fn=lambda n: K[::-1])  # gmalglib takes k little-endian
            pkok = SM2.get_pk(D) in (b"\x04" + PX + PY, PX + PY)
            signed = s.sign(M)
            v = SM2(pk=b"\x04" + PX + PY, uid=UID)
            vv = v.verify(M, R + S)
            s2 = SM2(D, uid=UID)
            sig = s2.sign(MSG)
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                vv,
                signed == R + S,
                v.verify(MSG, sig) and pkok,
                rate(lambda: s2.sign(MSG)),
                rate(lambda: v.verify(MSG, sig)),
                f"entity={s.get_entity_info().hex()[:8]}",
            )
        elif name == "smcryptopy":
            from smcryptopy import sm2, sm3

            a = sm3.sm3_hash(b"abc")
            b64 = sm3.sm3_hash(b"abcd" * 16)
            pkhex = "04" + (PX + PY).hex()
            vv = sm2.verify(UID, M, R + S, pkhex) if True else None
            sig = sm2.sign(UID, MSG, D.hex())
            rt = sm2.verify(UID, MSG, sig, pkhex)
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                bool(vv),
                "n/a",
                bool(rt),
                rate(lambda: sm2.sign(UID, MSG, D.hex())),
                rate(lambda: sm2.verify(UID, MSG, sig, pkhex)),
                f"siglen={len(sig)}",
            )
        elif name == "gmssl_fast":
            import gmssl_fast as g

            a = g.sm3(b"abc").hex()
            b64 = g.sm3(b"abcd" * 16).hex()
            signer = g.SM2(private_key=D.hex(), public_key="04" + (PX + PY).hex())
            ver = g.SM2(public_key="04" + (PX + PY).hex())
            vv = ver.verify(M, R + S)
            sig = signer.sign(MSG)
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                vv,
                "n/a",
                ver.verify(MSG, sig),
                rate(lambda: signer.sign(MSG)),
                rate(lambda: ver.verify(MSG, sig)),
            )
        elif name == "gmssl":
            from gmssl import func, sm2, sm3

            a = sm3.sm3_hash(func.bytes_to_list(b"abc"))
            b64 = sm3.sm3_hash(func.bytes_to_list(b"abcd" * 16))
            c = sm2.CryptSM2(private_key=D.hex(), public_key=(PX + PY).hex())
            vv = c.verify_with_sm3((R + S).hex(), M)
            sg = c.sign_with_sm3(M, K.hex())
            sig = c.sign_with_sm3(MSG)
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                vv,
                sg == (R + S).hex(),
                c.verify_with_sm3(sig, MSG),
                rate(lambda: c.sign_with_sm3(MSG), 3),
                rate(lambda: c.verify_with_sm3(sig, MSG), 3),
            )
        elif name == "gmalg":
            import gmalg

            a = gmalg.SM3()
            a.update(b"abc")
            a = a.value().hex()
            b = gmalg.SM3()
            b.update(b"abcd" * 16)
            b64 = b.value().hex()
            s = gmalg.SM2(D, UID, b"\x04" + PX + PY)
            vv = s.verify(M, R, S)
            r_, s_ = s.sign(MSG)
            report(
                name,
                a == SM3_ABC and b64 == SM3_64,
                vv,
                "n/a",
                s.verify(MSG, r_, s_),
                rate(lambda: s.sign(MSG), 3),
                rate(lambda: s.verify(MSG, r_, s_), 3),
            )
    except Exception as exc:
        import traceback

        traceback.print_exc()
        print(name, "FAILED", repr(exc))


for name in which:
    measure(name)
