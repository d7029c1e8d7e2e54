"""Unit tests: the Jellyfish-style state tree — updates, versions, history, compression, proofs."""

import hashlib

import pytest

from tianfu.codec import CodecError, decode, encode
from tianfu.state import (
    EMPTY_ROOT,
    InMemoryNodes,
    MerkleState,
    ProofLeaf,
    StateError,
    StateProof,
    check_proof,
    key_hash,
    verify_proof,
)
from tianfu.state.nodes import (
    DELETED,
    EMPTY_CHILD,
    NullNode,
    decode_node,
    internal_hash,
    leaf_hash,
    nibble,
    node_key,
    value_hash,
)


def fresh():
    store = InMemoryNodes()
    return store, MerkleState(store)


def commit(store, state, version, updates, base_version=None):
    batch = state.apply(version, updates, base_version)
    store.put_batch(batch)
    assert state.root(version) == batch.root
    return batch


def keys_by_first_nibble(count=400):
    """Raw keys grouped by the first nibble of their path."""
    groups = {}
    for i in range(count):
        k = b"key-%d" % i
        groups.setdefault(key_hash(k)[0] >> 4, []).append(k)
    return groups


def test_empty_tree():
    # docs/spec/merkle.md: EMPTY = hash_domain("tianfu/state/empty/v1"), no parts; and
    # docs/spec/encoding.md: hash_domain(tag) = H(u8(len(tag)) || tag), SHA-256 by default.
    tag = b"tianfu/state/empty/v1"
    assert hashlib.sha256(bytes([len(tag)]) + tag).digest() == EMPTY_ROOT
    store, st = fresh()
    assert st.root(0) == EMPTY_ROOT and st.root(7) == EMPTY_ROOT
    assert st.get(b"a", 0) is None
    b = commit(store, st, 0, {})
    assert b.root == EMPTY_ROOT
    assert isinstance(decode_node(store.get_node(node_key(0, b""))), NullNode)
    proof = st.prove(b"a", 0)
    assert proof.siblings == () and proof.leaf is None
    assert verify_proof(EMPTY_ROOT, b"a", None, proof)
    assert not verify_proof(EMPTY_ROOT, b"a", b"x", proof)


def test_insert_update_delete_and_history():
    store, st = fresh()
    commit(store, st, 1, {b"a": b"1", b"b": b"2", b"c": b"3"})
    r1 = st.root(1)
    commit(store, st, 2, {b"a": b"10", b"d": b"4"})
    commit(store, st, 3, {b"b": None, b"zz": None})  # deleting an absent key is a no-op
    assert [st.get(k, 1) for k in (b"a", b"b", b"c", b"d")] == [b"1", b"2", b"3", None]
    assert [st.get(k, 2) for k in (b"a", b"b", b"c", b"d")] == [b"10", b"2", b"3", b"4"]
    assert [st.get(k, 3) for k in (b"a", b"b", b"c", b"d")] == [b"10", None, b"3", b"4"]
    assert st.root(1) == r1 and len({st.root(1), st.root(2), st.root(3)}) == 3
    # Reverting to the version-1 content is a new version of each entry: the root records
    # the history, so it differs from the version-1 root.
    commit(store, st, 4, {b"a": b"1", b"b": b"2", b"d": None})
    assert [st.get(k, 4) for k in (b"a", b"b", b"c", b"d")] == [b"1", b"2", b"3", None]
    assert st.root(4) != r1


def test_every_leaf_records_its_change_and_the_previous_one():
    store, st = fresh()
    commit(store, st, 1, {b"a": b"1", b"b": b"x"})
    commit(store, st, 2, {b"a": b"1"})  # the same value again: no new version
    assert st.root(2) == st.root(1)
    commit(store, st, 5, {b"a": b"2"}, base_version=2)
    commit(store, st, 6, {b"a": None})  # a deletion leaves a tombstone
    commit(store, st, 7, {b"a": None})  # deleting it again changes nothing
    commit(store, st, 9, {b"a": b"3"}, base_version=7)
    versions = [(e.value, e.height, e.prev) for e in (st.entry(b"a", v) for v in (1, 5, 6, 7, 9))]
    assert versions == [(b"1", 1, None), (b"2", 5, 1), (None, 6, 5), (None, 6, 5), (b"3", 9, 6)]
    assert st.root(7) == st.root(6)
    assert st.entry(b"never", 9) is None and st.entry(b"b", 9).height == 1
    # Each version's proof shows the same heights; a tombstone proves absence.
    for v, (value, height, prev) in zip(
        (1, 5, 6, 9), [versions[i] for i in (0, 1, 2, 4)], strict=True
    ):
        e = check_proof(st.root(v), b"a", st.prove(b"a", v))
        assert (e.height, e.prev, e.present) == (height, prev, value is not None)
        assert verify_proof(st.root(v), b"a", value, st.prove(b"a", v))
    p = st.prove(b"a", 6)
    assert p.leaf.value_hash == DELETED and p.leaf.key_hash == key_hash(b"a")
    assert verify_proof(st.root(6), b"a", None, p) and not verify_proof(st.root(6), b"a", b"", p)
    # The heights are hashed: a proof with other heights does not verify.
    for forged in (
        ProofLeaf(p.leaf.key_hash, DELETED, 7, 5),
        ProofLeaf(p.leaf.key_hash, DELETED, 6, None),
    ):
        assert check_proof(st.root(6), b"a", StateProof(2, p.siblings, forged)) is None


def test_deleting_everything_leaves_tombstones():
    store, st = fresh()
    commit(store, st, 1, {b"k%d" % i: b"v" for i in range(50)})
    assert st.root(1) != EMPTY_ROOT
    commit(store, st, 2, {b"k%d" % i: None for i in range(50)})
    assert st.root(2) not in (EMPTY_ROOT, st.root(1))
    assert st.get(b"k3", 2) is None and st.get(b"k3", 1) == b"v"
    assert (st.entry(b"k3", 2).height, st.entry(b"k3", 2).prev) == (2, 1)
    commit(store, st, 3, {b"k1": b"again"})
    assert st.get(b"k1", 3) == b"again"
    assert st.entry(b"k1", 3).prev == 2
    # A lone leaf is the root: its hash covers the value and both heights.
    store2, st2 = fresh()
    commit(store2, st2, 4, {b"k1": b"again"})
    assert st2.root(4) == leaf_hash(key_hash(b"k1"), value_hash(b"again"), 4, None)


def test_root_independent_of_order_within_a_batch():
    items = {b"key%d" % i: b"val%d" % (i * 7) for i in range(300)}
    store1, st1 = fresh()
    one = commit(store1, st1, 3, items).root
    store2, st2 = fresh()
    two = commit(store2, st2, 3, dict(reversed(list(items.items())))).root
    assert one == two
    # The same content written at another height is another history: another root.
    store3, st3 = fresh()
    assert commit(store3, st3, 4, items).root != one


def test_path_compression_and_hoisting():
    groups = keys_by_first_nibble()
    a, b = groups[3][:2]  # same first nibble: they split below the root
    c = groups[9][0]
    store, st = fresh()
    commit(store, st, 1, {a: b"A"})
    assert st.root(1) == leaf_hash(key_hash(a), value_hash(b"A"), 1, None)  # a lone leaf
    assert st.prove(a, 1).siblings == ()
    commit(store, st, 2, {b: b"B", c: b"C"})
    assert len(st.prove(c, 2).siblings) == 1  # c is unique at depth 1
    assert len(st.prove(a, 2).siblings) >= 2
    commit(store, st, 3, {b: None, c: None})  # deleted: their tombstones keep their places
    assert len(st.prove(c, 3).siblings) == 1 and st.prove(c, 3).leaf.value_hash == DELETED
    assert verify_proof(st.root(3), c, None, st.prove(c, 3))


def test_exclusion_proofs_both_cases():
    groups = keys_by_first_nibble()
    present = {groups[n][0]: b"v%d" % n for n in range(0, 16, 2)}  # even first nibbles
    store, st = fresh()
    root = commit(store, st, 1, present).root
    empty_case = groups[5][0]  # its first nibble is an empty child of the root
    p = st.prove(empty_case, 1)
    assert p.leaf is None and len(p.siblings) == 1
    assert verify_proof(root, empty_case, None, p)
    assert not verify_proof(root, empty_case, b"v", p)
    other_leaf = groups[4][1]  # shares nibble 4 with a stored leaf that sits at depth 1
    p = st.prove(other_leaf, 1)
    assert p.leaf is not None and p.leaf.key_hash == key_hash(groups[4][0])
    assert verify_proof(root, other_leaf, None, p)
    assert not verify_proof(root, groups[4][0], None, p)  # the stored key is not absent
    for k, v in present.items():
        p = st.prove(k, 1)
        assert verify_proof(root, k, v, p)
        assert not verify_proof(root, k, None, p)


def test_tampering_fails():
    store, st = fresh()
    items = {b"k%d" % i: b"v%d" % i for i in range(200)}
    root = commit(store, st, 1, items).root
    p = st.prove(b"k7", 1)
    assert verify_proof(root, b"k7", b"v7", p)
    assert not verify_proof(root, b"k7", b"v8", p)
    assert not verify_proof(root, b"k8", b"v7", p)
    assert not verify_proof(bytes(32), b"k7", b"v7", p)
    assert not verify_proof(root[:-1] + bytes([root[-1] ^ 1]), b"k7", b"v7", p)
    levels = [list(level) for level in p.siblings]
    levels[0][3] = bytes(32)
    assert not verify_proof(root, b"k7", b"v7", StateProof(2, tuple(map(tuple, levels)), p.leaf))
    assert not verify_proof(root, b"k7", b"v7", StateProof(2, p.siblings[1:], p.leaf))
    assert not verify_proof(
        root, b"k7", b"v7", StateProof(2, p.siblings + (p.siblings[-1],), p.leaf)
    )
    bad_leaf = ProofLeaf(p.leaf.key_hash, value_hash(b"v8"), 1, None)
    assert not verify_proof(root, b"k7", b"v8", StateProof(2, p.siblings, bad_leaf))
    assert not verify_proof(root, b"k7", b"v7", StateProof(1, p.siblings, p.leaf))
    # An exclusion proof cannot be forged by dropping the leaf, nor by a tombstone.
    assert not verify_proof(root, b"k7", None, StateProof(2, p.siblings, None))
    tomb = ProofLeaf(p.leaf.key_hash, DELETED, 1, None)
    assert not verify_proof(root, b"k7", None, StateProof(2, p.siblings, tomb))


def test_malformed_proofs_are_rejected_without_raising():
    store, st = fresh()
    root = commit(store, st, 1, {b"a": b"1", b"b": b"2"}).root
    p = st.prove(b"a", 1)
    assert verify_proof(root, b"a", b"1", p)
    short_level = (p.siblings[0][:14],)
    assert not verify_proof(root, b"a", b"1", StateProof(2, short_level, p.leaf))
    bad_hash = ((b"x",) * 15,)
    assert not verify_proof(root, b"a", b"1", StateProof(2, bad_hash, p.leaf))
    too_deep = ((EMPTY_CHILD,) * 15,) * 65
    assert not verify_proof(root, b"a", b"1", StateProof(2, too_deep, p.leaf))
    assert not verify_proof(
        root, b"a", b"1", StateProof(2, p.siblings, ProofLeaf(b"k", b"v", 1, None))
    )
    bad_prev = ProofLeaf(p.leaf.key_hash, p.leaf.value_hash, 1, 1)  # not older than itself
    assert not verify_proof(root, b"a", b"1", StateProof(2, p.siblings, bad_prev))
    assert not verify_proof(root, b"a", b"1", StateProof(2, None, p.leaf))  # type: ignore[arg-type]
    assert not verify_proof(root, b"a", b"1", "proof")  # type: ignore[arg-type]
    assert not verify_proof(root, "a", b"1", p)  # type: ignore[arg-type]
    assert not verify_proof(root, b"a", 1, p)  # type: ignore[arg-type]
    assert not verify_proof(root[:31], b"a", b"1", p)
    # Non-canonical: a leaf under an internal node with no other child.
    # (Checked against a root forged to match, so only the shape check can reject it.)
    lone = ((EMPTY_CHILD,) * 15,)
    n = nibble(key_hash(b"a"), 0)
    leaf = leaf_hash(key_hash(b"a"), value_hash(b"1"), 1, None)
    forged = internal_hash([EMPTY_CHILD] * n + [leaf] + [EMPTY_CHILD] * (15 - n))
    assert not verify_proof(forged, b"a", b"1", StateProof(2, lone, p.leaf))
    assert not verify_proof(
        internal_hash([EMPTY_CHILD] * 16), b"zz", None, StateProof(2, lone, None)
    )


def test_proof_codec_round_trip_and_rejects_bad_bytes():
    store, st = fresh()
    root = commit(store, st, 1, {b"k%d" % i: b"v" for i in range(40)}).root
    for key, value in ((b"k1", b"v"), (b"nope", None)):
        p = st.prove(key, 1)
        data = encode(p)
        q = decode(data, StateProof)
        assert q == p and verify_proof(root, key, value, q)
    data = encode(st.prove(b"k1", 1))
    with pytest.raises(CodecError):
        decode(data + b"\x00", StateProof)
    with pytest.raises(CodecError):
        decode(data[:-1], StateProof)
    with pytest.raises(CodecError):
        decode(encode(StateProof(2, ((b"x",) * 15,), None)), StateProof)
    with pytest.raises(CodecError):
        decode(encode(StateProof(2, ((EMPTY_CHILD,) * 14,), None)), StateProof)
    with pytest.raises(CodecError):
        decode(encode(StateProof(2, ((EMPTY_CHILD,) * 15,) * 65, None)), StateProof)
    with pytest.raises(CodecError, match="version"):
        decode(encode(StateProof(1, (), None)), StateProof)
    for bad_leaf in (
        ProofLeaf(bytes(32), b"\x01" * 31, 1, None),  # a value hash is 32 bytes or empty
        ProofLeaf(bytes(32), bytes(32), 3, 3),  # the previous change is older
        ProofLeaf(bytes(32), bytes(32), -1, None),
    ):
        with pytest.raises(CodecError):
            decode(encode(StateProof(2, (), bad_leaf)), StateProof)


def test_apply_does_not_write_and_can_be_discarded():
    store, st = fresh()
    commit(store, st, 1, {b"a": b"1"})
    before = dict(store.nodes)
    batch = st.apply(2, {b"a": b"2", b"b": b"3"})
    assert store.nodes == before  # nothing persisted by apply
    assert st.root(2) == EMPTY_ROOT and st.get(b"a", 2) is None
    assert all(k[:8] == (2).to_bytes(8, "big") for k in batch.new_nodes)  # keys carry the version
    # A competing proposal for the same version, then commit only that one.
    other = st.apply(2, {b"a": b"9"})
    store.put_batch(other)
    assert st.get(b"a", 2) == b"9" and st.get(b"b", 2) is None and st.root(2) == other.root


def test_skipped_versions_and_explicit_base():
    store, st = fresh()
    r = commit(store, st, 1, {b"k%d" % i: b"v" for i in range(100)}).root
    empty = commit(store, st, 2, {})
    assert empty.root == r and len(empty.new_nodes) == 1  # just the root pointer
    assert st.get(b"k5", 2) == b"v"
    commit(store, st, 3, {b"k5": None})
    commit(store, st, 10, {b"k6": b"w"}, base_version=3)
    assert st.get(b"k5", 10) is None and st.get(b"k6", 10) == b"w" and st.get(b"k7", 10) == b"v"
    assert (st.entry(b"k6", 10).height, st.entry(b"k6", 10).prev) == (10, 1)
    assert st.root(5) == EMPTY_ROOT  # never applied
    with pytest.raises(StateError):
        st.apply(10, {}, base_version=10)
    with pytest.raises(StateError):
        st.apply(-1, {})
    with pytest.raises(StateError):
        st.apply(11, {"text": b"v"})  # type: ignore[dict-item]


def test_structural_sharing_writes_only_the_path():
    store, st = fresh()
    commit(store, st, 1, {b"k%d" % i: b"v" for i in range(5000)})
    batch = st.apply(2, {b"k42": b"new"})
    depth = len(st.prove(b"k42", 1).siblings)
    assert len(batch.new_nodes) == depth + 1  # internal nodes on the path plus the leaf
    store.put_batch(batch)
    assert st.get(b"k42", 2) == b"new" and st.get(b"k42", 1) == b"v"
    assert st.get(b"k43", 2) == b"v"


def test_missing_node_raises_state_error():
    store, st = fresh()
    commit(store, st, 1, {b"k%d" % i: b"v" for i in range(100)})
    child_keys = [k for k in store.nodes if k[8] == 1]
    del store.nodes[child_keys[0]]
    with pytest.raises(StateError, match="missing"):
        for i in range(100):
            st.get(b"k%d" % i, 1)


def test_verifier_rejects_a_leaf_off_its_own_path():
    # A forged root built around a leaf placed where its key cannot be must not prove absence.
    groups = keys_by_first_nibble()
    store, st = fresh()
    x, sibling = groups[2][0], groups[7][0]
    commit(store, st, 1, {x: b"X", sibling: b"S"})
    p = st.prove(x, 1)
    y = groups[11][0]  # its path leaves the root through nibble 11, not 2
    h = p.leaf.hash()
    forged = internal_hash(
        (*p.siblings[0][: nibble(key_hash(y), 0)], h, *p.siblings[0][nibble(key_hash(y), 0) :])
    )
    assert not verify_proof(forged, y, None, p)


def _reference_node_key(version: int, path: bytes) -> bytes:
    """The node key layout, nibble by nibble: version, nibble count, nibbles two per byte."""
    packed = bytes(
        (path[i] << 4) | (path[i + 1] if i + 1 < len(path) else 0) for i in range(0, len(path), 2)
    )
    return version.to_bytes(8, "big") + bytes((len(path),)) + packed


def test_node_keys_follow_the_layout_at_every_depth_first_use_or_kept():
    import random

    rng = random.Random(7)
    paths = [b""] + [
        bytes(rng.randrange(16) for _ in range(d)) for d in range(1, 65) for _ in range(3)
    ]
    paths += [bytes((a, b, c)) for a in (0, 15) for b in (0, 9, 15) for c in (0, 15)]
    for version in (0, 1, 255, 256, (1 << 64) - 1):
        for path in paths:
            first, again = node_key(version, path), node_key(version, path)  # kept, then reused
            assert first == again == _reference_node_key(version, path)


def test_a_batch_stores_each_new_node_under_its_version_and_path():
    store, st = fresh()
    commit(store, st, 1, {b"k%d" % i: b"v" for i in range(300)})
    for version in (2, 3):
        batch = st.apply(version, {b"k%d" % i: b"w%d" % version for i in range(0, 300, 7)})
        for path, node in batch.hot.items():
            assert decode_node(batch.new_nodes[_reference_node_key(version, path)]) == node
        assert all(key[:8] == version.to_bytes(8, "big") for key in batch.new_nodes)
        store.put_batch(batch)
        assert st.get(b"k7", version) == b"w%d" % version
