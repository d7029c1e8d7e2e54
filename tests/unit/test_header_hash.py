"""A block header's hash is kept with the header object: the same bytes as hashing its
encoding, computed once per object and hash suite, invisible to encoding and equality."""

from __future__ import annotations

import msgspec
import pytest

import tianfu.types.block as block_module
from tianfu.codec import SHA256, SM3, encode, hash_domain_with, hash_scope
from tianfu.types import BlockHeader


def _header(height: int = 1) -> BlockHeader:
    return BlockHeader(
        1, "c", height, 1_700_000_000_000, *(bytes([i]) * 32 for i in range(1, 6)), b"\x06" * 32, 0
    )


def test_the_kept_hash_is_the_hash_of_the_encoding_computed_once(monkeypatch) -> None:
    calls: list[str] = []
    real = block_module.hash_domain

    def counting(tag: str, *parts: bytes) -> bytes:
        calls.append(tag)
        return real(tag, *parts)

    monkeypatch.setattr(block_module, "hash_domain", counting)
    header = _header()
    expected = hash_domain_with(SHA256, "tianfu/header/v2", encode(header))
    assert header.hash == expected and header.hash == expected
    assert calls == ["tianfu/header/v2"]
    # another suite: its own hash, then the first one again
    with hash_scope(SM3):
        assert header.hash == hash_domain_with(SM3, "tianfu/header/v2", encode(header))
    assert header.hash == expected
    assert len(calls) == 3


def test_the_kept_hash_is_not_part_of_the_header() -> None:
    header = _header(7)
    raw = encode(header)
    assert header.hash
    assert encode(header) == raw and msgspec.msgpack.decode(raw, type=BlockHeader) == header
    assert msgspec.structs.asdict(header) == msgspec.structs.asdict(_header(7))
    copy = msgspec.structs.replace(header, height=8)
    assert copy.hash == hash_domain_with(SHA256, "tianfu/header/v2", encode(copy)) != header.hash
    with pytest.raises(AttributeError):
        header.height = 9  # type: ignore[misc]
