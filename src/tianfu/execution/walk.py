"""Deep walks over contract values, charged by what they visit: measure, copy, bounded repr.

Comparing, hashing, searching, sorting, copying and printing a container costs work that
grows with everything nested in it — counted with repetition, so a list holding the same
big list a million times is as big as it looks to the operation. Every such operation
first walks its operands here, with a budget taken from the meter, a depth cap far below
the host's recursion limit, and a check that everything in them is a contract value
(functions, exceptions, iterators and host objects compare and hash by identity in Python,
which nothing in a contract may observe). Only then does the C code run.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from tianfu import unicode14
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import (
    BYTES_PER_GAS,
    NODES_PER_GAS,
    SMALL_BYTES,
    int_str_gas,
    seq_bytes,
    str_bytes,
)
from tianfu.execution.costs import (
    dict_bytes as _dict_bytes,
)
from tianfu.execution.limits import MAX_MESSAGE, MAX_VALUE_ITEMS, MAX_WALK_DEPTH
from tianfu.execution.meter import Meter
from tianfu.types.values import MAX_DEPTH, MAX_INT, MIN_INT

NoneType = type(None)
SCALARS = frozenset({NoneType, bool, int, str, bytes})
HASHABLE = SCALARS | {tuple}
VALUE_TYPES = SCALARS | {list, tuple, dict}
_FLAT_CHEAP = frozenset({NoneType, bool, int})


class WalkError(ContractError):
    """A value too deep for a walk, or holding something that is not a contract value."""


def _not_a_value(v: Any, verb: str) -> TypeError:
    return TypeError(f"cannot {verb} {type(v).__name__} objects: only contract values")


def measure(meter: Meter, v: Any, verb: str, hashing: bool = False) -> int:
    """Walk `v` and return its work units (elements with repetition, dict keys included,
    `CONTAINER_UNITS` per pass over a container's items: one for a list or tuple, two for
    a dict, its keys and its values, plus one unit per `BYTES_PER_GAS // NODES_PER_GAS`
    bytes of text); charge nothing yet.
    Raises `TypeError` for anything that is not a contract value (or not hashable, with
    `hashing`), `WalkError` past `MAX_WALK_DEPTH`, and out of gas as soon as the walk
    would take more than the gas left."""
    t = type(v)
    if t in _FLAT_CHEAP:
        return 1
    if t is str or t is bytes:
        return 1 + len(v) // _BYTES_PER_UNIT
    allowed = HASHABLE if hashing else VALUE_TYPES
    if t not in allowed:
        raise _not_a_value(v, verb)
    budget = max(meter.left, 0) * NODES_PER_GAS + 1
    units = 0
    stack: list[tuple[Any, int]] = [(v, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        x, depth = pop()
        if depth < 0:  # a run of scalars' units
            units += x
            continue
        t = type(x)
        if t in _FLAT_CHEAP:
            units += 1
            if hashing and t is int:
                units += x.bit_length() // _HASH_BITS_PER_UNIT
            continue
        if t is str or t is bytes:
            units += 1 + len(x) // _BYTES_PER_UNIT
            continue
        if t not in allowed:
            raise _not_a_value(x, verb)
        if depth >= MAX_WALK_DEPTH:
            raise WalkError(f"cannot {verb} a value nested deeper than {MAX_WALK_DEPTH} levels")
        for items in (x.keys(), x.values()) if t is dict else (x,):
            units += CONTAINER_UNITS + len(items)
            if units > budget:
                meter.charge(meter.left + 1)  # more work than the gas left: out of gas
            types = set(map(type, items))
            if types <= _FLAT_CHEAP:
                if hashing and int in types:  # an int's hash reads every limb
                    units += sum(map(int.bit_length, filter(None, items))) // _HASH_BITS_PER_UNIT
                continue  # every item counted above
            if types <= _TEXT:
                units += sum(map(len, items)) // _BYTES_PER_UNIT
                continue
            if types <= SCALARS:
                for item in items:
                    if type(item) in _TEXT:
                        units += len(item) // _BYTES_PER_UNIT
                continue
            # Mixed: each run of scalars goes onto the stack as one entry of their units
            # (depth -1), counted when popped, as each scalar of it would have been: the
            # same units, at the same points of the walk, without a trip per scalar.
            run = 0
            for item in items:
                ti = type(item)
                if ti in _FLAT_CHEAP:
                    run += 1
                    if hashing and ti is int:
                        run += item.bit_length() // _HASH_BITS_PER_UNIT
                elif ti is str or ti is bytes:
                    run += 1 + len(item) // _BYTES_PER_UNIT
                else:
                    if run:
                        push((run, -1))
                        run = 0
                    push((item, depth + 1))
            if run:
                push((run, -1))
            units -= len(items)  # counted again when popped
    return units


_TEXT = frozenset({str, bytes})
_HASH_BITS_PER_UNIT = 256  # an integer hashed in a tuple: a walk unit per 256 bits
CONTAINER_UNITS = 5  # a pass over a container's items: the walk's own work per container
_BYTES_PER_UNIT = BYTES_PER_GAS // NODES_PER_GAS
TEXT_BYTES_PER_UNIT = _BYTES_PER_UNIT


def units_gas(units: int) -> int:
    """Gas for `units` of walk work (`measure`)."""
    return units // NODES_PER_GAS


# Integers of at most this magnitude hash in constant work (two 30-bit limbs and a third).
INT_HASHED_FREE = (1 << 61) - 2


_INT_HASH_BITS_PER_GAS = _HASH_BITS_PER_UNIT * NODES_PER_GAS
KEY_CHECK_GAS = 1  # an integer key checked by `hashable_key`: the calls that check it
# A tuple key: the calls that walk it (`measure`), whose few units a small tuple's walk
# counts (a 1-tuple: 3 gas) took ~7x a plain loop's CPU per gas.
TUPLE_KEY_GAS = 4


def int_hash_gas(k: int) -> int:
    """One hash of the integer `k`: Python does not cache an integer's hash, and computing
    it reads every limb, a walk unit per 256 bits as for an integer in a tuple (a 4,096-bit
    key, `d[x]`, was hashed for no gas: ~6x a plain loop's CPU per gas)."""
    return k.bit_length() // _INT_HASH_BITS_PER_GAS


def hashable_key(meter: Meter, k: Any) -> Any:
    """A dict key or subscript index: a hashable contract value (None, bool, int, str,
    bytes, or a tuple of those). A tuple is walked and charged first: Python does not cache
    a tuple's hash, and shared references can make hashing it exponential; an integer
    beyond `INT_HASHED_FREE` is charged its hash (`int_hash_gas`)."""
    t = type(k)
    if t in SCALARS:
        if t is int and not -INT_HASHED_FREE <= k <= INT_HASHED_FREE:
            meter.charge(KEY_CHECK_GAS + k.bit_length() // _INT_HASH_BITS_PER_GAS)
        return k
    if t is tuple:
        meter.charge(TUPLE_KEY_GAS + units_gas(measure(meter, k, "hash", hashing=True)))
        return k
    raise TypeError(
        f"{type(k).__name__} cannot be a dict key or an index: use str, int, bytes or a tuple"
    )


# -- the boundary copy -------------------------------------------------------------------------


def utf8_len(s: str, what: str) -> int:
    """Bytes of `s` in UTF-8; refuses a string that has none (a lone surrogate)."""
    if s.isascii():
        return len(s)
    try:
        return len(s.encode("utf-8"))
    except UnicodeEncodeError:
        raise ContractError(f"{what}: text with a lone surrogate cannot be stored") from None


def copy_value(meter: Meter, value: Any, what: str) -> tuple[Any, int]:
    """A deep copy of a contract value and the size of its encoding (msgpack, at most),
    walked with a budget of `MAX_VALUE_ITEMS` nodes and `MAX_DEPTH` levels. Charges one
    walk unit per scalar, `CONTAINER_UNITS` per container (a Python call each, and a new
    list or dict), one per `BYTES_PER_GAS // NODES_PER_GAS` bytes of text (every
    occurrence of a shared string counts) and the copy's memory; runs out of gas (or
    memory) as soon as the copy would need more than the meter has left."""
    result, size, _ = _copied(meter, value, what)
    return result, size


def copy_stored(meter: Meter, value: Any, what: str) -> tuple[Any, int]:
    """`copy_value`'s copy, and a lower bound of the size of its encoding (`encoded_floor`):
    a value whose floor is past a cap is refused before it is encoded."""
    result, size, nodes = _copied(meter, value, what)
    return result, encoded_floor(size, nodes)


def _copied(meter: Meter, value: Any, what: str) -> tuple[Any, int, int]:
    """`copy_value`'s copy and size, and the number of elements it walked."""
    t = type(value)
    if t is str:
        n = utf8_len(value, what)
        meter.charge(units_gas(1 + n // _BYTES_PER_UNIT))
        return value, 5 + n, 1
    c = _Copy(meter, what)
    result = c.walk(value, 0)
    meter.charge_alloc(units_gas(c.units), c.nbytes)
    return result, c.size, MAX_VALUE_ITEMS - c.nodes


# The most `_Copy.size` counts beyond an element's encoding: 9 bytes for an integer that
# takes 1 at least, and 5 for its dict key's header that takes 1 at least (text, bytes
# and container headers: 5 for at least 1 or 2).
_SIZE_SLACK = 12


def encoded_floor(size: int, nodes: int) -> int:
    """A lower bound of the size of the encoding of a value `_Copy` counted `size` bytes
    for over `nodes` elements. A value of 60 references to one 1 MB string was encoded
    whole (60 MB, never counted) before `ctx.put` refused it as bigger than a stored value
    may be; past the cap by its floor, it is refused first, with the same error and gas."""
    return size - _SIZE_SLACK * nodes


def copy_field(meter: Meter, value: Any) -> tuple[Any, int]:
    """`copy_value` of an event's field, which sits one level down in the event's data:
    refused, once copied and charged, if anything in it is `MAX_DEPTH` levels down (what
    `check_value` of the whole data refuses), without a second walk. Returns the copy and a
    lower bound of its encoding's size (`encoded_floor`)."""
    c = _Copy(meter, "event data")
    result = c.walk(value, 0)
    meter.charge_alloc(units_gas(c.units), c.nbytes)
    if c.deep >= MAX_DEPTH:
        raise ContractError(f"bad event data: value nested deeper than {MAX_DEPTH} levels")
    return result, encoded_floor(c.size, MAX_VALUE_ITEMS - c.nodes)


def copy_args(meter: Meter, args: list[Any]) -> list[Any]:
    """`copy_value` of each argument of a call, charged as one walk (the usual scalars
    without a copy: each is one unit, text one more per `_BYTES_PER_UNIT` bytes)."""
    units = 0
    for a in args:
        t = type(a)
        if t is int:
            if not MIN_INT <= a <= MAX_INT:
                break
            units += 1
        elif (t is str and a.isascii()) or t is bytes:
            units += 1 + len(a) // _BYTES_PER_UNIT
        elif a is None or t is bool:
            units += 1
        else:
            break
    else:
        meter.charge(units_gas(units))
        return args
    c = _Copy(meter, "argument")
    out = []
    for i, a in enumerate(args):
        c.what = f"argument {i + 1}"
        out.append(c.walk(a, 0))
    meter.charge_alloc(units_gas(c.units), c.nbytes)
    return out


class _Copy:
    __slots__ = (
        "meter", "what", "nodes", "units", "size", "nbytes", "budget", "mem_left", "deep",
        "wide",
    )  # fmt: skip

    def __init__(self, meter: Meter, what: str) -> None:
        self.meter = meter
        self.what = what
        self.nodes = MAX_VALUE_ITEMS
        self.units = 0
        self.size = 0
        self.nbytes = 0
        self.budget = max(meter.left, 0) * NODES_PER_GAS
        self.mem_left = max(meter.mem, 0)
        self.deep = 0  # the depth of the deepest element copied
        # UTF-8 lengths of the non-ASCII strings met, by id (each is alive, held by the
        # value, while it is walked): a string shared n times is encoded once, while each
        # occurrence still counts its units and size.
        self.wide: dict[int, int] = {}

    def utf8_len(self, s: str) -> int:
        if s.isascii():
            return len(s)
        n = self.wide.get(id(s))
        if n is None:
            n = self.wide[id(s)] = utf8_len(s, self.what)
        return n

    def walk(self, v: Any, depth: int) -> Any:
        self.nodes -= 1
        if self.nodes < 0:
            raise ContractError(f"{self.what} has more than {MAX_VALUE_ITEMS} elements")
        t = type(v)
        if t is str:
            n = self.utf8_len(v)
            self.units += 1 + n // _BYTES_PER_UNIT
            self.size += 5 + n
            return v
        if t is int:
            if not MIN_INT <= v <= MAX_INT:
                raise ContractError(f"{self.what}: integer out of range (-2**63 .. 2**64 - 1)")
            self.units += 1
            self.size += 9
            return v
        if v is None or t is bool:
            self.units += 1
            self.size += 1
            return v
        if t is bytes:
            self.units += 1 + len(v) // _BYTES_PER_UNIT
            self.size += 5 + len(v)
            return v
        if t is list or t is tuple or t is dict:
            if depth >= MAX_DEPTH:
                raise ContractError(f"{self.what} is nested deeper than {MAX_DEPTH} levels")
            self.units += CONTAINER_UNITS + len(v)
            self.size += 5
            if v and depth >= self.deep:
                self.deep = depth + 1
            self.nbytes += seq_bytes(len(v)) if t is not dict else _dict_bytes(len(v))
            if self.units > self.budget or self.nbytes > self.mem_left:
                self.meter.charge_alloc(units_gas(self.units), self.nbytes)  # fails
            self.units -= len(v)  # each counted when walked
            if t is not dict:
                walk = self.walk
                return t([walk(x, depth + 1) for x in v])
            out = {}
            units = size = 0
            for k, x in v.items():
                if type(k) is not str or not k.isascii():
                    if type(k) is not str:
                        raise ContractError(f"{self.what}: dict keys must be str")
                    n = self.utf8_len(k)
                else:
                    n = len(k)
                units += n // _BYTES_PER_UNIT
                size += 5 + n
                tx = type(x)  # the usual flat values inline, as `walk` counts them
                if tx is str and x.isascii():
                    units += 1 + len(x) // _BYTES_PER_UNIT
                    size += 5 + len(x)
                    self.nodes -= 1
                    out[k] = x
                elif (tx is int and MIN_INT <= x <= MAX_INT) or tx is bool or x is None:
                    units += 1
                    size += 9 if tx is int else 1
                    self.nodes -= 1
                    out[k] = x
                else:
                    out[k] = self.walk(x, depth + 1)
            if self.nodes < 0:
                raise ContractError(f"{self.what} has more than {MAX_VALUE_ITEMS} elements")
            self.units += units
            self.size += size
            return out
        if isinstance(v, bool | int | str | bytes | list | tuple | dict):
            return self.walk(_plain(v), depth)  # a subclass (from a host): its plain value
        if t is float:
            raise ContractError(f"{self.what}: floats are not allowed (use integers)")
        raise ContractError(f"{self.what}: type {t.__name__} is not a contract value")


def _plain(v: Any) -> Any:
    base: Any
    for base in (bool, int, str, bytes, list, tuple, dict):
        if isinstance(v, base):
            return base(v)
    return v


def decoded_mem(meter: Meter, value: Any) -> None:
    """Count the bytes of a value just decoded from state (and charge walking it, when it
    nests containers): its containers, and its scalars as small objects or text."""
    t = type(value)
    if t is str or t is bytes:
        meter.alloc(str_bytes(len(value), t is str and not value.isascii()))
        return
    if t is not list and t is not dict:
        return
    mem = 0
    nodes = 0
    stack = [value]
    while stack:
        x = stack.pop()
        t = type(x)
        nodes += 1
        if t is dict:
            mem += _dict_bytes(len(x)) + len(x) * SMALL_BYTES
            mem += 4 * sum(map(len, x))
            items: Any = x.values()
        elif t is list:
            mem += seq_bytes(len(x))
            items = x
        else:
            continue
        if not items:
            continue
        types = set(map(type, items))
        if types <= _FLAT_CHEAP:
            mem += len(items) * SMALL_BYTES
            continue
        for item in items:
            ti = type(item)
            if ti is str or ti is bytes:
                mem += SMALL_BYTES + 4 * len(item)
            elif ti is dict or ti is list:
                stack.append(item)
            else:
                mem += SMALL_BYTES
    meter.charge_alloc(units_gas(nodes * CONTAINER_UNITS), mem)


# -- text -------------------------------------------------------------------------------------


def repr_bound(meter: Meter, value: Any) -> tuple[int, bool]:
    """An upper bound of `len(repr(value))` for a contract value, and whether the text may
    hold characters beyond ASCII; walks like `measure` (charged by the caller)."""
    total = 0
    wide = False
    budget = max(meter.left, 0) * NODES_PER_GAS + 1
    stack: list[tuple[Any, int]] = [(value, 0)]
    units = 0
    while stack:
        v, depth = stack.pop()
        units += 2
        if units > budget:
            meter.charge(meter.left + 1)
        t = type(v)
        if t is str:
            # `isprintable` scans it: every occurrence's scan is paid (a unit per
            # `_BYTES_PER_UNIT` characters), before it is made
            units += len(v) // _BYTES_PER_UNIT
            if units > budget:
                meter.charge(meter.left + 1)
            if not v.isascii():
                wide = True
                # whether it holds a character 14.0 does not print, and escaping them in
                # the text made (`unicode14.fix_repr`: twice the check)
                units += NODES_PER_GAS * 2 * unicode14.check_gas(v)
                if units > budget:
                    meter.charge(meter.left + 1)
            total += 2 + (2 * len(v) if unicode14.isprintable(v) else 10 * len(v))
        elif t is bytes:
            total += 3 + 4 * len(v)
        elif t is int:
            bits = v.bit_length()
            total += 2 + bits // 3
            if bits > 64:  # its decimal conversion, quadratic in its limbs, as `str(int)`
                units += NODES_PER_GAS * int_str_gas(bits)
        elif v is None or t is bool:
            total += 5
        elif t in (list, tuple, dict):
            if depth >= MAX_WALK_DEPTH:
                raise WalkError(
                    f"cannot convert a value nested deeper than {MAX_WALK_DEPTH} levels"
                )
            total += 3 + 4 * len(v)
            units += CONTAINER_UNITS
            if t is dict:
                for k, x in v.items():
                    stack.append((k, depth + 1))
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        else:
            raise _not_a_value(v, "convert")
    meter.charge(units_gas(units))
    return total, wide


def repr_mem(length: int, wide: bool) -> int:
    return str_bytes(length, wide)


_BRACKETS: dict[type, tuple[str, str]] = {list: ("[", "]"), tuple: ("(", ")"), dict: ("{", "}")}


def bounded_repr(value: Any, limit: int = MAX_MESSAGE) -> str:
    """`repr(value)` of a contract value cut to about `limit` characters, computed without
    ever building more than that (for failure messages: a KeyError of a huge key). A
    container's items are taken only up to the room left (a character each at least), so
    the work is bounded by `limit` whatever the value's size."""
    out: list[str] = []
    room = [limit]

    def put(s: str) -> bool:
        if room[0] <= 0:
            return False
        out.append(s[: room[0]])
        room[0] -= len(s)
        return room[0] > 0

    def go(v: Any, depth: int) -> bool:
        t = type(v)
        if t is str or t is bytes:
            text = repr(v[: room[0] + 1]) if len(v) > room[0] else repr(v)
            return put(unicode14.fix_repr(text))
        if v is None or t in (bool, int):
            return put(repr(v))
        if depth >= 4 or t not in (list, tuple, dict):
            return put("..." if t in (list, tuple, dict) else f"<{t.__name__}>")
        opener, closer = _BRACKETS[t]
        if not put(opener):
            return False
        items = list(islice(v.items(), room[0])) if t is dict else list(v[: room[0]])
        for i, item in enumerate(items):
            if i and not put(", "):
                return False
            if t is dict:
                if not (go(item[0], depth + 1) and put(": ") and go(item[1], depth + 1)):
                    return False
            elif not go(item, depth + 1):
                return False
        if t is tuple and len(items) == 1 and not put(","):
            return False
        return put(closer)

    complete = go(value, 0)
    text = "".join(out)
    return text if complete and room[0] >= 0 else text[:limit] + "..."
