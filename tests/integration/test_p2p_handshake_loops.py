"""TLS handshakes of the p2p server on both event loops a node may run on (uvloop and asyncio).

A client's first TLS flight can be waiting in the socket before the server's loop even
accepts the connection (a busy loop, a peer that dials the moment it starts). The server
must still complete the handshake: nothing but the TLS layer may read the connection.
A connection that closes before its handshake is a failed handshake, not a peer "without
a certificate".
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from tianfu.identity import OrgCA
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.tls import make_context

pytestmark = pytest.mark.timeout(60)

ORG = OrgCA.create("OrgA")
SERVER = ORG.issue("s1", "node")
CLIENT = ORG.issue("c1", "node")
CAS = {"OrgA": ORG.cert_der}

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


def run_on(loop_name: str, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        runner.run(asyncio.wait_for(body(), 30))


def server() -> TlsNetwork:
    return TlsNetwork(
        SERVER,
        lambda: CAS,
        lambda _a: False,
        lambda *_: None,
        ("127.0.0.1", 0),
        [],
        handshake_timeout=3.0,
    )


def blocking_tls_client(port: int, result: dict[str, Any]) -> None:
    """Connect and handshake with a blocking socket (its ClientHello leaves at once)."""
    ctx = make_context(CLIENT, CAS, server=False)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=4.0) as raw:
            with ctx.wrap_socket(raw) as tls:
                result["peer_cert"] = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        result["error"] = repr(exc)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_handshake_completes_when_the_client_hello_arrives_before_the_accept(loop_name) -> None:
    async def body() -> None:
        net = server()
        await net.start()
        port = net.listen_address[1]
        result: dict[str, Any] = {}
        try:
            # Block the server's loop while the client connects and sends its ClientHello:
            # when the loop wakes up, the connection and its first bytes are both there.
            client = threading.Thread(target=blocking_tls_client, args=(port, result))
            client.start()
            time.sleep(0.5)  # blocks the loop on purpose (this thread runs the loop)
            deadline = asyncio.get_running_loop().time() + 10
            while client.is_alive() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            client.join(5)
        finally:
            await net.stop()
        assert result.get("peer_cert") == SERVER.cert_der, result

    run_on(loop_name, body)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_connection_closed_before_the_handshake_is_not_a_rejected_peer(loop_name) -> None:
    async def body() -> None:
        net = server()
        await net.start()
        host, port = net.listen_address
        try:
            for _ in range(20):
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while net.stats["handshakes_failed"] < 20 and loop.time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            await net.stop()
        assert net.stats["peers_rejected"] == 0, net.stats
        assert net.stats["handshakes_failed"] == 20, net.stats

    run_on(loop_name, body)
