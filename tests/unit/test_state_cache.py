"""The state tree's node cache (`tianfu.state.cache`): a cached tree gives exactly what an
uncached one gives, whatever the budget; dropped and failed batches never enter it; a
restart starts from the store alone."""

from __future__ import annotations

import random
import sqlite3

import pytest

from tianfu.state import InMemoryNodes, MerkleState
from tianfu.state.cache import DEEP_DEPTH, HOT_DEPTH, NodeCache
from tianfu.state.keys import tree_updates
from tianfu.state.nodes import Child, InternalNode, LeafNode
from tianfu.store import StoreError
from tianfu.store.sqlite import Store


def _block(rng: random.Random, keys: list[bytes], n: int) -> dict[bytes, bytes | None]:
    """Some contract writes plus `n` new committed-transaction entries, as the ledger does."""
    writes: dict[bytes, bytes | None] = {
        k: (None if rng.random() < 0.1 else rng.randbytes(3)) for k in rng.sample(keys, 30)
    }
    return tree_updates(writes, [rng.randbytes(32) for _ in range(n)])


@pytest.mark.parametrize("budget", [0, 20_000, 64 << 20])
def test_any_budget_gives_the_roots_and_nodes_of_an_uncached_tree(budget: int) -> None:
    rng = random.Random(budget)
    nodes = InMemoryNodes()
    cached = MerkleState(nodes, cache_bytes=budget)
    keys = [b"asset/k%d" % i for i in range(500)]
    for version in range(30):
        ups = _block(rng, keys, 300)
        if rng.random() < 0.3:  # a proposal that is not decided: applied, never persisted
            cached.apply(version, _block(rng, keys, 200))
        batch = cached.apply(version, ups)
        fresh = MerkleState(nodes, cache_bytes=0).apply(version, ups)
        assert batch.root == fresh.root and batch.new_nodes == fresh.new_nodes
        nodes.put_batch(batch)
        cached.committed(batch)
    cache = cached._cache
    assert cache.deep_bytes <= budget
    if budget >= 64 << 20:  # ~9,000 leaves: the level below the top is all in memory
        assert cache.deep_bytes > 0
    for k in rng.sample(keys, 40):
        for version in (29, 17):
            assert cached.prove(k, version) == MerkleState(nodes).prove(k, version)


def test_the_budget_drops_the_entries_written_longest_ago() -> None:
    cache = NodeCache(deep_bytes=2_000)
    leaf = LeafNode(b"\x00" * 32, b"v", 1, None)
    paths = [bytes([1, 2, 3, n]) for n in range(16)]
    for v, path in enumerate(paths):
        cache.put(v, path, leaf)
    assert cache.deep_bytes <= 2_000
    assert cache.get(15, paths[15]) is leaf and cache.get(0, paths[0]) is None
    # a newer version replaces an entry, an older one never does; a version mismatch misses
    cache.put(20, paths[15], leaf)
    cache.put(3, paths[15], LeafNode(b"\x01" * 32, b"w", 1, None))
    assert cache.get(20, paths[15]) is leaf and cache.get(15, paths[15]) is None
    # the top levels are kept whole; deeper levels not at all
    top = InternalNode((Child(0, 1, b"\x02" * 32, True), Child(1, 1, b"\x03" * 32, True)))
    cache.put(1, bytes(HOT_DEPTH), top)
    cache.put(1, bytes(DEEP_DEPTH + 1), leaf)
    assert cache.get(1, bytes(HOT_DEPTH)) is top and cache.get(1, bytes(DEEP_DEPTH + 1)) is None


def test_a_failed_store_write_leaves_nothing_in_the_cache(tmp_path, monkeypatch) -> None:
    """The ledger's order: save the block, then `committed`. A write that fails (rolled back)
    is never reported, so the cache cannot hold nodes the store does not have; the block
    applied again (or another at that height) gives what a restarted node computes."""
    rng = random.Random(5)
    keys = [b"asset/k%d" % i for i in range(300)]
    store = Store(tmp_path / "chain.db")
    state = MerkleState(store)
    for version in range(6):
        batch = state.apply(version, _block(rng, keys, 400))
        store.save_state_nodes(batch.new_nodes, {})
        state.committed(batch)
    failed_ups = _block(rng, keys, 400)
    failed = state.apply(6, failed_ups)

    real_write = Store._write_state

    def broken(conn: sqlite3.Connection, nodes: dict, updates: dict) -> None:
        real_write(conn, nodes, updates)  # the rows are in, then the transaction fails
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(Store, "_write_state", staticmethod(broken))
        with pytest.raises(StoreError, match="disk is full"):
            store.save_state_nodes(failed.new_nodes, {})
    assert store.get_node(next(iter(failed.new_nodes))) is None
    assert all(state._cache.get(6, path) is None for path in failed.hot)
    other = _block(rng, keys, 400)
    batch = state.apply(6, other)
    store.save_state_nodes(batch.new_nodes, {})
    state.committed(batch)
    after = state.apply(7, failed_ups)
    store.close()

    reopened = Store(tmp_path / "chain.db")  # a restart: no cache, the store alone
    fresh = MerkleState(reopened)
    assert fresh.root(6) == batch.root
    assert fresh.apply(7, failed_ups).new_nodes == after.new_nodes
    reopened.close()


def test_put_many_keeps_what_put_one_by_one_keeps() -> None:
    """`NodeCache.put_many` (a committed batch's nodes) against `put` for each node: the same
    entries at every level, newer versions kept over older, the budget's oldest dropped."""
    rng = random.Random(11)
    one, many = NodeCache(deep_bytes=5_000), NodeCache(deep_bytes=5_000)
    leaf = LeafNode(b"\x00" * 32, b"v", 1, None)
    paths = [bytes(rng.randrange(16) for _ in range(rng.randrange(7))) for _ in range(300)]
    for version in rng.sample(range(60), 60):  # versions out of order: older never replace
        batch = {
            p: LeafNode(rng.randbytes(32), b"x" * rng.randrange(50), version, None)
            for p in rng.sample(paths, 40)
        }
        for p, n in batch.items():
            one.put(version, p, n)
        many.put_many(version, batch)
        many.put_many(version, {})
    many.put_many(99, {bytes(DEEP_DEPTH + 1): leaf})
    assert one._hot == many._hot and list(one._deep.items()) == list(many._deep.items())
    assert one.deep_bytes == many.deep_bytes <= 5_000 and len(one) == len(many) > 0
    assert NodeCache(deep_bytes=0).put_many(1, {bytes(DEEP_DEPTH): leaf}) is None


def test_a_node_laid_out_for_the_builder_is_its_own_copy_and_follows_the_hash() -> None:
    """The builder's 16-way layout of a node (`MerkleState._expanded`) is kept per node: the
    caller's changes never reach it, and under another hash suite (another empty-child
    hash) the layout is made again, so the tree computes what a fresh one computes."""
    from tianfu.codec import SM3, hash_scope
    from tianfu.state.nodes import empty_root

    rng = random.Random(12)
    keys = [b"asset/k%d" % i for i in range(40)]
    nodes = InMemoryNodes()
    state = MerkleState(nodes)
    for version in range(4):
        batch = state.apply(version, {k: rng.randbytes(3) for k in rng.sample(keys, 3)})
        nodes.put_batch(batch)
        state.committed(batch)
    root = state._load(3, b"")
    assert isinstance(root, InternalNode) and len(root.children) < 16
    slots, hashes = state._expanded(root, b"", empty_root())
    slots[:] = [None] * 16
    hashes[:] = [b"x"] * 16
    again, again_hashes = state._expanded(root, b"", empty_root())
    assert [c for c in again if c is not None] == list(root.children)
    assert again_hashes.count(empty_root()) == 16 - len(root.children)
    ups = {keys[0]: b"changed"}
    with hash_scope(SM3):
        assert state.apply(4, ups).root == MerkleState(nodes).apply(4, ups).root
