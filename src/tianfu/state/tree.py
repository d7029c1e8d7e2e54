"""Versioned 16-ary sparse Merkle tree (Jellyfish style): batch updates, reads and proofs.

`MerkleState` never writes: `apply` returns the nodes of the new version in a `TreeBatch`
and the caller persists them (in the same DB transaction as the block) or drops them.
Every version gets a root entry at node_key(version, b""), so `root(v)` and `get(k, v)`
work for any version that was applied and persisted, including versions with no change.

The top of the tree (and, within a memory budget, the level below it) is kept decoded in
memory (`tianfu.state.cache`): every batch update walks those nodes, so reading and
decoding them from the store on every block is wasted work. Only persisted nodes enter it:
those read from the reader, and those of a batch the caller reports persisted with
`committed(batch)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeVar

from tianfu.codec import encode
from tianfu.state.cache import DEEP_BYTES, DEEP_DEPTH, HOT_DEPTH, NodeCache
from tianfu.state.nodes import (
    DELETED,
    MAX_VERSION,
    RADIX,
    Child,
    InternalNode,
    LeafNode,
    Node,
    NullNode,
    StateError,
    decode_node,
    empty_root,
    internal_hash_32,
    key_hash,
    leaf_hash,
    nibble,
    node_key,
    path_suffix,
    value_hash,
)
from tianfu.state.proof import PROOF_VERSION, ProofLeaf, StateProof

ROOT_PATH = b""


class NodeReader(Protocol):
    def get_node(self, node_key: bytes) -> bytes | None:
        """The encoded node stored under `node_key`, or None."""
        ...


_U = TypeVar("_U", bound=tuple)  # type: ignore[type-arg]


@dataclass(frozen=True)
class TreeBatch:
    version: int
    root: bytes  # 32-byte root after the update
    new_nodes: dict[bytes, bytes]  # node_key -> encoded node, for the caller to persist
    # nibble path -> decoded node, for new nodes the cache may keep (see `committed`)
    hot: dict[bytes, Node] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class InMemoryNodes:
    """A dict-backed NodeReader, for tests and simple uses."""

    nodes: dict[bytes, bytes] = field(default_factory=dict)

    def get_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)

    def put_batch(self, batch: TreeBatch) -> None:
        self.nodes.update(batch.new_nodes)

    def __len__(self) -> int:
        return len(self.nodes)


class _Ref(NamedTuple):
    """A node already stored at node_key(version, its path)."""

    version: int
    hash: bytes
    leaf: bool


class _Pending(NamedTuple):
    """A leaf whose final position is not known yet (it is written once placed)."""

    key_hash: bytes
    value: bytes | None  # None: a tombstone
    height: int
    prev: int | None
    hash: bytes


_Result = Child | _Ref | _Pending | None
# an internal node laid out for `_Builder.finish` (see `MerkleState._expanded`)
_Expanded = tuple[InternalNode, list[_Result], list[bytes], bytes]
_Update = tuple[bytes, bytes | None]  # (key hash, new value or None to delete)
# a leaf: key hash, value, height, prev, and its hash when known (an unchanged leaf that moves)
_Entry = tuple[bytes, bytes | None, int, int | None, bytes | None]


def _by_nibble(items: list[_U], depth: int) -> list[tuple[int, list[_U]]]:
    """Split key-hash-sorted items into runs sharing the nibble at `depth`."""
    i = depth >> 1
    odd = depth & 1
    out: list[tuple[int, list[_U]]] = []
    current = -1
    group: list[_U] = []
    for u in items:
        b = u[0][i]
        n = b & 0x0F if odd else b >> 4
        if n != current:
            current = n
            group = []
            out.append((n, group))
        group.append(u)
    return out


def _pending(entry: _Entry) -> _Pending:
    k, v, height, prev, known = entry
    if known is not None:
        return _Pending(k, v, height, prev, known)
    vhash = DELETED if v is None else value_hash(v)
    return _Pending(k, v, height, prev, leaf_hash(k, vhash, height, prev))


class _Builder:
    """One batch update: walks the touched subtrees and collects the new nodes.

    Every leaf it writes for a changed entry gets `height = version` and `prev` = the
    height of the entry's previous leaf (None for a new key); a deletion of a present
    entry writes a tombstone leaf the same way. An update that leaves an entry as it was
    (the same value, or deleting what is absent) is no change at all.
    """

    def __init__(self, state: MerkleState, version: int) -> None:
        self.state = state
        self.version = version
        self.new_nodes: dict[bytes, bytes] = {}
        self.hot: dict[bytes, Node] = {}
        self._version_key = version.to_bytes(8, "big")  # node_key(version, ...)'s prefix
        self.empty = empty_root()  # an empty child's hash, for the chain's hash function

    def load(self, version: int, path: bytes) -> Node:
        node = self.state._load(version, path)
        if node is None:
            raise StateError(f"missing state node at version {version}, depth {len(path)}")
        return node

    def put(self, path: bytes, node: Node) -> None:
        # node_key(self.version, path), with the version's bytes computed once per batch
        self.new_nodes[self._version_key + path_suffix(path)] = encode(node)
        if len(path) <= DEEP_DEPTH:
            self.hot[path] = node

    def update(self, ref: Child | _Ref | None, path: bytes, ups: list[_Update]) -> _Result:
        """Apply `ups` (sorted, all under `path`) to the subtree `ref` stored at `path`."""
        version = self.version
        if ref is None:  # new keys only: deleting a key that was never written is no change
            return self.build([(k, v, version, None, None) for k, v in ups if v is not None], path)
        node = self.load(ref.version, path)
        if isinstance(node, LeafNode):
            old = node.key_hash
            entries: dict[bytes, _Entry] = {
                old: (old, node.value, node.height, node.prev, ref.hash)
            }
            changed = False
            for k, v in ups:
                if k == old:
                    if v != node.value:  # a new value, or the tombstone of a deletion
                        entries[k] = (k, v, version, node.height, None)
                        changed = True
                elif v is not None:
                    entries[k] = (k, v, version, None, None)
                    changed = True
            if not changed:
                return ref
            return self.build(sorted(entries.values()), path)
        if not isinstance(node, InternalNode):
            raise StateError("a null node can only be a root")
        depth = len(path)
        # (a stored Child is a reference to an existing subtree, like a _Ref)
        slots, hashes = self.state._expanded(node, path, self.empty)
        count = len(node.children)
        news: list[int] = []
        for n, group in _by_nibble(ups, depth):
            old_child = slots[n]
            if old_child is None and len(group) == 1:  # one new key in an empty slot
                k, v = group[0]
                if v is None:
                    continue  # deleting a key that was never written: no change
                slots[n] = _pending((k, v, version, None, None))
                count += 1
                news.append(n)
                continue
            res = self.update(old_child, path + bytes((n,)), group)  # type: ignore[arg-type]
            if res is not old_child:
                news.append(n)
                slots[n] = res
                if res is None:
                    count -= 1
                elif old_child is None:
                    count += 1
        if not news:
            return ref
        return self.finish(slots, hashes, count, news, path)

    def build(self, entries: list[_Entry], path: bytes) -> _Result:
        """A fresh subtree at `path` holding the leaves `entries` (sorted by key hash)."""
        if not entries:
            return None
        if len(entries) == 1:
            return _pending(entries[0])
        depth = len(path)
        slots: list[_Result] = [None] * RADIX
        changed: list[int] = []
        for n, group in _by_nibble(entries, depth):
            res = self.build(group, path + bytes((n,)))
            assert res is not None
            slots[n] = res
            changed.append(n)
        return self.finish(slots, [self.empty] * RADIX, len(changed), changed, path)

    def finish(
        self,
        slots: list[_Result],
        hashes: list[bytes],
        count: int,
        changed: list[int],
        path: bytes,
    ) -> _Result:
        """The subtree at `path` with the children `slots` (by nibble; `count` of them not
        None), in canonical (compressed) form. The slots in `changed` hold new results (or
        None); every other slot holds the stored `Child` as it was, or None, and `hashes`
        holds every unchanged child's hash (`self.empty` where there is none). Both lists
        are the caller's to give away: they are filled in and kept (`MerkleState._expanded`).
        """
        if count == 0:
            return None
        if count == 1:
            ((n, only),) = [(i, r) for i, r in enumerate(slots) if r is not None]
            if isinstance(only, _Pending):
                return only  # a lone leaf moves up
            assert only is not None
            if only.leaf:
                leaf = self.load(only.version, path + bytes((n,)))
                assert isinstance(leaf, LeafNode)
                return _Pending(leaf.key_hash, leaf.value, leaf.height, leaf.prev, only.hash)
        empty = self.empty
        for n in changed:
            r = slots[n]
            if r is None:
                hashes[n] = empty
                continue
            if isinstance(r, _Pending):
                r = self.place(r, path + bytes((n,)))
            assert not isinstance(r, Child)  # a changed slot holds a new result
            slots[n] = Child(n, r.version, r.hash, r.leaf)
            hashes[n] = r.hash
        # every slot left holds a Child now (a struct is always true)
        node = InternalNode(tuple(filter(None, slots)))  # type: ignore[arg-type]
        self.put(path, node)
        self.state._remember_expanded(path, node, slots, hashes, empty)
        return _Ref(self.version, internal_hash_32(hashes), False)

    def place(self, p: _Pending, path: bytes) -> _Ref:
        self.put(path, LeafNode(p.key_hash, p.value, p.height, p.prev))
        return _Ref(self.version, p.hash, True)


class MerkleState:
    """Reads, proofs and batch updates over the versioned tree stored behind `reader`."""

    def __init__(self, reader: NodeReader, cache_bytes: int = DEEP_BYTES) -> None:
        """`cache_bytes`: the memory budget of the cached level below the top (0: none)."""
        self.reader = reader
        self._cache = NodeCache(cache_bytes)
        # path -> (node, its children by nibble, their hashes, the empty hash used): the
        # last internal node the builder made or opened there, laid out as `finish` takes
        # it, for nibble paths of depth <= HOT_DEPTH (see `_expanded`).
        self._slots: dict[bytes, _Expanded] = {}

    def _load(self, version: int, path: bytes) -> Node | None:
        """The persisted node at (version, path), from the cache or the reader."""
        node = self._cache.get(version, path)
        if node is not None:
            return node
        data = self.reader.get_node(node_key(version, path))
        if data is None:
            return None
        node = decode_node(data)
        self._cache.put(version, path, node)
        return node

    def _expanded(
        self, node: InternalNode, path: bytes, empty: bytes
    ) -> tuple[list[_Result], list[bytes]]:
        """`node`'s children by nibble (None where there is none) and their hashes (`empty`,
        the chain's empty hash, there), as new lists for the caller to change.

        A function of `node` alone: kept per path, for the very node object it was made
        from (it is kept alive with it, so `is` cannot match another), and only if the
        empty hash is the same. Each block rewrites the top of the tree, so the next block
        opens the same nodes: their 16-way layout is copied, not rebuilt.
        """
        memo = self._slots.get(path)
        if memo is not None and memo[0] is node and memo[3] is empty:
            return memo[1][:], memo[2][:]
        slots: list[_Result] = [None] * RADIX
        hashes = [empty] * RADIX
        for c in node.children:
            slots[c.nibble] = c
            hashes[c.nibble] = c.hash
        self._remember_expanded(path, node, slots[:], hashes[:], empty)
        return slots, hashes

    def _remember_expanded(
        self,
        path: bytes,
        node: InternalNode,
        slots: list[_Result],
        hashes: list[bytes],
        empty: bytes,
    ) -> None:
        """Keep `node`'s layout for `_expanded` (the lists are kept as they are: not to be
        changed afterwards)."""
        if len(path) <= HOT_DEPTH:
            self._slots[path] = (node, slots, hashes, empty)

    def committed(self, batch: TreeBatch) -> None:
        """Tell the tree that `batch` is persisted: its top nodes join the cache.

        Call it only once the batch's nodes are durably stored (never for a batch that
        may still be dropped); it is only a cache, so not calling it is always safe.
        """
        self._cache.put_many(batch.version, batch.hot)

    def _root_node(self, version: int) -> Node | None:
        if version < 0:
            return None
        return self._load(version, ROOT_PATH)

    def root(self, version: int) -> bytes:
        """Root hash at `version` (the empty root if no root was persisted for it)."""
        node = self._root_node(version)
        return empty_root() if node is None else node.hash()

    def apply(
        self,
        version: int,
        updates: dict[bytes, bytes | None],
        base_version: int | None = None,
    ) -> TreeBatch:
        """Apply `updates` (key -> value, None deletes) on top of `base_version` as one batch.

        Nothing is written: the returned batch holds the new nodes, including a root
        entry for `version` even when nothing changed.
        """
        if base_version is None:
            base_version = version - 1
        if not 0 <= version <= MAX_VERSION:
            raise StateError(f"version {version} out of range")
        if base_version >= version:
            raise StateError(f"base version {base_version} must be below version {version}")
        for k, v in updates.items():
            if not isinstance(k, bytes) or not (v is None or isinstance(v, bytes)):
                raise StateError("state keys and values must be bytes (None deletes)")
        builder = _Builder(self, version)
        base_node = self._root_node(base_version)
        base: _Ref | None = None
        if base_node is not None and not isinstance(base_node, NullNode):
            base = _Ref(base_version, base_node.hash(), isinstance(base_node, LeafNode))
        ups = sorted((key_hash(k), v) for k, v in updates.items())
        res = builder.update(base, ROOT_PATH, ups) if ups else base
        root_key = node_key(version, ROOT_PATH)
        if res is None:
            builder.put(ROOT_PATH, NullNode())
            root = empty_root()
        elif isinstance(res, _Pending):
            root = builder.place(res, ROOT_PATH).hash
        else:
            root = res.hash
            if res.version != version:  # unchanged root: re-point this version at it
                assert base_node is not None
                builder.put(ROOT_PATH, base_node)
        assert root_key in builder.new_nodes
        return TreeBatch(version, root, builder.new_nodes, builder.hot)

    def _walk(self, key: bytes, version: int) -> tuple[list[tuple[bytes, ...]], LeafNode | None]:
        """Siblings along the path of `key` and the leaf it ends at (if any)."""
        khash = key_hash(key)
        siblings: list[tuple[bytes, ...]] = []
        node = self._root_node(version)
        path = ROOT_PATH
        empty = empty_root()
        while isinstance(node, InternalNode):
            depth = len(path)
            n = nibble(khash, depth)
            hashes = [empty] * RADIX
            nxt: Child | None = None
            for c in node.children:
                hashes[c.nibble] = c.hash
                if c.nibble == n:
                    nxt = c
            siblings.append((*hashes[:n], *hashes[n + 1 :]))
            if nxt is None:
                return siblings, None
            path += bytes((n,))
            node = self._load(nxt.version, path)
            if node is None:
                raise StateError(f"missing state node at version {nxt.version}, depth {depth + 1}")
        return siblings, node if isinstance(node, LeafNode) else None

    def get(self, key: bytes, version: int) -> bytes | None:
        """Value of `key` at `version`, or None if absent (never written, or deleted)."""
        _, leaf = self._walk(key, version)
        if leaf is None or leaf.key_hash != key_hash(key):
            return None
        return leaf.value

    def entry(self, key: bytes, version: int) -> LeafNode | None:
        """The leaf of `key` at `version` (its value, or a tombstone, with the height of
        that change and of the one before); None if the key was never written."""
        _, leaf = self._walk(key, version)
        if leaf is None or leaf.key_hash != key_hash(key):
            return None
        return leaf

    def prove(self, key: bytes, version: int) -> StateProof:
        """Inclusion proof if `key` has a leaf at `version` (a value or a tombstone),
        exclusion proof otherwise."""
        siblings, leaf = self._walk(key, version)
        pleaf = None
        if leaf is not None:
            pleaf = ProofLeaf(leaf.key_hash, leaf.value_part(), leaf.height, leaf.prev)
        return StateProof(PROOF_VERSION, tuple(siblings), pleaf)
