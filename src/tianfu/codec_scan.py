"""A check of untrusted msgpack bytes made before they are decoded: map keys are text.

msgspec decodes a map into a Python dict as it reads it, and a map key that is an array
into a tuple. CPython hashes tuples of integers without a seed, so keys can be built to
share one hash: n of them make the dict n*n/2 comparisons while it is decoded, before
anything can look at the result (16,000 such keys, 224 KB, held a node's decoder for
seconds; a 1 MiB request for minutes). No canonical chain object has a map key that is not
a str (`codec.encode` sorts keys, which only text keys allow; contract values are dicts
with str keys), so bytes that hold one are refused without decoding them.

`array_keys_possible` is the cheap test (one pass in C): bytes with fewer than
`ARRAY_HEADERS_FREE` array header bytes anywhere can hold at most that many tuple keys,
whose comparisons are bounded by the message's size. `map_keys_are_text` is the exact
test, one step per msgpack item (strings and binaries skipped whole).
`array_keys_refused(data, typ)` applies both where a decode into `typ` could make tuple
keys (`codec.decode` calls it for every typed decode).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import msgspec
import msgspec.inspect as mi

# Below this many array header bytes in a message, its tuple keys (if any) are too few
# to matter: at most 15 keys, each comparison walking at most the message's bytes.
ARRAY_HEADERS_FREE = 16

_ARRAY_HEADERS = bytes([*range(0x90, 0xA0), 0xDC, 0xDD])
_MAP_HEADERS = bytes([*range(0x80, 0x90), 0xDE, 0xDF])
# First byte -> bytes that follow it, for the items of a fixed size.
_FIXED = {
    0xC0: 0,
    0xC2: 0,
    0xC3: 0,
    0xCA: 4,
    0xCB: 8,
    0xCC: 1,
    0xCD: 2,
    0xCE: 4,
    0xCF: 8,
    0xD0: 1,
    0xD1: 2,
    0xD2: 4,
    0xD3: 8,
    0xD4: 2,
    0xD5: 3,
    0xD6: 5,
    0xD7: 9,
    0xD8: 17,
}
# First byte -> (bytes of its length field, bytes after the length field beyond the
# payload) for binaries, strings and extensions.
_SIZED = {
    0xC4: (1, 0),
    0xC5: (2, 0),
    0xC6: (4, 0),
    0xD9: (1, 0),
    0xDA: (2, 0),
    0xDB: (4, 0),
    0xC7: (1, 1),
    0xC8: (2, 1),
    0xC9: (4, 1),
}
# First byte -> (bytes of its count field, items per counted entry) for arrays and maps.
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def array_keys_possible(data: bytes) -> bool:
    """Whether `data` may hold enough map keys that are arrays to need `map_keys_are_text`."""
    if len(data) - len(data.translate(None, _ARRAY_HEADERS)) < ARRAY_HEADERS_FREE:
        return False
    return len(data.translate(None, _MAP_HEADERS)) < len(data)


def map_keys_are_text(data: bytes) -> bool:
    """False if a msgpack map in the first item of `data` has a key that is not a str.
    True for anything else, including malformed bytes (the decoder refuses those)."""
    n = len(data)
    i = 0
    left = [1]  # items still to read at each open level (a map counts keys and values)
    maps = [False]  # whether that level is a map: its even `left` is a key's turn
    while i < n:
        b = data[i]
        if maps[-1] and not left[-1] & 1 and not (0xA0 <= b <= 0xBF or 0xD9 <= b <= 0xDB):
            return False
        left[-1] -= 1
        i += 1
        if b <= 0x7F or b >= 0xE0:  # fixint
            pass
        elif b <= 0x8F:  # fixmap
            left.append(2 * (b & 0x0F))
            maps.append(True)
        elif b <= 0x9F:  # fixarray
            left.append(b & 0x0F)
            maps.append(False)
        elif b <= 0xBF:  # fixstr
            i += b & 0x1F
        elif b in _FIXED:
            i += _FIXED[b]
        elif b in _SIZED:
            k, extra = _SIZED[b]
            i += k + extra + int.from_bytes(data[i : i + k], "big")
        elif b in _CONTAINERS:
            k, per = _CONTAINERS[b]
            left.append(per * int.from_bytes(data[i : i + k], "big"))
            maps.append(per == 2)
            i += k
        else:  # 0xC1 is never used
            return True
        while left[-1] == 0:
            if len(left) == 1:
                return True
            left.pop()
            maps.pop()
    return True


# ---- where a typed message can hold such keys ------------------------------------------
#
# A typed decode makes a tuple of a map key only where the type lets any value in (`Any`,
# and dict keys or set items typed as tuples); every other field refuses a map key of the
# wrong type as soon as it reads it. `array_keys_refused` checks those places only, from
# the outside in: a struct that holds one is first given the cheap test as a whole; only if
# it passes is it decoded with a shadow of its type (each field that can hold such keys a
# `msgspec.Raw` slice, or a list of them) and its fields checked the same way. So a block
# costs a cheap test per transaction (most have too few array header bytes, counting their
# signature's and key's random bytes), and only the arguments of the others are scanned.


class _Plan:
    """How to check the bytes of one type. `shadow`: the type that stands for it inside
    its container's shadow (None: it cannot hold such keys, nothing to check);
    `refused(obj)`: whether the decoded shadow holds such keys."""

    __slots__ = ("refused", "shadow")

    def __init__(self, shadow: Any, refused: Callable[[Any], bool]) -> None:
        self.shadow = shadow
        self.refused = refused


def _never(obj: Any) -> bool:
    return False


def _scanned(piece: Any) -> bool:
    """The two tests of one slice (a `msgspec.Raw` or bytes; None: a field left out)."""
    if piece is None or len(piece) < ARRAY_HEADERS_FREE:  # too short for that many headers
        return False
    data = bytes(piece)
    return array_keys_possible(data) and not map_keys_are_text(data)


_SKIP = _Plan(None, _never)
_WHOLE = _Plan(msgspec.Raw, _scanned)  # the slice is scanned as it is
_PLAIN_KEYS = (mi.StrType, mi.IntType, mi.BytesType, mi.EnumType, mi.LiteralType, mi.BoolType)
_plans: dict[Any, _Plan] = {}
# Structs larger than this (a block, a batch of them) nearly always pass the cheap test:
# their fields are checked without giving it to the whole first.
_CHEAP_TEST_MAX = 4096


def array_keys_refused(data: bytes | bytearray | memoryview, typ: Any) -> bool:
    """Whether `data`, to be decoded as `typ`, holds map keys that are arrays where `typ`
    would decode them into tuples (enough of them to need `map_keys_are_text`)."""
    plan = plan_of(typ)
    if plan.shadow is None:
        return False
    raw = data if type(data) is bytes else bytes(data)
    if plan.shadow is msgspec.Raw:
        return plan.refused(raw)
    try:
        shadow = msgspec.msgpack.decode(raw, type=plan.shadow)
    except (msgspec.DecodeError, RecursionError):  # and ValidationError
        return _scanned(raw)  # the decode refuses these bytes, after they are scanned whole
    return plan.refused(shadow)


def plan_of(typ: Any) -> _Plan:
    """The plan of `typ` (made once per type)."""
    plan = _plans.get(typ)
    if plan is None:
        try:
            plan = _plan(mi.type_info(typ), set())
        except (TypeError, ValueError):  # a type msgspec cannot describe: scanned whole
            plan = _WHOLE
        if len(_plans) < 1024:
            _plans[typ] = plan
    return plan


def _plan(t: mi.Type, building: set[int]) -> _Plan:
    """The plan of one type (`building`: the struct types being planned, for recursion)."""
    if isinstance(t, mi.AnyType | mi.CustomType):
        return _WHOLE
    if isinstance(t, mi.DictType):
        if not _plain_key(t.key_type):
            return _WHOLE
        return _WHOLE if _plan(t.value_type, building).shadow is not None else _SKIP
    if isinstance(t, mi.SetType | mi.FrozenSetType):
        return _SKIP if _plain_key(t.item_type) else _WHOLE
    if isinstance(t, mi.ListType | mi.VarTupleType):
        item = _plan(t.item_type, building)
        if item.shadow is None:
            return _SKIP
        return _Plan(list[item.shadow], _any_of(item.refused))  # type: ignore[name-defined]
    if isinstance(t, mi.StructType):
        return _struct_plan(t, building)
    inner: list[mi.Type] = []  # other containers: scanned whole if any part can hold them
    if isinstance(t, mi.TupleType):
        inner = list(t.item_types)
    elif isinstance(t, mi.UnionType):
        inner = list(t.types)
    elif isinstance(t, mi.DataclassType | mi.TypedDictType | mi.NamedTupleType):
        inner = [f.type for f in t.fields]
    if any(_plan(x, building).shadow is not None for x in inner):
        return _WHOLE
    return _SKIP


def _any_of(refused: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def any_refused(items: Any) -> bool:
        return items is not None and any(map(refused, items))

    return any_refused


def _struct_plan(t: mi.StructType, building: set[int]) -> _Plan:
    if id(t.cls) in building:  # a recursive type: scanned whole where it recurs
        return _WHOLE
    building.add(id(t.cls))
    try:
        plans = [_plan(f.type, building) for f in t.fields]
    finally:
        building.discard(id(t.cls))
    if all(p.shadow is None for p in plans):
        return _SKIP
    if not t.array_like or t.tag is not None:
        return _WHOLE
    shadow = msgspec.defstruct(
        f"_Shadow{t.cls.__name__}",
        [(f.name, p.shadow or msgspec.Raw, None) for f, p in zip(t.fields, plans, strict=True)],
        array_like=True,
    )
    checked = [
        (attrgetter(f.name), p.refused)
        for f, p in zip(t.fields, plans, strict=True)
        if p.shadow is not None
    ]

    def refused(piece: Any) -> bool:
        if piece is None or len(piece) < ARRAY_HEADERS_FREE:
            return False
        data = bytes(piece)
        if len(data) <= _CHEAP_TEST_MAX and not array_keys_possible(data):
            return False
        try:
            obj = msgspec.msgpack.decode(data, type=shadow)
        except (msgspec.DecodeError, RecursionError):
            return not map_keys_are_text(data)
        return any(field_refused(get(obj)) for get, field_refused in checked)

    return _Plan(msgspec.Raw, refused)


def _plain_key(t: mi.Type) -> bool:
    if isinstance(t, mi.UnionType):
        return all(_plain_key(x) for x in t.types)
    return isinstance(t, _PLAIN_KEYS)
