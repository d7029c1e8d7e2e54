"""The state tree's in-memory cache of persisted nodes, by path: the top levels whole, the
next level within a memory budget.

Every batch update walks the top of the tree, and each new key (a committed-transaction
entry lands at a random place) rewrites a node one or two levels further down; reading and
decoding those from the store on every block is most of a block's tree work. The cache
keeps, for each nibble path, the newest persisted node it saw there and the version it was
stored at:

- depth <= HOT_DEPTH (at most 4,369 paths): always;
- depth HOT_DEPTH + 1 (at most 65,536 paths): while their estimated size fits in the
  budget (`deep_bytes`); beyond it the entries written longest ago are dropped first.

Only persisted nodes enter it (read from the store, or of a batch reported persisted): a
node key (version, path) is never rewritten once persisted, so a hit (same path, same
version) is exact, and an entry for an older version is simply a miss. A batch that is
dropped (a failed or rolled-back write, a block that is not committed) never enters it;
after a restart it starts empty. Lookups take no lock (entries are replaced whole, one
dict operation); changes to the budgeted level take one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from tianfu.state.nodes import InternalNode, LeafNode, Node

HOT_DEPTH = 3  # nodes at nibble depth <= 3 are always kept
DEEP_DEPTH = HOT_DEPTH + 1  # nodes at this depth are kept within the byte budget
DEEP_BYTES = 64 << 20  # default budget of the deep level (estimated Python memory)


def _size(node: Node) -> int:
    """Estimated memory of a cached node with its entry (measured with tracemalloc)."""
    if isinstance(node, InternalNode):
        return 200 + 168 * len(node.children)
    if isinstance(node, LeafNode):
        return 280 + len(node.value or b"")
    return 200


class NodeCache:
    """Persisted nodes by path (see the module docstring)."""

    def __init__(self, deep_bytes: int = DEEP_BYTES) -> None:
        self._hot: dict[bytes, tuple[int, Node]] = {}
        self._deep: OrderedDict[bytes, tuple[int, Node, int]] = OrderedDict()
        self._deep_bytes = 0
        self._budget = deep_bytes
        self._lock = threading.Lock()

    def get(self, version: int, path: bytes) -> Node | None:
        """The cached node stored at (version, path), or None."""
        depth = len(path)
        if depth <= HOT_DEPTH:
            hot = self._hot.get(path)
            return hot[1] if hot is not None and hot[0] == version else None
        if depth == DEEP_DEPTH:
            deep = self._deep.get(path)
            return deep[1] if deep is not None and deep[0] == version else None
        return None

    def put(self, version: int, path: bytes, node: Node) -> None:
        """Keep `node`, persisted at (version, path), unless a newer one is kept there.

        Call it only for a node that is durably stored (never for one of a batch that may
        still be dropped)."""
        depth = len(path)
        if depth <= HOT_DEPTH:
            hot = self._hot.get(path)
            if hot is None or hot[0] <= version:
                self._hot[path] = (version, node)
            return
        if depth != DEEP_DEPTH or self._budget <= 0:
            return
        size = _size(node)
        with self._lock:
            deep = self._deep.get(path)
            if deep is not None:
                if deep[0] > version:
                    return
                del self._deep[path]
                self._deep_bytes -= deep[2]
            self._deep[path] = (version, node, size)
            self._deep_bytes += size
            while self._deep_bytes > self._budget:
                self._deep_bytes -= self._deep.popitem(last=False)[1][2]

    def put_many(self, version: int, nodes: dict[bytes, Node]) -> None:
        """`put(version, path, node)` for every (path, node) of `nodes` in turn (one batch's),
        the budgeted level under one taking of the lock."""
        hot = self._hot
        deep: list[tuple[bytes, Node]] = []
        for path, node in nodes.items():
            depth = len(path)
            if depth <= HOT_DEPTH:
                old = hot.get(path)
                if old is None or old[0] <= version:
                    hot[path] = (version, node)
            elif depth == DEEP_DEPTH:
                deep.append((path, node))
        if not deep or self._budget <= 0:
            return
        with self._lock:
            kept = self._deep
            for path, node in deep:
                old_deep = kept.get(path)
                if old_deep is not None:
                    if old_deep[0] > version:
                        continue
                    del kept[path]
                    self._deep_bytes -= old_deep[2]
                size = _size(node)
                kept[path] = (version, node, size)
                self._deep_bytes += size
                while self._deep_bytes > self._budget:
                    self._deep_bytes -= kept.popitem(last=False)[1][2]

    def __len__(self) -> int:
        return len(self._hot) + len(self._deep)

    @property
    def deep_bytes(self) -> int:
        """Estimated memory of the budgeted level."""
        return self._deep_bytes
