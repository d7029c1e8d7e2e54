"""Documents that cross many validator-set changes, signed anew on both suites
(verifiers_agree_forge.py): every original validator removed, powers changed (same keys)
so that the very same signers fall exactly on the 2/3 boundary or just over it, a key
rotated, an organisation removed and re-added (the set returning to the genesis set's
hash), a set change written by the block that also upgrades a contract, long chains of
changes, and skipping links signed by exactly 1/3 of the trusted power or just over.

Every document's verdict is the one the specification gives (proofs.md, blocks.md); the
SDK, the spec verifier and the console under Node must each give it. The readable fields
of a document the rules refuse are written by hand as a verifier accepting the proof would
render them, so that a verifier that wrongly accepts the proof cannot hide behind a
readable-field mismatch; for valid documents they are checked against the SDK's rendering.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import verifiers_agree_lib as lib
from verifiers_agree_forge import Forge, change

from tianfu.codec import encode, hash_domain
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import chain_suite
from tianfu.proofs.formats import BlockProof, EntryProof, ProofBundle, ValidatorLink
from tianfu.proofs.valchain import VALIDATORS_KEY
from tianfu.state import StateProof
from tianfu.state.proof import ProofLeaf
from tianfu.types import BlockHeader, Validator, ValidatorSet

SUITES = ["standard", "sm2"]
M = 2**64 - 1  # the largest power
GAP = 4  # change i is written by block GAP·i


# -- building documents ----------------------------------------------------------------------------
def entry_doc(key: str, value: Any, height: int) -> dict[str, Any]:
    contract, _, k = key.partition("/")
    return {"contract": contract, "key": k, "present": True, "value": value,
            "changed_at": height, "previous_change": None}  # fmt: skip


def state_fields(block: BlockProof, changes: list[dict[str, Any]],
                 entries: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """The readable fields of a `state` document of `block` (as rendered were it valid)."""
    h = msgspec.msgpack.decode(block.block.header, type=BlockHeader)
    return {"validator_changes": changes, "height": h.height, "block_hash": h.hash.hex(),
            "time_ms": h.time_ms, "state_root": h.state_root.hex(), "entries": entries}  # fmt: skip


def document(f: Forge, links: list[ValidatorLink], block: BlockProof,
             changes: list[dict[str, Any]], name: str,
             entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """The `state` document of `block` under `links`, with the readable fields a verifier
    accepting it renders (`changes`: the validator changes, genesis first)."""
    with chain_suite(f.suite).use():
        h = msgspec.msgpack.decode(block.block.header, type=BlockHeader)
        if entries is None:
            entries = [entry_doc("kv/v", "x", h.height)]
        fields = state_fields(block, changes, entries)
        doc = {"format": "tianfu-proof/v1", "kind": "state", "chain_id": f.chain_id,
               "genesis_hash": f.g.hash.hex(), "suite": f.suite, **fields,
               "raw": encode(f.bundle(links, [block])).hex()}  # fmt: skip
    return {"name": f"{name} ({f.suite})", "kind": "state", "document": doc,
            "genesis": encode(f.g), "now_ms": f.now}  # fmt: skip


def verdicts(bases: list[dict[str, Any]]) -> list[list[bool]]:
    """Each document's verdicts: [SDK, spec verifier, console] (the console with Node only)."""
    lib.load_app_kinds()
    cases = [(lib.Case(b["name"], lib.dumps(b["document"]), b["now_ms"]), b["genesis"], "state")
             for b in bases]  # fmt: skip
    py = [(lib.verdict_sdk(*c), lib.verdict_spec(*c)) for c in cases]
    js = lib.verdicts_js(cases) if lib.NODE is not None else [None] * len(cases)
    return [[s[0], p[0]] + ([] if j is None else [j[0]]) for (s, p), j in zip(py, js, strict=True)]


def check(expected: list[tuple[dict[str, Any], bool]]) -> None:
    got = verdicts([b for b, _ in expected])
    split = [(b["name"], v, g) for (b, v), g in zip(expected, got, strict=True)
             if g != [v] * len(g)]  # fmt: skip
    assert split == [], split


def walk(f: Forge, sets: list[list[Validator]]) -> tuple[list[ValidatorLink], list[dict[str, Any]]]:
    """Sequential links proving `sets` in turn (change i written by block GAP·i, its link at
    that block signed by all of the set before it) and the changes a verifier renders."""
    links, changes = [], [change(0, 1, list(f.genesis_set().validators))]
    before = f.genesis_set()
    with chain_suite(f.suite).use():
        for i, s in enumerate(sets, start=1):
            c = GAP * i
            links.append(f.link(c, s, c, GAP * (i - 1), before))
            changes.append(change(c, c + 2, s))
            before = ValidatorSet(s)
    return links, changes


def block(f: Forge, height: int, signing: list[Validator], signers: list[Validator]) -> BlockProof:
    with chain_suite(f.suite).use():
        return f.state_block(height, ValidatorSet(signing), members=signers)


def renamed(f: Forge, names: list[str], powers: list[int], org: str = "org9") -> list[Validator]:
    return [f.member(n, p, org) for n, p in zip(names, powers, strict=True)]


# -- every original validator removed --------------------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
def test_every_original_validator_removed(suite: str) -> None:
    """G = n1 … n4; change 1 adds a, b, c; change 2 removes n1 … n4; change 3 gives c the
    power 5. A block signed by the set of its height verifies; one signed by the originals
    after their removal, or by the newcomers before they sign, does not."""
    f = Forge(suite, "all-removed")
    g = list(f.genesis_set().validators)
    new = renamed(f, ["a", "b", "c"], [1, 1, 1])
    s1, s2 = g + new, new
    s3 = [*new[:2], msgspec.structs.replace(new[2], power=5)]
    links, changes = walk(f, [s1, s2, s3])
    c2, c3 = 2 * GAP, 3 * GAP
    cases = [
        (document(f, links, block(f, c3 + 2, s3, s3), changes, "after the last change"), True),
        (document(f, links, block(f, c3 + 9, s3, s3), changes, "presumed beyond"), True),
        (document(f, links, block(f, c3 + 2, s3, [new[2]]), changes, "c alone: 5 of 7"), True),
        (document(f, links, block(f, c3 + 2, s3, new[:2]), changes, "a, b: 2 of 7"), False),
        (document(f, links, block(f, c2 + 2, s2, s2), changes, "the newcomers alone"), True),
        (document(f, links, block(f, c2 + 2, s2, g), changes, "the removed, after"), False),
        (document(f, links, block(f, c2 + 2, g, g), changes, "the genesis set again"), False),
        (document(f, links, block(f, c2 + 1, s1, new + g[:3]), changes, "6 of 7 of s1"), True),
        (document(f, links, block(f, c2 + 1, s1, new + g[:1]), changes, "4 of 7 of s1"), False),
        (document(f, links, block(f, c2 + 1, s2, s2), changes, "the newcomers, too early"), False),
        (document(f, links[:2], block(f, c3 + 2, s3, s3), changes[:3], "last link dropped"), False),
        (
            document(
                f,
                links[:1] + links[2:],
                block(f, c3 + 2, s3, s3),
                changes[:2] + changes[3:],
                "middle link dropped",
            ),
            False,
        ),  # fmt: skip
    ]
    check(cases)


# -- powers only: the same signers on either side of 2/3 ---------------------------------------------
BOUNDARY = [
    # (genesis powers, new powers (same keys), signers by index, valid under the new set)
    ([1, 1, 1, 1], [2, 1, 1, 2], [0, 1, 2], False),  # 4 of 6: exactly 2/3
    ([1, 1, 1, 1], [2, 1, 1, 2], [0, 1, 3], True),  # 5 of 6
    ([1, 1, 1, 1], [M, M, M, 1], [0, 1], False),  # 2M of 3M + 1
    ([1, 1, 1, 1], [M, M, M, 1], [0, 1, 3], True),  # 2M + 1 of 3M + 1: just over
    ([1, 1, 1, 1], [M - 1, M - 1, 2, M], [0, 1, 2], False),  # 2M of 3M: exactly 2/3
    ([1, 1, 1, 1], [M - 1, M - 1, 2, M], [0, 2, 3], True),  # 2M + 1 of 3M: just over
    ([1, 1, 1, 1], [M - 1, M - 1, M - 1, 3], [0, 1, 3], True),  # 2M + 1 of 3M: over
    ([M, M, M, M], [M - 1, M - 1, 2, M], [0, 1, 2], False),  # exactly 2/3 again
    ([M, M, M, M], [M, M, M - 1, M], [0, 1], False),  # 2M of 4M − 1: under
    ([M, M, M, 3], [M, M, M, 1], [0, 1], False),  # back down: 2M of 3M + 1
]


@pytest.mark.parametrize("suite", SUITES)
def test_power_changes_alone_move_the_two_thirds_boundary(suite: str) -> None:
    """blocks.md#validator-sets: a change of powers alone (same keys) is a change like any
    other; certificate rule 6 (3·P > 2·total) is exact with powers up to 2^64 − 1. The same
    signers certify a block of the old set (all signers but one of four equal powers: 3 of 4,
    over 2/3) and, after the change, whatever the new powers give."""
    cases = []
    for i, (gp, newp, who, valid) in enumerate(BOUNDARY):
        f = Forge(suite, f"boundary{i}", powers=gp)
        g = list(f.genesis_set().validators)
        s1 = [msgspec.structs.replace(v, power=p) for v, p in zip(g, newp, strict=True)]
        links, changes = walk(f, [s1])
        name = f"{gp} -> {newp}, signers {who}"
        cases.append((document(f, links, block(f, GAP + 2, s1, [s1[k] for k in who]), changes,
                               name), valid))  # fmt: skip
        old_valid = 3 * sum(gp[k] for k in who) > 2 * sum(gp)
        cases.append((document(f, links, block(f, GAP + 1, g, [g[k] for k in who]), changes,
                               name + " at c + 1"), old_valid))  # fmt: skip
    check(cases)


# -- a key rotated --------------------------------------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
def test_a_rotated_key_signs_from_c_plus_2_and_the_old_one_until_then(suite: str) -> None:
    """n4's key is replaced (same name, org and power). Blocks c and c + 1 are signed by
    the old key; from c + 2 by the new one. A certificate that holds the other key's
    signature is refused whole (certificate rule 5: a foreign signature is never ignored),
    though the other three alone would be over 2/3."""
    f = Forge(suite, "rotate")
    g = list(f.genesis_set().validators)
    s1 = [*g[:3], msgspec.structs.replace(g[3], public_key=f.signer("n4-new").public_key)]
    links, changes = walk(f, [s1])
    cases = [
        (document(f, links, block(f, GAP + 1, g, g), changes, "old key at c + 1"), True),
        (document(f, links, block(f, GAP + 1, g, g[:3] + s1[3:]), changes, "new key at c + 1"), False),
        (document(f, links, block(f, GAP + 2, s1, s1), changes, "new key at c + 2"), True),
        (document(f, links, block(f, GAP + 2, s1, s1[:3] + g[3:]), changes, "old key at c + 2"), False),
        (document(f, links, block(f, GAP + 2, s1, s1[:3]), changes, "three at c + 2"), True),
    ]  # fmt: skip
    # the rotation made twice: the key back (the set's hash is the genesis set's again)
    links2, changes2 = walk(f, [s1, g])
    cases += [
        (document(f, links2, block(f, 2 * GAP + 2, g, g), changes2, "key back"), True),
        (document(f, links2, block(f, 2 * GAP + 2, s1, s1), changes2, "rotated, after back"), False),
        (document(f, links2, block(f, GAP + 3, s1, s1), changes2, "rotated, between"), True),
        (document(f, links2, block(f, GAP + 3, g, g), changes2, "original, between"), False),
    ]  # fmt: skip
    check(cases)


# -- an organisation removed and re-added ----------------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
def test_an_organisation_removed_and_re_added(suite: str) -> None:
    """org2 (its validator n2) is removed, then re-admitted with the same validator: the
    set is the genesis set again, by hash, proven by a third change. `known` then holds
    the genesis set on two intervals apart from each other, with the smaller set between;
    re-admitted with a new key, n2's old key signs nothing more."""
    f = Forge(suite, "org-readded")
    g = list(f.genesis_set().validators)
    s1 = [g[0], *g[2:]]
    s2 = list(g)
    s2b = [g[0], msgspec.structs.replace(g[1], public_key=f.signer("n2-new").public_key), *g[2:]]
    links, changes = walk(f, [s1, s2])
    linksb, changesb = walk(f, [s1, s2b])
    cases = [
        (document(f, links, block(f, 2 * GAP + 2, g, g), changes, "re-added"), True),
        (document(f, links, block(f, 2 * GAP + 2, g, g[1:]), changes, "re-added signs"), True),
        (document(f, links, block(f, GAP + 2, s1, s1), changes, "while removed"), True),
        (document(f, links, block(f, GAP + 2, g, g), changes, "while removed, old set"), False),
        (document(f, links, block(f, GAP + 2, s1, g[:1] + g[2:3]), changes, "2 of 3"), False),
        (document(f, links, block(f, 2, g, g), changes, "before removal"), True),
        (document(f, linksb, block(f, 2 * GAP + 2, s2b, s2b), changesb, "new key"), True),
        (
            document(
                f,
                linksb,
                block(f, 2 * GAP + 2, s2b, g[:2] + s2b[2:]),
                changesb,
                "new key, old key signs",
            ),
            False,
        ),  # fmt: skip
    ]
    check(cases)


# -- a set change in the block that upgrades a contract ---------------------------------------------
def two_leaves(f: Forge, a: tuple[bytes, bytes, int], b: tuple[bytes, bytes, int]
               ) -> tuple[bytes, StateProof, StateProof]:  # fmt: skip
    """A state of two leaves (key, value, height): its root and each key's proof."""
    with chain_suite(f.suite).use():
        leaves = []
        for key, value, height in (a, b):
            kh = hash_domain("tianfu/state/key/v1", key)
            leaves.append(ProofLeaf(kh, hash_domain("tianfu/state/value/v1", value), height, None))
        na, nb = leaves[0].key_hash[0] >> 4, leaves[1].key_hash[0] >> 4
        assert na != nb, "pick keys whose paths part at the first nibble"
        empty = hash_domain("tianfu/state/empty/v1")
        children = [empty] * 16
        children[na], children[nb] = leaves[0].hash(), leaves[1].hash()
        root = hash_domain("tianfu/state/internal/v1", *children)
        proofs = [StateProof(2, [[c for j, c in enumerate(children) if j != n]], leaf)
                  for n, leaf in ((na, leaves[0]), (nb, leaves[1]))]  # fmt: skip
    return root, proofs[0], proofs[1]


@pytest.mark.parametrize("suite", SUITES)
def test_a_set_change_in_the_block_that_upgrades_a_contract(suite: str) -> None:
    """Block c writes both a new set (n4 replaced by d) and a contract's new record. The
    document of block c proves the contract's entry and carries the link at c — the same
    header and certificate, signed by the set before the change (which signs c and c + 1);
    signed by the new set, it is refused (as a link and as a proven block)."""
    f = Forge(suite, "upgrade")
    g = list(f.genesis_set().validators)
    s1 = [*g[:3], f.member("d", 1, "org4")]
    c = 5
    contract_key = next(k for k in (f"kv/code{i}".encode() for i in range(64))
                        if hash_domain("tianfu/state/key/v1", k)[0] >> 4
                        != hash_domain("tianfu/state/key/v1", VALIDATORS_KEY)[0] >> 4)  # fmt: skip
    code = encode({"code_hash": b"\x07" * 32, "version": 2})
    vals = encode([validator_record(v) for v in s1])
    cases = []
    for signing, valid in ((g, True), (s1, False)):
        root, pv, pc = two_leaves(f, (VALIDATORS_KEY, vals, c), (contract_key, code, c))
        with chain_suite(suite).use():
            header = f.header(c, root, ValidatorSet(signing))
            light = f.light(header, signing)
        link = ValidatorLink(light, vals, encode(pv))
        proven = BlockProof(light, [], [EntryProof(contract_key, code, encode(pc))])
        changes = [change(0, 1, g), change(c, c + 2, s1)]
        entry = entry_doc(contract_key.decode(), {"code_hash": "07" * 32, "version": 2}, c)
        cases.append((document(f, [link], proven, changes, f"block c signed by {len(signing)}",
                               entries=[entry]), valid))  # fmt: skip
        # the same block without its link: the validators entry is not proven
        cases.append((document(f, [], proven, changes[:1], "without the link",
                               entries=[entry]), valid))  # fmt: skip
    with chain_suite(suite).use():  # and the next blocks, after the same link
        root, pv, pc = two_leaves(f, (VALIDATORS_KEY, vals, c), (contract_key, code, c))
        header = f.header(c, root, ValidatorSet(g))
        link = ValidatorLink(f.light(header, g), vals, encode(pv))
    changes = [change(0, 1, g), change(c, c + 2, s1)]
    cases += [
        (document(f, [link], block(f, c + 1, g, g), changes, "c + 1 by the old set"), True),
        (document(f, [link], block(f, c + 2, s1, s1), changes, "c + 2 by the new set"), True),
        (document(f, [link], block(f, c + 2, g, g), changes, "c + 2 by the old set"), False),
    ]
    check(cases)


# -- long chains -----------------------------------------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
def test_forty_changes_of_every_kind(suite: str) -> None:
    """Forty sequential changes cycling through: a member added, a power raised to 2^64 − 1,
    a key rotated, the oldest member removed — so that no original validator is left and
    every set differs from the one before. Valid at the end; a link dropped anywhere, or the
    proven block signed by the set before the last, is refused."""
    f = Forge(suite, "forty")
    cur = list(f.genesis_set().validators)
    sets = []
    for i in range(40):
        op = i % 4
        if op == 0:
            cur = [*cur, f.member(f"m{i}", 1 + i, f"org{i % 3 + 1}")]
        elif op == 1:
            cur = [*cur[:-1], msgspec.structs.replace(cur[-1], power=M)]
        elif op == 2:
            cur = [
                msgspec.structs.replace(cur[0], public_key=f.signer(f"k{i}").public_key),
                *cur[1:],
            ]
        else:
            cur = cur[1:]
        sets.append(cur)
    assert not {v.public_key for v in sets[-1]} & {v.public_key for v in f.genesis_set().validators}
    links, changes = walk(f, sets)
    top = 40 * GAP + 2
    cases = [
        (document(f, links, block(f, top, sets[-1], sets[-1]), changes, "forty"), True),
        (document(f, links, block(f, top, sets[-2], sets[-2]), changes, "set before"), False),
    ]
    for k in (0, 17, 39):
        cases.append((document(f, links[:k] + links[k + 1:], block(f, top, sets[-1], sets[-1]),
                               changes[:k + 1] + changes[k + 2:], f"link {k} dropped"), False))  # fmt: skip
    check(cases)


# -- skipping links: exactly 1/3 of the trusted power, or just over ---------------------------------
SKIPS = [
    # (trusted powers, indexes of the trusted members in the new set, valid)
    ([1, 1, 1], [0], False),  # exactly 1/3
    ([1, 1, 1, 1, 1, 1], [0, 1], False),  # 2 of 6: exactly 1/3
    ([1, 1, 1, 1, 1, 1], [0, 1, 2], True),
    ([1, 1, 1, 1], [0, 1], True),  # 2 of 4: over
    ([M, M, M], [0], False),  # exactly 1/3 of 3·(2^64 − 1)
    ([M, M - 1, M - 1], [0], True),  # M of 3M − 2: just over
    ([M, M, M - 1], [2], False),  # M − 1 of 3M − 1: under
    ([2, 1, 1, 1, 1], [0], False),  # 2 of 6
    ([3, 1, 1, 1, 1], [0], True),  # 3 of 7
]


@pytest.mark.parametrize("suite", SUITES)
def test_a_skipping_link_signed_by_exactly_a_third_of_the_trusted_power(suite: str) -> None:
    """proofs.md, skipping rule 5 with the default trust level 1/3: the trusted members
    among the link's signers MUST hold more than 1/3 of the trusted power (power·3 > total,
    exact). The link's own set S is those trusted members with new members d1, d2 (power 1
    each) that raise S's signing power above 2/3 of S; S is written by block 4 and the link
    is at block 6, the proven block 7 signed by S."""
    cases = []
    for i, (tp, keep, valid) in enumerate(SKIPS):
        f = Forge(suite, f"skip{i}", powers=tp)
        g = list(f.genesis_set().validators)
        s = [msgspec.structs.replace(g[k], power=M) for k in keep]
        s += [f.member("d1", 1), f.member("d2", 1)]
        with chain_suite(suite).use():
            link = f.link(6, s, 4, 0, ValidatorSet(s), skipping=True, time_ms=f.T0 + 6)
        changes = [change(0, 1, g), change(4, 6, s, skipped=True)]
        cases.append((document(f, [link], block(f, 7, s, s), changes,
                               f"trusted {tp}, signers {keep}"), valid))  # fmt: skip
    check(cases)


@pytest.mark.parametrize("suite", SUITES)
def test_two_skips_away_from_every_original_validator(suite: str) -> None:
    """G = n1 … n4 → (skip) S1 = n1, n2, a, b (n1, n2: 2 of 4 of G) → (skip) S2 = c, d, e
    with a, b (2 of 4 of S1): after the second skip no original validator is left. The
    second skip signed by a alone (1 of 4 of S1) is refused."""
    f = Forge(suite, "two-skips")
    g = list(f.genesis_set().validators)
    a, b, c, d, e = (f.member(n, 1, "org9") for n in "abcde")
    s1 = [g[0], g[1], a, b]
    s2 = [a, b, c, d, e]
    s2_weak = [a, c, d, e]
    cases = []
    for target, valid in ((s2, True), (s2_weak, False)):
        with chain_suite(suite).use():
            l1 = f.link(6, s1, 4, 0, ValidatorSet(s1), skipping=True, time_ms=f.T0 + 6)
            l2 = f.link(20, target, 17, 4, ValidatorSet(target), skipping=True, time_ms=f.T0 + 20)
        changes = [change(0, 1, g), change(4, 6, s1, True), change(17, 19, target, True)]
        cases.append((document(f, [l1, l2], block(f, 21, target, target), changes,
                               f"second skip to {len(target)}"), valid))  # fmt: skip
    check(cases)


# -- the hand-written renderings are the SDK's ------------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
def test_the_hand_rendered_fields_are_the_sdks_for_a_valid_document(suite: str) -> None:
    """The readable fields this file writes by hand equal the SDK's rendering of a valid
    document (so the refusals above are of the proof, not of the fields)."""
    from tianfu.proofs.documents import make_document
    from tianfu.proofs.valchain import TrustOptions

    f = Forge(suite, "hand")
    g = list(f.genesis_set().validators)
    s1 = [*g[1:], f.member("z", 3, "org2")]
    links, changes = walk(f, [s1])
    base = document(f, links, block(f, GAP + 2, s1, s1), changes, "hand")
    lib.load_app_kinds()
    pb = msgspec.msgpack.decode(bytes.fromhex(base["document"]["raw"]), type=ProofBundle)
    rendered = make_document("state", pb, f.g, TrustOptions(now_ms=f.now))
    assert rendered == base["document"]


# -- the vectors (docs/spec/vectors/membershipvectors.py) ------------------------------------------
def test_every_verifier_gives_each_membership_vector_its_verdict() -> None:
    """documents.json's cases of membershipvectors.py (powers alone on the 2/3 boundary, a
    rotated key, a skip signed by exactly 1/3 of the trusted power, block 1 with another
    prev_hash and proposer, a value nested 5000 deep): each verifier gives `valid`."""
    import json

    v = json.loads((lib.ROOT / "docs/spec/vectors/documents.json").read_text(encoding="utf-8"))
    ours = [c for c in v["cases"] if "document" in c and c["name"].startswith(VECTOR_PREFIXES)]
    assert len(ours) == 20, [c["name"] for c in ours]
    bases = [{"name": f"{c['name']} ({c['suite']})", "kind": c["kind"], "document": c["document"],
              "genesis": bytes.fromhex(v["geneses"][c["genesis"]]), "now_ms": c["now_ms"]}
             for c in ours]  # fmt: skip
    check([(b, c["valid"]) for b, c in zip(bases, ours, strict=True)])


VECTOR_PREFIXES = ("a change of powers alone", "a key rotated;", "a skipping link whose signers",
                   "block 1 whose prev_hash", "a proven value nested 5000",
                   "the validators entry deleted", "a state proof ending at a node")  # fmt: skip


# -- the validators entry deleted ------------------------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
def test_a_deleted_validators_entry_is_the_genesis_set(suite: str) -> None:
    """blocks.md#validator-sets: an absent entry — deleted, a tombstone — is the genesis set.
    G → S1 (n4 removed) by block 4, then the entry deleted by block 8: from block 10 the
    genesis set signs again, and S1 no longer does."""
    f = Forge(suite, "tombstone")
    g = list(f.genesis_set().validators)
    s1 = g[:3]
    links, changes = walk(f, [s1])
    with chain_suite(suite).use():
        links.append(f.link(2 * GAP, None, 2 * GAP, GAP, ValidatorSet(s1)))
    changes.append(change(2 * GAP, 2 * GAP + 2, g))
    cases = [
        (document(f, links, block(f, 2 * GAP + 2, g, g), changes, "genesis set again"), True),
        (document(f, links, block(f, 2 * GAP + 2, s1, s1), changes, "s1 after delete"), False),
        (document(f, links, block(f, 2 * GAP + 1, s1, s1), changes, "s1 before"), True),
    ]
    check(cases)


@pytest.mark.parametrize("suite", SUITES)
def test_an_absent_validators_entry_in_every_link_form(suite: str) -> None:
    """The other absences of a link's entry (proofs.md#validator-chain: `value` nil): never
    written (no leaf: the empty state), a skipping link proving a tombstone (the genesis set
    signs again, skipped to), and a nil value beside a proof of a present entry (invalid).
    Main's console refused every link with a nil value ("proves no validator set")."""
    f = Forge(suite, "absent")
    g = list(f.genesis_set().validators)
    s1 = g[:3]
    genesis_only = [change(0, 1, g)]
    with chain_suite(suite).use():
        empty_root = hash_domain("tianfu/state/empty/v1")
        header = f.header(3, empty_root, f.genesis_set())
        never = ValidatorLink(f.light(header, g), None, encode(StateProof(2, [], None)))
        present = f.link(3, g, 0, None, f.genesis_set())
        nil_beside_present = msgspec.structs.replace(present, value=None)
        links, changes = walk(f, [s1])
        skip = f.link(12, None, 9, GAP, f.genesis_set(), skipping=True, time_ms=f.T0 + 12)
    cases = [
        (document(f, [never], block(f, 4, g, g), genesis_only, "never written"), True),
        (document(f, [nil_beside_present], block(f, 4, g, g), genesis_only, "nil, present"), False),
        (
            document(
                f,
                [*links, skip],
                block(f, 13, g, g),
                [*changes, change(9, 11, g, True)],
                "skip to a tombstone",
            ),
            True,
        ),  # fmt: skip
        (
            document(
                f,
                [*links, skip],
                block(f, 13, s1, s1),
                [*changes, change(9, 11, g, True)],
                "skip to a tombstone, old set signs",
            ),
            False,
        ),  # fmt: skip
    ]
    check(cases)


@pytest.mark.parametrize("suite", SUITES)
def test_a_node_whose_other_children_are_all_empty_is_refused_on_both_suites(suite: str) -> None:
    """merkle.md, state proof step 3: a proof whose last level's 15 siblings are all EMPTY
    (a node no canonical tree has: the leaf alone would be there) is refused. EMPTY is
    `hash_domain("tianfu/state/empty/v1")` with the chain's hash; main's console computed
    it once, with SHA-256, when its module loaded, so on an SM2 chain it never matched:
    it took such a proof (and the empty tree's root of an absent entry was wrong there)."""
    f = Forge(suite, "lonely-leaf")
    g = f.genesis_set()
    with chain_suite(suite).use():
        value = encode("x")
        kh = hash_domain("tianfu/state/key/v1", b"kv/v")
        leaf = ProofLeaf(kh, hash_domain("tianfu/state/value/v1", value), 3, None)
        empty = hash_domain("tianfu/state/empty/v1")
        n = kh[0] >> 4
        root = hash_domain("tianfu/state/internal/v1", *([empty] * n), leaf.hash(),
                           *([empty] * (15 - n)))  # fmt: skip
        proof = StateProof(2, [[empty] * 15], leaf)
        header = f.header(3, root, g)
        bp = BlockProof(f.light(header, list(g.validators)), [],
                        [EntryProof(b"kv/v", value, encode(proof))])  # fmt: skip
    base = document(f, [], bp, [change(0, 1, list(g.validators))], "one leaf under a node")
    check([(base, False)])
