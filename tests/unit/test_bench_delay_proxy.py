"""The bench's userspace delay proxy: each direction delayed, bytes and order kept, the end
of a stream passed on, and bounded memory when the far side does not read."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from tianfu.bench.delay_links import delayed_params, route_through_proxies
from tianfu.bench.delay_proxy import READ_BYTES, DelayProxy, LinkProxies, ProxyError
from tianfu.types import ConsensusParams

DELAY = 0.08


async def _wait_for(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_each_direction_is_delayed_once():
    async def main():
        arrived: list[float] = []
        sent_back: list[float] = []

        async def upstream(reader, writer):
            await reader.readexactly(5)
            arrived.append(time.monotonic())
            sent_back.append(time.monotonic())
            writer.write(b"world")
            await writer.drain()
            await reader.read()  # until the client's EOF
            writer.close()

        server = await asyncio.start_server(upstream, "127.0.0.1", 0)
        proxy = DelayProxy(server.sockets[0].getsockname()[:2], DELAY)
        host, port = await proxy.start()
        reader, writer = await asyncio.open_connection(host, port)
        t0 = time.monotonic()
        writer.write(b"hello")
        assert await reader.readexactly(5) == b"world"
        t1 = time.monotonic()
        writer.close()
        await proxy.close()
        server.close()
        # Lower bounds only: a busy machine can make it later, never earlier.
        assert arrived[0] - t0 >= DELAY * 0.95  # client -> upstream
        assert t1 - sent_back[0] >= DELAY * 0.95  # upstream -> client
        assert t1 - t0 >= 2 * DELAY * 0.95

    asyncio.run(main())


def test_bytes_and_order_are_kept_both_ways():
    data = os.urandom(3 << 20)

    async def main():
        async def echo(reader, writer):
            while chunk := await reader.read(50_000):
                writer.write(chunk)
                await writer.drain()
            writer.write_eof()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        proxy = DelayProxy(server.sockets[0].getsockname()[:2], 0.005)
        reader, writer = await asyncio.open_connection(*await proxy.start())

        async def send():
            for i in range(0, len(data), 7919):  # odd-sized writes
                writer.write(data[i : i + 7919])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.ensure_future(send())
        got = await asyncio.wait_for(reader.read(-1), 60)  # until the echoed EOF
        await sender
        writer.close()
        await proxy.close()
        server.close()
        assert got == data

    asyncio.run(main())


def test_closing_is_passed_on_both_ways():
    async def main():
        upstream_saw_eof = asyncio.Event()

        async def upstream(reader, writer):
            assert await reader.read() == b"bye"  # read() returns at the client's EOF
            upstream_saw_eof.set()
            writer.write(b"ok")
            writer.close()  # and the client must see this end

        server = await asyncio.start_server(upstream, "127.0.0.1", 0)
        proxy = DelayProxy(server.sockets[0].getsockname()[:2], 0.02)
        reader, writer = await asyncio.open_connection(*await proxy.start())
        writer.write(b"bye")
        writer.write_eof()
        await asyncio.wait_for(upstream_saw_eof.wait(), 20)
        assert await asyncio.wait_for(reader.read(), 20) == b"ok"  # then EOF
        await _wait_for(lambda: not proxy._conns)  # the proxied connection is gone
        writer.close()
        await proxy.close()
        server.close()

    asyncio.run(main())


def test_a_refused_upstream_closes_the_client():
    async def main():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[:2]  # bound, never listening: connections are refused
            proxy = DelayProxy(dead, 0.01)
            reader, writer = await asyncio.open_connection(*await proxy.start())
            assert await asyncio.wait_for(reader.read(), 20) == b""
            writer.close()
            await proxy.close()

    asyncio.run(main())


def test_buffers_are_bounded_when_the_far_side_does_not_read():
    limit = 256 << 10
    total = 48 << 20  # far more than the kernel's socket buffers hold

    async def main():
        start_reading = asyncio.Event()
        received = bytearray()

        async def slow(reader, writer):
            await start_reading.wait()
            while chunk := await reader.read(1 << 20):
                received.extend(chunk)
            writer.close()

        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        proxy = DelayProxy(server.sockets[0].getsockname()[:2], 0.0, buffer_bytes=limit)
        reader, writer = await asyncio.open_connection(*await proxy.start())
        data = bytes(range(256)) * (total // 256)
        writer.write(data)
        writer.write_eof()

        def held() -> int:
            return sum(p.buffered for p in proxy.pipes())  # what the proxy holds in memory

        await _wait_for(lambda: held() >= limit)
        # The proxy stopped reading at its limit: the rest waits in the client and the kernel.
        assert held() <= limit + READ_BYTES
        assert writer.transport.get_write_buffer_size() > 0
        start_reading.set()
        await _wait_for(lambda: len(received) == total, 60)
        assert bytes(received) == data
        writer.close()
        await proxy.close()
        server.close()

    asyncio.run(main())


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        DelayProxy(("127.0.0.1", 1), -1.0)
    with pytest.raises(ValueError):
        DelayProxy(("127.0.0.1", 1), 0.0, buffer_bytes=0)
    with pytest.raises(ProxyError):
        DelayProxy(("127.0.0.1", 1), 0.0).address  # noqa: B018 (not started)


def test_link_proxies_in_a_thread_and_delayed_timeouts(tmp_path):
    from tianfu.node.localnet import LocalNetwork

    net, _ = LocalNetwork.prepare(
        tmp_path / "net", 3, True, api_base_port=30100, p2p_base_port=30150
    )
    before = {c.name: c.peers for c in net.configs}
    proxies = route_through_proxies(net, 25.0)
    try:
        reloaded = {c.name: c for c in LocalNetwork.prepare(tmp_path / "net", 3, False)[0].configs}
        for cfg in net.configs:
            assert len(cfg.peers) == len(before[cfg.name]) == 2
            assert not set(cfg.peers) & set(before[cfg.name])  # every peer is now a proxy
            assert reloaded[cfg.name].peers == cfg.peers  # and node.toml says so
            for address in cfg.peers:
                socket.create_connection(address, timeout=5).close()  # listening
    finally:
        proxies.stop()
    default = ConsensusParams()
    p = delayed_params(50)
    assert p.timeout_propose_ms == default.timeout_propose_ms + 200
    assert p.timeout_vote_ms == default.timeout_vote_ms + 100
    assert p.max_block_txs == default.max_block_txs and delayed_params(0) == default
    LinkProxies(0.0).stop()
