"""Hostile but signed documents for the differential tests of the three verifiers
(test_verifiers_agree_eighth.py): blocks whose headers, state and certificates are chosen
freely and signed anew by keys the genesis (or a chosen validator set) holds — what
validators holding more than 2/3 of the power can certify.

`Forge` holds the keys; `header` makes a header of any height, state root and set hash;
`cert` signs it with chosen members; `leaf_state` makes a state of one leaf (any height,
any prev) and its proof; `document` bundles links and one proven block and renders the
document with the SDK, or, where the SDK refuses (the case under test), takes the readable
fields it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import verifiers_agree_chain as vac
import verifiers_agree_lib as lib

from tianfu.codec import encode, hash_domain
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import ED25519, SM2, chain_suite
from tianfu.proofs.documents import make_document
from tianfu.proofs.formats import BlockProof, EntryProof, LightBlock, ProofBundle
from tianfu.proofs.valchain import VALIDATORS_KEY, TrustOptions
from tianfu.state import StateProof
from tianfu.state.proof import ProofLeaf
from tianfu.types import (
    PRECOMMIT,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Genesis,
    Validator,
    ValidatorSet,
    vote_signing_bytes,
)

NOW_OFFSET = 3_600_000  # the verifiers' clock: an hour after the genesis


def key_scheme(suite: str) -> int:
    return ED25519 if suite == "standard" else SM2


@dataclass
class Forge:
    """Keys of a chain (the genesis members and any others, by label) and its genesis."""

    suite: str
    label: str
    powers: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    signers: dict[bytes, Any] = field(default_factory=dict)
    genesis: Genesis | None = None

    def __post_init__(self) -> None:
        m = vac._chain_module()
        self.T0: int = m.T0
        with chain_suite(self.suite).use():
            members = [self.signer(f"node{i + 1}") for i in range(len(self.powers))]
            chain = m.SpecChain(f"forge-{self.label}-{self.suite}", self.suite,
                                [(s, f"org{i + 1}", p) for i, (s, p)
                                 in enumerate(zip(members, self.powers, strict=True))])  # fmt: skip
        self.genesis = chain.genesis

    @property
    def g(self) -> Genesis:
        assert self.genesis is not None
        return self.genesis

    @property
    def chain_id(self) -> str:
        return self.g.chain_id

    @property
    def now(self) -> int:
        return self.T0 + NOW_OFFSET

    def signer(self, name: str) -> Any:
        m = vac._chain_module()
        s = m.Signer.make(f"forge-{self.label}-{self.suite}/{name}", key_scheme(self.suite))
        self.signers[s.public_key] = s
        return s

    def member(self, name: str, power: int = 1, org: str = "org1") -> Validator:
        s = self.signer(name)
        return Validator(name, org, s.scheme, s.public_key, power)

    def genesis_set(self) -> ValidatorSet:
        return self.g.validator_set

    # -- blocks ---------------------------------------------------------------------------------
    def header(self, height: int, state_root: bytes, valset: ValidatorSet, *,
               time_ms: int | None = None, tx_root: bytes | None = None,
               receipts_root: bytes | None = None, tx_count: int = 0) -> BlockHeader:  # fmt: skip
        with chain_suite(self.suite).use():
            empty = hash_domain("tianfu/merkle/empty/v1")
            prev = hash_domain("forge/prev", height.to_bytes(8, "big"))
            last = None
            if height > 1:
                last = CommitCertificate(1, self.chain_id, height - 1, 0, prev,
                                         [CommitSig(b"\x01" * 32, 1, b"")])  # fmt: skip
            return BlockHeader(1, self.chain_id, height,
                               self.T0 + min(height, 1_000_000) if time_ms is None else time_ms, prev,
                               empty if tx_root is None else tx_root, state_root,
                               empty if receipts_root is None else receipts_root,
                               valset.hash, valset.validators[0].public_key, tx_count, last)  # fmt: skip

    def cert(self, header: BlockHeader, members: list[Validator], *, round_: int = 0,
             extra: list[CommitSig] = ()) -> CommitCertificate:  # type: ignore[assignment]  # fmt: skip
        """`header`'s certificate signed by `members` (each once, in order), then `extra`."""
        with chain_suite(self.suite).use():
            sigs = []
            for i, v in enumerate(members):
                t = header.time_ms + 1000 + i
                msg = vote_signing_bytes(self.chain_id, header.height, round_, PRECOMMIT,
                                         header.hash, t)  # fmt: skip
                sigs.append(CommitSig(v.public_key, t, self.signers[v.public_key].sign(msg)))
            return CommitCertificate(1, self.chain_id, header.height, round_, header.hash,
                                     [*sigs, *extra])  # fmt: skip

    def light(self, header: BlockHeader, members: list[Validator],
              own: ValidatorSet | None = None, **kw: Any) -> LightBlock:  # fmt: skip
        return LightBlock(encode(header), encode(self.cert(header, members, **kw)),
                          b"" if own is None else encode(own))  # fmt: skip

    def leaf_state(self, key: bytes, value: bytes | None, height: int,
                   prev: int | None) -> tuple[bytes, StateProof]:  # fmt: skip
        """A state of one leaf (`key` → `value`, None: a tombstone, written at `height` after
        `prev`): its root and the proof of `key`."""
        with chain_suite(self.suite).use():
            kh = hash_domain("tianfu/state/key/v1", key)
            vh = b"" if value is None else hash_domain("tianfu/state/value/v1", value)
            leaf = ProofLeaf(kh, vh, height, prev)
            return leaf.hash(), StateProof(2, [], leaf)

    def link(self, height: int, valset_value: list[Validator] | None, changed: int,
             prev: int | None, signing: ValidatorSet, members: list[Validator] | None = None,
             *, skipping: bool = False, time_ms: int | None = None) -> Any:  # fmt: skip
        """A link at `height` whose state is one leaf of `governance/validators` (the records of
        `valset_value`, written at `changed` after `prev`), its header signed by `signing`
        (all of its members unless `members`)."""
        from tianfu.proofs.formats import ValidatorLink

        value = (
            None if valset_value is None else encode([validator_record(v) for v in valset_value])
        )
        root, proof = self.leaf_state(VALIDATORS_KEY, value, changed, prev)
        h = self.header(height, root, signing, time_ms=time_ms)
        who = list(signing.validators) if members is None else members
        return ValidatorLink(self.light(h, who, own=signing if skipping else None), value,
                             encode(proof))  # fmt: skip

    def state_block(self, height: int, signing: ValidatorSet, *, key: bytes = b"kv/v",
                    value: bytes | None = None, leaf_height: int | None = None,
                    members: list[Validator] | None = None, **kw: Any) -> BlockProof:  # fmt: skip
        """A proven block at `height` whose state is one leaf `key` → `value` (default
        encode("x")), written at `leaf_height` (default `height`)."""
        v = encode("x") if value is None else value
        root, proof = self.leaf_state(key, v, height if leaf_height is None else leaf_height, None)
        h = self.header(height, root, signing, **kw)
        who = list(signing.validators) if members is None else members
        return BlockProof(self.light(h, who), [], [EntryProof(key, v, encode(proof))])

    def bundle(self, links: list[Any], blocks: list[BlockProof]) -> ProofBundle:
        return ProofBundle(1, links, blocks)

    def document(self, kind: str, bundle: ProofBundle, name: str,
                 **fields: Any) -> dict[str, Any]:  # fmt: skip
        """A base for `three`: the SDK's rendering of `bundle`, or, if the SDK refuses it,
        `fields` over the common fields (what a verifier skipping the refusal renders)."""
        lib.load_app_kinds()
        try:
            doc = make_document(kind, bundle, self.g, TrustOptions(now_ms=self.now))
        except Exception:  # noqa: BLE001 - the SDK refuses: the given fields stand
            doc = {"format": "tianfu-proof/v1", "kind": kind, "chain_id": self.chain_id,
                   "genesis_hash": self.g.hash.hex(), "suite": self.suite, **fields,
                   "raw": encode(bundle).hex()}  # fmt: skip
        return {"name": name, "kind": kind, "document": doc, "genesis": encode(self.g),
                "now_ms": self.now}  # fmt: skip


def rendered_set(valset: list[Validator]) -> list[dict[str, Any]]:
    return [{"name": v.name, "org": v.org, "power": v.power, "scheme": v.scheme,
             "public_key": v.public_key.hex()} for v in valset]  # fmt: skip


def change(changed_in: int, effective: int, valset: list[Validator], skipped: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"changed_in": changed_in, "effective_from": effective, "skipped_to": skipped,
            "validators": rendered_set(valset)}  # fmt: skip
