"""`tianfu node start` binds its p2p and observer ports once, before anything else, and
hands the listening sockets to the transports. It checked them free (a socket bound and
closed at once) and the transports bound them later, after the store was opened: two
starts in that window both passed the check, and the second logged "up", opened its
store and then died on the bind."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_observer_port import make, wait_for

from tianfu.api.server import PortInUse
from tianfu.node.wiring import node_sockets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg(home: Path) -> SimpleNamespace:
    return SimpleNamespace(home=home, api_host="127.0.0.1", api_port=0, p2p_host="127.0.0.1")


def test_a_second_start_in_the_window_finds_the_p2p_ports_taken(tmp_path: Path) -> None:
    p2p, observer = _free_port(), _free_port()
    ports = [("p2p", p2p), ("observer", observer)]
    api, listeners = node_sockets(_cfg(tmp_path / "a"), ports)  # type: ignore[arg-type]
    try:
        assert sorted(listeners) == ["observer", "p2p"]
        assert listeners["p2p"].getsockname()[1] == p2p
        assert listeners["observer"].getsockname()[1] == observer
        for section, port in ports:  # another node's start, in the window
            with pytest.raises(PortInUse) as err:
                node_sockets(_cfg(tmp_path / "b"), [(section, port)])  # type: ignore[arg-type]
            assert f"the node's {section} port {port} on 127.0.0.1 is already in use" in str(
                err.value
            )
            assert f"[{section}] port in" in str(err.value)
    finally:
        for sock in (api, *listeners.values()):
            sock.close()


def test_a_taken_p2p_port_closes_what_was_bound(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        free = _free_port()
        with pytest.raises(PortInUse):
            node_sockets(_cfg(tmp_path), [("p2p", free), ("observer", taken)])  # type: ignore[arg-type]
    api, listeners = node_sockets(_cfg(tmp_path), [("p2p", free)])  # (free again)
    for sock in (api, *listeners.values()):
        sock.close()


def test_the_observer_transport_listens_on_the_socket_it_is_given() -> None:
    async def run() -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        got: list[object] = []
        server = make("validator", got, listen=("127.0.0.1", port), listener=sock)
        await server.start()
        client = make("observer", [], listen=None, peers=[("127.0.0.1", port)])
        await client.start()
        try:
            assert server.listen_address == ("127.0.0.1", port)
            await wait_for(lambda: server.peers() and client.peers())
        finally:
            await client.stop()
            await server.stop()

    asyncio.run(run())
