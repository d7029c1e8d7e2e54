"""Unit tests of the per-transaction network path: the cached transaction hash and bytes,
`decode_tx` (as strict as `codec.decode`), the inline argument check of `TxBody.validate`,
and `TxGossip.handle` on batches with bad entries."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.codec import CodecError, decode, encode, hash_domain
from tianfu.crypto import sign_tx
from tianfu.crypto.keys import generate_keypair
from tianfu.crypto.signing import verify_tx
from tianfu.mempool import Mempool
from tianfu.mempool.gossip import ADMIT_CHUNK, KIND_TXS, MAX_INBOX_TXS, TxBatch, TxGossip
from tianfu.types import Transaction, TxBody, tx_hash
from tianfu.types.tx import decode_tx
from tianfu.types.values import ValueTypeError, check_value

names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
i64 = st.integers(min_value=0, max_value=(1 << 63) - 1)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 64) - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.builds(
    TxBody,
    version=st.just(1),
    chain_id=st.text(min_size=1, max_size=20),
    scheme=st.sampled_from([1, 2]),
    signer=st.binary(max_size=65),
    nonce=i64,
    expiry=i64,
    contract=names,
    method=st.text(min_size=1, max_size=20),
    args=st.lists(values, max_size=5),
    cert=st.binary(max_size=300),
)
txs = st.builds(Transaction, body=bodies, signature=st.binary(max_size=72))


def body(*args: Any, nonce: int = 1, cert: bytes = b"", key: Any = None) -> TxBody:
    key = key or KEY
    return TxBody(
        1, "c", key.scheme, key.public_key, nonce, 10, "asset", "transfer", list(args), cert
    )


KEY = generate_keypair()


# ---------------------------------------------------------------- the cached hash and bytes


@settings(max_examples=200, deadline=None)
@given(txs)
def test_decode_tx_takes_the_hash_and_bytes_from_the_input(tx: Transaction) -> None:
    raw = encode(tx)
    got = decode_tx(raw)
    assert got.hash == tx_hash(tx.body) == tx.hash == got.signing_hash()
    assert got.encoded() == raw == encode(got)
    # the cache is not a field: equality and the encodings are unaffected
    assert got == tx == decode(raw, Transaction)
    assert msgspec.to_builtins(got) == msgspec.to_builtins(tx)
    assert msgspec.json.encode(got) == msgspec.json.encode(decode(raw, Transaction))


def test_hash_is_computed_once_and_fresh_for_a_replaced_body() -> None:
    tx = sign_tx(KEY, body("alice", 1))
    h = tx.hash
    assert tx.hash is h and tx.signing_hash() is h and verify_tx(tx)
    other = msgspec.structs.replace(tx, body=body("bob", 1))
    assert other.hash == tx_hash(other.body) != h
    assert "_hash" not in msgspec.structs.replace(tx).__dict__  # a copy recomputes


@pytest.mark.parametrize("sig_len", [0, 1, 63, 64, 65, 72])
def test_decode_tx_hash_for_every_signature_length(sig_len: int) -> None:
    tx = Transaction(body("x", [1, {"k": b"v"}], cert=b"\x30" * 200), b"\x07" * sig_len)
    assert decode_tx(encode(tx)).hash == tx_hash(tx.body)


def test_decode_tx_accepts_other_buffers_like_decode() -> None:
    tx = sign_tx(KEY, body("alice", 5))
    raw = encode(tx)
    for buf in (bytearray(raw), memoryview(raw)):
        got = decode_tx(buf)  # type: ignore[arg-type]
        assert got == tx and got.hash == tx.hash and got.encoded() == raw


# ---------------------------------------------------------------- decode_tx is as strict


def outcome(fn: Any, data: Any) -> Any:
    try:
        return ("ok", fn(data))
    except CodecError:
        return ("refused", None)


@settings(max_examples=300, deadline=None)
@given(txs, st.data())
def test_decode_tx_refuses_exactly_what_decode_refuses(
    tx: Transaction, data: st.DataObject
) -> None:
    raw = bytearray(encode(tx))
    how = data.draw(st.sampled_from(["flip", "truncate", "extend", "none"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        del raw[data.draw(st.integers(0, len(raw) - 1)) :]
    elif how == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=4))
    blob = bytes(raw)
    a = outcome(lambda b: decode(b, Transaction), blob)
    b = outcome(decode_tx, blob)
    assert a[0] == b[0]
    if a[0] == "ok":
        assert a[1] == b[1] and b[1].hash == tx_hash(a[1].body)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x92",
        b"not msgpack at all",
        encode([1, 2, 3]),
        encode(Transaction(body("x"), b"s")) + b"\x00",  # trailing byte
        encode(Transaction(body("x"), b"s" * 73)),  # signature over 72 bytes
        encode(Transaction(msgspec.structs.replace(body("x"), version=2), b"s")),
        encode(Transaction(body(1.5), b"s")),  # a float argument
        msgspec.msgpack.encode(Transaction(body({1: 2}), b"s")),  # a non-str dict key
        encode(Transaction(msgspec.structs.replace(body(), contract="Bad-Name"), b"s")),
    ],
    ids=lambda bad: f"{len(bad)}-bytes",  # the cases hold random keys: stable ids for xdist
)
def test_decode_tx_refusals(bad: bytes) -> None:
    with pytest.raises(CodecError):
        decode(bad, Transaction)
    with pytest.raises(CodecError):
        decode_tx(bad)


def test_decode_tx_refuses_what_is_not_bytes() -> None:
    with pytest.raises(CodecError, match="expected bytes"):
        decode_tx("not bytes")  # type: ignore[arg-type]


def test_decode_tx_size_limit() -> None:
    raw = encode(Transaction(body("x" * 500), b"s"))
    with pytest.raises(CodecError, match="exceeds the limit"):
        decode_tx(raw, max_size=len(raw) - 1)
    assert decode_tx(raw, max_size=len(raw)).body.args == ["x" * 500]


def test_non_canonical_encoding_is_refused() -> None:
    tx = Transaction(body("x", 1), b"s")
    raw = encode(tx)
    # nonce 1 as a uint64 (0xcf + 8 bytes) instead of a positive fixint: same value
    i = raw.index(b"\x01\x0a")  # nonce 1, expiry 10
    loose = raw[:i] + b"\xcf" + (1).to_bytes(8, "big") + raw[i + 1 :]
    assert msgspec.msgpack.decode(loose, type=Transaction) == tx
    with pytest.raises(CodecError, match="non-canonical"):
        decode_tx(loose)


# ---------------------------------------------------------------- TxBody.validate


def check_answer(fn: Any, v: Any) -> str | None:
    try:
        fn(v)
        return None
    except (ValueTypeError, CodecError) as exc:
        return str(exc).removeprefix("bad argument: ")


class S(str):
    pass


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        values
        | st.floats(allow_nan=False)
        | st.integers(min_value=1 << 64, max_value=1 << 70)
        | st.builds(S, st.text(max_size=3))
        | st.builds(set),
        max_size=5,
    )
)
def test_validate_answers_like_check_value(args: list[Any]) -> None:
    b = body(*args)
    assert check_answer(lambda _: b.validate(), None) == check_answer(check_value, args)


def test_validate_of_deep_and_non_list_args() -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = [deep]
    for args in ([deep], (1, 2), {"a": 1}, [1.0]):
        b = msgspec.structs.replace(body(), args=args)
        assert check_answer(lambda _, b=b: b.validate(), None) == check_answer(check_value, args)


# ---------------------------------------------------------------- gossip and mempool


class Net:
    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes]] = []

    def broadcast(self, kind: int, payload: bytes) -> None:
        self.sent.append((kind, payload))


def test_gossip_admits_the_good_and_counts_the_malformed() -> None:
    good = [sign_tx(KEY, body("a", i, nonce=i)) for i in range(5)]
    raws = [encode(t) for t in good]
    bad = [b"junk", raws[0] + b"\x00", encode(Transaction(body(1.5), b"s"))]
    got: list[Transaction] = []

    def admit_many(ts: list[Transaction]) -> list[bool]:
        got.extend(ts)
        return [True] * len(ts)

    g = TxGossip(Net(), lambda t: True, admit_many=admit_many)
    g.handle(None, KIND_TXS, encode(TxBatch(raws[:2] + bad + raws[2:])))
    assert got == good and [t.hash for t in got] == [t.hash for t in good]
    assert [t.encoded() for t in got] == raws
    assert g.stats == {
        "sent": 0, "received": 8, "admitted": 5, "refused": 0, "malformed": 3, "forged": 0,
    }  # fmt: skip
    g.handle(None, KIND_TXS, b"\x91\xc4")  # a malformed batch
    g.handle(None, KIND_TXS + 1, b"")  # another kind: ignored
    assert g.stats["malformed"] == 4 and g.stats["received"] == 8


def test_gossip_publish_sends_the_canonical_bytes() -> None:
    async def run() -> list[tuple[int, bytes]]:
        net = Net()
        g = TxGossip(net, lambda t: True, flush_interval_s=0.001)
        txs = [sign_tx(KEY, body("a", nonce=i)) for i in range(3)]
        for t in txs:
            g.publish(t)
        deadline = time.monotonic() + 60
        while not net.sent:  # the next flush sends them
            assert time.monotonic() < deadline, "the batch was never flushed"
            await asyncio.sleep(0.001)
        assert decode(net.sent[0][1], TxBatch).txs == [encode(t) for t in txs]
        return net.sent

    assert len(asyncio.run(run())) == 1


def test_mempool_counts_the_encoded_size() -> None:
    pool = Mempool(max_txs=10, max_bytes=10_000)
    tx = sign_tx(KEY, body("a"))
    assert pool.add(tx) and pool.size_bytes == len(encode(tx))
    assert not pool.add(decode_tx(encode(tx)))  # the same hash: already pending
    pool.remove([hash_domain("tianfu/tx/v1", encode(tx.body))])
    assert len(pool) == 0 and pool.size_bytes == 0


def test_a_gossip_flood_is_admitted_a_chunk_per_turn_of_the_loop_and_bounded() -> None:
    """Frames from many peers (on an open network: anonymous observers) go to one bounded
    inbox that one task admits `ADMIT_CHUNK` transactions at a time: the event loop (votes,
    timers) turns between two chunks, never waits for a whole frame or for every peer's
    frames, and frames past the inbox are dropped rather than queued without bound."""
    frame = encode(TxBatch([encode(Transaction(body("a", nonce=i), b"s")) for i in range(500)]))
    calls: list[tuple[int, int]] = []  # (chunk size, loop turns seen so far)
    turns = 0

    def admit_many(ts: list[Transaction]) -> list[bool]:
        calls.append((len(ts), turns))
        return [False] * len(ts)

    async def run() -> TxGossip:
        nonlocal turns
        g = TxGossip(Net(), lambda t: False, admit_many=admit_many)
        frames = MAX_INBOX_TXS // 500 + 3
        for peer in range(frames):  # all arrive before admission starts
            g.handle(peer, KIND_TXS, frame)
        assert calls == [] and g.dropped_busy == 3  # nothing admitted inside `handle`
        deadline = time.monotonic() + 60
        while len(calls) < (frames - 3) * -(-500 // ADMIT_CHUNK):
            assert time.monotonic() < deadline, "the inbox was never admitted"
            turns += 1
            await asyncio.sleep(0)
        return g

    g = asyncio.run(run())
    assert all(size <= ADMIT_CHUNK for size, _ in calls)
    assert sum(size for size, _ in calls) == MAX_INBOX_TXS // 500 * 500
    seen = [t for _, t in calls]
    assert seen == sorted(set(seen))  # each chunk in a turn of its own
    assert g.stats["refused"] == MAX_INBOX_TXS // 500 * 500 and g._inbox_txs == 0  # noqa: SLF001


def test_a_flooding_peer_does_not_crowd_out_another_peers_transactions() -> None:
    """A peer that fills the inbox keeps it while alone; another peer's frame then takes the
    room of the flooder's newest transactions (up to an equal share), and is admitted in
    turn with the flooder's, one chunk each, not after the flooder's backlog."""
    flood = encode(TxBatch([encode(Transaction(body("a", nonce=i), b"s")) for i in range(500)]))
    fair = [encode(Transaction(body("b", nonce=i), b"s")) for i in range(3 * ADMIT_CHUNK)]
    order: list[str] = []  # the sender of each chunk admitted, in order

    def admit_many(ts: list[Transaction]) -> list[bool]:
        order.append(ts[0].body.args[0])
        return [True] * len(ts)

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: False, admit_many=admit_many)
        for _ in range(MAX_INBOX_TXS // 500 + 2):  # the flooder fills the inbox, and more
            g.handle("flooder", KIND_TXS, flood)
        assert g._inbox_txs == MAX_INBOX_TXS and g.dropped_busy == 2  # noqa: SLF001
        g.handle("honest", KIND_TXS, encode(TxBatch(fair)))
        assert g.dropped_busy == 2 and g._inbox_txs <= MAX_INBOX_TXS  # noqa: SLF001
        assert len(fair) <= g.evicted < len(fair) + ADMIT_CHUNK  # whole chunks, newest first
        # An equal share is the most a peer may claim when the inbox is full: 8,000 / 3 and
        # 8,000 / 4 leave room for a frame of 2,000, 8,000 / 5 does not.
        for sender in "cde":
            big = [encode(Transaction(body(sender, nonce=i), b"s")) for i in range(2000)]
            g.handle(sender, KIND_TXS, encode(TxBatch(big)))
        assert g.dropped_busy == 2 + 1 and g._inbox_txs <= MAX_INBOX_TXS  # noqa: SLF001
        deadline = time.monotonic() + 60
        while g._inbox_txs:  # noqa: SLF001
            assert time.monotonic() < deadline, "the inbox was never admitted"
            await asyncio.sleep(0)
        return g

    g = asyncio.run(run())
    assert order.count("b") == 3 and order[:8] == ["a", "b", "c", "d"] * 2
    assert "e" not in order  # the flooder's newest transactions made the room
    assert g.stats["admitted"] == MAX_INBOX_TXS - g.evicted + len(fair) + 2 * 2000
