"""Unit tests: the observer port — its handshake, the kinds it lets through either way, the
rate limit and the bans — with two real transports on loopback."""

import asyncio

import pytest

from tianfu.crypto import generate_keypair
from tianfu.execution.contract_api import address_of
from tianfu.p2p.observer import ObserverTransport
from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST, KIND_STATUS, KIND_TXS, KIND_VOTE

SYNC = frozenset({KIND_STATUS, KIND_BLOCKS_REQUEST, KIND_TXS})


async def wait_for(cond, timeout=60.0):  # a deadline for a loaded machine (load 15)
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def make(role, received, *, chain_id="open-test", listen=("127.0.0.1", 0), peers=(), **kw):
    kp = generate_keypair()
    return ObserverTransport(
        kp, chain_id, lambda peer, kind, payload: received.append((peer, kind, payload)),
        role=role, listen=listen, peers=list(peers), inbound_kinds=SYNC,
        outbound_kinds=SYNC, dial_backoff=(0.05, 0.2), **kw,
    )  # fmt: skip


def test_observer_links_and_only_sync_kinds_pass():
    async def run():
        got_v, got_o = [], []
        validator = make("validator", got_v, max_strikes=2)
        await validator.start()
        observer = make("observer", got_o, listen=None, peers=[validator.listen_address])
        await observer.start()
        try:
            await wait_for(lambda: validator.peers() and observer.peers())
            [p] = validator.peers()
            assert p.address == observer.address and p.org == "" and p.name.startswith("observer")
            assert observer.roles() == {validator.address: "validator"}
            observer.broadcast(KIND_STATUS, b"status")
            validator.broadcast(KIND_STATUS, b"tip")
            validator.broadcast(KIND_VOTE, b"a vote")  # never sent on this port
            await wait_for(lambda: got_v and got_o)
            assert [(k, pl) for _, k, pl in got_v] == [(KIND_STATUS, b"status")]
            assert [(k, pl) for _, k, pl in got_o] == [(KIND_STATUS, b"tip")]
            # An observer that sends consensus kinds is struck, then banned: its frames
            # never reach the handler (it can never vote or propose).
            observer._outbound = frozenset({KIND_VOTE})  # a misbehaving observer
            for _ in range(2):
                observer.broadcast(KIND_VOTE, b"forged vote")
            await wait_for(lambda: not validator.peers())
            assert all(k != KIND_VOTE for _, k, _ in got_v)
            assert validator.is_banned(observer.address)
            assert validator.stats["dropped_kind"] == 2
            await asyncio.sleep(0.3)  # its dialer retries: refused while banned
            assert not validator.peers()
        finally:
            await observer.stop()
            await validator.stop()

    asyncio.run(run())


def test_operator_ban_and_wrong_chain():
    async def run():
        got = []
        validator = make("validator", got)
        await validator.start()
        other_chain = make("observer", [], chain_id="elsewhere", listen=None,
                           peers=[validator.listen_address])  # fmt: skip
        await other_chain.start()
        observer = make("observer", [], listen=None, peers=[validator.listen_address])
        await observer.start()
        try:
            await wait_for(lambda: len(validator.peers()) == 1)
            assert validator.peers()[0].address == observer.address
            # The other chain's observer dials on its own: its refusal is waited for (the
            # member's link says nothing about when the other handshake ran).
            await wait_for(lambda: validator.stats["handshakes_failed"] >= 1)
            validator.ban(observer.address)
            await wait_for(lambda: not validator.peers())
            assert validator.is_banned(observer.address)
            assert address_of(observer._keypair.scheme, observer._keypair.public_key) == (
                observer.address
            )
        finally:
            await other_chain.stop()
            await observer.stop()
            await validator.stop()

    asyncio.run(run())


def lagging(transport, seconds):
    """Make `transport` finish each handshake `seconds` after its peer: the two ends of a
    link register it at different moments, and a busy machine can make the gap long."""
    handshake = transport._handshake

    async def late(*args):
        result = await handshake(*args)
        await asyncio.sleep(seconds)
        return result

    transport._handshake = late


@pytest.mark.parametrize("dialer_lag_s", [0.0, 1.0])
def test_rate_limit_drops_excess_frames(dialer_lag_s):
    """The observer sends, so the test waits until the observer too has registered the link
    (it waited for the validator's end only; frames broadcast before the dialer's end
    registers go nowhere, and the test failed when that end was late)."""

    async def run():
        got = []
        validator = make("validator", got, rate_limit=(1.0, 5.0))
        await validator.start()
        observer = make("observer", [], listen=None, peers=[validator.listen_address])
        lagging(observer, dialer_lag_s)
        await observer.start()
        try:
            await wait_for(lambda: validator.peers() and observer.peers())
            for i in range(50):
                observer.broadcast(KIND_STATUS, str(i).encode())
            await wait_for(lambda: validator.stats["dropped_rate"] >= 40)
            assert len(got) <= 10
        finally:
            await observer.stop()
            await validator.stop()

    asyncio.run(run())


@pytest.mark.parametrize("role", ["bogus"])
def test_unknown_role_refused(role):
    with pytest.raises(ValueError):
        make(role, [])


def test_garbage_handshakes_ban_the_ip_and_links_are_capped():
    import ssl

    async def run():
        validator = make("validator", [], max_strikes=3, max_links=1)
        await validator.start()
        host, port = validator.listen_address
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            for _ in range(3):  # valid TLS, then bytes that are no observer HELLO
                reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
                writer.write(b"\x00\x00\x00\x04\x09junk")
                await writer.drain()
                await reader.read()  # the validator closes it
                writer.close()
            await wait_for(lambda: validator.is_banned("127.0.0.1"))
            assert validator.stats["handshakes_failed"] == 3
            validator.unban_all()  # the operator lifts the ban
            first = make("observer", [], listen=None, peers=[validator.listen_address])
            second = make("observer", [], listen=None, peers=[validator.listen_address])
            await first.start()
            await wait_for(lambda: len(validator.peers()) == 1)
            await second.start()
            await wait_for(lambda: validator.stats["links_refused_full"] >= 1)
            assert [p.address for p in validator.peers()] == [first.address]
            await first.stop()
            await second.stop()
        finally:
            await validator.stop()

    asyncio.run(run())


def test_observer_identities_filling_the_port_cannot_lock_a_validator_out():
    """Free observer identities take every link of a full port; a key in the validator set
    (a validator by stake, whose consensus messages travel only on this port) still
    connects, in the place of the newest observer's link, and the observer it replaced
    finds the port full when it dials again."""

    async def run():
        staked = generate_keypair()
        server = make(
            "validator", [], max_links=2, is_validator_key=lambda k: k == staked.public_key
        )
        await server.start()
        target = [server.listen_address]
        sybils = [make("observer", [], listen=None, peers=target) for _ in range(2)]
        validator = ObserverTransport(
            staked, "open-test", lambda *a: None, role="validator", listen=None,
            peers=target, inbound_kinds=SYNC, outbound_kinds=SYNC, dial_backoff=(0.05, 0.2),
        )  # fmt: skip
        try:
            for s in sybils:
                await s.start()
            await wait_for(lambda: len(server.peers()) == 2)
            await validator.start()
            await wait_for(lambda: validator.address in {p.address for p in server.peers()})
            await wait_for(lambda: server.stats["links_refused_full"] >= 1)
            assert validator.address in {p.address for p in server.peers()}
            assert len(server.peers()) == 2
        finally:
            await validator.stop()
            for s in sybils:
                await s.stop()
            await server.stop()

    asyncio.run(run())


def test_one_host_holds_at_most_max_links_per_host_observer_links():
    """Observer identities from one IP take at most `max_links_per_host` links, leaving the
    rest of the port to other hosts; a key in the validator set is not counted against it."""

    async def run():
        staked = generate_keypair()
        server = make(
            "validator", [], max_links=8, max_links_per_host=2,
            is_validator_key=lambda k: k == staked.public_key,
        )  # fmt: skip
        await server.start()
        target = [server.listen_address]
        sybils = [make("observer", [], listen=None, peers=target) for _ in range(3)]
        validator = ObserverTransport(
            staked, "open-test", lambda *a: None, role="validator", listen=None,
            peers=target, inbound_kinds=SYNC, outbound_kinds=SYNC, dial_backoff=(0.05, 0.2),
        )  # fmt: skip
        try:
            for s in sybils:
                await s.start()
            await wait_for(lambda: server.stats["links_refused_full"] >= 1)
            assert len(server.peers()) == 2
            await validator.start()
            await wait_for(lambda: validator.address in {p.address for p in server.peers()})
            assert len(server.peers()) == 3
        finally:
            await validator.stop()
            for s in sybils:
                await s.stop()
            await server.stop()

    asyncio.run(run())


def test_a_validator_key_linked_already_does_not_evict_an_observer():
    """The port is full (a validator by stake and an observer); the validator's key dials
    again while linked: that second link is refused — and no observer's link is closed to
    make room for it first (each redial evicted one)."""

    async def run():
        staked = generate_keypair()
        closed = []
        server = make(
            "validator", [], max_links=2, is_validator_key=lambda k: k == staked.public_key,
            on_peer=lambda peer, up: None if up else closed.append(peer.address),
        )  # fmt: skip
        await server.start()
        target = [server.listen_address]
        sybil = make("observer", [], listen=None, peers=target)
        dials = []

        def validator(on_peer=None):
            return ObserverTransport(
                staked, "open-test", lambda *a: None, role="validator", listen=None,
                peers=target, inbound_kinds=SYNC, outbound_kinds=SYNC,
                dial_backoff=(0.05, 0.2), on_peer=on_peer,
            )  # fmt: skip

        first = validator()
        again = validator(lambda peer, up: dials.append(up) if up else None)
        try:
            await sybil.start()
            await first.start()
            await wait_for(lambda: len(server.peers()) == 2)
            await again.start()
            await wait_for(lambda: len(dials) >= 3)  # its handshakes succeed, then refused
            assert sybil.address in {p.address for p in server.peers()}
            assert closed == [], closed
        finally:
            for t in (again, first, sybil, server):
                await t.stop()

    asyncio.run(run())


def test_strikes_and_bans_of_fresh_keys_take_bounded_memory():
    """Keys are free: every fresh key struck once, or banned, must not grow the node's
    tables without end."""
    import logging
    import tracemalloc

    from tianfu.p2p.strikes import MAX_ENTRIES

    server = make("validator", [], max_strikes=2)
    keys = iter(f"{i:040x}" for i in range(10**9))

    def flood(n):
        for _ in range(n):
            server.strike(next(keys), None, "a frame of a kind it may not send")
            key = next(keys)
            server.strike(key, None, "again")
            server.strike(key, None, "banned")

    logging.disable(logging.CRITICAL)  # pytest keeps every log record it captures
    tracemalloc.start()
    try:
        flood(MAX_ENTRIES)  # the tables are full
        full = tracemalloc.get_traced_memory()[0]
        flood(2 * MAX_ENTRIES)
        grown = tracemalloc.get_traced_memory()[0] - full
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)
    assert grown < full // 5, (full, grown)  # unbounded: twice as much again
    assert server.stats["bans"] == 3 * MAX_ENTRIES


def test_strike_book_expiry_bounds_and_hosts():
    from tianfu.p2p.strikes import StrikeBook, host_of

    book = StrikeBook(ttl_s=10.0, max_entries=2)
    assert book.strike("a" * 40, now=0.0) == 1
    assert book.strike("a" * 40, now=5.0) == 2
    assert book.strike("a" * 40, now=10.0) == 1  # the run began 10 s ago: forgotten
    book.ban("10.0.0.1", until=100.0, now=0.0)
    for i in range(5):  # fresh keys' bans never push a host's ban out
        book.ban(f"{i:040x}", until=100.0, now=0.0)
    assert book.is_banned("10.0.0.1", now=50.0) and not book.is_banned("10.0.0.1", now=100.0)
    assert len(book) <= 2 + 2 + 2
    assert host_of("2001:db8::1") == host_of("2001:db8::ffff:1") == "2001:db8::/64"
    assert host_of("2001:db8:0:1::1") != host_of("2001:db8::1")
    assert host_of("::ffff:10.0.0.1") == "10.0.0.1" and host_of("10.0.0.1") == "10.0.0.1"


def test_all_links_outbound_queues_together_are_bounded():
    """Each link's queue holds up to 64 MiB; links that stop reading (free identities)
    must not hold that much each: all queues together stay within `outbound_bytes`, the
    oldest frames of the biggest queue dropped first."""

    async def run():
        server = make("validator", [], outbound_bytes=4 << 20)
        await server.start()
        target = [server.listen_address]
        clients = [make("observer", [], listen=None, peers=target) for _ in range(3)]
        try:
            for c in clients:
                await c.start()
            await wait_for(lambda: len(server.peers()) == 3)
            frame = b"\x00" * (64 << 10)
            for _ in range(100):  # 6.4 MiB to each link, queued before any is written
                server.broadcast(KIND_STATUS, frame)
            queued = sum(link.queue.nbytes for link in server._links.values())
            assert queued <= 4 << 20, queued
        finally:
            for c in clients:
                await c.stop()
            await server.stop()

    asyncio.run(run())


def test_large_frames_of_outsiders_together_hold_at_most_the_inbound_budget():
    """A frame's body is read whole before it is handled: 64 links of free observer
    identities announcing 16 MiB frames each held up to 1 GiB of a validator's memory. Now
    an outsider's frame over 64 KiB is read only once it fits in the port's inbound budget,
    and a link that trickles its body is struck and closed at its deadline. Here (budget
    512 KiB) observer A announces 400 KiB and sends 100 KiB of it; observer B's 300 KiB frame
    is then read only after A's link is closed (it was read at once, beside A's)."""
    from tianfu.p2p.framing import encode_header

    async def run():
        got = []
        server = make("validator", got, max_frame=512 << 10, inbound_bytes=512 << 10,
                      body_min_s=3.0)  # fmt: skip
        await server.start()
        target = [server.listen_address]
        a = make("observer", [], listen=None, peers=target)
        b = make("observer", [], listen=None, peers=target)
        closed_when_b_arrived = []
        try:
            await a.start()
            await wait_for(lambda: server.peers() and a.peers())
            writer = a._links[server.address].writer
            writer.write(encode_header(KIND_TXS, 400 << 10) + b"\x00" * (100 << 10))
            await writer.drain()
            await wait_for(lambda: server._inbound_budget.used == 400 << 10)
            link_a = server._links[a.address]  # A's link as the server holds it
            await b.start()
            await wait_for(lambda: len(server.peers()) == 2 and b.peers())
            b.broadcast(KIND_TXS, b"\x01" * (300 << 10))
            await wait_for(lambda: any(pl[:1] == b"\x01" for _, _, pl in got), timeout=30)
            closed_when_b_arrived.append(link_a.closed.is_set())
            assert server._inbound_budget.used == 0
        finally:
            await b.stop()
            await a.stop()
            await server.stop()
        assert closed_when_b_arrived == [True]

    asyncio.run(run())


def test_inbound_budget_serves_in_order_and_a_cancelled_wait_holds_nothing():
    from tianfu.p2p.inbound import InboundBudget

    async def run():
        budget = InboundBudget(10)
        await budget.acquire(6)
        big = asyncio.create_task(budget.acquire(8))
        small = asyncio.create_task(budget.acquire(2))  # would fit, but waits its turn
        gone = asyncio.create_task(budget.acquire(3))
        await asyncio.sleep(0)
        assert not big.done() and not small.done() and budget.used == 6
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        budget.release(6)
        await asyncio.wait_for(asyncio.gather(big, small), 5)
        assert budget.used == 10
        budget.release(8)
        budget.release(2)
        assert budget.used == 0 and not budget._waiting
        with pytest.raises(ValueError):
            await budget.acquire(11)

    asyncio.run(run())
