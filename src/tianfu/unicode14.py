"""Unicode answers frozen at Unicode 14.0 (CPython 3.11), the same on every Python version.

CPython answers `str.upper`, `isalpha`, `isprintable`, `isidentifier`, `repr(str)`,
`int(str)` ... from the Unicode database it was built with: 14.0 in 3.11, 15.0 in 3.12,
15.1 in 3.13. Between them, 5,116 code points unassigned in 14.0 got letters, digits, case
and printability; and of the characters 14.0 assigns, `islower` changed for 5 (U+10FC,
U+A7F2..U+A7F4, U+AB69: lowercase since 15.0), `isnumeric` for 10 CJK ideographs (U+4E24
两, ... numeric since 15.1) and identifier characters gained U+200C, U+200D, U+30FB, U+FF65
(15.1) — measured over every code point with `benchmarks/cross_python.py`'s Unicode check.
A contract or a native check asking one of these would answer differently on nodes running
different Python versions: receipts and state would split.

So the chain answers as Unicode 14.0 does for every code point whose answer moved, on every
version: a code point unassigned in 14.0 (`UNASSIGNED_14`, generated from 3.11) is no
letter, digit, space, printable or identifier character, has no case, and is kept as it is
by case mappings (where context matters, `title` and a capital sigma's final form, the
text is mapped with a stand-in of 3.11's properties in its place); `repr` escapes it
(`\\U0001e030`); `int()` refuses it. The changed characters answer as 3.11 did. Text made
only of characters 14.0 assigned and none of the changed ones (all ASCII text, most other
text) takes the fast path: the interpreter's own answer, equal on 3.11, 3.12 and 3.13.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from tianfu.unicode14_table import UNASSIGNED_14


def _char_class(ranges: Any) -> str:
    return "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in ranges)


_CASE_CHANGED = "\u10fc\ua7f2\ua7f3\ua7f4\uab69"  # Other_Lowercase since 15.0
_NUMERIC_CHANGED = "\u4e24\u4eac\u4fe9\u5006\u62d0\u6d1e\u7695\u79ed\u920e\u94a9"  # 15.1
_ID_CHANGED = "\u200c\u200d\u30fb\uff65"  # ID_Continue since 15.1
_CASED_PREDICATES = frozenset({"islower", "isupper", "istitle"})
PREDICATES = frozenset(
    "isalpha isalnum isdigit isdecimal isnumeric isspace isprintable isidentifier islower "
    "isupper istitle".split()
)
CASE_MAPPINGS = frozenset("upper lower casefold swapcase title capitalize".split())
TEXT_METHODS = _PLAIN = frozenset(PREDICATES | CASE_MAPPINGS)


class _Tables:
    """The patterns of this interpreter: only the code points it assigns and 14.0 does not
    can answer differently (those both leave unassigned answer alike), so the patterns
    stay short. The characters beyond the BMP are searched for only in text holding one
    (a pattern of BMP characters alone is a bitmap: a few ns a character; one with ranges
    beyond it tests each range in turn)."""

    def __init__(self) -> None:
        bmp: list[tuple[int, int]] = []
        astral: list[tuple[int, int]] = []
        for a, b in UNASSIGNED_14:
            start = None
            for cp in range(a, b + 2):
                now = cp <= b and unicodedata.category(chr(cp)) != "Cn"
                if now and start is None:
                    start = cp
                elif not now and start is not None:
                    (bmp if cp - 1 < 0x10000 else astral).append((start, cp - 1))
                    start = None
        changed = _CASE_CHANGED + _NUMERIC_CHANGED + _ID_CHANGED
        self.bmp = re.compile(f"[{_char_class(bmp)}{changed}]")
        self.new_bmp = re.compile(f"[{_char_class(bmp)}]") if bmp else None
        self.astral = re.compile(f"[{_char_class(astral)}]") if astral else None
        new = _char_class(bmp + astral)
        self.new = re.compile(f"[{new}]")  # unassigned in 14.0, assigned here
        self.case_split = re.compile(f"([{new}{_CASE_CHANGED}])")
        self.case_changed = re.compile(f"[{_CASE_CHANGED}]")
        self.kept_new = re.compile(f"[{new}0]")
        self.kept_title = re.compile(f"[{new}{_CASE_CHANGED}0{_STAND_IN}]")
        self.stand_ins = re.compile(f"[0{_STAND_IN}]")
        self.not_in_14 = {  # per predicate: characters answering False in 14.0
            "isnumeric": re.compile(f"[{new}{_NUMERIC_CHANGED}]"),
            "isidentifier": re.compile(f"[{new}{_ID_CHANGED}]"),
        }

    def volatile(self, s: str) -> bool:
        return self.bmp.search(s) is not None or self._astral(s)

    def has_new(self, s: str) -> bool:
        return (self.new_bmp is not None and self.new_bmp.search(s) is not None) or (
            self._astral(s)
        )

    def _astral(self, s: str) -> bool:
        return (
            self.astral is not None
            and _ASTRAL.search(s) is not None
            and (self.astral.search(s) is not None)
        )


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Gas of the check on non-ASCII text, charged on every version alike (3.11 does no work for
# it): a character's bitmap test, and a character beyond the BMP tested against each range.
CHECK_CHARS_PER_GAS = 8
ASTRAL_CHECK_GAS = 1


# A case mapping whose answer may rest on context (`title`; `lower`, `swapcase`,
# `capitalize` of text holding a capital sigma): on 3.12 and later, text holding a character
# whose answers moved is mapped around stand-ins (`_case`), ~10x the plain mapping's work.
CONTEXT_CASE_GAS = 2  # per character of non-ASCII text, on every version alike


def check_gas(s: str, name: str = "") -> int:
    """Gas of `volatile(s)` and, for the method `name`, of answering as 14.0 does: nothing
    for ASCII text."""
    if s.isascii():
        return 0
    astral = len(s.encode("utf-16-le", "surrogatepass")) // 2 - len(s)
    gas = len(s) // CHECK_CHARS_PER_GAS + ASTRAL_CHECK_GAS * astral
    if name == "title" or (name in ("lower", "swapcase", "capitalize") and "\u03a3" in s):
        gas += CONTEXT_CASE_GAS * len(s)
    return gas


@functools.cache
def _tables() -> _Tables | None:
    """None on an interpreter built with Unicode 14.0 (CPython 3.11): its answers are the
    rule already."""
    if unicodedata.unidata_version == "14.0.0":
        return None
    return _Tables()


def volatile(s: str) -> bool:
    """Whether `s` holds a character whose Unicode answers here differ from 14.0's (never
    for ASCII text, never on 3.11)."""
    if s.isascii():
        return False
    t = _tables()
    return t is not None and t.volatile(s)


def has_new(s: str) -> bool:
    """Whether `s` holds a code point Unicode 14.0 leaves unassigned and this interpreter
    assigns (never on 3.11)."""
    if s.isascii():
        return False
    t = _tables()
    return t is not None and t.has_new(s)


def isprintable(s: str) -> bool:
    """`s.isprintable()` as Unicode 14.0 answers it."""
    return s.isprintable() and not has_new(s)


def _escape(m: re.Match[str]) -> str:
    cp = ord(m.group())
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def fix_repr(text: str) -> str:
    """`repr(...)` text made by this interpreter, as 3.11 makes it: a code point unassigned
    in 14.0 is not printable there, so escaped (a later version shows it raw)."""
    t = None if text.isascii() else _tables()
    return text if t is None or not t.has_new(text) else t.new.sub(_escape, text)


def text_method(s: str, name: str) -> Callable[..., Any] | None:
    """A replacement for `s.name` (a case mapping or predicate of `PREDICATES` /
    `CASE_MAPPINGS`) answering as Unicode 14.0 does, or None when the interpreter's own
    method already does (`s` holds no volatile character)."""
    if name not in _PLAIN or not volatile(s):
        return None
    if name in CASE_MAPPINGS:
        return lambda: _case(s, name)
    return lambda: _predicate(s, name)


def _predicate(s: str, name: str) -> bool:
    t = _tables()
    assert t is not None  # (only called for volatile text)
    if name in _CASED_PREDICATES:
        # uncased in 14.0: as a control character, which has no case either
        return bool(getattr(t.case_split.sub("\x00", s), name)())
    if name in t.not_in_14:
        if t.not_in_14[name].search(s):
            return False
    elif has_new(s):
        return False  # an unassigned code point is no letter, digit, space or printable
    return bool(getattr(s, name)())


def _case(s: str, name: str) -> str:
    """A case mapping as 14.0 makes it. No code point whose answers moved has a case
    mapping of its own (each maps to itself in 3.11 and later), so `upper` and `casefold`,
    character by character, need nothing; `lower`, `swapcase` and `capitalize` look at the
    context of a capital sigma only; `title` also at whether the character before is
    cased. Those are mapped with stand-ins in place of the moved characters."""
    t = _tables()
    assert t is not None  # (only called for volatile text)
    if name in ("upper", "casefold") or (name != "title" and "\u03a3" not in s):
        return str(getattr(s, name)())
    # Each code point 14.0 leaves unassigned becomes "0" (uncased, not case-ignorable, maps
    # to itself: as an unassigned one in 3.11); for `title` each changed character becomes
    # U+02B9 (uncased, case-ignorable, maps to itself: as they were in 3.11). No mapping
    # makes either, so the result is cut at them and the characters put back, in order.
    text = t.new.sub("0", s)
    if name == "title":
        kept = t.kept_title.findall(s)
        mapped = t.case_changed.sub(_STAND_IN, text).title()
        pieces = t.stand_ins.split(mapped)
    else:
        kept = t.kept_new.findall(s)
        pieces = getattr(text, name)().split("0")
    return "".join(itertools.chain.from_iterable(zip(pieces, [*kept, ""], strict=True)))


_STAND_IN = "\u02b9"  # MODIFIER LETTER PRIME: uncased, case-ignorable, maps to itself


@functools.cache
def _unassigned() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(BMP part, beyond-BMP part, all) of the code points Unicode 14.0 leaves unassigned."""
    bmp = [(a, min(b, 0xFFFF)) for a, b in UNASSIGNED_14 if a < 0x10000]
    astral = [(max(a, 0x10000), b) for a, b in UNASSIGNED_14 if b >= 0x10000]
    return (
        re.compile(f"[{_char_class(bmp)}]"),
        re.compile(f"[{_char_class(astral)}]"),
        re.compile(f"[{_char_class(UNASSIGNED_14)}]"),
    )


def escape_unassigned(text: str) -> str:
    """`text` with every code point Unicode 14.0 leaves unassigned escaped as `repr` escapes
    it in 3.11 (`\\U0001e030`), on every version: for a message holding both a `repr` (which
    escapes such a code point in 3.11 only) and raw text (which no version escapes) — a
    failed receipt's error."""
    if text.isascii():
        return text
    bmp, astral, every = _unassigned()
    if bmp.search(text) is None and (_ASTRAL.search(text) is None or astral.search(text) is None):
        return text
    return every.sub(_escape, text)
