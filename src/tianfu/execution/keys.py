"""Dict keys a contract stores: no more than a few different keys may share one hash.

A dict finds a key by its hash, and keys with equal hashes are compared one after the
other: n such keys make inserting n of them n*n/2 steps, while each store is charged as one.
Text is hashed with the process's secret seed, so nobody can choose colliding strings; but
Python hashes integers and tuples without a seed (`hash(k) == k % (2**61 - 1)`, and a tuple
of integers by a fixed, invertible mix of theirs), so a contract could build thousands of
keys with one hash for a few gas each and hold a height for minutes on every node.

So a key stored into a dict (a subscript assignment, a dict display or comprehension,
`setdefault`, `dict(pairs)`, `update`) that can share a hash with another — an integer
beyond `INJECTIVE` or a tuple — is counted, per transaction, under a *shadow hash*: the hash
of the key with every seeded leaf (text, bytes, None) replaced by a fixed checksum of it.
The shadow hash is the same on every node, equals the real hash for keys made of integers
only, and is equal for any two keys whose real hashes are equal whatever the seed; more than
`MAX_SAME_HASH` different keys under one shadow hash fail the call. A text key, a bool,
None, bytes and an integer within `INJECTIVE` (which Python hashes to itself) pass as they
are, with no work.
"""

from __future__ import annotations

import zlib
from typing import Any

from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import DICT_ENTRY_BYTES, SLOT_BYTES
from tianfu.execution.meter import Meter
from tianfu.execution.walk import hashable_key

# Integers of at most this magnitude hash to themselves (-1 excepted, which shares -2's):
# no two of them share a hash.
INJECTIVE = (1 << 61) - 2
MAX_SAME_HASH = 8  # different counted keys per shadow hash in one transaction
_SEEN_BYTES = DICT_ENTRY_BYTES + 2 * SLOT_BYTES  # a shadow hash's entry, one key's slot


def store_key(meter: Meter, k: Any) -> Any:
    """`k` as a key a contract stores into a dict, checked (see the module docstring)."""
    t = type(k)
    if t is str:
        return k
    if t is int:
        if -INJECTIVE <= k <= INJECTIVE:
            return k
        _count(meter, k, k)
        return k
    key = hashable_key(meter, k)  # a tuple is walked and charged here; others refused
    if t is tuple:
        _count(meter, k, _shadow(k))
    return key


def _shadow(v: Any) -> Any:
    """`v` with every seeded leaf replaced by a checksum of it (depth already bounded by
    `hashable_key`'s walk)."""
    t = type(v)
    if t is int or t is bool:
        return v
    if t is tuple:
        return tuple(map(_shadow, v))
    if t is str:
        return zlib.crc32(v.encode("utf-8", "surrogatepass"))
    if t is bytes:
        return zlib.crc32(v) + (1 << 32)
    return -3  # None


def _count(meter: Meter, key: Any, shadow: Any) -> None:
    h = hash(shadow)  # integers and tuples of them: the same on every node
    seen = meter.hashed
    if seen is None:
        seen = meter.hashed = {}
    keys = seen.get(h)
    if keys is None:
        meter.alloc(_SEEN_BYTES)
        seen[h] = [key]
        return
    if key in keys:
        return
    if len(keys) >= MAX_SAME_HASH:
        raise ContractError(
            f"more than {MAX_SAME_HASH} different dict keys with the same hash "
            "(integers beyond 61 bits or tuples built to collide)"
        )
    meter.alloc(SLOT_BYTES)
    keys.append(key)
