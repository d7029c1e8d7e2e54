"""In-memory views of the ledger's state, read in front of the store and ahead of it.

Caches of committed values (`_LatestCache`) and of per-version results (`_VersionCache`),
a commit group's writes not yet visible to other threads (`_CommitGroup`), the state tree
as it is once an executed block is stored (`_TreeAfter`), and the committed-transaction
lookup of a block none of whose transactions is committed (`_never`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tianfu.state import MerkleState, TreeBatch
from tianfu.state.nodes import Node, decode_node, node_key
from tianfu.store import Store
from tianfu.types import BlockHeader

T = TypeVar("T")

_MISS = object()


class _VersionCache(Generic[T]):
    """Values of recent state versions (thread-safe), the least recently used dropped
    beyond `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[int, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: int) -> T | None:
        with self._lock:
            value = self._items.get(version)
            if value is not None:
                self._items.move_to_end(version)
            return value

    def carry(self, version: int) -> None:
        """The value of `version` - 1, if cached, is also that of `version`."""
        with self._lock:
            value = self._items.get(version - 1)
            if value is not None:
                self._insert(version, value)

    def put(self, version: int, value: T) -> None:
        with self._lock:
            self._insert(version, value)

    def _insert(self, version: int, value: T) -> None:  # under the lock
        self._items[version] = value
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class _TreeAfter(MerkleState):
    """The state tree as it is once an executed block is stored: the nodes of its version
    come from its batch (stored or not yet), every other version's from `tree`."""

    def __init__(self, tree: MerkleState, batch: TreeBatch) -> None:
        super().__init__(tree.reader, cache_bytes=0)
        self._tree, self._batch = tree, batch
        self._slots = tree._slots  # a function of each node: shared

    def _load(self, version: int, path: bytes) -> Node | None:
        if version != self._batch.version:
            return self._tree._load(version, path)
        node = self._batch.hot.get(path)
        if node is None:
            data = self._batch.new_nodes.get(node_key(version, path))
            node = None if data is None else decode_node(data)
        return node


@dataclass
class _CommitGroup:
    """Blocks committed by one thread inside `Ledger.grouped_commits`, not yet visible to
    others: their latest state values (merged, the newest wins) and the newest header."""

    thread: int
    updates: dict[bytes, bytes | None] = field(default_factory=dict)
    tip: BlockHeader | None = None

    def get_from(self, latest: Callable[[bytes], bytes | None]) -> Callable[[bytes], bytes | None]:
        """A state reader: the group's own writes first, then `latest` (committed values:
        every key the group wrote is in `updates`)."""
        updates = self.updates

        def get(key: bytes) -> bytes | None:
            value = updates.get(key, _MISS)
            return latest(key) if value is _MISS else value  # type: ignore[return-value]

        return get


class _LatestCache:
    """A bounded cache of committed state values in front of the store.

    Two generations of plain dicts (`size` entries in all, at most): a hit in the young
    one is one dict lookup without a lock; a hit in the old one moves the entry to the
    young one; when the young one is full it becomes the old one and the oldest
    generation is dropped (an approximate LRU). A value read from the store is kept only
    if no `update` ran while it was being read (`_epoch`), so a store read from before a
    commit can never overwrite the committed value `update` put in.
    """

    def __init__(self, store: Store, size: int = 200_000) -> None:
        self._store = store
        self._half = max(1, size // 2)
        self._young: dict[bytes, bytes | None] = {}
        self._old: dict[bytes, bytes | None] = {}
        self._epoch = 0
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        value = self._young.get(key, _MISS)
        if value is not _MISS:
            return value  # type: ignore[return-value]
        with self._lock:
            value = self._young.get(key, _MISS)
            if value is _MISS:
                value = self._old.get(key, _MISS)
                if value is not _MISS:
                    self._put(key, value)  # type: ignore[arg-type]
            if value is not _MISS:
                return value  # type: ignore[return-value]
            epoch = self._epoch
        value = self._store.get_latest(key)
        with self._lock:
            if self._epoch == epoch:
                self._put(key, value)
        return value

    def _put(self, key: bytes, value: bytes | None) -> None:
        """Insert into the young generation (under the lock)."""
        if len(self._young) >= self._half:
            self._old = self._young
            self._young = {}
        self._young[key] = value

    def update(self, updates: dict[bytes, bytes | None]) -> None:
        with self._lock:
            self._epoch += 1
            for k, v in updates.items():
                self._old.pop(k, None)
                self._put(k, v)


def _never(_tx_hash: bytes) -> bool:
    return False
