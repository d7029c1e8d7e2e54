"""Bulk inserts of many key-sorted rows in ONE SQL statement: the rows packed in a blob.

`executemany` pays Python's bind / step / reset round trip for every row (about 1 µs
each on our machines, as much as the B-tree insert itself). Here the rows of one batch are
concatenated into one blob and their positions listed in one JSON array of integers; a
single `INSERT ... SELECT substr(blob, ...) FROM json_each(positions)` inserts them all,
in the array's order (key order: the caller sorts), inside the caller's transaction. The
stored bytes are exactly the given ones: `substr` on a BLOB counts bytes, and the blob
starts with one pad byte so that no slice of it is ever of an empty blob (SQLite returns
NULL for those, and the NOT NULL columns would refuse the whole write).

Each pair (k, v) is described by one integer, `offset << 32 | len(k) << 16 | len(v)`
(1-based offset of k in the blob); keys and values of 64 KiB or more, or a batch whose blob
or JSON text would reach SQLite's longest string or blob (`SQLITE_LIMIT_LENGTH`, 10^9
bytes by default), do not fit and the caller falls back to `executemany` (`pack_pairs`
returns None).
"""

from __future__ import annotations

import sqlite3
from itertools import accumulate, chain

_MAX_LEN = 1 << 16
_MAX_OFFSET = 1 << 31
# The longest blob or string SQLite binds (what this library was built with).
_MAX_BYTES = min(_MAX_OFFSET, sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_LENGTH))
_PAD = b"\x00"

# ?1 = the blob, ?2 = the JSON array; `value` is one pair's integer (see the docstring).
PAIRS_SELECT = (
    "SELECT substr(?1, value >> 32, (value >> 16) & 65535), "
    "substr(?1, (value >> 32) + ((value >> 16) & 65535), value & 65535) "
    "FROM json_each(?2)"
)

# Rows (32-byte key, ?3, integer): ?1 = the pad byte and the concatenated keys, ?2 = JSON
# array of each key's integer (`key` is json_each's array index, from 0).
HASHES_SELECT = "SELECT substr(?1, key * 32 + 2, 32), ?3, value FROM json_each(?2)"


def pack_pairs(pairs: list[tuple[bytes, bytes]]) -> tuple[bytes, str] | None:
    """(blob, positions) for `PAIRS_SELECT`, or None when a pair does not fit."""
    if not pairs:
        return None
    pieces = [_PAD, *chain.from_iterable(pairs)]  # pad, k0, v0, k1, v1, ...
    lens = list(map(len, pieces))
    if max(lens) >= _MAX_LEN:
        return None
    starts = list(accumulate(lens, initial=1))  # 1-based: the pad at 1, k0 at 2, ...
    if starts[-1] >= _MAX_BYTES:  # the blob's length + 1
        return None
    codes = [
        (o << 32) | (kl << 16) | vl
        for o, kl, vl in zip(starts[1::2], lens[1::2], lens[2::2], strict=False)
    ]
    positions = "[" + ",".join(map(str, codes)) + "]"
    if len(positions) >= _MAX_BYTES:
        return None
    return b"".join(pieces), positions  # one copy of the rows' bytes


def pack_hashes(pairs: list[tuple[bytes, int]]) -> tuple[bytes, str] | None:
    """(blob, values) for `HASHES_SELECT`, or None unless every key is 32 bytes long.

    The values must be ints (they are written into the JSON array as they are)."""
    keys = [k for k, _ in pairs]
    if any(len(k) != 32 for k in keys):
        return None
    return _PAD + b"".join(keys), "[" + ",".join(map(str, [v for _, v in pairs])) + "]"
