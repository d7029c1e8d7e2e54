"""Make the test vectors of the format specification (docs/spec) with the project's code.

    python docs/spec/vectors/generate.py           # (re)write the JSON files beside this script
    python docs/spec/vectors/generate.py --check   # exit 1 if a committed file differs

The output is deterministic (fixed keys, times and deterministic signatures: `chain.py`),
so `tests/unit/test_spec_vectors.py` checks that the committed files are exactly what this
script makes, and that the project reproduces, accepts and rejects every case.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from chain import T0, Signer, SpecChain, signed_tx  # noqa: E402
from forgedvectors import forged_documents, forged_documents_eighth  # noqa: E402
from genesis2vectors import genesis2_vectors  # noqa: E402
from membershipvectors import (  # noqa: E402
    forged_documents_membership,
    forged_documents_membership_empty,
)
from openvectors import open_vectors  # noqa: E402

import tianfu.apps.evidence.certificate  # noqa: E402,F401  (registers the evidence kind)
import tianfu.apps.traceability.proof  # noqa: E402,F401  (registers the traceability kind)
from tianfu.codec import HASH_SUITES, decode, encode, hash_domain  # noqa: E402
from tianfu.crypto import (  # noqa: E402
    ECDSA_P256,
    ED25519,
    SM2,
    ChainSuite,
    chain_suite,
    verify,
)
from tianfu.crypto.merkle import merkle_proof, merkle_root  # noqa: E402
from tianfu.execution.contract_api import address_of, state_key  # noqa: E402
from tianfu.proofs.build import SKIPPING, ProofBuilder  # noqa: E402
from tianfu.proofs.documents import make_document, merge_single_blocks  # noqa: E402
from tianfu.proofs.formats import ProofBundle  # noqa: E402
from tianfu.proofs.valchain import TrustOptions  # noqa: E402
from tianfu.state.keys import committed_tx_key  # noqa: E402
from tianfu.types import (  # noqa: E402
    FAILED,
    OK,
    PRECOMMIT,
    BlockHeader,
    Event,
    Receipt,
    Transaction,
    TxBody,
    Validator,
    ValidatorSet,
    vote_signing_bytes,
)

SUITES = ("standard", "sm2")
NOW_MS = T0 + 3_600_000  # the verifier's clock for every document case (one hour later)
LATE_MS = T0 + 8 * 24 * 3_600_000  # beyond the default trusting period (7 days)


def hx(b: bytes) -> str:
    return bytes(b).hex()


# -- contract values in JSON: bytes as {"bin": hex}, maps as {"map": {...}} ------------------------
def tagged(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"bin": v.hex()}
    if isinstance(v, dict):
        return {"map": {k: tagged(x) for k, x in v.items()}}
    if isinstance(v, list):
        return [tagged(x) for x in v]
    return v


def nested(depth: int) -> Any:
    v: Any = []
    for _ in range(depth - 1):
        v = [v]
    return v


def around(depth: int, leaf: Any) -> Any:
    """`leaf` inside `depth` arrays (so at depth `depth`)."""
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def maps(n: int) -> Any:
    """`n` maps nested under the key "a" (the innermost empty, at depth n - 1)."""
    v: Any = {}
    for _ in range(n - 1):
        v = {"a": v}
    return v


def encoding_vectors() -> dict[str, Any]:
    values: list[tuple[str, Any]] = [
        ("nil", None), ("false", False), ("true", True),
        ("int 0", 0), ("int 127", 127), ("int 128", 128), ("int 255", 255), ("int 256", 256),
        ("int 65535", 65535), ("int 65536", 65536), ("int 2^32-1", (1 << 32) - 1),
        ("int 2^32", 1 << 32), ("int 2^64-1", (1 << 64) - 1), ("int -1", -1),
        ("int -32", -32), ("int -33", -33), ("int -128", -128), ("int -129", -129),
        ("int -32768", -32768), ("int -32769", -32769), ("int -2^31", -(1 << 31)),
        ("int -2^31-1", -(1 << 31) - 1), ("int -2^63", -(1 << 63)),
        ("empty text", ""), ("text of 31 bytes", "a" * 31), ("text of 32 bytes", "a" * 32),
        ("text, non-ASCII", "成都 é"), ("text of 256 bytes", "b" * 256),
        ("empty bytes", b""), ("bytes", b"\x00\x01\xff"), ("bytes of 256", bytes(range(256))),
        ("empty array", []), ("array of 15", [1] * 15), ("array of 16", [1] * 16),
        ("empty map", {}),
        ("map, keys sorted by UTF-8 bytes", {"b": 1, "a": 2, "é": 3, "Z": 4, "aa": 5, "成": 6}),
        ("map of 16", {f"k{i:02d}": i for i in range(16)}),
        ("nested", {"list": [None, True, -5, "x", b"\x07", {"inner": []}]}),
        ("33 nested arrays (the deepest allowed)", nested(33)),
        ("a text at depth 32 (the deepest allowed)", around(32, "x")),
        ("33 nested maps (the deepest allowed)", maps(33)),
        ("map keys differing only in Unicode normalisation", {"\u00e9": 1, "e\u0301": 2}),
    ]  # fmt: skip
    invalid = [
        ("5 as uint8", "cc05"), ("1 as uint16", "cd0001"), ("5 as int8", "d005"),
        ("-1 as int16", "d1ffff"), ("short text as str8", "d903616263"),
        ("short bytes as bin16", "c5000100"), ("short array as array16", "dc000101"),
        ("map keys unsorted", "82a16201a16102"), ("map key repeated", "82a16101a16102"),
        ("map key not text", "810102"), ("float64", "cb3ff8000000000000"),
        ("float32", "ca3fc00000"), ("extension type", "d40500"),
        ("timestamp extension", "d6ff00000000"), ("trailing byte", "0102"),
        ("truncated array", "92"), ("never-used byte c1", "c1"),
        ("invalid UTF-8", "a1ff"), ("-1 as int64", "d3ffffffffffffffff"),
        ("34 nested arrays", "91" * 33 + "90"),
        ("a text at depth 33", "91" * 33 + "a178"),
        ("34 nested maps", "81a161" * 33 + "80"),
    ]  # fmt: skip
    return {
        "description": "Contract values and their canonical encodings (encoding.md). Valid: "
        '`value` (bytes as {"bin": hex}, maps as {"map": {...}}) encodes to `encoding`, '
        "and decoding `encoding` strictly gives `value`. Invalid: `encoding` is not the "
        "canonical encoding of a contract value and MUST be rejected.",
        "valid": [{"name": n, "value": tagged(v), "encoding": hx(encode(v))} for n, v in values],
        "invalid": [{"name": n, "encoding": e} for n, e in invalid],
    }


def hashing_vectors() -> dict[str, Any]:
    cases = []
    samples = [
        ("tianfu/merkle/empty/v1", []),
        ("tianfu/state/empty/v1", []),
        ("tianfu/tx/v1", [b""]),
        ("tianfu/state/key/v1", [b"kv/alpha"]),
        ("tianfu/state/value/v1", [encode("one")]),
        ("tianfu/merkle/node/v1", [bytes(32), bytes([1]) * 32]),
        ("tianfu/address/v1", [bytes([1]), bytes(range(32))]),
        ("tianfu/test/v1", [b"a", b"", b"bc"]),
        ("tianfu/test/v1", [b"x" * 16500]),
    ]
    for suite in SUITES:
        h = HASH_SUITES[chain_suite(suite).hash.name]
        for tag, parts in samples:
            cases.append({"suite": suite, "tag": tag, "parts": [hx(p) for p in parts],
                          "hash": hx(_hash_with(h, tag, parts))})  # fmt: skip
    return {
        "description": "hash_domain(tag, *parts) with the hash of `suite` (encoding.md).",
        "cases": cases,
    }


def _hash_with(h: Any, tag: str, parts: list[bytes]) -> bytes:
    data = bytes([len(tag)]) + tag.encode()
    for p in parts:
        data += len(p).to_bytes(8, "big") + p
    out = h.hash(data)
    return bytes(out)


# -- crypto ----------------------------------------------------------------------------------------
def sm2_e(public_key: bytes, message: bytes) -> int:
    """SM2's e = SM3(Z_A || m) with the standard user id (crypto.md), read big-endian."""
    from tianfu.crypto.sm2 import expand_public_key

    sm3 = HASH_SUITES["sm3"].hash
    uid = b"1234567812345678"
    curve = bytes.fromhex(
        "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"  # a
        "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"  # b
        "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"  # x_G
        "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"  # y_G
    )
    z = sm3((len(uid) * 8).to_bytes(2, "big") + uid + curve + expand_public_key(public_key)[1:])
    return int.from_bytes(sm3(z + message), "big")


def crypto_vectors() -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    addresses = []
    msg = hash_domain("tianfu/test/v1", b"a message")
    ed = Signer.make("crypto/ed25519", ED25519)
    p256 = Signer.make("crypto/p256", ECDSA_P256)
    with chain_suite("sm2").use():
        sm = Signer.make("crypto/sm2", SM2)
        sm_sig = sm.sign(msg)
    with chain_suite("standard").use():
        ed_sig, p_sig = ed.sign(msg), p256.sign(msg)
    n_p256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    n_sm2 = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
    ell = 2**252 + 27742317777372353535851937790883648493

    def flip(b: bytes, i: int) -> bytes:
        out = bytearray(b)
        out[i] ^= 1
        return bytes(out)

    def case(name: str, suite: str, s: Signer, m: bytes, sig: bytes, key: bytes | None = None):
        with chain_suite(suite).use():
            valid = verify(s.scheme, key or s.public_key, m, sig)
        cases.append({"name": name, "suite": suite, "scheme": s.scheme,
                      "public_key": hx(key or s.public_key), "message": hx(m),
                      "signature": hx(sig), "valid": valid})  # fmt: skip

    for s, sig, suite in ((ed, ed_sig, "standard"), (p256, p_sig, "standard"), (sm, sm_sig, "sm2")):
        tag = {ED25519: "ed25519", ECDSA_P256: "ecdsa-p256", SM2: "sm2"}[s.scheme]
        case(f"{tag}: valid", suite, s, msg, sig)
        case(f"{tag}: a bit of the signature flipped", suite, s, msg, flip(sig, 5))
        case(f"{tag}: another message", suite, s, flip(msg, 0), sig)
        case(f"{tag}: signature one byte short", suite, s, msg, sig[:-1])
        case(f"{tag}: public key of another size", suite, s, msg, sig, s.public_key + b"\x00")
        other = "sm2" if suite == "standard" else "standard"
        case(f"{tag}: scheme not accepted by the {other} suite", other, s, msg, sig)
        addresses.append({"scheme": s.scheme, "public_key": hx(s.public_key),
                          "address": address_of(s.scheme, s.public_key)})  # fmt: skip
    r, s_ = int.from_bytes(p_sig[:32], "big"), int.from_bytes(p_sig[32:], "big")
    case("ecdsa-p256: high s (n - s)", "standard", p256, msg,
         p_sig[:32] + (n_p256 - s_).to_bytes(32, "big"))  # fmt: skip
    case("ecdsa-p256: r = 0", "standard", p256, msg, bytes(32) + p_sig[32:])
    case("ecdsa-p256: r = n", "standard", p256, msg, n_p256.to_bytes(32, "big") + p_sig[32:])
    del r
    big_s = (int.from_bytes(ed_sig[32:], "little") + ell).to_bytes(32, "little")
    case("ed25519: S + L (not reduced)", "standard", ed, msg, ed_sig[:32] + big_s)
    case("sm2: s = n", "sm2", sm, msg, sm_sig[:32] + n_sm2.to_bytes(32, "big"))
    case("sm2: r = 0", "sm2", sm, msg, bytes(32) + sm_sig[32:])
    # SM2 edges (crypto.md): (r, n - s) is no signature (SM2 has no such twin); r + s = n
    # makes t = 0; and the key's holder makes [s]G + [t]P_A the point at infinity with
    # r = e, s = -r·d/(1 + d), which a verifier reading that point's x as 0 would accept.
    r_sm, s_sm = int.from_bytes(sm_sig[:32], "big"), int.from_bytes(sm_sig[32:], "big")
    case("sm2: (r, n - s)", "sm2", sm, msg, sm_sig[:32] + (n_sm2 - s_sm).to_bytes(32, "big"))
    case("sm2: r + s = n", "sm2", sm, msg, sm_sig[:32] + (n_sm2 - r_sm).to_bytes(32, "big"))
    r_inf = sm2_e(sm.public_key, msg) % n_sm2
    s_inf = -r_inf * sm.secret * pow(1 + sm.secret, -1, n_sm2) % n_sm2
    case("sm2: [s]G + [t]P_A the point at infinity (r = e, s = -r·d/(1 + d))", "sm2", sm, msg,
         r_inf.to_bytes(32, "big") + s_inf.to_bytes(32, "big"))  # fmt: skip
    # Ed25519 edges (crypto.md): small-order and non-canonical keys and R; with S = 0 and
    # R the identity, cofactorless verification alone would accept the first two.
    p = 2**255 - 19
    identity, order2 = (1).to_bytes(32, "little"), (p - 1).to_bytes(32, "little")
    zero_s = bytes(32)
    case("ed25519: the identity as public key, R the identity, S = 0", "standard", ed, msg,
         identity + zero_s, identity)  # fmt: skip
    case("ed25519: a non-canonical encoding of the identity (y = p + 1) as public key", "standard",
         ed, msg, identity + zero_s, (p + 1).to_bytes(32, "little"))  # fmt: skip
    case("ed25519: a public key of order 2, R the identity, S = 0", "standard", ed, msg,
         identity + zero_s, order2)  # fmt: skip
    case("ed25519: R of small order (y = p - 1)", "standard", ed, msg, order2 + ed_sig[32:])
    # Compressed keys (crypto.md): x below the field prime, read as it is (not modulo p), a
    # point of the curve, prefix 02 or 03.
    for s, sig, suite, fp, a, b in (
        (p256, p_sig, "standard", 2**256 - 2**224 + 2**192 + 2**96 - 1, -3,
         0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B),
        (sm, sm_sig, "sm2", 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF, -3,
         0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93),
    ):  # fmt: skip
        tag = "ecdsa-p256" if s.scheme == ECDSA_P256 else "sm2"
        on = [x for x in range(1, 64) if pow((x**3 + a * x + b) % fp, (fp - 1) // 2, fp) == 1]
        off = [x for x in range(1, 64) if pow((x**3 + a * x + b) % fp, (fp - 1) // 2, fp) > 1]
        case(f"{tag}: public key 02 ‖ (x + p), x = {on[0]} the abscissa of a point", suite, s,
             msg, sig, b"\x02" + (on[0] + fp).to_bytes(32, "big"))  # fmt: skip
        case(f"{tag}: public key 02 ‖ x, x = {off[0]} the abscissa of no point", suite, s, msg,
             sig, b"\x02" + off[0].to_bytes(32, "big"))  # fmt: skip
        case(f"{tag}: public key with the prefix 04 (33 bytes)", suite, s, msg, sig,
             b"\x04" + s.public_key[1:])  # fmt: skip
    # crypto.md#addresses: no address for a scheme no suite accepts; 256 and 257 are what a
    # u8(scheme) taken modulo 256 would turn into 0 and 1 (the Ed25519 key's address).
    for scheme in (0, 4, 256, 257):
        addresses.append({"scheme": scheme, "public_key": hx(ed.public_key), "address": None})
    return {
        "description": "Signatures (crypto.md): `valid` says whether `signature` by "
        "`public_key` of `scheme` over `message` verifies on a chain of `suite`. Addresses: "
        "the address of each key (null: none, the scheme is no suite's).",
        "signatures": cases,
        "addresses": addresses,
    }


# -- transactions --------------------------------------------------------------------------------
def tx_fields(tx: Transaction) -> dict[str, Any]:
    b = tx.body
    return {"version": b.version, "chain_id": b.chain_id, "scheme": b.scheme,
            "signer": hx(b.signer), "nonce": b.nonce, "expiry": b.expiry,
            "contract": b.contract, "method": b.method, "args": tagged(b.args),
            "cert": hx(b.cert), "signature": hx(tx.signature)}  # fmt: skip


def transaction_vectors() -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    for suite, scheme in (("standard", ED25519), ("standard", ECDSA_P256), ("sm2", SM2)):
        with chain_suite(suite).use():
            s = Signer.make(f"tx/{scheme}", scheme)
            tx = signed_tx(
                s, "spec-chain", 7, "kv", "put", ["alpha", b"\x01\x02", 5, {"k": [True]}]
            )
            raw = encode(tx)
            cases.append({"name": f"{suite} suite, scheme {scheme}", "suite": suite, "valid": True,
                          "transaction": hx(raw), "fields": tx_fields(tx),
                          "body": hx(encode(tx.body)), "tx_id": hx(tx.hash),
                          "signature_valid": True})  # fmt: skip
            bad_sig = Transaction(tx.body, bytes(len(tx.signature)))
            cases.append({"name": f"{suite} suite, scheme {scheme}: a zero signature",
                          "suite": suite, "valid": True, "transaction": hx(encode(bad_sig)),
                          "fields": tx_fields(bad_sig), "body": hx(encode(tx.body)),
                          "tx_id": hx(tx.hash), "signature_valid": False})  # fmt: skip

    def body_with(**changes: Any) -> bytes:
        with chain_suite("standard").use():
            s = Signer.make(f"tx/{ED25519}", ED25519)
            tx = signed_tx(s, "spec-chain", 7, "kv", "put", ["alpha"])
        fields = msgspec.structs.asdict(tx.body)
        fields.update(changes)
        return encode([list(fields.values()), tx.signature])

    invalid = [
        ("version 2", body_with(version=2)),
        ("a float argument", body_with(args=[1.5])),
        ("a map argument with a non-text key", None),
        ("contract name with a capital", body_with(contract="Kv")),
        ("empty method", body_with(method="")),
        ("nonce above 2^63 - 1", body_with(nonce=1 << 63)),
        ("33 arguments", body_with(args=[0] * 33)),
        ("chain id of 65 characters", body_with(chain_id="c" * 65)),
        ("signature of 73 bytes", encode([msgspec.msgpack.decode(body_with())[0], bytes(73)])),
        (
            "body without its cert field",
            encode([msgspec.msgpack.decode(body_with())[0][:-1], bytes(64)]),
        ),  # fmt: skip
    ]
    good = body_with()
    for name, raw in invalid:
        if raw is None:  # {1: 2} as an argument: 81 01 02 in place of the argument's bytes
            raw = good.replace(encode(["alpha"]), bytes.fromhex("91810102"))
        cases.append({"name": name, "suite": "standard", "valid": False, "transaction": hx(raw)})
    cases.append({"name": "trailing byte", "suite": "standard", "valid": False,
                  "transaction": hx(good + b"\x00")})  # fmt: skip
    for name, r in (
        ("ok with events", Receipt(OK, 21, {"n": 1}, "", [Event("kv", "Put", {"key": "alpha"})])),
        ("failed", Receipt(FAILED, 3, None, "no such key", [])),
    ):
        receipts.append({"name": name, "valid": True, "receipt": hx(encode(r)),
                         "fields": {"status": r.status, "gas_used": r.gas_used,
                                    "result": tagged(r.result), "error": r.error,
                                    "events": [{"contract": e.contract, "name": e.name,
                                                "data": tagged(e.data)} for e in r.events]}})  # fmt: skip
    for name, raw in (
        ("status 2", encode([2, 1, None, "", []])),
        ("a float result", encode([0, 1, 1.5, "", []])),
        ("event data with a float", encode([0, 1, None, "", [["kv", "E", {"x": 0.5}]]])),
        ("four fields", encode([0, 1, None, ""])),
    ):
        receipts.append({"name": name, "valid": False, "receipt": hx(raw)})
    return {
        "description": "Transactions and receipts (transactions.md). A valid transaction "
        "decodes to `fields`; its id is `tx_id` (the hash of `body`); `signature_valid` says "
        "whether its signature verifies. An invalid one MUST be rejected when decoded.",
        "transactions": cases,
        "receipts": receipts,
    }


# -- the vector chains ------------------------------------------------------------------------------
def validator_records(vals: list[Validator]) -> list[Validator]:
    return list(vals)


def build_chain(suite: str) -> tuple[SpecChain, dict[str, Any]]:
    """The chain every block, merkle and document vector of `suite` is taken from: three
    validator-set changes (a validator of a new organisation added, a power changed, that
    validator removed), state versions with a deletion, evidence deposits and a traceable
    batch."""
    if suite == "standard":
        schemes = [ED25519, ED25519, ED25519, ECDSA_P256]
        user_scheme = ED25519
    else:
        schemes = [SM2] * 4
        user_scheme = SM2
    tag = suite
    signers = [Signer.make(f"{tag}/node{i + 1}", sc) for i, sc in enumerate(schemes)]
    chain = SpecChain(f"spec-{suite}", suite,
                      [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
    alice = Signer.make(f"{tag}/alice", user_scheme)
    node5 = Signer.make(f"{tag}/node5", schemes[0])
    chain.add_signer(node5)
    cid = chain.chain_id
    gvals = list(chain.genesis.validators)
    info: dict[str, Any] = {}
    nonce = iter(range(1, 1000))
    kv = state_key("kv", "alpha")

    def kv_tx(value: Any) -> tuple[Transaction, Receipt]:
        method = "delete" if value is None else "put"
        args = ["alpha"] if value is None else ["alpha", value]
        tx = signed_tx(alice, cid, next(nonce), "kv", method, args)
        return tx, Receipt(OK, 10, None, "", [Event("kv", method.capitalize(), {"key": "alpha"})])

    def deposit(did: str, data: bytes, height: int, time_ms: int) -> tuple[Any, dict[bytes, bytes]]:
        import hashlib

        fh = hashlib.sha256(data).hexdigest()
        tx = signed_tx(alice, cid, next(nonce), "evidence", "deposit",
                       [fh, f"Document {did}", {"case": "C-1"}])  # fmt: skip
        record = {"id": did, "file_hash": fh, "title": f"Document {did}", "meta": {"case": "C-1"},
                  "depositor": address_of(alice.scheme, alice.public_key), "org": "org1",
                  "name": "alice", "height": height, "time_ms": time_ms, "tx": tx.hash.hex()}  # fmt: skip
        receipt = Receipt(OK, 40, did, "", [Event("evidence", "Deposited", {"id": did})])
        return (tx, receipt), {state_key("evidence", "dep:" + did): encode(record)}

    def next_time() -> int:
        from tianfu.types.block import median_time

        h = chain.height() + 1
        return T0 if h == 1 else median_time(chain.certs[-1], chain.set_at(h - 1))

    t1 = kv_tx("one")
    contracts = {
        state_key("governance", "contracts"): encode(["evidence", "traceability"]),
        **{state_key("governance", f"contract/{n}"): encode(
            {"name": n, "status": "active", "source_hash": bytes([i]) * 32, "approved_by": ["org1"]})
           for i, n in enumerate(("evidence", "traceability"))},
    }  # fmt: skip
    chain.commit([t1], {kv: encode("one"), **contracts})  # 1
    v5 = Validator("node5", "org5", node5.scheme, node5.public_key, 1)
    chain.change_validators([*gvals, v5])  # 2: a validator of a new organisation
    chain.commit([kv_tx("two")], {kv: encode("two")})  # 3
    powered = [msgspec.structs.replace(gvals[0], power=3), *gvals[1:], v5]
    chain.change_validators(powered)  # 4: node1's power 1 -> 3
    chain.commit([kv_tx(None)], {kv: None})  # 5: deleted (a tombstone)
    d1, w1 = deposit("D-1", b"first document", 6, next_time())
    trace = {
        "batch:TB-1": {"code": "TB-1", "product": "tea", "events": 1, "parents": ["TB-0"],
                       "recall": {"reason": "test recall"}},
        "batch:TB-0": {"code": "TB-0", "product": "tea", "events": 0, "parents": []},
        "product:tea": {"name": "Tea", "unit": "g"},
        "ev:TB-1:00000001": {"kind": "harvest", "data": {"pickers": 2}},
    }  # fmt: skip
    tw = {state_key("traceability", k): encode(v) for k, v in trace.items()}
    chain.commit([d1], {**w1, **tw})  # 6
    chain.change_validators(powered[:4])  # 7: node5 removed
    d2, w2 = deposit("D-2", b"second document", 8, next_time())
    t8 = kv_tx("three")
    chain.commit([t8, d2], {kv: encode("three"), **w2})  # 8
    chain.commit()  # 9
    chain.commit()  # 10
    info.update(first_tx=t1[0].hash, kv_tx=t8[0].hash, deposit_tx=d2[0].hash,
                early_deposit_tx=d1[0].hash)  # fmt: skip
    return chain, info


# -- blocks ----------------------------------------------------------------------------------------
def block_vectors(chains: dict[str, SpecChain]) -> dict[str, Any]:
    out = []
    for suite, chain in chains.items():
        with chain_suite(suite).use():
            out.append(_block_vectors(suite, chain))
    return {
        "description": "Genesis, headers, votes, validator sets and commit certificates "
        "(blocks.md). `certificates`: `valid` says whether `certificate` certifies `header` "
        "for `validator_set` on `chain_id` (the seven rules of blocks.md). Invalid geneses "
        "and headers MUST be rejected when decoded.",
        "suites": out,
    }


def _block_vectors(suite: str, chain: SpecChain) -> dict[str, Any]:
    from tianfu.proofs.commit import CommitError, check_commit
    from tianfu.types import CommitCertificate, CommitSig, Genesis

    g = chain.genesis
    gset = g.validator_set
    headers = [{"height": h, "header": hx(encode(chain.header(h))),
                "hash": hx(chain.header(h).hash)} for h in (1, 2, 10)]  # fmt: skip
    votes = []
    for args in ((g.chain_id, 3, 0, PRECOMMIT, bytes(range(32)), T0 + 5),
                 (g.chain_id, 3, 1, 1, bytes(range(32)), 0),
                 (g.chain_id, 3, 2, PRECOMMIT, b"", 0)):  # fmt: skip
        cid, h, rnd, typ, bh, t = args
        votes.append({"chain_id": cid, "height": h, "round": rnd, "type": typ,
                      "block_hash": hx(bh), "time_ms": t,
                      "sign_bytes": hx(vote_signing_bytes(*args))})  # fmt: skip
    header = chain.header(10)
    cert = chain.certificate(10)
    valset = chain.set_at(10)
    assert header is not None and cert is not None
    sigs = list(cert.signatures)
    other = chain.certificate(9)
    assert other is not None

    def c(**ch: Any) -> CommitCertificate:
        return msgspec.structs.replace(cert, **ch)

    cases: list[tuple[str, BlockHeader, CommitCertificate, ValidatorSet, str]] = [
        ("valid", header, cert, valset, g.chain_id),
        ("valid, signatures in another order", header, c(signatures=sigs[::-1]), valset, g.chain_id),
        ("valid without node4 (power 5 of 6)", header, c(signatures=sigs[:-1]), valset, g.chain_id),
        ("power not above 2/3 (node1's 3 of 6 missing)", header, c(signatures=sigs[1:]), valset,
         g.chain_id),
        ("no signature", header, c(signatures=[]), valset, g.chain_id),
        ("a validator listed twice", header, c(signatures=[*sigs, sigs[1]]), valset, g.chain_id),
        ("a signature flipped", header, c(signatures=[*sigs[:-1], CommitSig(
            sigs[-1].validator, sigs[-1].time_ms, bytes([sigs[-1].signature[0] ^ 1])
            + sigs[-1].signature[1:])]), valset, g.chain_id),
        ("a signer's time changed (its signature no longer matches)", header, c(signatures=[
            *sigs[:-1], CommitSig(sigs[-1].validator, sigs[-1].time_ms + 1, sigs[-1].signature)]),
         valset, g.chain_id),
        ("a signature of block 9 added", header, c(signatures=[*sigs, other.signatures[0]]),
         valset, g.chain_id),
        ("a round other than the signed one", header, c(round=1), valset, g.chain_id),
        ("checked against the genesis set (another validators hash)", header, cert, gset,
         g.chain_id),
        ("another chain id", header, c(chain_id="other"), valset, "other"),
        ("the certificate of another block", header, other, valset, g.chain_id),
    ]  # fmt: skip
    certs = []
    for name, hd, ct, vs, cid in cases:
        try:
            if hd.validators_hash != vs.hash:
                raise CommitError("validators hash")
            check_commit(ct, hd, vs, cid)
            valid = True
        except CommitError:
            valid = False
        certs.append({"name": name, "chain_id": cid, "header": hx(encode(hd)),
                      "certificate": hx(encode(ct)), "validator_set": hx(encode(vs)),
                      "valid": valid})  # fmt: skip
    bad_geneses = [
        ("unknown suite", msgspec.structs.replace(g, suite="other")),
        ("a validator without power", msgspec.structs.replace(
            g, validators=[msgspec.structs.replace(g.validators[0], power=0), *g.validators[1:]])),
        ("a validator key twice", msgspec.structs.replace(
            g, validators=[*g.validators, msgspec.structs.replace(g.validators[0], name="nodeX")])),
        ("a validator of an unknown organisation", msgspec.structs.replace(
            g, validators=[msgspec.structs.replace(g.validators[0], org="nobody")])),
        ("a validator of a scheme the suite does not accept", msgspec.structs.replace(
            g, validators=[msgspec.structs.replace(g.validators[0],
                                                   scheme=SM2 if suite == "standard" else ED25519)])),
        ("version 3", msgspec.structs.replace(g, version=3)),
    ]  # fmt: skip
    h2 = chain.header(2)
    assert h2 is not None
    bad_headers = [
        ("height 2 without a last commit", msgspec.structs.replace(h2, last_commit=None)),
        ("block 1 with a last commit", msgspec.structs.replace(chain.header(1), last_commit=h2.last_commit)),
        ("a last commit of another block than prev_hash",
         msgspec.structs.replace(h2, prev_hash=bytes(32))),
        ("a last commit of another height", msgspec.structs.replace(h2, last_commit=(
            msgspec.structs.replace(h2.last_commit, height=2)))),
        ("time beyond 2^53 - 1", msgspec.structs.replace(h2, time_ms=1 << 53)),
        ("version 2", msgspec.structs.replace(h2, version=2)),
    ]  # fmt: skip
    for name, bh in bad_headers:
        try:
            bh.validate()
            raise AssertionError(name)
        except ValueError:
            pass
    for name, bg in bad_geneses:
        try:
            bg.validate()
            raise AssertionError(name)
        except ValueError:
            pass
    _ = Genesis
    return {
        "suite": suite,
        "genesis": hx(encode(g)),
        "genesis_hash": hx(g.hash),
        "genesis_validator_set": hx(encode(gset)),
        "genesis_validator_set_hash": hx(gset.hash),
        "headers": headers,
        "votes": votes,
        "certificates": certs,
        "invalid_geneses": [{"name": n, "genesis": hx(encode(bg))} for n, bg in bad_geneses],
        "invalid_headers": [{"name": n, "header": hx(encode(bh))} for n, bh in bad_headers],
    }


# -- merkle ----------------------------------------------------------------------------------------
def merkle_vectors(chains: dict[str, SpecChain]) -> dict[str, Any]:
    out = []
    for suite, chain in chains.items():
        with chain_suite(suite).use():
            out.append(_merkle_vectors(suite, chain))
    return {
        "description": "Binary trees: `root` of `items` and the audit path of each index; "
        "`invalid_paths` MUST NOT verify. State proofs: `proof` of `key` under `root`; for a "
        "valid one, `entry` is what it proves (`value_hash` null: absent; `height`/`prev` "
        "of the leaf, null when never written); an invalid one MUST be rejected "
        "(merkle.md).",
        "suites": out,
    }


def _merkle_vectors(suite: str, chain: SpecChain) -> dict[str, Any]:
    from tianfu.crypto.merkle import verify_merkle_proof
    from tianfu.state import StateProof, check_proof
    from tianfu.state.nodes import empty_root

    binary = []
    for n in range(8):
        items = [encode(f"item {i}") for i in range(n)]
        binary.append({"items": [hx(i) for i in items], "root": hx(merkle_root(items)),
                       "paths": [[hx(p) for p in merkle_proof(items, i)] for i in range(n)]})  # fmt: skip
    items = [encode(f"item {i}") for i in range(5)]
    root = merkle_root(items)
    path3 = merkle_proof(items, 3)
    invalid_paths = []
    for name, item, index, size, path in (
        ("another item", items[2], 3, 5, path3),
        ("another index", items[3], 2, 5, path3),
        ("another size (a deeper tree)", items[3], 3, 9, path3),
        ("index beyond the size", items[3], 5, 5, path3),
        ("a sibling changed", items[3], 3, 5, [path3[0][:-1] + b"\x00", *path3[1:]]),
        ("a sibling too many", items[3], 3, 5, [*path3, path3[0]]),
        ("a sibling missing", items[3], 3, 5, path3[:-1]),
    ):
        assert not verify_merkle_proof(root, item, index, size, path)
        invalid_paths.append({"name": name, "root": hx(root), "item": hx(item), "index": index,
                              "size": size, "path": [hx(p) for p in path]})  # fmt: skip

    state = []

    def add(name: str, key: bytes, height: int, proof: StateProof | None = None,
            value: bytes | None | str = "state") -> None:  # fmt: skip
        root = chain.state.root(height)
        proof = proof or chain.state.prove(key, height)
        entry = check_proof(root, key, proof)
        state.append({"name": name, "root": hx(root), "key": hx(key), "proof": hx(encode(proof)),
                      "entry": None if entry is None else {
                          "value_hash": None if entry.value_hash is None else hx(entry.value_hash),
                          "height": entry.height, "prev": entry.prev}})  # fmt: skip

    kv = state_key("kv", "alpha")
    add("a value (kv/alpha at 3: second version)", kv, 3)
    add("a value with no earlier version (kv/alpha at 1)", kv, 1)
    add("a tombstone (kv/alpha deleted at 5)", kv, 6)
    add("a key never written", state_key("kv", "never"), 10)
    add("a committed-transaction entry", committed_tx_key(chain.blocks[7].txs[1].hash), 10)
    add("a transaction not committed", committed_tx_key(bytes(32)), 10)
    add("the genesis validators entry (version 0)", state_key("governance", "validators"), 1)
    good = chain.state.prove(kv, 8)
    sib = [list(level) for level in good.siblings]
    sib[0][0] = bytes(32)
    add("a sibling changed", kv, 8, StateProof(good.version, tuple(map(tuple, sib)), good.leaf))
    assert good.leaf is not None
    add("the leaf's height changed", kv, 8, msgspec.structs.replace(
        good, leaf=msgspec.structs.replace(good.leaf, height=good.leaf.height + 1)))  # fmt: skip
    add("the leaf's previous change dropped", kv, 8, msgspec.structs.replace(
        good, leaf=msgspec.structs.replace(good.leaf, prev=None)))  # fmt: skip
    add("the proof of another key", state_key("kv", "never"), 8, good)
    add("a level removed", kv, 8, msgspec.structs.replace(good, siblings=good.siblings[1:]))
    empty_level = tuple([empty_root()] * 15)
    add("a level of empty siblings added", kv, 8, msgspec.structs.replace(
        good, siblings=(*good.siblings, empty_level)))  # fmt: skip
    return {"suite": suite, "binary": binary, "invalid_paths": invalid_paths, "state": state}


# -- documents -------------------------------------------------------------------------------------
def documents(suite: str, chain: SpecChain, info: dict[str, Any]) -> list[dict[str, Any]]:
    b = ProofBuilder(chain)
    g = chain.genesis
    docs: dict[str, tuple[str, dict[str, Any]]] = {}
    opts = TrustOptions(now_ms=NOW_MS)

    def doc(kind: str, bundle: ProofBundle) -> tuple[str, dict[str, Any]]:
        return kind, make_document(kind, bundle, g, opts)

    docs["state"] = doc("state", b.state_bundle([("kv", "alpha"), ("kv", "never")], 10))
    docs["state before the last change"] = doc("state", b.state_bundle([("kv", "alpha")], 6))
    docs["tx"] = doc("tx", b.tx_bundle(info["kv_tx"]))
    docs["tx, skipping chain"] = doc("tx", b.tx_bundle(info["kv_tx"], SKIPPING))
    docs["absence"] = doc("absence", b.absence_bundle(bytes([9]) * 32, 10))
    docs["history of a value"] = doc("history", b.history_bundle("kv", "alpha", 10))
    docs["history cut by a limit"] = doc("history", b.history_bundle("kv", "alpha", 10, 2))
    docs["history to the genesis"] = doc("history", b.history_bundle("governance", "validators"))
    docs["validators"] = doc("validators", b.validators_bundle(10))
    docs["orgs"] = doc("orgs", b.consortium_bundle("orgs", 10))
    docs["contracts"] = doc("contracts", b.consortium_bundle("contracts", 10))
    docs["validators, skipping chain"] = doc("validators", b.validators_bundle(10, SKIPPING))
    for name, tx_hash, did in (("evidence", info["deposit_tx"], "D-2"),
                               ("evidence before the last change", info["early_deposit_tx"],
                                "D-1")):  # fmt: skip
        h, _ = chain.positions[tx_hash]
        merged = merge_single_blocks([doc("tx", b.tx_bundle(tx_hash))[1],
                                      doc("state", b.state_bundle([("evidence", f"dep:{did}")], h))[1]])  # fmt: skip
        docs[name] = doc("evidence", merged)
    reads = [("traceability", k) for k in
             ("batch:TB-1", "product:tea", "ev:TB-1:00000001", "batch:TB-0")]  # fmt: skip
    docs["traceability"] = doc("traceability", b.state_bundle(reads, 10))
    cases = [{"name": n, "suite": suite, "genesis": suite, "kind": k, "now_ms": NOW_MS,
              "valid": True, "document": d} for n, (k, d) in docs.items()]  # fmt: skip
    cases += invalid_documents(suite, docs)
    return cases


def bundle_patch(doc: dict[str, Any], change: Callable[[ProofBundle], ProofBundle]) -> str:
    from tianfu.proofs.documents import bundle_of

    return hx(encode(change(bundle_of(doc))))


def invalid_documents(
    suite: str, docs: dict[str, tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    rs = msgspec.structs.replace
    other = "sm2" if suite == "standard" else "standard"
    ev = docs["evidence"][1]
    raw_len = len(ev["raw"]) // 2
    out: list[tuple[str, str, dict[str, Any]]] = [
        ("a byte of raw flipped: first", "evidence", {"flip_raw_byte": 0}),
        ("a byte of raw flipped: in the first link", "evidence", {"flip_raw_byte": 40}),
        ("a byte of raw flipped: middle", "evidence", {"flip_raw_byte": raw_len // 2}),
        ("a byte of raw flipped: last", "evidence", {"flip_raw_byte": raw_len - 1}),
        ("raw in upper-case hex", "evidence", {"set": [["raw"], ev["raw"].upper()]}),
        ("a readable field changed", "evidence", {"set": [["height"], ev["height"] + 1]}),
        ("a readable integer written as a float", "evidence", {"set": [["height"], float(ev["height"])]}),
        ("a readable integer written as text", "evidence", {"set": [["height"], str(ev["height"])]}),
        ("a readable field renamed", "evidence", {"rename": [["title"], "name"]}),
        ("a readable field deleted", "evidence", {"delete": ["title"]}),
        ("a readable field added", "evidence", {"set": [["note"], "added"]}),
        ("a nested readable field changed", "evidence", {"set": [["deposit", "meta", "case"], "C-2"]}),
        ("a validator change's power changed", "evidence",
         {"set": [["validator_changes", 2, "validators", 0, "power"], 4]}),
        ("a validator change dropped", "evidence", {"delete": ["validator_changes", 1]}),
        ("a boolean written as an integer", "validators, skipping chain",
         {"set": [["validator_changes", 1, "skipped_to"], 1]}),
        ("a duplicate key in the JSON text", "state",
         {"prepend_member_text": "\"kind\":\"tx\""}),
        ("NaN in the JSON text", "state", {"prepend_member_text": "\"nan\":NaN"}),
        ("another format", "state", {"set": [["format"], "tianfu-proof/v2"]}),
        ("an unknown kind", "state", {"set": [["kind"], "receipt"]}),
        ("the kind of another document", "state", {"set": [["kind"], "absence"]}),
        ("another suite named", "state", {"set": [["suite"], other]}),
        ("verified against another genesis", "state", {"genesis": other}),
        ("the skipping chain, with the trusted header beyond the trusting period",
         "validators, skipping chain", {"now_ms": LATE_MS}),
        ("the skipping chain, with a clock earlier than the header (from the future)",
         "validators, skipping chain", {"now_ms": T0 - 60_000}),
        ("the value of a state entry changed", "state", {"set": [["entries", 0, "value"], "four"]}),
        ("an absent entry said present", "state", {"set": [["entries", 1, "present"], True]}),
        ("a history version dropped", "history of a value", {"delete": ["versions", 1]}),
        ("history said complete when cut", "history cut by a limit",
         {"set": [["complete"], True]}),
        ("an organisation's status changed", "orgs", {"set": [["orgs", 0, "status"], "removed"]}),
        ("a contract dropped from the answer", "contracts", {"delete": ["contracts", 1]}),
    ]  # fmt: skip

    def drop_link(i: int) -> Callable[[ProofBundle], ProofBundle]:
        return lambda bd: rs(bd, validators=[v for j, v in enumerate(bd.validators) if j != i])

    def weaken(bd: ProofBundle) -> ProofBundle:
        from tianfu.codec import decode
        from tianfu.types import CommitCertificate

        bp = bd.blocks[0]
        cert = decode(bp.block.certificate, CommitCertificate)
        fewer = rs(cert, signatures=list(cert.signatures)[1:])  # node1 (power 3 of 6) missing
        return rs(bd, blocks=[rs(bp, block=rs(bp.block, certificate=encode(fewer)))])

    def double(bd: ProofBundle) -> ProofBundle:
        from tianfu.codec import decode
        from tianfu.types import CommitCertificate

        bp = bd.blocks[0]
        cert = decode(bp.block.certificate, CommitCertificate)
        more = rs(cert, signatures=[*cert.signatures, cert.signatures[-1]])
        return rs(bd, blocks=[rs(bp, block=rs(bp.block, certificate=encode(more)))])

    def no_links(bd: ProofBundle) -> ProofBundle:
        return rs(bd, validators=[])

    def swap_value(bd: ProofBundle) -> ProofBundle:
        bp = bd.blocks[0]
        e = bp.entries[0]
        return rs(bd, blocks=[rs(bp, entries=[rs(e, value=encode("four")), *bp.entries[1:]])])

    def skip_as_sequential(bd: ProofBundle) -> ProofBundle:
        link = bd.validators[0]
        return rs(bd, validators=[rs(link, block=rs(link.block, signers=b"")), *bd.validators[1:]])

    def extra_signers(bd: ProofBundle) -> ProofBundle:
        bp = bd.blocks[0]
        return rs(bd, blocks=[rs(bp, block=rs(bp.block, signers=bd.validators[0].block.header))])

    def drop_entry(bd: ProofBundle) -> ProofBundle:
        bp = bd.blocks[0]
        return rs(bd, blocks=[rs(bp, entries=bp.entries[:-1])])

    raw_cases: list[tuple[str, str, Callable[[ProofBundle], ProofBundle]]] = [
        ("a listed contract's record not proven", "contracts", drop_entry),
        ("a listed organisation's record not proven", "orgs", drop_entry),
        ("the first link of the validator chain removed", "evidence", drop_link(0)),
        (
            "the last link of the validator chain removed",
            "evidence",
            lambda bd: rs(bd, validators=bd.validators[:-1]),
        ),
        ("no validator chain", "evidence", no_links),
        ("the block's certificate without node1 (3 of 6: not above 2/3)", "evidence", weaken),
        ("the block's certificate lists a validator twice", "evidence", double),
        ("a state value replaced (its proof no longer holds)", "state", swap_value),
        ("a skipping link stripped of its set", "validators, skipping chain", skip_as_sequential),
        ("a proven block carrying a set", "tx", extra_signers),
    ]
    cases = []
    for name, base, patch in out:
        cases.append({"name": name, "suite": suite, "genesis": suite, "base": base,
                      "patch": patch, "valid": False})  # fmt: skip
    for name, base, change in raw_cases:
        cases.append({"name": name, "suite": suite, "genesis": suite, "base": base,
                      "patch": {"set": [["raw"], bundle_patch(docs[base][1], change)]},
                      "valid": False})  # fmt: skip
    return cases


def clock_edges(suite: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The clock exactly at, and one millisecond inside, the two edges of a skipping chain
    (proofs.md#skipping-link, step 3): the trusting period of the genesis (the first link
    skips from it) and the clock drift of the last link's header."""
    from tianfu.proofs.documents import bundle_of

    base = "validators, skipping chain"
    (doc,) = [c["document"] for c in cases if c["suite"] == suite and c["name"] == base]
    bundle = bundle_of(doc)
    last = decode(bundle.validators[-1].block.header, BlockHeader).time_ms
    period, drift = 7 * 24 * 3_600_000, 10_000
    edges = [
        ("the clock exactly at the end of the trusting period", T0 + period, False),
        ("the clock 1 ms before the end of the trusting period", T0 + period - 1, True),
        ("the last link's header exactly max_clock_drift ahead of the clock", last - drift, False),
        ("the last link's header 1 ms less than max_clock_drift ahead", last - drift + 1, True),
    ]
    return [{"name": n, "suite": suite, "genesis": suite, "base": base,
             "patch": {"now_ms": now}, "valid": ok} for n, now, ok in edges]  # fmt: skip


def document_vectors(chains: dict[str, SpecChain], infos: dict[str, Any]) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    for suite, chain in chains.items():
        with chain_suite(suite).use():
            cases += documents(suite, chain, infos[suite])
    for suite in chains:  # added after the first cases (which keep their places)
        cases += clock_edges(suite, cases)
    for suite, chain in chains.items():  # after those: blocks signed anew (forgedvectors.py)
        with chain_suite(suite).use():
            cases += forged_documents(suite, chain, cases)
    for suite, chain in chains.items():  # the eighth review's, after every earlier case
        with chain_suite(suite).use():
            cases += forged_documents_eighth(suite, chain, cases)
    for suite, chain in chains.items():  # membership at the integer boundaries, after those
        with chain_suite(suite).use():
            cases += forged_documents_membership(suite, chain, cases)
    for suite, chain in chains.items():  # an absent validators entry, an EMPTY node, after those
        with chain_suite(suite).use():
            cases += forged_documents_membership_empty(suite, chain, cases)
    return {
        "description": "Proof documents (documents.md, proofs.md). Each case is verified "
        "against the genesis of `genesis` with the clock `now_ms` and the default trust "
        "options. A case with a `base` is that case (same suite) changed by `patch`: "
        "flip_raw_byte (XOR 0xff of that byte of raw), set [path, value] (a missing key is "
        "added), delete path, rename [path, new name], prepend_member_text (the document's "
        "compact JSON text with this member inserted first), genesis (verify against that "
        "suite's genesis) or now_ms (another clock). `valid` says whether it MUST be "
        "accepted.",
        "geneses": {s: hx(encode(c.genesis)) for s, c in chains.items()},
        "cases": cases,
    }


# -- patches (the tests apply them the same way) -----------------------------------------------------
def apply_patch(case: dict[str, Any], base: dict[str, Any]) -> tuple[Any, str, int]:
    """(document or JSON text, genesis suite, now) of an invalid case over its base case."""
    patch = case["patch"]
    doc = copy.deepcopy(base["document"])
    genesis, now = base["genesis"], base["now_ms"]
    if "flip_raw_byte" in patch:
        raw = bytearray(bytes.fromhex(doc["raw"]))
        raw[patch["flip_raw_byte"]] ^= 0xFF
        doc["raw"] = raw.hex()
    if "set" in patch:
        path, value = patch["set"]
        node = doc
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    if "delete" in patch:
        node = doc
        for p in patch["delete"][:-1]:
            node = node[p]
        del node[patch["delete"][-1]]
    if "rename" in patch:
        path, new = patch["rename"]
        node = doc
        for p in path[:-1]:
            node = node[p]
        node[new] = node.pop(path[-1])
    if "genesis" in patch:
        genesis = patch["genesis"]
    if "now_ms" in patch:
        now = patch["now_ms"]
    if "prepend_member_text" in patch:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        return "{" + patch["prepend_member_text"] + "," + text[1:], genesis, now
    return doc, genesis, now


# -- output ------------------------------------------------------------------------------------------
def build() -> dict[str, str]:
    """Every vector file's text, by file name."""
    chains: dict[str, SpecChain] = {}
    infos: dict[str, Any] = {}
    for suite in SUITES:
        with chain_suite(suite).use():
            chains[suite], infos[suite] = build_chain(suite)
    files = {
        "encoding.json": encoding_vectors(),
        "hashing.json": hashing_vectors(),
        "crypto.json": crypto_vectors(),
        "transactions.json": transaction_vectors(),
        "blocks.json": block_vectors(chains),
        "merkle.json": merkle_vectors(chains),
        "documents.json": document_vectors(chains, infos),
        "open.json": open_vectors(),
        "genesis2.json": genesis2_vectors(),  # after every earlier file (which keep their bytes)
    }
    return {name: json.dumps(v, indent=1, ensure_ascii=False) + "\n" for name, v in files.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    differ = []
    for name, text in build().items():
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if differ:
        print("differ from the generator's output:", ", ".join(differ))
        return 1
    return 0


_unused: tuple[Any, ...] = (ChainSuite, TxBody)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
