"""Strikes of fresh keys count against their host (observer port, ADR 0025): strikes were
per key only, so an attacker that made a new key per link and sent one forged frame on each
never brought a key to a ban, and its IP was never blamed."""

import asyncio

from test_observer_port import make, wait_for

from tianfu.p2p.protocol import PeerId
from tianfu.p2p.strikes import HOST_KEY_STRIKES, host_of


def test_fresh_keys_struck_once_each_ban_their_host():
    server = make("validator", [], max_strikes=3)
    host = host_of("2001:db8::1")
    for i in range(HOST_KEY_STRIKES * 3):
        assert not server.is_banned(host), i
        # a new key each time, from a new address of the same /64
        server.strike(f"{i:040x}", host_of(f"2001:db8::{i + 1:x}"), "forged transactions")
    assert server.is_banned(host) and server.is_banned("2001:db8::/64")
    assert not any(server.is_banned(f"{i:040x}") for i in range(HOST_KEY_STRIKES * 3))
    # Another host's keys are not touched by it, and a host is not banned by fewer.
    other = host_of("10.0.0.9")
    for i in range(HOST_KEY_STRIKES * 3 - 1):
        server.strike(f"{i + 100:040x}", other, "forged transactions")
    assert not server.is_banned(other)


def test_a_forged_verdict_after_the_link_closed_strikes_its_host():
    """Gossip's signature check tells `forged` after the frame was read: the attacker's link
    (a fresh key each time) is gone by then, and the verdict must still reach its host."""

    async def run():
        server = make("validator", [], max_strikes=3)
        await server.start()
        target = [server.listen_address]
        try:
            for i in range(HOST_KEY_STRIKES * 3):
                client = make("observer", [], listen=None, peers=target)
                await client.start()
                try:
                    await wait_for(lambda c=client: c.peers())
                finally:
                    await client.stop()
                await wait_for(lambda: not server.peers())
                assert not server.is_banned("127.0.0.1"), i
                peer = PeerId(client.address, "", "observer", client._keypair.public_key)
                server.forged(peer, 1)
            assert server.is_banned("127.0.0.1")
            refused = server.stats["refused_banned"]
            late = make("observer", [], listen=None, peers=target)
            await late.start()
            try:  # it dials and is refused: the host is banned
                await wait_for(lambda: server.stats["refused_banned"] > refused)
                assert not server.peers() and not late.peers()
            finally:
                await late.stop()
        finally:
            await server.stop()

    asyncio.run(run())
