"""Pure parts of the p2p transport: framing, bounded queues, token buckets, the
duplicate-connection rule and the peer-certificate check."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.crypto.suite import ECDSA_P256
from tianfu.identity import OrgCA
from tianfu.p2p.framing import (
    HEADER_SIZE,
    FrameTooLargeError,
    PeerRejectedError,
    SelfConnectionError,
    check_kind,
    encode_frame,
    encode_header,
    read_frame,
)
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.queues import (
    HandshakeSlots,
    OutboundBudget,
    OutboundQueue,
    PeerBuckets,
    TokenBucket,
    keep_new_connection,
)
from tianfu.p2p.tls import ContextCache, make_context, verify_peer

ORG_A = OrgCA.create("OrgA")
ORG_B = OrgCA.create("OrgB", ECDSA_P256)
NODE = ORG_A.issue("n1", "node")
CAS = {"OrgA": ORG_A.cert_der, "OrgB": ORG_B.cert_der}


def _read(data: bytes, max_frame: int) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await asyncio.wait_for(read_frame(reader, max_frame), 30)

    return asyncio.run(go())


# ---- framing ---------------------------------------------------------------------


@settings(deadline=None, max_examples=50)
@given(st.integers(1, 255), st.binary(max_size=300))
def test_frame_round_trip(kind: int, payload: bytes) -> None:
    frame = encode_frame(kind, payload)
    assert len(frame) == HEADER_SIZE + len(payload)
    assert frame[:4] == len(payload).to_bytes(4, "big") and frame[4] == kind
    assert _read(frame, 300) == (kind, payload)


def test_oversized_header_is_refused_before_the_body_is_read() -> None:
    # only the header is there: reading the body would wait forever (EOF not fed here)
    async def go() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(encode_header(3, 0xFFFFFFFF))
        with pytest.raises(FrameTooLargeError):
            await asyncio.wait_for(read_frame(reader, 1 << 20), 30)

    asyncio.run(go())
    assert _read(encode_frame(3, b"x" * 10), 10) == (3, b"x" * 10)
    with pytest.raises(FrameTooLargeError):
        _read(encode_frame(3, b"x" * 11), 10)


def test_truncated_frame_is_end_of_stream() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        _read(encode_frame(3, b"abcdef")[:-1], 100)
    with pytest.raises(asyncio.IncompleteReadError):
        _read(b"\x00\x00", 100)


def test_application_kinds_are_1_to_255() -> None:
    check_kind(1)
    check_kind(255)
    for bad in (0, 256, -1, "1", 1.0):
        with pytest.raises(ValueError):
            check_kind(bad)  # type: ignore[arg-type]


# ---- outbound queue and token bucket ------------------------------------------------


@settings(deadline=None, max_examples=200)
@given(
    st.integers(1, 20),
    st.integers(HEADER_SIZE, 400),
    st.lists(st.integers(0, 120), max_size=60),
)
def test_queue_stays_bounded_and_keeps_the_newest(
    max_frames: int, max_bytes: int, sizes: list[int]
) -> None:
    queue = OutboundQueue(max_frames, max_bytes)
    pushed: list[bytes] = []
    dropped = 0
    for i, size in enumerate(sizes):
        payload = i.to_bytes(2, "big") + bytes(size)
        pushed.append(payload)
        dropped += queue.push(7, payload)
        assert len(queue) <= max_frames and queue.nbytes <= max_bytes
    kept = [p for _, p in queue.take_all()]
    assert len(kept) + dropped == len(sizes)
    fitting = [p for p in pushed if HEADER_SIZE + len(p) <= max_bytes]
    if fitting and HEADER_SIZE + len(pushed[-1]) <= max_bytes:
        # the newest frame is always kept, and what is kept is the newest run of frames
        assert kept and kept[-1] == pushed[-1]
        assert kept == fitting[len(fitting) - len(kept) :]
    assert len(queue) == 0 and queue.nbytes == 0


def test_queue_pop_batch_takes_at_least_one_and_respects_the_budget() -> None:
    queue = OutboundQueue(10, 10_000)
    for i in range(5):
        queue.push(1, bytes([i]) * 100)
    first = queue.pop_batch(1)  # smaller than one frame: still one
    assert [p[0] for _, p in first] == [0]
    two = queue.pop_batch(2 * (HEADER_SIZE + 100))
    assert [p[0] for _, p in two] == [1, 2]
    assert len(queue) == 2 and queue.nbytes == 2 * (HEADER_SIZE + 100)
    assert queue.push(1, bytes(20_000)) == 1  # can never fit: dropped itself
    assert len(queue) == 2


def test_token_bucket_burst_then_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=5.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True  # one token refilled after 0.1 s
    assert bucket.take(0.1) is False
    assert sum(bucket.take(100.0) for _ in range(10)) == 5  # refill is capped at the burst
    with pytest.raises(ValueError):
        TokenBucket(0.0, 5.0, now=0.0)


# ---- one connection per pair --------------------------------------------------------


@given(
    st.text("0123456789abcdef", min_size=1, max_size=4),
    st.text("0123456789abcdef", min_size=1, max_size=4),
)
def test_both_ends_keep_the_same_connection(x: str, y: str) -> None:
    if x == y:
        return
    # connection 1 dialed by x, connection 2 dialed by y, seen in either order at each end
    for first, second in ((x, y), (y, x)):
        keep_at_x = second if keep_new_connection(x, y, first, second) else first
        keep_at_y = second if keep_new_connection(y, x, first, second) else first
        assert keep_at_x == keep_at_y == min(x, y)
    # the same dialer twice: the newer connection replaces the stale one
    assert keep_new_connection(x, y, x, x) and keep_new_connection(x, y, y, y)


# ---- TLS contexts and the peer check ------------------------------------------------


def test_contexts_are_tls13_mutual_and_rebuilt_only_when_trust_changes() -> None:
    cache = ContextCache(NODE)
    server = cache.get(CAS, server=True)
    client = cache.get(CAS, server=False)
    for ctx in (server, client):
        assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_3
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.check_hostname is False
        assert len(ctx.get_ca_certs()) == 2
    assert cache.get(dict(CAS), server=True) is server
    fewer = cache.get({"OrgA": ORG_A.cert_der}, server=True)
    assert fewer is not server and len(fewer.get_ca_certs()) == 1
    with pytest.raises(PeerRejectedError):
        make_context(NODE, {}, server=True)
    # a malformed CA on chain is skipped, the others still count
    ctx = make_context(NODE, {"OrgA": ORG_A.cert_der, "Bad": b"\x30\x03abc"}, server=False)
    assert len(ctx.get_ca_certs()) == 1


def test_verify_peer_takes_the_identity_from_the_certificate() -> None:
    peer = ORG_B.issue("b1", "node", ECDSA_P256)
    got = verify_peer(peer.cert_der, CAS, lambda a: False, own_address=NODE.info.address)
    assert got == PeerId(peer.info.address, "OrgB", "b1", peer.keypair.public_key)


@pytest.mark.parametrize(
    "case",
    [
        "none",
        "garbage",
        "non-member",
        "impostor-ca",
        "member-kind",
        "admin-kind",
        "revoked",
        "expired",
    ],
)
def test_verify_peer_refusals(case: str) -> None:
    der: bytes | None = ORG_A.issue("p", "node").cert_der
    revoked: set[str] = set()
    at_ms = None
    if case == "none":
        der = None
    elif case == "garbage":
        der = b"\x30\x82\x01\x00" + bytes(256)
    elif case == "non-member":
        der = OrgCA.create("OrgZ").issue("z", "node").cert_der
    elif case == "impostor-ca":  # a CA that calls itself OrgA, but is not OrgA's CA
        der = OrgCA.create("OrgA").issue("fake", "node").cert_der
    elif case == "member-kind":
        der = ORG_A.issue("alice", "member").cert_der
    elif case == "admin-kind":
        der = ORG_A.issue("root", "admin").cert_der
    elif case == "revoked":
        from tianfu.identity import cert_info

        revoked.add(cert_info(der).address)
    elif case == "expired":
        at_ms = 2**62
    with pytest.raises(PeerRejectedError):
        verify_peer(der, CAS, revoked.__contains__, NODE.info.address, at_ms=at_ms)


def test_verify_peer_refuses_ourselves() -> None:
    with pytest.raises(SelfConnectionError):
        verify_peer(NODE.cert_der, CAS, lambda a: False, own_address=NODE.info.address)


def test_peer_buckets_are_kept_across_reconnects_and_forgotten_when_full() -> None:
    buckets = PeerBuckets(1.0, 2.0)
    first = buckets.get("p", 0.0, connected=set())
    assert first.take(0.0) and first.take(0.0) and not first.take(0.0)
    # the peer reconnects at once: the same, empty bucket
    assert buckets.get("p", 0.5, connected=set()) is first and not first.take(0.5)
    # others come and go; p's bucket is forgotten once full again (2 s at 1 token/s)
    buckets.get("q", 1.0, connected={"p"})
    assert len(buckets) == 2
    buckets.get("r", 10.0, connected={"r"})
    assert len(buckets) == 1  # p and q (not connected, full) forgotten; r kept
    assert buckets.get("p", 10.0, connected={"r"}) is not first


def test_handshake_slots_bound_the_total_and_each_host() -> None:
    slots = HandshakeSlots(total=3, per_host=2)
    first = slots.take("10.0.0.1")
    assert first and slots.take("10.0.0.1")
    assert not slots.take("10.0.0.1")  # this host's share is used
    assert slots.take("10.0.0.2")
    assert not slots.take("10.0.0.3") and len(slots) == 3  # all slots are used
    slots.release(first)
    slots.release(first)  # (a second release changes nothing)
    assert slots.take("10.0.0.3") and not slots.take("10.0.0.1")
    with pytest.raises(ValueError):
        HandshakeSlots(total=0, per_host=1)


def test_a_full_table_of_handshakes_gives_the_oldest_slot_past_its_grace() -> None:
    slots = HandshakeSlots(total=2, per_host=2, grace=1.0)
    aborted: list[str] = []
    for host, t in (("10.0.0.1", 0.0), ("10.0.0.2", 0.5)):
        slot = slots.take(host, t)
        assert slot is not None
        slot.abort = lambda h=host: aborted.append(h)
    assert slots.take("10.0.0.3", 0.9) is None  # nobody is past the grace yet
    new = slots.take("10.0.0.3", 1.0)  # 10.0.0.1's handshake has had its second
    assert new is not None and aborted == ["10.0.0.1"] and slots.evicted == 1
    assert len(slots) == 2 and slots.take("10.0.0.1", 1.0) is None  # (10.0.0.2: 0.5 s)
    assert slots.take("10.0.0.1", 1.5) is not None and aborted == ["10.0.0.1", "10.0.0.2"]


def test_outbound_budget_drops_the_oldest_frames_of_the_biggest_queue() -> None:
    budget = OutboundBudget(3000)
    slow = OutboundQueue(100, 2500, budget)  # a peer that stopped reading
    quick = OutboundQueue(100, 2500, budget)
    for i in range(20):
        assert slow.push(1, bytes([i]) * (100 - HEADER_SIZE)) == 0  # 2,000 bytes
    assert quick.push(1, b"q" * (900 - HEADER_SIZE)) == 0  # 2,900 bytes in all
    dropped = quick.push(1, b"r" * (300 - HEADER_SIZE))  # 3,200: over by 200
    assert dropped == 2 and budget.nbytes == 3000 <= budget.max_bytes
    assert (len(slow), slow.nbytes, len(quick), quick.nbytes) == (18, 1800, 2, 1200)
    assert slow.pop_batch(100)[0][1][0] == 2  # frames 0 and 1, the oldest, were dropped
    assert budget.nbytes == 2900
    slow.close()  # its link closed: its bytes go back to the budget
    assert budget.nbytes == 1200 and len(slow) == 0
    for _ in range(10):  # the slow queue left the budget: only `quick` is shed now
        quick.push(1, b"s" * (400 - HEADER_SIZE))
    assert budget.nbytes == quick.nbytes <= 2500
    with pytest.raises(ValueError):
        OutboundBudget(0)
