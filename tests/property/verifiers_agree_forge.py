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

import msgspec
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


def spec_render(kind: str, bundle: ProofBundle, genesis: bytes, now: int) -> dict[str, Any] | None:
    """The document the spec verifier renders from `bundle` (None: it refuses the bundle)."""
    import specbundle
    import specdocs
    import specwire

    try:
        g = specwire.parse_genesis(genesis)
        hist, blocks = specbundle.verify_bundle(encode(bundle), g, now)
        fields = specdocs.render(kind, g, blocks)
    except specwire.Invalid:
        return None
    return {"format": "tianfu-proof/v1", "kind": kind, "chain_id": g.chain_id,
            "genesis_hash": g.hash.hex(), "suite": g.suite,
            "validator_changes": [{"changed_in": c, "effective_from": e, "skipped_to": s,
                                   "validators": specdocs.vals_doc(v)}
                                  for c, e, v, s in hist.changes],
            **fields, "raw": encode(bundle).hex()}  # fmt: skip


# -- a generator of hostile signed documents -----------------------------------------------------
POWERS = [1, 1, 1, 2, 3, 7, 2**53 - 1, 2**53, 2**63, 2**64 - 1]
SET_CHANGES = ("add", "remove", "power", "rotate", "same key twice", "one", "all at 2^64 - 1",
               "unchanged")  # fmt: skip


def changed_set(rng: Any, f: Forge, vals: list[Validator]) -> list[Validator]:
    """`vals` changed in one way of SET_CHANGES (a new member or key from `f`'s pool)."""
    vals = list(vals)
    op = rng.choice(SET_CHANGES)
    s = f.signer(f"pool{rng.randint(1, 8)}")
    k = rng.randrange(len(vals))
    if op == "add":
        vals.append(Validator(f"v{rng.randint(0, 99)}", "org1", s.scheme, s.public_key,
                              rng.choice(POWERS)))  # fmt: skip
    elif op == "remove" and len(vals) > 1:
        vals.pop(k)
    elif op == "power":
        vals[k] = msgspec.structs.replace(vals[k], power=rng.choice(POWERS))
    elif op == "rotate":
        vals[k] = msgspec.structs.replace(vals[k], public_key=s.public_key)
    elif op == "same key twice":
        vals.append(msgspec.structs.replace(vals[k], name=vals[k].name + "'",
                                            power=rng.choice(POWERS)))  # fmt: skip
    elif op == "one":
        vals = [vals[k]]
    elif op == "all at 2^64 - 1":
        vals = [msgspec.structs.replace(v, power=2**64 - 1) for v in vals]
    return vals


def hostile_state_document(rng: Any, suite: str, label: str) -> dict[str, Any]:
    """A `state` document of a chain whose genesis set (1 … 4 members, powers up to
    2^64 − 1) changes in links at random heights (sequential, with or without a change, and
    skipping; a change of every kind of SET_CHANGES), each certificate signed by all of its
    set, a random part of it or all but one, and one proven block near the last link: valid
    or not, as the rules make it (a sequential change now and then deletes the entry: a
    tombstone, the genesis set). Rendered by the SDK, or by the spec verifier where the SDK
    refuses it, or with the common fields alone where both do."""
    f = Forge(suite, label, powers=[rng.choice(POWERS) for _ in range(rng.randint(1, 4))])
    with chain_suite(suite).use():
        gset = f.genesis_set()
        latest, last_change, h = gset, -1, rng.choice([0, 1, 2, 5, 2**53 - 12])
        links = []

        def some(vs: ValidatorSet) -> list[Validator]:
            ms, r = list(vs.validators), rng.random()
            if r < 0.6:
                return ms
            return rng.sample(ms, rng.randint(1, len(ms))) if r < 0.8 else ms[:-1] or ms

        for _ in range(rng.randint(0, 4)):
            h += rng.randint(1, 4)
            last, r = max(last_change, 0), rng.random()
            if r < 0.3:  # the latest set again
                c = 0 if last_change <= 0 and rng.random() < 0.5 else last
                prev = None if c == 0 else rng.choice([None, 0])
                links.append(f.link(h, list(latest.validators), c, prev, latest, some(latest)))
            elif r < 0.75:  # a sequential change
                c = max(rng.choice([h, h - 1, h - 2]), last + 1)
                h = max(h, c)
                prev = rng.choice([None, 0, last + 5]) if rng.random() < 0.1 else last
                new = changed_set(rng, f, list(latest.validators))
                if rng.random() < 0.1:  # the entry deleted: the genesis set (a tombstone)
                    links.append(f.link(h, None, c, prev, latest, some(latest)))
                    new = list(gset.validators)
                else:
                    links.append(f.link(h, new, c, prev, latest, some(latest)))
                if c + 2 > h:
                    latest, last_change = ValidatorSet(new), c
            else:  # a skipping link to the header's own set
                h += rng.randint(2, 5)
                own = ValidatorSet(changed_set(rng, f, list(latest.validators)))
                c = max(rng.choice([h - 2, h - 3, last, h]), 0)
                prev = rng.choice([None, 0, last]) if c > 0 else None
                links.append(f.link(h, list(own.validators), c, prev, own, some(own),
                                    skipping=True, time_ms=f.T0 + 10 + len(links)))  # fmt: skip
                latest, last_change = own, max(c, last_change)
        hp = max(rng.choice([h, h + 3, h - 1, 1, 2]), 1)
        signing = latest if hp > h or links else gset
        bundle = f.bundle(links, [f.state_block(hp, signing, members=some(signing))])
    doc: dict[str, Any] | None
    try:
        doc = make_document("state", bundle, f.g, TrustOptions(now_ms=f.now))
    except Exception:  # noqa: BLE001 - the SDK refuses it: the spec verifier's rendering
        doc = spec_render("state", bundle, encode(f.g), f.now)
    if doc is None:
        doc = {"format": "tianfu-proof/v1", "kind": "state", "chain_id": f.chain_id,
               "genesis_hash": f.g.hash.hex(), "suite": suite, "raw": encode(bundle).hex()}  # fmt: skip
    return {"name": f"{label} ({suite})", "kind": "state", "document": doc,
            "genesis": encode(f.g), "now_ms": f.now}  # fmt: skip
