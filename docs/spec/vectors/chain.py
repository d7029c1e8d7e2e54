"""A deterministic chain for the specification's vectors, made with the project's own code.

Keys come from fixed seeds, times are fixed, and every signature is deterministic (Ed25519;
ECDSA P-256 with RFC 6979 nonces; SM2 with a nonce derived from the key and the message,
computed here since the SM2 library draws random nonces). Blocks are built directly (no
contract execution): the state entries, transactions and receipts are chosen, and every
header, root, certificate and proof is the project's. `SpecChain` is a
`tianfu.proofs.build.ChainReader`, so `ProofBuilder` makes its documents.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tianfu.codec import SM3, encode
from tianfu.contracts import governance
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import ECDSA_P256, ED25519, SM2, KeyPair, verify
from tianfu.crypto.merkle import merkle_root
from tianfu.crypto.sm2 import private_key_from_int
from tianfu.execution.contract_api import state_key
from tianfu.proofs.valchain import VALIDATORS_KEY, validators_value
from tianfu.state import InMemoryNodes, MerkleState
from tianfu.state.keys import tree_updates
from tianfu.types import (
    PRECOMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    ConsensusParams,
    Genesis,
    OpenGenesis,
    OpenGenesisV1,
    OpenProfile,
    OpenProfileV1,
    OrgConfig,
    Receipt,
    Transaction,
    TxBody,
    Validator,
    ValidatorSet,
    vote_signing_bytes,
)
from tianfu.types.block import median_time

T0 = 1_760_000_000_000  # the genesis time of every vector chain (ms)

# -- SM2 with a deterministic nonce (GB/T 32918.2 signing; the nonce rule is ours) --------------
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
USER_ID = b"1234567812345678"


def _add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        lam = (3 * p1[0] * p1[0] + A) * pow(2 * p1[1], -1, P) % P
    else:
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (lam * lam - p1[0] - p2[0]) % P
    return x, (lam * (p1[0] - x) - p1[1]) % P


def _mul(k: int, point: tuple[int, int]) -> tuple[int, int]:
    out: tuple[int, int] | None = None
    add: tuple[int, int] | None = point
    while k:
        if k & 1:
            out = _add(out, add)
        add = _add(add, add)
        k >>= 1
    assert out is not None
    return out


def _b32(n: int) -> bytes:
    return n.to_bytes(32, "big")


def sm2_sign(d: int, message: bytes) -> bytes:
    x, y = _mul(d, G)
    za = SM3.hash(
        (len(USER_ID) * 8).to_bytes(2, "big")
        + USER_ID
        + b"".join(_b32(v) for v in (A, B, G[0], G[1], x, y))
    )
    e = int.from_bytes(SM3.hash(za + message), "big")
    counter = 0
    while True:
        seed = hashlib.sha256(_b32(d) + message + counter.to_bytes(4, "big")).digest()
        k = int.from_bytes(seed, "big") % (N - 1) + 1
        counter += 1
        x1, _ = _mul(k, G)
        r = (e + x1) % N
        if r == 0 or r + k == N:
            continue
        s = pow(1 + d, -1, N) * (k - r * d) % N
        if s:
            return _b32(r) + _b32(s)


# -- keys ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signer:
    """A key made from a fixed label, signing deterministically."""

    label: str
    scheme: int
    public_key: bytes
    secret: Any

    @classmethod
    def make(cls, label: str, scheme: int) -> Signer:
        seed = hashlib.sha256(b"tianfu spec vectors/" + label.encode()).digest()
        if scheme == ED25519:
            key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            return cls(label, scheme, KeyPair.from_private(key).public_key, key)
        if scheme == ECDSA_P256:
            p256 = ec.derive_private_key(
                int.from_bytes(seed, "big") % (1 << 255) + 1, ec.SECP256R1()
            )
            return cls(label, scheme, KeyPair.from_private(p256).public_key, p256)
        if scheme == SM2:
            d = int.from_bytes(seed, "big") % (N - 2) + 1
            pub = KeyPair.from_private(private_key_from_int(d)).public_key
            return cls(label, scheme, pub, d)
        raise ValueError(f"unknown scheme {scheme}")

    def sign(self, message: bytes) -> bytes:
        if self.scheme == ED25519:
            sig = bytes(self.secret.sign(message))
        elif self.scheme == ECDSA_P256:
            der = self.secret.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
            r, s = decode_dss_signature(der)
            n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
            sig = _b32(r) + _b32(min(s, n - s))
        else:
            sig = sm2_sign(self.secret, message)
        assert verify(self.scheme, self.public_key, message, sig), self.label
        return sig


def signed_tx(signer: Signer, chain_id: str, nonce: int, contract: str, method: str,
              args: list[Any], expiry: int = 1000) -> Transaction:  # fmt: skip
    body = TxBody(1, chain_id, signer.scheme, signer.public_key, nonce, expiry, contract,
                  method, args, b"")  # fmt: skip
    return Transaction(body, signer.sign(Transaction(body, b"").hash))


# -- the chain -----------------------------------------------------------------------------------
class SpecChain:
    """Blocks built from chosen transactions, receipts and state writes; see the docstring."""

    def __init__(self, chain_id: str, suite: str, validators: list[tuple[Signer, str, int]],
                 params: ConsensusParams | None = None,
                 open_profile: OpenProfileV1 | None = None,
                 names: list[str] | None = None, version: int = 1):  # fmt: skip
        self.signers = {s.public_key: s for s, _, _ in validators}
        genesis = Genesis(
            version=version,
            chain_id=chain_id,
            time_ms=T0,
            orgs=[
                OrgConfig(org, f"CA of {org}".encode())
                for org in dict.fromkeys(org for _, org, _ in validators)
            ],  # fmt: skip
            validators=[
                Validator(
                    names[i] if names else f"node{i + 1}", org, s.scheme, s.public_key, power
                )  # fmt: skip
                for i, (s, org, power) in enumerate(validators)
            ],
            suite=suite,
        )
        if params is not None:
            genesis = msgspec.structs.replace(genesis, params=params)
        if open_profile is not None:  # an open chain's genesis (blocks.md#the-open-profile)
            # seven settings (`OpenProfileV1`, the vectors written before the proof of
            # possession's height) or eight (`OpenProfile`)
            kind = OpenGenesis if isinstance(open_profile, OpenProfile) else OpenGenesisV1
            genesis = kind(*msgspec.structs.astuple(genesis), open_profile=open_profile)
        self.genesis = genesis
        self.chain_id = chain_id
        self.vote_domain = genesis.vote_domain  # what its votes sign (blocks.md#votes)
        self.nodes = InMemoryNodes()
        self.state = MerkleState(self.nodes)
        entries = governance.genesis_entries(self.genesis)
        writes = {state_key(governance.NAME, k): encode(v) for k, v in entries.items()}
        self.nodes.put_batch(self.state.apply(0, writes, base_version=-1))
        self.blocks: list[Block] = []
        self.receipt_lists: list[list[Receipt]] = []
        self.certs: list[CommitCertificate] = []
        self.positions: dict[bytes, tuple[int, int]] = {}
        self.abstain: set[bytes] = set()  # validators' keys that do not sign (none here)

    def add_signer(self, signer: Signer) -> None:
        self.signers[signer.public_key] = signer

    def set_at(self, height: int) -> ValidatorSet:
        raw = self.state.get(VALIDATORS_KEY, max(height - 2, 0))
        return validators_value(raw, self.genesis.validator_set, "in state")

    def commit(
        self,
        txs: list[tuple[Transaction, Receipt]] = (),  # type: ignore[assignment]
        writes: dict[bytes, bytes | None] | None = None,
    ) -> BlockHeader:
        h = len(self.blocks) + 1
        batch = self.state.apply(h, tree_updates(dict(writes or {}), [t.hash for t, _ in txs]))
        self.nodes.put_batch(batch)
        last = self.certs[-1] if self.certs else None
        prev = self.blocks[-1].header.hash if self.blocks else self.genesis.hash
        time_ms = T0 if last is None else median_time(last, self.set_at(h - 1))
        valset = self.set_at(h)
        header = BlockHeader(
            1,
            self.chain_id,
            h,
            time_ms,
            prev,
            merkle_root([t.encoded() for t, _ in txs]),
            batch.root,
            merkle_root([encode(r) for _, r in txs]),
            valset.hash,
            valset.validators[0].public_key,
            len(txs),
            last,
        )
        sigs = []
        for i, v in enumerate(valset.validators):
            if v.public_key in self.abstain:
                continue
            t = time_ms + 1000 + i  # the signers' clocks differ by a millisecond each
            msg = vote_signing_bytes(self.vote_domain, h, 0, PRECOMMIT, header.hash, t)
            sigs.append(CommitSig(v.public_key, t, self.signers[v.public_key].sign(msg)))
        self.blocks.append(Block(header, [t for t, _ in txs]))
        self.receipt_lists.append([r for _, r in txs])
        self.certs.append(CommitCertificate(1, self.chain_id, h, 0, header.hash, sigs))
        for i, (t, _) in enumerate(txs):
            self.positions[t.hash] = (h, i)
        return header

    def change_validators(self, validators: list[Validator]) -> BlockHeader:
        """A block writing a new validator set (it signs from this height + 2 on)."""
        value = encode([validator_record(v) for v in validators])
        return self.commit([], {VALIDATORS_KEY: value})

    # -- ChainReader -------------------------------------------------------------------------------
    def height(self) -> int:
        return len(self.blocks)

    def header(self, height: int) -> BlockHeader | None:
        return self.blocks[height - 1].header if 1 <= height <= len(self.blocks) else None

    def certificate(self, height: int) -> CommitCertificate | None:
        return self.certs[height - 1] if 1 <= height <= len(self.certs) else None

    def block(self, height: int) -> Block | None:
        return self.blocks[height - 1] if 1 <= height <= len(self.blocks) else None

    def receipts(self, height: int) -> list[Receipt] | None:
        return self.receipt_lists[height - 1] if 1 <= height <= len(self.blocks) else None

    def tx_position(self, tx_hash: bytes) -> tuple[int, int] | None:
        return self.positions.get(tx_hash)
