"""Unit tests: the observer port's handshake slots and links are not held by strangers — a
host's unfinished connections, fresh keys' links and slow handshakes cannot keep an honest
observer from another host out (ADR 0025), on loopback with several source addresses."""

import asyncio
import ssl

from test_observer_port import make, wait_for

from tianfu.codec import decode, encode
from tianfu.p2p.framing import encode_frame, read_frame
from tianfu.p2p.observer import (
    KIND_OBSERVER_HELLO,
    KIND_OBSERVER_PROOF,
    OBSERVER_VERSION,
    ObserverHello,
    ObserverProof,
    proof_message,
)

CHAIN = "open-test"


def _tls() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


async def _idle(server, ip):
    """A connection from `ip` that finishes TLS and then sends nothing."""
    host, port = server.listen_address
    return await asyncio.open_connection(host, port, ssl=_tls(), local_addr=(ip, 0))


async def _link_from(server, ip):
    """A fresh observer key linked to `server` from the source address `ip`."""
    client = make("observer", [], listen=None)
    await client.start()
    host, port = server.listen_address
    reader, writer = await asyncio.open_connection(
        host, port, ssl=client._client_ctx, server_hostname="", local_addr=(ip, 0)
    )
    cert = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    peer, role = await client._handshake(reader, writer, cert)
    client._register(peer, role, host, reader, writer)
    return client


def _linked(server, client) -> bool:
    return client.address in {p.address for p in server.peers()}


def test_one_hosts_unfinished_connections_cannot_hold_every_handshake():
    """Connections from one host that finish TLS and send nothing more held every handshake
    the port would run (they counted against `max_links` with no limit per host), so an
    observer from another host was refused until they timed out; now one host holds at
    most `max_handshakes_per_host` slots and the rest of its connections are refused."""

    async def run():
        server = make("validator", [], max_links=4, handshake_timeout=60.0)
        await server.start()
        idle = []
        honest = make("observer", [], listen=None, peers=[server.listen_address])
        try:
            for _ in range(8):
                try:
                    idle.append(await _idle(server, "127.0.0.2"))
                except (ConnectionError, ssl.SSLError):  # refused: the host holds its share
                    pass
            await wait_for(lambda: server.pending_handshakes() >= 4)
            await honest.start()
            await wait_for(lambda: _linked(server, honest), timeout=30.0)
            assert server.stats["handshakes_refused"] >= 4  # the host's connections past 4
            assert not server.is_banned("127.0.0.1")
        finally:
            for _, w in idle:
                w.close()
            await honest.stop()
            await server.stop()

    asyncio.run(run())


def test_many_hosts_unfinished_connections_give_way_to_a_new_one():
    """Unfinished connections from many hosts fill every handshake slot; a new connection
    takes the slot of the oldest past its grace (aborted, not struck), so an honest
    observer still links long before the idle ones' handshake timeout."""

    async def run():
        server = make(
            "validator", [], max_links=8, handshake_timeout=60.0, max_handshakes=4,
            max_handshakes_per_host=1,
        )  # fmt: skip
        await server.start()
        idle = [await _idle(server, f"127.0.0.{i}") for i in range(2, 6)]
        honest = make("observer", [], listen=None, peers=[server.listen_address])
        try:
            await wait_for(lambda: server.pending_handshakes() == 4)
            await honest.start()
            await wait_for(lambda: _linked(server, honest), timeout=30.0)
            assert server.stats["handshakes_evicted"] >= 1
            assert not any(server.is_banned(f"127.0.0.{i}") for i in range(2, 6))
        finally:
            for _, w in idle:
                w.close()
            await honest.stop()
            await server.stop()

    asyncio.run(run())


def test_one_hosts_fresh_keys_filling_the_port_give_way_to_another_host():
    """Fresh observer keys from one host take every link of the port; an observer from
    another host takes the place of one of them, and the flooding host's next fresh key is
    refused (it holds no fewer links than the host it would push out)."""

    async def run():
        server = make("validator", [], max_links=3, max_links_per_host=16)
        await server.start()
        sybils = [await _link_from(server, "127.0.0.2") for _ in range(3)]
        honest = make("observer", [], listen=None, peers=[server.listen_address])
        late = []
        try:
            await wait_for(lambda: len(server.peers()) == 3)
            await honest.start()
            await wait_for(lambda: _linked(server, honest), timeout=30.0)
            assert len(server.peers()) == 3 and server.stats["links_evicted"] == 1
            refused = server.stats["links_refused_full"]
            late.append(await _link_from(server, "127.0.0.2"))
            await wait_for(lambda: server.stats["links_refused_full"] > refused)
            assert _linked(server, honest) and not _linked(server, late[0])
            # A third host takes the place of the flooding host's second link; then every
            # host holds one and a fourth host pushes none of them out.
            late.append(await _link_from(server, "127.0.0.3"))
            await wait_for(lambda: _linked(server, late[-1]))
            assert server.stats["links_evicted"] == 2 and _linked(server, honest)
            late.append(await _link_from(server, "127.0.0.4"))
            await wait_for(lambda: server.stats["links_refused_full"] > refused + 1)
            assert _linked(server, honest) and server.stats["links_evicted"] == 2
            assert len(server.peers()) == 3
        finally:
            for t in [honest, *sybils, *late]:
                await t.stop()
            await server.stop()

    asyncio.run(run())


def test_a_handshake_must_end_within_the_timeout_not_each_frame():
    """A valid handshake whose HELLO and proof each came just within the timeout held its
    slot for twice the timeout; the whole handshake must now end within it."""

    async def run():
        timeout = 2.0
        server = make("validator", [], handshake_timeout=timeout)
        await server.start()
        client = make("observer", [], listen=None)
        kp = client._keypair
        try:
            reader, writer = await _idle(server, "127.0.0.2")
            cert = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            nonce = bytes(32)
            _, payload = await read_frame(reader, 512)  # its HELLO, sent at once
            their_nonce = decode(payload, ObserverHello).nonce
            await asyncio.sleep(0.6 * timeout)
            hello = ObserverHello(OBSERVER_VERSION, CHAIN, nonce)
            writer.write(encode_frame(KIND_OBSERVER_HELLO, encode(hello)))
            await asyncio.sleep(0.6 * timeout)
            msg = proof_message(CHAIN, cert, their_nonce, nonce, "observer")
            proof = ObserverProof(kp.scheme, kp.public_key, "observer", kp.sign(msg))
            writer.write(encode_frame(KIND_OBSERVER_PROOF, encode(proof)))
            await wait_for(lambda: server.stats["handshakes_failed"] >= 1)
            assert not server.peers()
            writer.close()
        finally:
            await server.stop()

    asyncio.run(run())


def test_connections_that_never_finish_tls_are_not_struck():
    """A port probe (TCP connect, then close, no TLS) fails its handshake but is not a
    strike: monitoring that checks the port must not get its host banned. Garbage after
    TLS still is (`test_garbage_handshakes_ban_the_ip_and_links_are_capped`)."""

    async def run():
        server = make("validator", [], max_strikes=2)
        await server.start()
        host, port = server.listen_address
        try:
            for _ in range(4):
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
            await wait_for(lambda: server.stats["handshakes_failed"] >= 4)
            assert not server.is_banned("127.0.0.1")
            honest = make("observer", [], listen=None, peers=[server.listen_address])
            await honest.start()
            await wait_for(lambda: _linked(server, honest))
            await honest.stop()
        finally:
            await server.stop()

    asyncio.run(run())


def test_one_hosts_frames_at_the_minimum_rate_hold_a_quarter_of_the_inbound_budget():
    """Links of one host announcing large frames and sending them at the minimum rate (here:
    within a long deadline) held the whole inbound budget as long as the frames took, and
    another host's large frame waited for them; now a host holds at most a quarter (or one
    frame) and the other host's frame is read at once, while theirs still wait."""
    from tianfu.p2p.framing import encode_header
    from tianfu.p2p.protocol import KIND_TXS

    async def run():
        got = []
        server = make("validator", got, max_frame=128 << 10, inbound_bytes=512 << 10,
                      body_min_s=120.0)  # fmt: skip
        await server.start()
        flood = [await _link_from(server, "127.0.0.2") for _ in range(4)]
        honest = make("observer", [], listen=None, peers=[server.listen_address])
        try:
            await wait_for(lambda: len(server.peers()) == 4)
            for t in flood:  # each announces a 128 KiB frame and sends 1 KiB of it
                writer = t._links[server.address].writer
                writer.write(encode_header(KIND_TXS, 128 << 10) + b"\x00" * 1024)
                await writer.drain()
            await wait_for(lambda: server._inbound_budget.used >= 128 << 10)
            await honest.start()
            await wait_for(lambda: _linked(server, honest))
            honest.broadcast(KIND_TXS, b"\x01" * (100 << 10))
            await wait_for(lambda: any(pl[:1] == b"\x01" for _, _, pl in got), timeout=30)
            assert len(server.peers()) == 5  # the flooding links are all still open
            assert server._inbound_budget.held.get("127.0.0.2") == 128 << 10
        finally:
            for t in [honest, *flood]:
                await t.stop()
            await server.stop()

    asyncio.run(run())
