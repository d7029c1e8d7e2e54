"""Independent verifier, part 1: bytes, hashes, signatures, structures and Merkle trees.

Written only from docs/spec (encoding.md, crypto.md, transactions.md, blocks.md, merkle.md)
as the specification's executable check: it imports nothing from `tianfu`. Libraries:
msgspec (MessagePack parsing only; the canonical form is re-encoded here), cryptography
(Ed25519, ECDSA P-256), tongsuopy (SM2, and SM3 where hashlib lacks it).
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


class Invalid(ValueError):
    """Anything the specification says a verifier MUST reject."""


MIB = 1 << 20
U63 = (1 << 63) - 1
MAX_TIME = (1 << 53) - 1


# -- canonical encoding (encoding.md) -------------------------------------------------------------
def _head(small_base: int, small_max: int, codes: tuple[int, ...], n: int) -> bytes:
    if n <= small_max:
        return bytes([small_base | n])
    for code, size in zip(codes, (1, 2, 4), strict=True):
        if code and n < 1 << (8 * size):
            return bytes([code]) + n.to_bytes(size, "big")
    raise Invalid("too long")


def encode(v: Any) -> bytes:
    """The canonical encoding of a value (lists for arrays and structures)."""
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if type(v) is int:
        if 0 <= v <= 127:
            return bytes([v])
        if 128 <= v < 1 << 64:
            for code, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
                if v < 1 << (8 * size):
                    return bytes([code]) + v.to_bytes(size, "big")
        if -32 <= v < 0:
            return bytes([v & 0xFF])
        if -(1 << 63) <= v < -32:
            for code, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
                if v >= -(1 << (8 * size - 1)):
                    return bytes([code]) + v.to_bytes(size, "big", signed=True)
        raise Invalid("integer out of range")
    if type(v) is str:
        b = v.encode()
        n = len(b)
        return (bytes([0xA0 | n]) if n <= 31 else _head(0, -1, (0xD9, 0xDA, 0xDB), n)) + b
    if type(v) is bytes:
        return _head(0, -1, (0xC4, 0xC5, 0xC6), len(v)) + v
    if type(v) is list:
        return _head(0x90, 15, (0, 0xDC, 0xDD), len(v)) + b"".join(map(encode, v))
    if type(v) is dict:
        if not all(type(k) is str for k in v):
            raise Invalid("a map key that is not text")
        items = sorted(v.items(), key=lambda kv: kv[0].encode())
        body = b"".join(encode(k) + encode(x) for k, x in items)
        return _head(0x80, 15, (0, 0xDE, 0xDF), len(v)) + body
    raise Invalid(f"no canonical encoding for {type(v).__name__}")


_parser = msgspec.msgpack.Decoder()


def decode(data: bytes, limit: int = MIB) -> Any:
    """Strict decoding: one value, within `limit`, whose canonical encoding is `data`."""
    if not isinstance(data, bytes) or len(data) > limit:
        raise Invalid("not bytes, or over the size limit")
    try:
        v = _parser.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise Invalid(f"not MessagePack: {exc}") from None
    try:  # recursive walks: a value the parser took near the stack's end may go past it
        v = _plain(v)
        canonical = encode(v) == data
    except RecursionError:
        raise Invalid("nested too deeply") from None
    if not canonical:
        raise Invalid("not the canonical encoding")
    return v


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, bytes | str | bool | int) or v is None:
        return v
    raise Invalid(f"{type(v).__name__} is not part of the canonical subset")


def check_value(v: Any, depth: int = 0) -> None:
    """A contract value: no float, extension or non-text key, nested at most 32 levels."""
    if depth > 32:
        raise Invalid("a value nested too deeply")
    if v is None or type(v) in (bool, str, bytes):
        return
    if type(v) is int:
        if not -(1 << 63) <= v <= (1 << 64) - 1:
            raise Invalid("integer out of range")
        return
    if type(v) is list:
        for x in v:
            check_value(x, depth + 1)
        return
    if type(v) is dict:
        for k, x in v.items():
            if type(k) is not str:
                raise Invalid("a map key that is not text")
            check_value(x, depth + 1)
        return
    raise Invalid(f"{type(v).__name__} is not a contract value")


def decode_value(data: bytes) -> Any:
    v = decode(data)
    check_value(v)
    return v


# -- hashing (encoding.md#hash_domain) ------------------------------------------------------------
def _sm3(data: bytes) -> bytes:
    try:
        return hashlib.new("sm3", data).digest()
    except ValueError:
        from tongsuopy.crypto import hashes as th

        h = th.Hash(th.SM3())
        h.update(data)
        return bytes(h.finalize())


HASHES = {"standard": lambda d: hashlib.sha256(d).digest(), "sm2": _sm3}
SUITE_SCHEMES = {"standard": {1, 2}, "sm2": {3}}
SCHEME_SUITE = {1: "standard", 2: "standard", 3: "sm2"}


def hash_domain(suite: str, tag: str, *parts: bytes) -> bytes:
    t = tag.encode()
    data = bytes([len(t)]) + t + b"".join(struct.pack(">Q", len(p)) + p for p in parts)
    return HASHES[suite](data)


# -- signatures (crypto.md) -----------------------------------------------------------------------
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
ED_L = 2**252 + 27742317777372353535851937790883648493
SIZES = {1: (32, 64), 2: (33, 64), 3: (33, 64)}


ED_P = 2**255 - 19
ED_D = -121665 * pow(121666, -1, ED_P) % ED_P


def ed_point(b: bytes, canonical: bool) -> tuple[int, int] | None:
    """The Edwards25519 point of a 32-byte encoding (RFC 8032 5.1.3), or None. With
    `canonical`, y must be below p; without, y is read modulo p."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    if canonical and y >= ED_P:
        return None
    y %= ED_P
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, -1, ED_P) % ED_P
    x = pow(x2, (ED_P + 3) // 8, ED_P)
    if (x * x - x2) % ED_P:
        x = x * pow(2, (ED_P - 1) // 4, ED_P) % ED_P
    if (x * x - x2) % ED_P or (x == 0 and b[31] >> 7):
        return None
    return (ED_P - x if x & 1 != b[31] >> 7 else x), y


def ed_small_order(pt: tuple[int, int]) -> bool:
    """Whether 8 times the point is the identity (crypto.md: such keys and R are refused)."""
    x, y = pt
    for _ in range(3):
        t = ED_D * x * x * y * y % ED_P
        x, y = (2 * x * y * pow(1 + t, -1, ED_P) % ED_P,
                (y * y + x * x) * pow(1 - t, -1, ED_P) % ED_P)  # fmt: skip
    return (x, y) == (0, 1)


def verify_sig(suite: str, scheme: int, key: bytes, msg: bytes, sig: bytes) -> bool:
    if scheme not in SUITE_SCHEMES[suite] or (len(key), len(sig)) != SIZES[scheme]:
        return False
    try:
        if scheme == 1:
            if int.from_bytes(sig[32:], "little") >= ED_L:
                return False
            a = ed_point(key, canonical=True)
            if a is None or ed_small_order(a):
                return False
            r_point = ed_point(sig[:32], canonical=False)
            if r_point is not None and ed_small_order(r_point):
                return False
            ed25519.Ed25519PublicKey.from_public_bytes(key).verify(sig, msg)
            return True
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        if scheme == 2:
            if not (0 < r < P256_N and 0 < s <= P256_N // 2):
                return False
            pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
            pub.verify(encode_dss_signature(r, s), msg, ec.ECDSA(hashes.SHA256()))
            return True
        if not (0 < r < SM2_N and 0 < s < SM2_N):
            return False
        from tongsuopy.crypto import hashes as th
        from tongsuopy.crypto.asymciphers import ec as tec
        from tongsuopy.crypto.exceptions import InvalidSignature as TongsuoInvalid

        pub3 = tec.EllipticCurvePublicKey.from_encoded_point(tec.SM2(), key)
        try:
            pub3.verify(encode_dss_signature(r, s), msg, tec.ECDSA(th.SM3()))
        except TongsuoInvalid:
            return False
        return True
    except (InvalidSignature, ValueError):
        return False


def address(scheme: int, key: bytes) -> str:
    if scheme not in SCHEME_SUITE:  # crypto.md#addresses: u8(scheme) of schemes 1, 2, 3 only
        raise Invalid("no address for a key of an unknown scheme")
    return hash_domain(SCHEME_SUITE[scheme], "tianfu/address/v1", bytes([scheme]), key)[:20].hex()


# -- field checks -----------------------------------------------------------------------------------
def arr(v: Any, n: int, what: str) -> list[Any]:
    if type(v) is not list or len(v) != n:
        raise Invalid(f"{what}: not an array of {n}")
    return v


def num(v: Any, lo: int = -(1 << 63), hi: int = (1 << 64) - 1) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise Invalid("not an integer in range")
    return v


def text(v: Any, lo: int = 0, hi: int | None = None) -> str:
    if type(v) is not str or len(v) < lo or (hi is not None and len(v) > hi):
        raise Invalid("not a text of the allowed length")
    return v


def raw(v: Any, lo: int = 0, hi: int | None = None) -> bytes:
    if type(v) is not bytes or len(v) < lo or (hi is not None and len(v) > hi):
        raise Invalid("not a byte string of the allowed length")
    return v


def listof(v: Any, hi: int, lo: int = 0) -> list[Any]:
    if type(v) is not list or not lo <= len(v) <= hi:
        raise Invalid("not an array of the allowed length")
    return v


# -- structures (transactions.md, blocks.md) --------------------------------------------------------
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Tx:
    chain_id: str
    scheme: int
    signer: bytes
    nonce: int
    expiry: int
    contract: str
    method: str
    args: list[Any]
    cert: bytes
    signature: bytes
    body: bytes  # encode(body)

    @property
    def id(self) -> bytes:
        return hash_domain(SCHEME_SUITE.get(self.scheme, "standard"), "tianfu/tx/v1", self.body)


def parse_tx(data: bytes) -> Tx:
    t = arr(decode(data), 2, "Transaction")
    b = arr(t[0], 10, "TxBody")
    if num(b[0]) != 1:
        raise Invalid("transaction version")
    contract = text(b[6], 1, 64)
    if not NAME_RE.fullmatch(contract):
        raise Invalid("contract name")
    args = listof(b[8], 32)
    for a in args:
        check_value(a, 1)
    return Tx(text(b[1], 1, 64), num(b[2]), raw(b[3], 0, 65), num(b[4], 0, U63),
              num(b[5], 0, U63), contract, text(b[7], 1, 64), args, raw(b[9], 0, 4096),
              raw(t[1], 0, 72), encode(b))  # fmt: skip


@dataclass(frozen=True)
class Receipt:
    status: int
    gas_used: int
    result: Any
    error: str
    events: list[tuple[str, str, dict[str, Any]]]


def parse_receipt(data: bytes) -> Receipt:
    r = arr(decode(data), 5, "Receipt")
    events = []
    for e in listof(r[4], 1 << 20):
        e = arr(e, 3, "Event")
        if type(e[2]) is not dict:
            raise Invalid("event data is not a map")
        check_value(e[2])
        events.append((text(e[0]), text(e[1]), e[2]))
    if num(r[0]) not in (0, 1):
        raise Invalid("receipt status")
    check_value(r[2])
    return Receipt(r[0], num(r[1]), r[2], text(r[3]), events)


@dataclass(frozen=True)
class Validator:
    name: str
    org: str
    scheme: int
    key: bytes
    power: int


def parse_validator(v: Any) -> Validator:
    v = arr(v, 5, "Validator")
    return Validator(text(v[0]), text(v[1]), num(v[2], 0), raw(v[3], 0, 65), num(v[4]))


def valset_hash(suite: str, vals: list[Validator]) -> bytes:
    body = [[[v.name, v.org, v.scheme, v.key, v.power] for v in vals]]
    return hash_domain(suite, "tianfu/valset/v1", encode(body))


def parse_valset(data: bytes) -> list[Validator]:
    return [parse_validator(v) for v in listof(arr(decode(data), 1, "ValidatorSet")[0], 1 << 20)]


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    time_ms: int
    validators: list[Validator]
    suite: str
    decoded: list[Any]
    hash: bytes
    open: dict[str, Any] | None = None  # the open profile's settings (blocks.md#the-open-profile)
    version: int = 1

    @property
    def vote_hash(self) -> bytes | None:
        """What votes sign besides the chain id (blocks.md#votes): the genesis hash from
        version 2, nothing in version 1."""
        return self.hash if self.version == 2 else None


def parse_genesis(data: bytes) -> Genesis:
    g = decode(data)
    g = arr(g, 9 if type(g) is list and len(g) == 9 else 8, "Genesis")
    if num(g[0]) not in (1, 2):
        raise Invalid("genesis version")
    suite = text(g[7])
    if suite not in HASHES:
        raise Invalid("unknown suite")
    orgs = [arr(o, 2, "OrgConfig") for o in listof(g[3], 1 << 20, 1)]
    names = [text(o[0]) for o in orgs]
    for o in orgs:
        raw(o[1])
    vals = [parse_validator(v) for v in listof(g[4], 1 << 20, 1)]
    p = arr(g[5], 15, "ConsensusParams")
    for i, x in enumerate(p):
        if i == 12:
            if type(x) is not bool:
                raise Invalid("slash_double_sign")
        else:
            num(x)
    if p[13] < p[8] or p[14] < MIB:
        raise Invalid("block budgets")
    pol = arr(g[6], 2, "Policies")
    text(pol[0]), text(pol[1])
    if len(set(names)) != len(names) or len({v.name for v in vals}) != len(vals):
        raise Invalid("duplicate names")
    if len({v.key for v in vals}) != len(vals):
        raise Invalid("duplicate keys")
    for v in vals:
        if v.org not in names or v.power <= 0 or v.scheme not in SUITE_SCHEMES[suite]:
            raise Invalid(f"validator {v.name}")
    from specopen import parse_open_profile

    return Genesis(text(g[1]), num(g[2]), vals, suite, g,
                   hash_domain(suite, "tianfu/genesis/v1", data),
                   parse_open_profile(g[8]) if len(g) == 9 else None, g[0])  # fmt: skip


@dataclass(frozen=True)
class Cert:
    chain_id: str
    height: int
    round: int
    block_hash: bytes
    sigs: list[tuple[bytes, int, bytes]]


def _cert(c: Any) -> Cert:
    c = arr(c, 6, "CommitCertificate")
    if num(c[0]) != 1:
        raise Invalid("certificate version")
    sigs = []
    for s in listof(c[5], 1024):
        s = arr(s, 3, "CommitSig")
        sigs.append((raw(s[0], 0, 65), num(s[1], 1, MAX_TIME), raw(s[2], 0, 72)))
    return Cert(text(c[1], 1, 64), num(c[2], 1, MAX_TIME), num(c[3], 0, MAX_TIME),
                raw(c[4], 32, 32), sigs)  # fmt: skip


def parse_cert(data: bytes) -> Cert:
    return _cert(decode(data))


@dataclass(frozen=True)
class Header:
    chain_id: str
    height: int
    time_ms: int
    prev_hash: bytes
    tx_root: bytes
    state_root: bytes
    receipts_root: bytes
    validators_hash: bytes
    tx_count: int
    hash: bytes


def parse_header(suite: str, data: bytes) -> Header:
    h = arr(decode(data), 12, "BlockHeader")
    if num(h[0]) != 1:
        raise Invalid("header version")
    chain_id, height, time_ms = text(h[1], 1, 64), num(h[2], 1, MAX_TIME), num(h[3], 0, MAX_TIME)
    roots = [raw(x, 0, 32) for x in h[4:9]]
    raw(h[9], 0, 65)
    tx_count = num(h[10], 0, MAX_TIME)  # blocks.md: height, round, tx_count ≤ 2^53 − 1
    if height == 1:
        if h[11] is not None:
            raise Invalid("block 1 carries no last commit")
    else:
        lc = _cert(h[11]) if h[11] is not None else None
        if lc is None or lc.height != height - 1 or lc.chain_id != chain_id:
            raise Invalid("last commit")
        if lc.block_hash != roots[0]:
            raise Invalid("last commit is not of prev_hash")
    return Header(chain_id, height, time_ms, *roots, tx_count,
                  hash_domain(suite, "tianfu/header/v2", data))  # fmt: skip


def vote_sign_bytes(suite: str, chain_id: str, height: int, rnd: int, typ: int, block_hash: bytes,
                    time_ms: int, genesis_hash: bytes | None = None) -> bytes:  # fmt: skip
    """blocks.md#votes: `genesis_hash` is the genesis hash of a version-2 genesis, None for
    a version-1 genesis."""
    body = [chain_id, height, rnd, typ, block_hash, time_ms]
    if genesis_hash is None:
        return hash_domain(suite, "tianfu/vote/v2", encode(body))
    return hash_domain(suite, "tianfu/vote/v3", encode([genesis_hash, *body]))


@dataclass(frozen=True)
class SetFacts:
    """What a certificate check reads of a validator set, computed once per set
    (proofs.md#bundle, cost): its hash, total power, each key's member (the last one
    holding it) and each (scheme, key)'s power (every member holding it summed)."""

    hash: bytes
    total: int
    members: dict[bytes, Validator]
    signer_power: dict[tuple[int, bytes], int]


def set_facts(suite: str, vals: list[Validator]) -> SetFacts:
    power: dict[tuple[int, bytes], int] = {}
    for v in vals:
        power[(v.scheme, v.key)] = power.get((v.scheme, v.key), 0) + v.power
    return SetFacts(valset_hash(suite, vals), sum(v.power for v in vals),
                    {v.key: v for v in vals}, power)  # fmt: skip


def certifies(
    suite: str, c: Cert, h: Header, vals: list[Validator], chain_id: str,
    facts: SetFacts | None = None, genesis_hash: bytes | None = None,
) -> list[Validator]:  # fmt: skip
    """The seven rules of blocks.md#commit-certificate-validity; returns the signers.
    `facts` are `set_facts(suite, vals)`, if already at hand; `genesis_hash` what the
    votes sign besides the chain id (`Genesis.vote_hash`)."""
    if not (c.chain_id == h.chain_id == chain_id) or c.height != h.height or c.block_hash != h.hash:
        raise Invalid("the certificate is of another block")
    f = facts or set_facts(suite, vals)
    seen: set[bytes] = set()
    signers = []
    for key, t, sig in c.sigs:
        if key in seen:
            raise Invalid("a validator listed twice")
        seen.add(key)
        v = f.members.get(key)
        msg = vote_sign_bytes(suite, c.chain_id, c.height, c.round, 2, c.block_hash, t,
                              genesis_hash)  # fmt: skip
        if v is None or not verify_sig(suite, v.scheme, v.key, msg, sig):
            raise Invalid("a foreign or invalid signature")
        signers.append(v)
    if 3 * sum(v.power for v in signers) <= 2 * f.total:
        raise Invalid("not more than 2/3 of the power")
    if h.validators_hash != f.hash:
        raise Invalid("the header names another validator set")
    return signers


# -- Merkle trees (merkle.md) -----------------------------------------------------------------------
def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(suite: str, items: list[bytes]) -> bytes:
    if not items:
        return hash_domain(suite, "tianfu/merkle/empty/v1")
    if len(items) == 1:
        return hash_domain(suite, "tianfu/merkle/leaf/v1", items[0])
    k = _split(len(items))
    return hash_domain(suite, "tianfu/merkle/node/v1", merkle_root(suite, items[:k]),
                       merkle_root(suite, items[k:]))  # fmt: skip


def verify_path(suite: str, root: bytes, item: bytes, i: int, n: int, path: list[bytes]) -> bool:
    if not 0 <= i < n or len(path) > 64 or any(type(s) is not bytes or len(s) != 32 for s in path):
        return False
    sides = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        sides.append(i < lo + k)
        lo, hi = (lo, lo + k) if i < lo + k else (lo + k, hi)
    if len(sides) != len(path):
        return False
    h = hash_domain(suite, "tianfu/merkle/leaf/v1", item)
    for s, right in zip(path, reversed(sides), strict=True):
        pair = (h, s) if right else (s, h)
        h = hash_domain(suite, "tianfu/merkle/node/v1", *pair)
    return h == root


@dataclass(frozen=True)
class Entry:
    """A proven state entry: value hash (None: absent), leaf height and prev."""

    value_hash: bytes | None
    height: int | None
    prev: int | None


def parse_state_proof(data: bytes) -> tuple[list[list[bytes]], list[Any] | None]:
    p = arr(decode(data), 3, "StateProof")
    if num(p[0]) != 2:
        raise Invalid("state proof version")
    levels = [listof(level, 15, 15) for level in listof(p[1], 64)]
    for level in levels:
        for s in level:
            raw(s, 32, 32)
    leaf = p[2]
    if leaf is not None:
        leaf = arr(leaf, 4, "ProofLeaf")
        raw(leaf[0], 32, 32)
        if len(raw(leaf[1])) not in (0, 32):
            raise Invalid("leaf value hash")
        num(leaf[2], 0, U63)
        if leaf[3] is not None and num(leaf[3], 0, U63) >= leaf[2]:
            raise Invalid("leaf prev")
    return levels, leaf


def _nibble(h: bytes, d: int) -> int:
    return h[d // 2] & 0x0F if d % 2 else h[d // 2] >> 4


def check_state_proof(suite: str, root: bytes, key: bytes, data: bytes) -> Entry:
    levels, leaf = parse_state_proof(data)
    if len(root) != 32:
        raise Invalid("root")
    kh = hash_domain(suite, "tianfu/state/key/v1", key)
    empty = hash_domain(suite, "tianfu/state/empty/v1")
    depth = len(levels)
    if leaf is None:
        h, entry = empty, Entry(None, None, None)
    else:
        prev = b"" if leaf[3] is None else struct.pack(">Q", leaf[3])
        h = hash_domain(
            suite, "tianfu/state/leaf/v2", leaf[0], leaf[1], struct.pack(">Q", leaf[2]), prev
        )
        if leaf[0] == kh:
            entry = Entry(leaf[1] or None, leaf[2], leaf[3])
        elif all(_nibble(leaf[0], d) == _nibble(kh, d) for d in range(depth)):
            entry = Entry(None, None, None)
        else:
            raise Invalid("another key's leaf off the path")
    if depth and all(s == empty for s in levels[-1]):
        raise Invalid("a node with no sibling")
    for d in range(depth - 1, -1, -1):
        n = _nibble(kh, d)
        children = [*levels[d][:n], h, *levels[d][n:]]
        h = hash_domain(suite, "tianfu/state/internal/v1", *children)
    if h != root:
        raise Invalid("the state proof does not lead to the root")
    return entry


def holds(suite: str, e: Entry, value: bytes | None) -> bool:
    if value is None:
        return e.value_hash is None
    return e.value_hash == hash_domain(suite, "tianfu/state/value/v1", value)
