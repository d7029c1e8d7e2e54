"""Unit tests: an outsider's inbound link that sends nothing for the observer port's
`idle_timeout` is closed (ADR 0025) — it held a link, and a place of its host, for as long
as it liked; a validator's link and a link this node dialed are never closed for it, a link
that sends frames stays, and one in the middle of a large frame waits for its body's own
pace. Counted by the port's sweeps (`idle_sweeps`), on loopback, with a short timeout."""

import asyncio

from test_observer_port import KIND_STATUS, make, wait_for

from tianfu.p2p.framing import HEADER_SIZE, encode_frame
from tianfu.p2p.inbound import SMALL_FRAME

IDLE = 1.0


async def _linked_from(server, client, ip):
    """`client` (started, not listening) linked to `server` from source address `ip`."""
    host, port = server.listen_address
    reader, writer = await asyncio.open_connection(
        host, port, ssl=client._client_ctx, server_hostname="", local_addr=(ip, 0)
    )
    cert = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    peer, role = await client._handshake(reader, writer, cert)
    return client._register(peer, role, host, reader, writer)


def _linked(server, client) -> bool:
    return client.address in {p.address for p in server.peers()}


async def _sweeps_past(server, n):
    """Wait for `n` more idle sweeps of `server` (each a quarter of its idle timeout)."""
    target = server.stats["idle_sweeps"] + n
    await wait_for(lambda: server.stats["idle_sweeps"] >= target)


def test_a_silent_outsider_link_is_closed_and_a_validators_never():
    async def run():
        validator_key = make("validator", [], listen=None)
        vpub = validator_key._keypair.public_key
        server = make("validator", [], idle_timeout=IDLE, is_validator_key=lambda k: k == vpub)
        await server.start()
        silent = make("observer", [], listen=None)
        talker = make("observer", [], listen=None)
        dialed = make("observer", [])  # the server dials it: not an inbound link of the server
        clients = [validator_key, silent, talker, dialed]
        for c in clients:
            await c.start()
        try:

            async def talk():
                while True:
                    talker.send(server.address, KIND_STATUS, b"tip")
                    await asyncio.sleep(0.05)

            await _linked_from(server, talker, "127.0.0.3")
            chatter = asyncio.create_task(talk())
            await _linked_from(server, validator_key, "127.0.0.4")
            server._targets.append(dialed.listen_address)
            server._spawn(server._dial_loop(dialed.listen_address), "dial")
            await wait_for(lambda: _linked(server, dialed) and _linked(server, validator_key))
            await _linked_from(server, silent, "127.0.0.2")
            await wait_for(lambda: server.stats["links_idle_closed"] == 1)
            assert not _linked(server, silent)
            await _sweeps_past(server, 12)  # three idle timeouts more
            chatter.cancel()
            assert server.stats["links_idle_closed"] == 1
            for c in (talker, validator_key, dialed):
                assert _linked(server, c), c.address
            assert not server.is_banned(silent.address) and not server.is_banned("127.0.0.2")
        finally:
            for c in clients:
                await c.stop()
            await server.stop()

    asyncio.run(run())


def test_a_link_in_the_middle_of_a_large_frame_is_not_idle():
    """The header of a frame over 64 KiB arrives, then its body's first bytes take longer
    than the idle timeout (within the body's own pace, 10 s at least): the link stays; the
    frame is handled, and once the link is silent again it is closed."""

    async def run():
        got = []
        server = make("validator", got, idle_timeout=IDLE)
        await server.start()
        client = make("observer", [], listen=None)
        await client.start()
        try:
            link = await _linked_from(server, client, "127.0.0.2")
            frame = encode_frame(KIND_STATUS, b"x" * (SMALL_FRAME + 1))
            link.writer.write(frame[:HEADER_SIZE])
            await link.writer.drain()
            await _sweeps_past(server, 8)  # two idle timeouts
            assert _linked(server, client) and server.stats["links_idle_closed"] == 0
            link.writer.write(frame[HEADER_SIZE:])
            await wait_for(lambda: got)
            await wait_for(lambda: not _linked(server, client))
            assert server.stats["links_idle_closed"] == 1
        finally:
            await client.stop()
            await server.stop()

    asyncio.run(run())


def test_node_toml_sets_the_idle_timeout(tmp_path):
    import pytest

    from tianfu.node.config import ConfigError, NodeConfig

    base = 'name = "o1"\norg = ""\n[observer]\nport = 9801\npeers = []\n'
    (tmp_path / "node.toml").write_text(base)
    assert NodeConfig.load(tmp_path).observer_idle_timeout == 60.0
    (tmp_path / "node.toml").write_text(base + "idle_timeout = 5\n")
    cfg = NodeConfig.load(tmp_path)
    assert cfg.observer_idle_timeout == 5.0
    (tmp_path / "node.toml").write_text(cfg.dump())
    assert NodeConfig.load(tmp_path).observer_idle_timeout == 5.0
    for bad in ("0", "-1", '"soon"', "true"):
        (tmp_path / "node.toml").write_text(base + f"idle_timeout = {bad}\n")
        with pytest.raises(ConfigError, match="idle_timeout"):
            NodeConfig.load(tmp_path)
