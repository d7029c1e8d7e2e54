"""`codec.decode` refuses, before decoding them, bytes with map keys built to share a hash
when the type it decodes can hold them (a field typed `Any`: transaction arguments,
receipt results, event data), so every peer message, file and node answer decoded with it
is covered: block-sync responses, blocks (a proposal's, or a node's answer to the SDK),
transactions and receipts. Types with no such place (votes, proposals, whose block is
bytes, WAL records, private-data messages) are not scanned: msgspec refuses a map key of
the wrong type there as soon as it reads it.

Without the check, 4,000 crafted keys in one transaction's arguments (56 KB) held
`decode(payload, BlocksResponse)`, `decode(raw, Block)` (the SDK), `decode(raw, Receipt)` for
0.25-0.5 s on this machine, against 1-13 ms for the same bytes with the keys as a list; a
sync response of several MiB for minutes, on the node's event loop, before any signature
is checked.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.unit.test_sandbox_audit import _colliding_pairs

from tianfu.codec import CodecError, decode, encode
from tianfu.codec_scan import plan_of
from tianfu.consensus.messages import Proposal
from tianfu.consensus.wal import WalEntry
from tianfu.crypto.keys import generate_keypair
from tianfu.crypto.signing import sign_tx
from tianfu.mempool.gossip import TxBatch
from tianfu.proofs.formats import ProofBundle
from tianfu.sync.messages import BlocksRequest, BlocksResponse, BlockWithCert, Status
from tianfu.types import Block, BlockHeader, CommitCertificate, Receipt, Transaction, TxBody, Vote
from tianfu.types.tx import Event

_KP = generate_keypair()
_MARK = encode(["@@"])
_ZERO = bytes(32)
N = 4000


def _colliding_map(n: int) -> bytes:
    items = b"".join(encode(list(pair)) + b"\x01" for pair in _colliding_pairs(n))
    return b"\x91\xdf" + n.to_bytes(4, "big") + items  # [ {(a, b): 1, ...} ]


def _tx() -> Transaction:
    body = TxBody(1, "chain", _KP.scheme, _KP.public_key, 1, 100, "asset", "transfer", ["@@"])
    return sign_tx(_KP, body)


def _block() -> Block:
    header = BlockHeader(1, "chain", 1, 1, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _KP.public_key, 0)
    return Block(header, [_tx()])


def _messages() -> dict[str, tuple[type[Any], bytes]]:
    """Valid messages of each type, each with one `_MARK` where a value of type Any goes."""
    block = _block()
    cert = CommitCertificate(1, "chain", 1, 0, block.header.hash, [])
    receipt = Receipt(0, 10, ["@@"], "", [Event("asset", "moved", {"to": "bob"})])
    return {
        "sync response": (BlocksResponse, encode(BlocksResponse([BlockWithCert(block, cert)]))),
        "block": (Block, encode(block)),
        "transaction": (Transaction, encode(_tx())),
        "receipt": (Receipt, encode(receipt)),
    }


def _best(fn: Any, data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - start)
    return best


def _outcome(typ: type[Any], data: bytes) -> str:
    try:
        decode(data, typ)
    except CodecError as exc:
        return str(exc)
    return "accepted"


@pytest.mark.parametrize("what", sorted(_messages()))
def test_keys_built_to_share_a_hash_are_refused_before_decoding(what: str) -> None:
    typ, raw = _messages()[what]
    assert _outcome(typ, raw) == "accepted"
    assert raw.count(_MARK) == 1
    attack = raw.replace(_MARK, _colliding_map(N))
    benign = raw.replace(_MARK, encode([[list(p) for p in _colliding_pairs(N)]]))
    assert len(attack) - len(benign) < N + 100
    refusing = _best(lambda d: _outcome(typ, d), attack)
    accepting = _best(lambda d: _outcome(typ, d), benign)
    assert refusing <= 2 * accepting + 0.005, (refusing, accepting)
    assert _outcome(typ, attack) == f"invalid {typ.__name__}: dict keys must be str"
    assert _outcome(typ, bytearray(attack)) == f"invalid {typ.__name__}: dict keys must be str"
    assert _outcome(typ, memoryview(attack)) == f"invalid {typ.__name__}: dict keys must be str"


@pytest.mark.parametrize(
    ("typ", "scanned"),
    [
        (BlocksResponse, True),
        (Block, True),
        (Transaction, True),
        (Receipt, True),
        (dict[str, Any], True),
        (dict[tuple[int, int], int], True),
        (set[tuple[int, ...]], True),
        (list[Any], True),
        (int | Any, True),
        # every field typed without Any: msgspec refuses a key of the wrong type at once
        (Proposal, False),
        (Vote, False),
        (Status, False),
        (BlocksRequest, False),
        (TxBatch, False),
        (ProofBundle, False),
        (WalEntry, False),
        (dict[str, int], False),
        (dict[int, list[bytes]], False),
    ],
)
def test_only_types_that_can_hash_arrays_are_scanned(typ: Any, scanned: bool) -> None:
    assert (plan_of(typ).shadow is not None) is scanned


@pytest.mark.parametrize("n", [1, 3, 20])
def test_any_tuple_key_is_refused(n: int) -> None:
    for typ, raw in _messages().values():
        assert _outcome(typ, raw.replace(_MARK, _colliding_map(n))) != "accepted"
