"""Property tests: the state tree matches a reference dict, roots depend only on content,
and every proof verifies with the true value and with nothing else."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.codec import decode, encode
from tianfu.state import InMemoryNodes, MerkleState, StateProof, verify_proof

KEYS = [b"k%d" % i for i in range(24)]
values = st.one_of(st.none(), st.binary(max_size=6))
batches = st.lists(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=12), min_size=1, max_size=6
)


def build_once(content: dict[bytes, bytes]) -> bytes:
    store = InMemoryNodes()
    batch = MerkleState(store).apply(0, dict(content))
    return batch.root


@settings(max_examples=150, deadline=None)
@given(batches)
def test_tree_matches_reference_at_every_version(seq):
    store = InMemoryNodes()
    state = MerkleState(store)
    reference: dict[bytes, bytes] = {}
    history = []
    for version, updates in enumerate(seq):
        batch = state.apply(version, updates)
        store.put_batch(batch)
        for k, v in updates.items():
            if v is None:
                reference.pop(k, None)
            else:
                reference[k] = v
        history.append(dict(reference))
        # (b) the root is a function of the content alone
        assert batch.root == build_once(reference)
    for version, content in enumerate(history):
        root = state.root(version)
        for k in KEYS:
            # (a) historical content equals the reference at that version
            assert state.get(k, version) == content.get(k)
            # (c) the proof verifies with the true value and fails with any other
            proof = state.prove(k, version)
            true = content.get(k)
            assert verify_proof(root, k, true, proof)
            assert not verify_proof(root, k, (true or b"") + b"!", proof)
            assert not verify_proof(root, k, None if true is not None else b"", proof)
            # (d) proofs survive the codec round trip
            again = decode(encode(proof), StateProof)
            assert again == proof and verify_proof(root, k, true, again)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), st.binary(max_size=6), max_size=24), st.randoms())
def test_root_independent_of_batching(content, rnd):
    items = list(content.items())
    rnd.shuffle(items)
    store = InMemoryNodes()
    state = MerkleState(store)
    version = 0
    while items:
        cut = rnd.randint(1, len(items))
        chunk, items = items[:cut], items[cut:]
        # Write a decoy value first and fix it in a later batch, to exercise updates.
        store.put_batch(state.apply(version, {k: v + b"decoy" for k, v in chunk}))
        store.put_batch(state.apply(version + 1, dict(chunk)))
        version += 2
    assert state.root(version - 1 if content else 0) == build_once(content)


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
