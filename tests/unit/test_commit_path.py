"""The block path's shortcuts give exactly what the plain computations give.

Pre-encoded blocks in `save_block`, the in-memory height, the JMT's hot node cache, the
ledger's latest-value cache (including a store read racing a commit), the merkle root.
"""

from __future__ import annotations

import random
import sqlite3

import pytest
from test_store import Chain

from tianfu.codec import encode, hash_domain
from tianfu.crypto.merkle import _root, leaf_hash, merkle_root, node_hash
from tianfu.ledger.ledger import _LatestCache
from tianfu.state import InMemoryNodes, MerkleState
from tianfu.state.nodes import INTERNAL_TAG, LEAF_TAG, internal_hash, node_key
from tianfu.state.nodes import leaf_hash as state_leaf_hash
from tianfu.store import Store
from tianfu.store.sqlite import StoreError, encode_list


def _rows(path):
    conn = sqlite3.connect(path)
    try:
        return [
            conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("blocks", "tx_index", "tx_recent", "event_index", "tree_nodes", "state")
        ]
    finally:
        conn.close()


def test_save_block_with_precomputed_encodings_stores_the_same_bytes(tmp_path):
    chain = Chain()
    parts = [chain.next(h, n) for h, n in ((1, 3), (2, 0), (3, 40))]
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    for block, cert, receipts, nodes, updates in parts:
        a.save_block(block, cert, receipts, nodes, updates)
        b.save_block(
            block,
            cert,
            receipts,
            nodes,
            updates,
            encoded_txs=[encode(t) for t in block.txs],
            encoded_receipts=[encode(r) for r in receipts],
            tx_hashes=[t.hash for t in block.txs],
        )
    assert a.height() == b.height() == 3
    a.close(), b.close()
    assert _rows(tmp_path / "a.db") == _rows(tmp_path / "b.db")


def test_encode_list_is_the_canonical_list_encoding():
    for n in (0, 1, 15, 16, 255, 65535, 65536, 70001):
        items = [i % 200 for i in range(n)]
        assert encode_list([encode(i) for i in items]) == encode(items)


def test_height_is_kept_in_memory_and_right_after_reopen(tmp_path):
    chain = Chain()
    db = Store(tmp_path / "s.db")
    assert db.height() == 0
    for h in (1, 2):
        db.save_block(*chain.next(h, 2))
        assert db.height() == h
    b3 = chain.next(3, 1)
    b4 = chain.next(4, 1)
    with pytest.raises(StoreError, match="cannot store block 4: the store is at height 2"):
        db.save_block(*b4)
    assert db.height() == 2  # a refused block changes nothing
    db.close()
    again = Store(tmp_path / "s.db")
    assert again.height() == 2
    again.save_block(*b3)
    assert again.height() == 3
    again.close()


def test_fast_hashes_equal_hash_domain():
    rng = random.Random(3)
    for _ in range(50):
        hs = [rng.randbytes(32) for _ in range(16)]
        assert internal_hash(hs) == hash_domain(INTERNAL_TAG, *hs)
        h, p = rng.randrange(1, 1 << 62), rng.randrange(0, 1 << 62)
        b8 = lambda n: n.to_bytes(8, "big")  # noqa: E731
        assert state_leaf_hash(hs[0], hs[1], h, p) == hash_domain(
            LEAF_TAG, hs[0], hs[1], b8(h), b8(p)
        )
        assert state_leaf_hash(hs[0], hs[1], h, None) == hash_domain(
            LEAF_TAG, hs[0], hs[1], b8(h), b""
        )
        assert state_leaf_hash(hs[0], b"", h, p) == hash_domain(LEAF_TAG, hs[0], b"", b8(h), b8(p))
        assert node_hash(hs[2], hs[3]) == hash_domain("tianfu/merkle/node/v1", hs[2], hs[3])
    # other lengths take the generic path, still the same function
    assert internal_hash([b"x"] * 16) == hash_domain(INTERNAL_TAG, *([b"x"] * 16))
    assert node_hash(b"a", b"bc") == hash_domain("tianfu/merkle/node/v1", b"a", b"bc")
    for n in range(0, 65):
        path = bytes(rng.randrange(16) for _ in range(n))
        packed = bytes((path[i] << 4) | (path[i + 1] if i + 1 < n else 0) for i in range(0, n, 2))
        assert node_key(9, path) == (9).to_bytes(8, "big") + bytes((n,)) + packed


def test_merkle_root_matches_the_recursive_definition():
    rng = random.Random(4)
    for n in [*range(1, 70), 511, 512, 513, 1000]:
        items = [rng.randbytes(rng.randrange(1, 9)) for _ in range(n)]
        assert merkle_root(items) == _root([leaf_hash(i) for i in items]), n


def test_hot_cache_gives_the_roots_of_an_uncached_tree():
    """Random batches, some dropped and re-applied differently at the same version."""
    rng = random.Random(11)
    nodes = InMemoryNodes()
    cached = MerkleState(nodes)
    keys = [b"k%d" % i for i in range(3000)]
    version = 0
    for _ in range(25):
        ups = {k: (None if rng.random() < 0.1 else rng.randbytes(4)) for k in rng.sample(keys, 400)}
        if rng.random() < 0.3:  # a proposal that is not decided: applied, never persisted
            cached.apply(version, {k: b"dropped" for k in rng.sample(keys, 300)})
        batch = cached.apply(version, ups)
        fresh = MerkleState(nodes).apply(version, ups)
        assert batch.root == fresh.root and batch.new_nodes == fresh.new_nodes
        nodes.put_batch(batch)
        cached.committed(batch)
        version += 1
    for k in rng.sample(keys, 50):
        assert cached.get(k, version - 1) == MerkleState(nodes).get(k, version - 1)
        assert cached.prove(k, version - 3) == MerkleState(nodes).prove(k, version - 3)


class _FakeStore:
    def __init__(self):
        self.data: dict[bytes, bytes] = {}
        self.during_read = None

    def get_latest(self, key):
        value = self.data.get(key)
        if self.during_read is not None:
            hook, self.during_read = self.during_read, None
            hook()
        return value


def test_latest_cache_never_keeps_a_value_read_before_a_commit():
    store = _FakeStore()
    cache = _LatestCache(store, size=10)
    store.data[b"a"] = b"old"

    def commit():  # a block commits while the read of the old value is in flight
        store.data[b"a"] = b"new"
        cache.update({b"a": b"new"})

    store.during_read = commit
    assert cache.get(b"a") == b"old"  # (what the store said when it was asked)
    assert cache.get(b"a") == b"new"  # but the stale value was not cached


def test_latest_cache_is_bounded_and_exact():
    store = _FakeStore()
    cache = _LatestCache(store, size=100)
    for i in range(1000):
        store.data[b"%d" % i] = b"v%d" % i
    rng = random.Random(2)
    for _ in range(5000):
        k = b"%d" % rng.randrange(1000)
        if rng.random() < 0.2:
            v = rng.choice([None, rng.randbytes(3)])
            if v is None:
                store.data.pop(k, None)
            else:
                store.data[k] = v
            cache.update({k: v})
        assert cache.get(k) == store.data.get(k)
        assert len(cache._young) + len(cache._old) <= 100
