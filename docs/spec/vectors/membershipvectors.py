"""Documents across membership changes at the exact integer boundaries (documents.json,
appended after the eighth review's): each continues the vector chain's `state` case (its
three sequential links; the latest set node1 = 3, node2 … node4 = 1) with links and a
proven block its validators sign anew.

- a change of powers alone (same keys, powers 2^64 − 2, 2^64 − 2, 2, 2^64 − 1), then the
  block after it signed by exactly 2/3 of the new total (invalid) or just over (valid);
- node4's key rotated, then the block after it with the old key's signature among the
  others (invalid: a foreign signature rejects the certificate) or the new key's (valid);
- a skipping link whose signers hold exactly 1/3 of the trusted power (invalid) or 2/3
  (valid), the trusted set being three members of power 2^64 − 1;
- block 1 whose `prev_hash` is not the genesis hash and whose `proposer` is no member
  (valid: a verifier checks neither, blocks.md#block-header);
- a proven value nested 5000 levels deep (invalid, refused without a crash: a decoder's
  own limit is no verdict, encoding.md#contract-values);
- a link proving the validators entry deleted (a tombstone), after which the genesis set
  signs again (valid, blocks.md#validator-sets);
- a proven entry whose proof ends at a node with 15 EMPTY siblings (invalid, merkle.md,
  step 3; EMPTY with the chain's hash, SM3 on the `sm2` chain).

An invalid case's readable fields are what a verifier skipping the broken rule renders.
"""

from __future__ import annotations

from typing import Any

import msgspec
from chain import SpecChain, Signer

from tianfu.codec import decode, encode, hash_domain
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.proofs.documents import bundle_of, make_document
from tianfu.proofs.formats import BlockProof, EntryProof, LightBlock, ValidatorLink
from tianfu.proofs.valchain import VALIDATORS_KEY, TrustOptions
from tianfu.state import StateProof
from tianfu.state.proof import ProofLeaf
from tianfu.types import (
    PRECOMMIT,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Validator,
    ValidatorSet,
    vote_signing_bytes,
)

M = 2**64 - 1


def _leaf(key: bytes, value: bytes, height: int, prev: int | None) -> tuple[bytes, bytes]:
    """A state of one leaf: its root and the proof of `key`."""
    kh = hash_domain("tianfu/state/key/v1", key)
    leaf = ProofLeaf(kh, hash_domain("tianfu/state/value/v1", value), height, prev)
    return leaf.hash(), encode(StateProof(2, [], leaf))


class Forger:
    """Headers of the vector chain at chosen heights, signed by chosen members."""

    def __init__(self, chain: SpecChain, base: dict[str, Any], now: int) -> None:
        self.chain = chain
        self.now = now  # the verifiers' clock
        self.bundle = bundle_of(base)
        self.top = decode(self.bundle.blocks[0].block.header, BlockHeader)
        last = base["validator_changes"][-1]
        self.last_change = last["changed_in"]
        self.latest = [Validator(v["name"], v["org"], v["scheme"], bytes.fromhex(v["public_key"]),
                                 v["power"]) for v in last["validators"]]  # fmt: skip

    def signer(self, label: str, scheme: int | None = None) -> Signer:
        scheme = self.chain.genesis.validators[0].scheme if scheme is None else scheme
        s = Signer.make(f"{self.chain.chain_id}/{label}", scheme)
        self.chain.add_signer(s)
        return s

    def header(self, height: int, root: bytes, signing: list[Validator], **kw: Any) -> BlockHeader:
        lc = self.top.last_commit
        assert lc is not None
        fields: dict[str, Any] = {"height": height, "state_root": root, "tx_count": 0,
                                  "validators_hash": ValidatorSet(signing).hash,
                                  "time_ms": self.top.time_ms + 1000 * height,
                                  "last_commit": msgspec.structs.replace(lc, height=height - 1),
                                  **kw}  # fmt: skip
        tx_root = hash_domain("tianfu/merkle/empty/v1")
        return msgspec.structs.replace(self.top, tx_root=tx_root, receipts_root=tx_root, **fields)

    def light(self, header: BlockHeader, signers: list[Validator],
              own: list[Validator] | None = None) -> LightBlock:  # fmt: skip
        sigs = []
        for i, v in enumerate(signers):
            t = header.time_ms + 1000 + i
            msg = vote_signing_bytes(self.chain.chain_id, header.height, 0, PRECOMMIT,
                                     header.hash, t)  # fmt: skip
            sigs.append(CommitSig(v.public_key, t, self.chain.signers[v.public_key].sign(msg)))
        cert = CommitCertificate(1, self.chain.chain_id, header.height, 0, header.hash, sigs)
        return LightBlock(encode(header), encode(cert),
                          b"" if own is None else encode(ValidatorSet(own)))  # fmt: skip

    def link(self, height: int, new: list[Validator], changed: int, prev: int,
             signing: list[Validator], skipping: bool = False) -> ValidatorLink:  # fmt: skip
        value = encode([validator_record(v) for v in new])
        root, proof = _leaf(VALIDATORS_KEY, value, changed, prev)
        header = self.header(height, root, signing)
        return ValidatorLink(self.light(header, signing, new if skipping else None), value, proof)

    def block(self, height: int, signing: list[Validator], signers: list[Validator],
              value: bytes | None = None, **kw: Any) -> BlockProof:  # fmt: skip
        v = encode("three") if value is None else value
        root, proof = _leaf(b"kv/alpha", v, height, None)
        header = self.header(height, root, signing, **kw)
        return BlockProof(self.light(header, signers), [], [EntryProof(b"kv/alpha", v, proof)])

    def document(self, links: list[ValidatorLink], block: BlockProof,
                 twin: BlockProof | None = None) -> dict[str, Any]:  # fmt: skip
        """The document of `block` after the base's links and `links`; if invalid, the
        rendering of `twin` (the same block, validly signed) with this bundle's `raw`."""
        bundle = msgspec.structs.replace(self.bundle, validators=[*self.bundle.validators, *links],
                                         blocks=[block])  # fmt: skip
        good = bundle if twin is None else msgspec.structs.replace(bundle, blocks=[twin])
        doc = make_document("state", good, self.chain.genesis,
                            TrustOptions(now_ms=self.now))  # fmt: skip
        return {**doc, "raw": encode(bundle).hex()}


def _powers_alone(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    new = [msgspec.structs.replace(v, power=p)
           for v, p in zip(f.latest, [M - 1, M - 1, 2, M], strict=True)]  # fmt: skip
    link = f.link(20, new, 20, f.last_change, f.latest)
    exact = f.block(22, new, new[:3])
    over = f.block(22, new, [new[0], new[2], new[3]])
    return [
        ("a change of powers alone (same keys); the next block signed by exactly 2/3 of the "
         "new total (2^65 − 2 of 3·(2^64 − 1))", False, f.document([link], exact, over)),
        ("a change of powers alone (same keys); the next block signed by just over 2/3 of the "
         "new total", True, f.document([link], over)),
    ]  # fmt: skip


def _rotated(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    s = f.signer("node4 rotated", f.latest[3].scheme)
    new = [*f.latest[:3], msgspec.structs.replace(f.latest[3], public_key=s.public_key)]
    link = f.link(20, new, 20, f.last_change, f.latest)
    good = f.block(22, new, new)
    old = f.block(22, new, [*new[:3], f.latest[3]])
    return [
        ("a key rotated; the next block signed with the new key", True, f.document([link], good)),
        ("a key rotated; the next block signed with the old key beside the other three (a "
         "foreign signature rejects the certificate)", False, f.document([link], old, good)),
    ]  # fmt: skip


def _skips(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    trusted = [msgspec.structs.replace(v, power=M) for v in f.latest[:3]]
    seq = f.link(20, trusted, 20, f.last_change, f.latest)
    extra = [Validator(f"skip{i}", "org1", f.latest[0].scheme, f.signer(f"skip{i}").public_key, 1)
             for i in (1, 2)]  # fmt: skip
    out = []
    for name, keep, valid in (("exactly 1/3 (2^64 − 1 of 3·(2^64 − 1))", trusted[:1], False),
                              ("2/3", trusted[:2], True)):  # fmt: skip
        own = [*keep, *extra]
        skip = f.link(30, own, 27, 20, own, skipping=True)
        block = f.block(31, own, own)
        doc = f.document([seq, skip], block) if valid else None
        if doc is None:  # rendered as the valid twin renders, with this set and block
            twin_own = [*trusted[:2], *extra]
            twin = f.document([seq, f.link(30, twin_own, 27, 20, twin_own, skipping=True)],
                              f.block(31, twin_own, twin_own))  # fmt: skip
            header = decode(block.block.header, BlockHeader)
            changes = twin["validator_changes"]
            changes[-1]["validators"] = [{"name": v.name, "org": v.org, "power": v.power,
                                          "scheme": v.scheme, "public_key": v.public_key.hex()}
                                         for v in own]  # fmt: skip
            bundle = msgspec.structs.replace(f.bundle, validators=[*f.bundle.validators, seq, skip],
                                             blocks=[block])  # fmt: skip
            doc = {**twin, "block_hash": header.hash.hex(), "raw": encode(bundle).hex()}
        out.append((f"a skipping link whose signers hold {name} of the trusted power", valid, doc))
    return out


def _block_one(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    g = list(f.chain.genesis.validators)
    stranger = f.signer("not a member")
    block = f.block(1, g, g, prev_hash=b"\xee" * 32, proposer=stranger.public_key,
                    last_commit=None)  # fmt: skip
    bundle = msgspec.structs.replace(f.bundle, validators=[], blocks=[block])
    doc = make_document("state", bundle, f.chain.genesis, TrustOptions(now_ms=f.now))
    return [("block 1 whose prev_hash is not the genesis hash and whose proposer is no member "
             "(neither is checked)", True, doc)]  # fmt: skip


def _deep(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    deep = b"\x91" * 5000 + b"\xc0"
    block = f.block(12, f.latest, f.latest, value=deep)
    twin = f.block(12, f.latest, f.latest)
    doc = f.document([], block, twin)
    header = decode(block.block.header, BlockHeader)
    doc["block_hash"], doc["state_root"] = header.hash.hex(), header.state_root.hex()
    doc["entries"][0]["value"] = None
    return [("a proven value nested 5000 levels deep (no contract value; a decoder's own limit "
             "is no verdict)", False, doc)]  # fmt: skip


def _tombstone(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    kh = hash_domain("tianfu/state/key/v1", VALIDATORS_KEY)
    leaf = ProofLeaf(kh, b"", 20, f.last_change)
    header = f.header(20, leaf.hash(), f.latest)
    link = ValidatorLink(f.light(header, f.latest), None, encode(StateProof(2, [], leaf)))
    g = list(f.chain.genesis.validators)
    return [("the validators entry deleted (a tombstone): the genesis set signs again", True,
             f.document([link], f.block(22, g, g)))]  # fmt: skip


def _lonely_leaf(f: Forger) -> list[tuple[str, bool, dict[str, Any]]]:
    value = encode("three")
    kh = hash_domain("tianfu/state/key/v1", b"kv/alpha")
    leaf = ProofLeaf(kh, hash_domain("tianfu/state/value/v1", value), 12, None)
    empty = hash_domain("tianfu/state/empty/v1")
    n = kh[0] >> 4
    root = hash_domain("tianfu/state/internal/v1", *[empty] * n, leaf.hash(), *[empty] * (15 - n))
    header = f.header(12, root, f.latest)
    proof = encode(StateProof(2, [[empty] * 15], leaf))
    block = BlockProof(f.light(header, f.latest), [], [EntryProof(b"kv/alpha", value, proof)])
    doc = f.document([], block, f.block(12, f.latest, f.latest))
    doc["block_hash"], doc["state_root"] = header.hash.hex(), root.hex()
    return [("a state proof ending at a node whose 15 other children are EMPTY (no canonical "
             "tree has it)", False, doc)]  # fmt: skip


def forged_documents_membership(suite: str, chain: SpecChain,
                                cases: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """The cases above (but the last two), over the valid `state` case of `suite`."""
    return _cases(suite, chain, cases, (_powers_alone, _rotated, _skips, _block_one, _deep))


def forged_documents_membership_empty(suite: str, chain: SpecChain,
                                      cases: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """The tombstone and EMPTY-node cases, appended after every suite's cases above."""
    return _cases(suite, chain, cases, (_tombstone, _lonely_leaf))


def _cases(suite: str, chain: SpecChain, cases: list[dict[str, Any]],
           makers: tuple[Any, ...]) -> list[dict[str, Any]]:  # fmt: skip
    base = next(c for c in cases if c["suite"] == suite and c.get("name") == "state")
    out = []
    for make in makers:
        f = Forger(chain, base["document"], base["now_ms"])
        for name, valid, doc in make(f):
            out.append({"name": name, "suite": suite, "genesis": suite, "kind": "state",
                        "now_ms": base["now_ms"], "valid": valid, "document": doc})  # fmt: skip
    return out
