"""Property tests: the state tree matches a reference model of versioned entries, roots
depend only on that versioned content, and every proof verifies with the true value and
with nothing else."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.codec import decode, encode
from tianfu.state import InMemoryNodes, MerkleState, StateProof, check_proof, verify_proof
from tianfu.state.nodes import (
    DELETED,
    EMPTY_CHILD,
    EMPTY_ROOT,
    internal_hash,
    key_hash,
    leaf_hash,
    nibble,
    value_hash,
)

KEYS = [b"k%d" % i for i in range(24)]
values = st.one_of(st.none(), st.binary(max_size=6))
batches = st.lists(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=12), min_size=1, max_size=6
)

Leaf = tuple[bytes | None, int, int | None]  # value (None: tombstone), height, prev


def reference_root(leaves: dict[bytes, Leaf]) -> bytes:
    """The root of a tree holding `leaves`, computed from the definition (ADR 0004 and the
    leaf format of ADR 0018): 16-ary by key-hash nibbles, a lone leaf where it is unique."""
    items = sorted(
        (
            key_hash(k),
            leaf_hash(key_hash(k), DELETED if v is None else value_hash(v), h, p),
        )
        for k, (v, h, p) in leaves.items()
    )

    def build(group: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if not group:
            return EMPTY_CHILD
        if len(group) == 1:
            return group[0][1]
        children = [
            build([i for i in group if nibble(i[0], depth) == n], depth + 1) for n in range(16)
        ]
        return internal_hash(children)

    return EMPTY_ROOT if not items else build(items, 0)


def apply_reference(reference: dict[bytes, Leaf], version: int, updates: dict) -> None:
    for k, v in updates.items():
        old = reference.get(k)
        if old is None:
            if v is not None:
                reference[k] = (v, version, None)
        elif old[0] != v:
            reference[k] = (v, version, old[1])


@settings(max_examples=150, deadline=None)
@given(batches)
def test_tree_matches_reference_at_every_version(seq):
    store = InMemoryNodes()
    state = MerkleState(store)
    reference: dict[bytes, Leaf] = {}
    history = []
    for version, updates in enumerate(seq):
        batch = state.apply(version, updates)
        store.put_batch(batch)
        apply_reference(reference, version, updates)
        history.append(dict(reference))
        # (b) the root is a function of the versioned content alone (value, height, prev)
        assert batch.root == reference_root(reference)
    for version, content in enumerate(history):
        root = state.root(version)
        for k in KEYS:
            leaf = content.get(k)
            true = None if leaf is None else leaf[0]
            # (a) historical content equals the reference at that version
            assert state.get(k, version) == true
            entry = state.entry(k, version)
            assert (entry is None and leaf is None) or (
                entry.value,
                entry.height,
                entry.prev,
            ) == leaf
            # (c) the proof verifies with the true value and fails with any other
            proof = state.prove(k, version)
            assert verify_proof(root, k, true, proof)
            assert not verify_proof(root, k, (true or b"") + b"!", proof)
            assert not verify_proof(root, k, None if true is not None else b"", proof)
            proven = check_proof(root, k, proof)
            assert (proven.height, proven.prev) == ((None, None) if leaf is None else leaf[1:])
            # (d) proofs survive the codec round trip
            again = decode(encode(proof), StateProof)
            assert again == proof and verify_proof(root, k, true, again)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), st.binary(max_size=6), max_size=24), st.randoms())
def test_root_independent_of_batching_within_a_version(content, rnd):
    """Splitting one version's writes over several base versions (each applied on the same
    base, the last one kept) gives the same root as one batch."""
    items = list(content.items())
    rnd.shuffle(items)
    store = InMemoryNodes()
    state = MerkleState(store)
    store.put_batch(state.apply(0, {b"seed": b"s"}))
    one = state.apply(1, dict(items)).root
    two = state.apply(1, dict(reversed(items))).root
    assert (
        one
        == two
        == reference_root(
            {b"seed": (b"s", 0, None), **{k: (v, 1, None) for k, v in content.items()}}
        )
    )


@settings(max_examples=80, deadline=None)
@given(batches, st.sampled_from(KEYS), st.integers(0, 10_000))
def test_proof_for_one_root_fails_under_another(seq, key, salt):
    store = InMemoryNodes()
    state = MerkleState(store)
    for version, updates in enumerate(seq):
        store.put_batch(state.apply(version, updates))
    last = len(seq) - 1
    proof = state.prove(key, last)
    value = state.get(key, last)
    other = state.apply(last + 1, {b"salt%d" % salt: b"x"}).root
    assert verify_proof(state.root(last), key, value, proof)
    assert not verify_proof(other, key, value, proof)
