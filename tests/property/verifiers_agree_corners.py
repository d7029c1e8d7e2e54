"""Valid proof documents of chains at the corners of membership changes, for each suite
(tests/property/test_verifiers_agree.py compares the three verifiers over them):

- `same block`: block 3 writes a new validator set together with an evidence deposit and
  a photo registration; block 5 (the first the new set signs) another deposit;
- `50 changes`: blocks 1 … 50 each change the set (a power), so a sequential chain has 50
  links;
- `rotated twice`: one validator's key rotated in block 1 and again in block 2 (seconds
  apart, well within one trusting period), then back to its first key in block 3 (the
  set is the genesis set again);
- `org readmitted`: an organisation removed with its validator in block 1 (its record kept
  with status `removed`, as governance writes it), re-admitted under the same name in
  block 4 with its validator and key (the set is the genesis set again). Governance
  refuses to re-admit a name; the verifiers do not know governance and must agree anyway;
- `suite switch`: a validator changes its scheme (standard: Ed25519 -> ECDSA P-256), and a
  validator whose scheme the chain's suite does not accept (standard: SM2; sm2: Ed25519)
  joins with a power the others outweigh and never signs.

`refused_documents` gives what every verifier MUST refuse: a certificate carrying a valid
signature of that foreign-scheme member (crypto.md#suites), and a bundle of 4097 links
(proofs.md#bundle: at most 4096) next to one of 4096 that verifies.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
from collections.abc import Iterator
from typing import Any

import msgspec
import verifiers_agree_chain as vac

from tianfu.codec import encode
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import ECDSA_P256, ED25519, SM2, chain_suite
from tianfu.execution.contract_api import address_of, state_key
from tianfu.proofs import valchain
from tianfu.proofs.build import SKIPPING, ProofBuilder
from tianfu.proofs.documents import make_document, merge_single_blocks
from tianfu.proofs.formats import BlockProof, ProofBundle, ValidatorLink
from tianfu.proofs.valchain import VALIDATORS_KEY, TrustOptions
from tianfu.types import OK, PRECOMMIT, CommitSig, Receipt, Validator, vote_signing_bytes
from tianfu.types.block import median_time

Doc = dict[str, Any]


def _chain(suite: str, tag: str, n: int = 4) -> tuple[Any, Any, list[Any]]:
    m = vac._chain_module()
    scheme = ED25519 if suite == "standard" else SM2
    signers = [m.Signer.make(f"corner-{suite}-{tag}/node{i + 1}", scheme) for i in range(n)]
    chain = m.SpecChain(f"corner-{tag}", suite, [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
    return m, chain, signers


class _Docs:
    """Documents of one chain, each as test_verifiers_agree's `bases` entries."""

    def __init__(self, suite: str, tag: str, chain: Any, now: int) -> None:
        self.suite, self.tag, self.chain, self.now = suite, tag, chain, now
        self.builder = ProofBuilder(chain)
        self.opts = TrustOptions(now_ms=now)
        self.out: list[Doc] = []

    def add(self, name: str, kind: str, bundle: ProofBundle) -> Doc:
        doc = make_document(kind, bundle, self.chain.genesis, self.opts)
        self.out.append({"suite": self.suite, "name": f"{self.tag}: {name}", "kind": kind,
                         "document": doc, "genesis": encode(self.chain.genesis),
                         "now_ms": self.now})  # fmt: skip
        return doc

    def record(self, kind: str, tx: Any, contract: str, key: str, height: int) -> None:
        b = self.builder
        parts = [make_document("tx", b.tx_bundle(tx.hash), self.chain.genesis, self.opts),
                 make_document("state", b.state_bundle([(contract, key)], height),
                               self.chain.genesis, self.opts)]  # fmt: skip
        self.add(f"{kind} of block {height}", kind, merge_single_blocks(parts))


def _records(m: Any, chain: Any, user: Any, nonce: int, height: int) -> tuple[Any, Any, dict[bytes, bytes]]:  # fmt: skip
    """A deposit and a photo registration written in block `height` (the next block)."""
    who = address_of(user.scheme, user.public_key)
    t = median_time(chain.certs[-1], chain.set_at(height - 1))
    fh, ih, ph = (hashlib.sha256(x + bytes([height])).hexdigest() for x in (b"f", b"i", b"p"))
    dep = m.signed_tx(user, chain.chain_id, nonce, "evidence", "deposit", [fh, "A file", {}])
    reg = m.signed_tx(user, chain.chain_id, nonce + 1, "photos", "register", [ih, "A photo", ph])
    common = {"org": "org1", "name": "user", "height": height, "time_ms": t}
    records = {
        state_key("evidence", f"dep:D-{height}"): {**common, "id": f"D-{height}", "file_hash": fh,
            "title": "A file", "depositor": who, "tx": dep.hash.hex()},
        state_key("photos", f"photo:P-{height}"): {**common, "id": f"P-{height}", "sha256": ih,
            "phash": ph, "title": "A photo", "author": who, "tx": reg.hash.hex()},
    }  # fmt: skip
    return dep, reg, {k: encode(v) for k, v in records.items()}


def same_block(suite: str) -> list[Doc]:
    m, chain, _ = _chain(suite, "same-block")
    user = m.Signer.make(f"corner-{suite}/user", chain.genesis.validators[0].scheme)
    g = list(chain.genesis.validators)
    chain.commit()  # 1
    chain.commit()  # 2
    dep3, reg3, writes = _records(m, chain, user, 1, 3)
    new = [msgspec.structs.replace(g[0], power=3), *g[1:]]
    writes[VALIDATORS_KEY] = encode([validator_record(v) for v in new])
    receipts = [Receipt(OK, 40, "D-3", "", []), Receipt(OK, 40, "P-3", "", [])]
    chain.commit(list(zip([dep3, reg3], receipts, strict=True)), writes)  # 3: records + a change
    chain.commit()  # 4
    dep5, _, writes5 = _records(m, chain, user, 3, 5)
    writes5 = {k: v for k, v in writes5.items() if k.startswith(b"evidence/")}
    chain.commit([(dep5, Receipt(OK, 40, "D-5", "", []))], writes5)  # 5: the new set signs
    chain.commit()  # 6
    d = _Docs(suite, "same block", chain, m.T0 + 3_600_000)
    d.record("evidence", dep3, "evidence", "dep:D-3", 3)
    d.record("photo_authorship", reg3, "photos", "photo:P-3", 3)
    d.record("evidence", dep5, "evidence", "dep:D-5", 5)
    b = d.builder
    d.add("the record at block 3", "state", b.state_bundle([("evidence", "dep:D-3")], 3))
    d.add("the record at block 6", "state", b.state_bundle([("evidence", "dep:D-3")], 6))
    d.add("the record at block 6, skipping", "state", b.state_bundle([("evidence", "dep:D-3")], 6, SKIPPING))  # fmt: skip
    for h in (3, 4, 5):
        d.add(f"validators at {h}", "validators", b.validators_bundle(h))
    d.add("validators at 6, skipping", "validators", b.validators_bundle(6, SKIPPING))
    return d.out


def fifty_changes(suite: str) -> list[Doc]:
    m, chain, _ = _chain(suite, "fifty")
    g = list(chain.genesis.validators)
    for i in range(1, 51):
        chain.change_validators([msgspec.structs.replace(g[0], power=i + 1), *g[1:]])
    chain.commit()  # 51
    chain.commit()  # 52
    d = _Docs(suite, "50 changes", chain, m.T0 + 3_600_000)
    b = d.builder
    d.add("validators at 52 (50 links)", "validators", b.validators_bundle(52))
    d.add("validators at 27", "validators", b.validators_bundle(27))
    d.add("state at 52 (50 links)", "state", b.state_bundle([("governance", "validators")], 52))
    d.add("state at 52, skipping", "state", b.state_bundle([("governance", "validators")], 52, SKIPPING))  # fmt: skip
    return d.out


def rotated_twice(suite: str) -> list[Doc]:
    m, chain, signers = _chain(suite, "rotated")
    g = list(chain.genesis.validators)
    keys = [m.Signer.make(f"corner-{suite}-rotated/node2-{i}", g[1].scheme) for i in (2, 3)]
    for k in keys:
        chain.add_signer(k)
    for k in keys:  # 1, 2: node2's key rotated twice
        chain.change_validators([g[0], msgspec.structs.replace(g[1], public_key=k.public_key), *g[2:]])  # fmt: skip
    chain.change_validators(g)  # 3: back to its first key (the genesis set again)
    for _ in range(4):
        chain.commit()  # 4 ... 7
    d = _Docs(suite, "rotated twice", chain, m.T0 + 3_600_000)
    b = d.builder
    for h in (3, 4, 5, 7):
        d.add(f"validators at {h}", "validators", b.validators_bundle(h))
    for h in (4, 7):
        d.add(f"validators at {h}, skipping", "validators", b.validators_bundle(h, SKIPPING))
    d.add("validators history", "history", b.history_bundle("governance", "validators", 7))
    d.add("state at 7, skipping", "state", b.state_bundle([("governance", "validators")], 7, SKIPPING))  # fmt: skip
    return d.out


def org_readmitted(suite: str) -> list[Doc]:
    m, chain, _ = _chain(suite, "readmitted")
    g = list(chain.genesis.validators)
    orgs = ["org1", "org2", "org3", "org4"]
    org4 = {"name": "org4", "ca_cert": b"CA of org4", "status": "active"}
    chain.commit([], {
        state_key("governance", "org/org4"): encode({**org4, "status": "removed", "removed": 1}),
        VALIDATORS_KEY: encode([validator_record(v) for v in g[:3]]),
    })  # 1: org4 removed with its validator  # fmt: skip
    chain.commit()  # 2
    chain.commit()  # 3
    chain.commit([], {
        state_key("governance", "orgs"): encode([*orgs, "org4"]),
        state_key("governance", "org/org4"): encode({**org4, "ca_cert": b"new CA of org4"}),
        VALIDATORS_KEY: encode([validator_record(v) for v in g]),
    })  # 4: re-admitted under its name, its validator with its key  # fmt: skip
    for _ in range(3):
        chain.commit()  # 5 ... 7
    d = _Docs(suite, "org readmitted", chain, m.T0 + 3_600_000)
    b = d.builder
    for h in (1, 3, 4, 7):
        d.add(f"orgs at {h}", "orgs", b.consortium_bundle("orgs", h))
    d.add("orgs at 7, skipping", "orgs", b.consortium_bundle("orgs", 7, SKIPPING))
    for h in (3, 6):
        d.add(f"validators at {h}", "validators", b.validators_bundle(h))
    d.add("validators at 7, skipping", "validators", b.validators_bundle(7, SKIPPING))
    d.add("org4 history", "history", b.history_bundle("governance", "org/org4", 7))
    d.add("orgs history", "history", b.history_bundle("governance", "orgs", 7))
    return d.out


FOREIGN = {"standard": SM2, "sm2": ED25519}
SWITCHED = {"standard": ECDSA_P256, "sm2": ED25519}


def _suite_switch_chain(suite: str) -> tuple[Any, Any, Any]:
    """The `suite switch` chain; returns (module, chain, the foreign member's signer)."""
    m, chain, _ = _chain(suite, "switch")
    g = list(chain.genesis.validators)
    switched = m.Signer.make(f"corner-{suite}-switch/node2-switched", SWITCHED[suite])
    foreign = m.Signer.make(f"corner-{suite}-switch/node5-foreign", FOREIGN[suite])
    chain.add_signer(switched)
    chain.add_signer(foreign)
    node2 = Validator(g[1].name, g[1].org, switched.scheme, switched.public_key, 1)
    if suite == "sm2":  # node2 leaves the suite's scheme: it cannot sign any more
        chain.abstain.add(switched.public_key)
        node2 = msgspec.structs.replace(node2, power=1)
    chain.change_validators([g[0], node2, *g[2:]])  # 1: node2 switches scheme
    v5 = Validator("node5", "org1", foreign.scheme, foreign.public_key, 1)
    chain.abstain.add(foreign.public_key)
    if suite == "sm2":  # the SM2 members must still hold more than 2/3: weigh them up
        others = [msgspec.structs.replace(v, power=3) for v in (g[0], *g[2:])]
        chain.change_validators([others[0], node2, *others[1:], v5])  # 2
    else:
        chain.change_validators([g[0], node2, *g[2:], v5])  # 2: a foreign-scheme member
    for _ in range(4):
        chain.commit()  # 3 ... 6
    return m, chain, foreign


def suite_switch(suite: str) -> list[Doc]:
    m, chain, _ = _suite_switch_chain(suite)
    d = _Docs(suite, "suite switch", chain, m.T0 + 3_600_000)
    b = d.builder
    d.add("validators at 6", "validators", b.validators_bundle(6))
    d.add("validators at 6, skipping", "validators", b.validators_bundle(6, SKIPPING))
    d.add("state at 6", "state", b.state_bundle([("governance", "validators")], 6))
    d.add("state at 6, skipping", "state", b.state_bundle([("governance", "validators")], 6, SKIPPING))  # fmt: skip
    return d.out


@functools.cache
def corner_documents(suite: str) -> list[Doc]:
    with chain_suite(suite).use():
        return [
            *same_block(suite),
            *fifty_changes(suite),
            *rotated_twice(suite),
            *org_readmitted(suite),
            *suite_switch(suite),
        ]


# -- documents every verifier MUST refuse --------------------------------------------------------
def _foreign_signature(m: Any, signer: Any, message: bytes) -> bytes:
    """A valid signature of `signer`'s own scheme (made outside the chain's suite)."""
    if signer.scheme == SM2:
        return bytes(m.sm2_sign(signer.secret, message))
    return bytes(signer.secret.sign(message))


def foreign_signed(suite: str) -> tuple[Doc, Doc]:
    """A `state` document of the `suite switch` chain at 6, and the same whose proven block's
    certificate also carries a valid signature of the member whose scheme the suite does
    not accept: that signature is invalid on this chain, so the certificate certifies
    nothing (blocks.md rule 5, crypto.md#suites)."""
    with chain_suite(suite).use():
        m, chain, foreign = _suite_switch_chain(suite)
        d = _Docs(suite, "suite switch", chain, m.T0 + 3_600_000)
        bundle = d.builder.state_bundle([("governance", "validators")], 6)
        valid = d.add("state at 6", "state", bundle)
        cert = chain.certificate(6)
        t = cert.signatures[-1].time_ms + 1
        msg = vote_signing_bytes(chain.chain_id, 6, cert.round, PRECOMMIT, cert.block_hash, t)
        sig = CommitSig(foreign.public_key, t, _foreign_signature(m, foreign, msg))
        signed = msgspec.structs.replace(cert, signatures=[*cert.signatures, sig])
        block = bundle.blocks[0]
        light = msgspec.structs.replace(block.block, certificate=encode(signed))
        changed = msgspec.structs.replace(
            bundle, blocks=[msgspec.structs.replace(block, block=light)]
        )
        refused = {**copy.deepcopy(valid), "raw": encode(changed).hex()}
        return d.out[0], {**d.out[0], "name": "foreign signature", "document": refused}


def many_links(n: int) -> tuple[Doc, Doc]:
    """A `state` document whose bundle has `n` sequential links (no change: every link
    proves the genesis set again) on a chain of one Ed25519 validator, and the same with
    one more link (at height n + 1, before the proven block n + 2)."""
    with chain_suite("standard").use():
        m, chain, _ = _chain("standard", "links", 1)
        for _ in range(n + 2):
            chain.commit()
        b = ProofBuilder(chain)
        now = m.T0 + 100 * 3_600_000

        def bundle(k: int) -> ProofBundle:
            links = []
            for h in range(1, k + 1):
                e = b.entry(VALIDATORS_KEY, h)
                links.append(ValidatorLink(b.light_block(h), e.value, e.proof))
            entry = b.entry(state_key("governance", "validators"), n + 2)
            return ProofBundle(1, links, [BlockProof(b.light_block(n + 2), [], [entry])])

        doc = make_document("state", bundle(n), chain.genesis, TrustOptions(now_ms=now))
        over = {**doc, "raw": encode(bundle(n + 1)).hex()}
        base = {"suite": "standard", "kind": "state", "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip
        return {**base, "name": f"{n} links", "document": doc}, {
            **base, "name": f"{n + 1} links", "document": over,
        }  # fmt: skip


ODD_MEMBERS = {
    "a negative scheme": lambda key: (-1, key),
    "a public key of 66 bytes": lambda key: (ED25519, key + bytes(66 - len(key))),
}


@contextlib.contextmanager
def _taking_odd_records() -> Iterator[None]:
    """The project's code told to take validator records of any scheme and key length."""
    limits = valchain.MAX_KEY_BYTES, valchain.MIN_SCHEME
    valchain.MAX_KEY_BYTES, valchain.MIN_SCHEME = 1 << 20, -(1 << 63)
    try:
        yield
    finally:
        valchain.MAX_KEY_BYTES, valchain.MIN_SCHEME = limits


def odd_member(suite: str, what: str) -> list[Doc]:
    """`state` documents of `governance/validators` at block 8 (sequential and skipping) of
    a chain whose set gains, in block 1, a member of power 1 that never signs and whose
    record no verifier takes (blocks.md#validator-sets: a scheme `>= 0`, a public key of at
    most 65 bytes); block 4 changes a power, and the skipping chain jumps to it, carrying
    the set with that member. Each MUST be refused, though more than 2/3 of the set
    certify every block. (Made with the project's code told to take such records.)"""
    with chain_suite(suite).use(), _taking_odd_records():
        m, chain, _ = _chain(suite, "odd")
        g = list(chain.genesis.validators)
        scheme, key = ODD_MEMBERS[what](m.Signer.make(f"corner-{suite}-odd/x", ED25519).public_key)  # fmt: skip
        chain.abstain.add(key)
        heavy = [msgspec.structs.replace(v, power=2) for v in g]
        odd = Validator("node9", "org1", scheme, key, 1)
        chain.change_validators([*heavy, odd])  # 1
        chain.commit()  # 2
        chain.commit()  # 3
        chain.change_validators([msgspec.structs.replace(heavy[0], power=3), *heavy[1:], odd])
        for _ in range(4):
            chain.commit()  # 5 ... 8
        b = ProofBuilder(chain)
        now = m.T0 + 3_600_000
        reads = [("governance", "validators")]
        doc = make_document("state", b.state_bundle(reads, 8), chain.genesis, TrustOptions(now_ms=now))  # fmt: skip
        bundle = b.state_bundle(reads, 8, SKIPPING)
        assert [bool(link.block.signers) for link in bundle.validators] == [True]
        first, _, last = doc["validator_changes"]
        skipping = {**doc, "validator_changes": [first, {**last, "skipped_to": True}],
                    "raw": encode(bundle).hex()}  # fmt: skip
        base = {"suite": suite, "kind": "state", "genesis": encode(chain.genesis), "now_ms": now}
        return [{**base, "name": f"{what}, sequential", "document": doc},
                {**base, "name": f"{what}, skipping", "document": skipping}]  # fmt: skip


def link_beyond_bounds(suite: str) -> tuple[Any, list[tuple[str, ValidatorLink]]]:
    """The genesis set and links whose header or certificate has a field beyond its bound
    (blocks.md: a chain id of 1 … 64 characters, a proposer and a signer's key of at most 65
    bytes, a signature of at most 72, at most 1024 signatures); the certificate is of the
    changed header (its hash), its Merkle proof unchanged. The first link is unchanged."""
    from tianfu.types import BlockHeader, CommitCertificate

    with chain_suite(suite).use():
        m, chain, _ = _chain(suite, "bounds")
        g = list(chain.genesis.validators)
        chain.change_validators([msgspec.structs.replace(g[0], power=2), *g[1:]])  # 1
        chain.commit()
        link = ProofBuilder(chain).link(1)
        header, cert = chain.header(1), chain.certificate(1)
        sig = cert.signatures[0]

        def changed(
            h: BlockHeader = header, sigs: list[Any] = cert.signatures, cid: str | None = None
        ) -> ValidatorLink:
            c = CommitCertificate(1, cid or h.chain_id, 1, 0, h.hash, sigs)
            light = msgspec.structs.replace(link.block, header=encode(h), certificate=encode(c))
            return msgspec.structs.replace(link, block=light)

        cases = [
            ("unchanged", changed()),
            ("a proposer of 66 bytes", changed(msgspec.structs.replace(header, proposer=bytes(66)))),
            ("a chain id of 65 characters", changed(msgspec.structs.replace(header, chain_id="c" * 65))),
            ("a certificate's chain id of 65 characters", changed(cid="c" * 65)),
            ("a signer's key of 66 bytes", changed(sigs=[msgspec.structs.replace(sig, validator=bytes(66))])),
            ("a signature of 73 bytes", changed(sigs=[msgspec.structs.replace(sig, signature=bytes(73))])),
            ("1025 signatures", changed(sigs=[sig] * 1025)),
        ]  # fmt: skip
        return chain.genesis, cases


def powers_past_2_53(suite: str) -> Doc:
    """A `state` document of block 3 of a chain whose genesis set has powers 2^52, 2^52 and
    2^52 - 1 (each within JavaScript's safe integers, their sum 3·2^52 - 1 not), the last
    validator never signing: 2·2^52 of 3·2^52 - 1 is more than 2/3 (exactly; a float sum
    rounds the total to 3·2^52 and the quorum fails)."""
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"corner-{suite}-powers/node{i + 1}", scheme) for i in range(3)]
        powers = [2**52, 2**52, 2**52 - 1]
        chain = m.SpecChain("corner-powers", suite, [(s, f"org{i + 1}", p) for i, (s, p) in enumerate(zip(signers, powers, strict=True))])  # fmt: skip
        chain.abstain.add(signers[2].public_key)
        for _ in range(3):
            chain.commit()
        now = m.T0 + 3_600_000
        bundle = ProofBuilder(chain).state_bundle([("governance", "validators")], 3)
        doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
        return {"suite": suite, "name": "powers past 2^53", "kind": "state", "document": doc,
                "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip
