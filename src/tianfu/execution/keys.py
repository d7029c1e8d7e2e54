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

A key deleted from a dict leaves an empty slot behind, which every later iteration of the
dict steps over (and `for k in d: break` steps over all those before the first live key) for
no gas: a dict emptied but for one key made each loop over it cost as much as the emptied
ones. So `deleted` counts the keys deleted from each dict in a transaction, and after
`MAX_DUMMIES` of them compacts the dict in place (same keys, same order), charged by its
length: a loop over a dict never steps over more than `MAX_DUMMIES` empty slots.
"""

from __future__ import annotations

import zlib
from typing import Any

from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import DICT_ENTRY_BYTES, SLOT_BYTES, items_gas
from tianfu.execution.meter import Meter
from tianfu.execution.walk import TUPLE_KEY_GAS, hashable_key, int_hash_gas, measure, units_gas

# Integers of at most this magnitude hash to themselves (-1 excepted, which shares -2's):
# no two of them share a hash.
INJECTIVE = (1 << 61) - 2
MAX_SAME_HASH = 8  # different counted keys per shadow hash in one transaction
_SEEN_BYTES = DICT_ENTRY_BYTES + 2 * SLOT_BYTES  # a shadow hash's entry, one key's slot
_STORE_HASHES = 3
_STORE_CHECK_GAS = 2  # the calls that check and count it
MAX_DUMMIES = 64  # keys deleted from one dict before it is compacted


def store_key(meter: Meter, k: Any) -> Any:
    """`k` as a key a contract stores into a dict, checked (see the module docstring)."""
    t = type(k)
    if t is str:
        return k
    if t is int:
        if -INJECTIVE <= k <= INJECTIVE:
            return k
        # Hashed three times (the dict's store, the shadow table's lookup, the count's
        # `in`) and compared with the other keys of its hash, each reading every limb.
        meter.charge(_STORE_CHECK_GAS + _STORE_HASHES * int_hash_gas(k))
        _count(meter, k, k)
        return k
    if t is tuple:
        # Walked and hashed (as `hashable_key` does), then walked again into its shadow (a
        # Python call per item) and that hashed: twice the walk's gas. Charged once, a
        # tuple holding a 4,096-bit integer paid one hash of it for two.
        walk = units_gas(measure(meter, k, "hash", hashing=True))
        meter.charge(TUPLE_KEY_GAS + 2 * walk + _STORE_CHECK_GAS)
        _count(meter, k, _shadow(k))
        return k
    return hashable_key(meter, k)  # refused unless None, bool, bytes


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


def deleted(meter: Meter, d: dict[Any, Any]) -> None:
    """A key was just deleted from `d`: count it, and compact `d` in place after
    `MAX_DUMMIES` deletions (see the module docstring)."""
    table = meter.dummies
    if table is None:
        table = meter.dummies = {}
    entry = table.get(id(d))  # the table holds `d`: its id is not reused meanwhile
    if entry is None:
        meter.alloc(_SEEN_BYTES)
        entry = table[id(d)] = [d, 0]
    entry[1] += 1
    if entry[1] > MAX_DUMMIES:
        # Two passes over the live keys; the copy is freed at once and the dict's own table
        # only shrinks, so no memory is counted.
        meter.charge(1 + 2 * items_gas(len(d)))
        live = d.copy()
        d.clear()
        d.update(live)
        entry[1] = 0
