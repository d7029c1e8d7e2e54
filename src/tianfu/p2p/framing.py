"""Wire framing of the p2p transport: a 4-byte big-endian length, a 1-byte kind, the payload.

The length counts the payload only (not the kind byte). A reader checks the length
against its limit before reading the body, so a peer can never make it allocate more
than `max_frame` bytes for one frame. Kind 0 is reserved for the transport's own HELLO;
the message kinds of `tianfu.p2p.protocol` are 1..255.
"""

from __future__ import annotations

import asyncio
import struct

HEADER = struct.Struct(">IB")  # payload length, kind
HEADER_SIZE = HEADER.size  # 5
KIND_HELLO = 0  # transport control frame, never given to the handler
HELLO_PAYLOAD = b"tianfu-p2p/1"  # protocol name and version; identity comes from TLS only
MAX_KIND = 255


class P2PError(Exception):
    """Base class of p2p transport errors."""


class FrameTooLargeError(P2PError):
    """A frame whose payload is over the size limit (sent or received)."""


class MalformedFrameError(P2PError):
    """A frame that breaks the protocol (e.g. an unexpected control frame)."""


class PeerRejectedError(P2PError):
    """A peer whose certificate or state does not allow it to connect."""


class CertificateTimeError(PeerRejectedError):
    """A peer's certificate (or its CA's) is outside its validity period by this node's clock;
    `problem` is "not yet valid" or "expired"."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


class SelfConnectionError(PeerRejectedError):
    """The address dialed is this node itself."""


def check_kind(kind: int) -> None:
    """`ValueError` unless `kind` is an application kind (1..255)."""
    if not isinstance(kind, int) or not 1 <= kind <= MAX_KIND:
        raise ValueError(f"frame kind must be an integer from 1 to {MAX_KIND}, not {kind!r}")


def encode_header(kind: int, length: int) -> bytes:
    return HEADER.pack(length, kind)


def encode_frame(kind: int, payload: bytes) -> bytes:
    """One frame as bytes (header + payload)."""
    return HEADER.pack(len(payload), kind) + bytes(payload)


def decode_header(header: bytes, max_frame: int) -> tuple[int, int]:
    """(kind, payload length); `FrameTooLargeError` if the length is over `max_frame`."""
    length, kind = HEADER.unpack(header)
    if length > max_frame:
        raise FrameTooLargeError(f"frame of {length} bytes exceeds the limit of {max_frame}")
    return kind, length


async def read_frame(reader: asyncio.StreamReader, max_frame: int) -> tuple[int, bytes]:
    """Read one frame. Raises `asyncio.IncompleteReadError` at end of stream and
    `FrameTooLargeError` (before reading the body) for a frame over `max_frame`."""
    kind, length = decode_header(await reader.readexactly(HEADER_SIZE), max_frame)
    payload = await reader.readexactly(length) if length else b""
    return kind, payload
