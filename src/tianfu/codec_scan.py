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
"""

from __future__ import annotations

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
