"""`decode_genesis` on hostile bytes (a genesis fetched from a node the SDK does not trust,
`HttpTransport.fetch_genesis`): it must raise `CodecError` and nothing else, and refuse
what `tianfu.codec.decode` refuses before building any object. Telling a seven-field open
profile from an eight-field one (`OpenGenesisV1` / `OpenGenesis`) decoded the whole input
without a type first: nesting too deep escaped as `RecursionError`, and input over the
size limit was turned into Python objects (tens of bytes each per byte) before the limit
was checked."""

import json
import tracemalloc
from pathlib import Path

import msgspec
import pytest

from tianfu.codec import DEFAULT_MAX_SIZE, CodecError, encode
from tianfu.types import (
    Genesis,
    OpenGenesis,
    OpenGenesisV1,
    OpenProfile,
    OpenProfileV1,
    decode_genesis,
)

VECTORS = Path(__file__).resolve().parents[2] / "docs/spec/vectors/open.json"


def _base() -> list:
    """The eight consortium fields of the spec's open genesis (its ninth dropped)."""
    raw = bytes.fromhex(json.loads(VECTORS.read_text())["geneses"]["standard"])
    return list(msgspec.structs.astuple(decode_genesis(raw)))[:8]


def test_nesting_too_deep_is_a_codec_error():
    for depth in (10_000, 200_000):
        with pytest.raises(CodecError):
            decode_genesis(b"\x99" + b"\x91" * depth)
        # deep inside the ninth field, after eight valid ones
        head = encode(_base())[1:]
        with pytest.raises(CodecError):
            decode_genesis(b"\x99" + head + b"\x91" * depth)


def _peak(data: bytes) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(CodecError):
            decode_genesis(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_hostile_size_is_refused_before_objects_are_built():
    head = b"\x99" + encode(_base())[1:]
    # Over the limit: refused by its length, as every other decode is.
    n = 4 * DEFAULT_MAX_SIZE
    over = head + b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n
    assert _peak(over) < 2 * len(over)
    # Within the limit: an open profile of a million empty arrays is not worth 60 MiB.
    n = DEFAULT_MAX_SIZE - len(head) - 5
    within = head + b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n
    assert len(within) == DEFAULT_MAX_SIZE
    assert _peak(within) < 8 * 2**20


def test_both_versions_still_decode_to_their_own_bytes():
    base = _base()
    for cls, profile in ((OpenGenesisV1, OpenProfileV1()), (OpenGenesis, OpenProfile())):
        g = cls(*base, open_profile=profile)
        data = encode(g)
        back = decode_genesis(data)
        assert type(back) is cls and encode(back) == data
    g = Genesis(*base)
    assert type(decode_genesis(encode(g))) is Genesis and encode(
        decode_genesis(encode(g))
    ) == encode(g)
    # Settings of six or nine fields, and settings that are not an array: refused.
    for settings in (list(msgspec.structs.astuple(OpenProfileV1()))[:6],
                     [*msgspec.structs.astuple(OpenProfile()), 0], {"a": 1}, 5, None):  # fmt: skip
        with pytest.raises(CodecError):
            decode_genesis(encode([*base, settings]))
