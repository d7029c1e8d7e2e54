"""A validator-chain link whose `governance/validators` entry is proven absent (its `value`
nil: the genesis set) by an exclusion proof (merkle.md#state-proofs): another key's leaf on
the entry's path, or an empty child, under a header the genesis set signed. Forged proofs —
another key's leaf off the path, a node whose other 15 children are EMPTY, the very root of
a state that holds the entry, a tombstone leaf whose `prev` is not below its height — must
be refused by the SDK, the spec verifier and the console (its `provenEntry`) alike, on both
suites; the honest exclusion proofs must be taken by all three. Coverage of the console's
new exclusion checks for links: these verdicts agreed on main when written."""

from __future__ import annotations

import pytest
from test_verifiers_agree_membership import block, check, document
from verifiers_agree_forge import Forge, change

from tianfu.codec import encode, hash_domain
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import chain_suite
from tianfu.proofs.formats import ValidatorLink
from tianfu.proofs.valchain import VALIDATORS_KEY
from tianfu.state import StateProof
from tianfu.state.proof import ProofLeaf

SUITES = ["standard", "sm2"]


def nibble0(h: bytes) -> int:
    return h[0] >> 4


@pytest.mark.parametrize("suite", SUITES)
def test_exclusion_proofs_of_a_links_validators_entry(suite: str) -> None:
    f = Forge(suite, "exclusion")
    gset = f.genesis_set()
    g = list(gset.validators)
    with chain_suite(suite).use():
        empty = hash_domain("tianfu/state/empty/v1")
        kv = hash_domain("tianfu/state/key/v1", VALIDATORS_KEY)
        n = nibble0(kv)
        other = bytes([0xAA]) * 32  # a sibling subtree's hash (not EMPTY)

        def level(at: int, child: bytes, beside: bytes | None = other) -> tuple[list[bytes], bytes]:
            """The 15 siblings of slot `at` (one other child `beside` when given) and the
            root of the node with `child` at `at`."""
            slots = [empty] * 16
            if beside is not None:
                slots[(at + 1) % 16] = beside
            slots[at] = child
            return slots[:at] + slots[at + 1 :], hash_domain("tianfu/state/internal/v1", *slots)

        def leaf_of(key: bytes, vh: bytes = b"\x11" * 32, height: int = 1,
                    prev: int | None = None) -> ProofLeaf:  # fmt: skip
            return ProofLeaf(hash_domain("tianfu/state/key/v1", key), vh, height, prev)

        on_path = next(
            k
            for i in range(1000)
            if nibble0((lf := leaf_of(k := b"kv/%d" % i)).key_hash) == n and lf.key_hash != kv
        )  # noqa: E501
        off_path = next(k for i in range(1000) if nibble0(leaf_of(k := b"kv/%d" % i).key_hash) != n)
        on_leaf, off_leaf = leaf_of(on_path), leaf_of(off_path)
        present = ProofLeaf(
            kv,
            hash_domain("tianfu/state/value/v1", encode([validator_record(v) for v in g])),
            0,
            None,
        )
        proofs: list[tuple[str, bytes, StateProof, bool]] = []  # name, root, proof, valid
        sib, root = level(n, on_leaf.hash())
        proofs.append(("another key's leaf on the path", root, StateProof(2, [sib], on_leaf), True))
        sib, root = level(n, off_leaf.hash())
        proofs.append(
            ("another key's leaf off the path", root, StateProof(2, [sib], off_leaf), False)
        )
        sib, root = level(n, empty)
        proofs.append(("an empty child", root, StateProof(2, [sib], None), True))
        sib, root = level(n, empty, beside=None)
        proofs.append(("an empty child of a node with no other child", root,
                       StateProof(2, [sib], None), False))  # fmt: skip
        sib, root = level(n, present.hash())
        proofs.append(("an empty child under a root holding the entry", root,
                       StateProof(2, [sib], None), False))  # fmt: skip
        proofs.append(("another key's leaf under a root holding the entry", root,
                       StateProof(2, [sib], on_leaf), False))  # fmt: skip
        bad_prev = ProofLeaf(kv, b"", 3, 3)
        proofs.append(("a tombstone whose prev is its height", bad_prev.hash(),
                       StateProof(2, [], bad_prev), False))  # fmt: skip
        tomb = ProofLeaf(kv, b"", 3, None)
        proofs.append(("a tombstone", tomb.hash(), StateProof(2, [], tomb), True))
        cases = []
        for name, r, proof, valid in proofs:
            header = f.header(4, r, gset)
            link = ValidatorLink(f.light(header, g), None, encode(proof))
            # a tombstone written by block 3 is a change (to the genesis set), from block 5
            changes = [change(0, 1, g)] + ([change(3, 5, g)] if name == "a tombstone" else [])
            doc = document(f, [link], block(f, 6, g, g), changes, name)
            cases.append((doc, valid))
    check(cases)
