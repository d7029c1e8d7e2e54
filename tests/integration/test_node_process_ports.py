"""The test harness's node processes: a port chosen for a node is free when chosen, and may
be taken by another process before the node binds it (eight engineers' and CI's tests share
the machine); the node is then started again on another port, never failing the test."""

import socket

import pytest

from tianfu.client.transport import http_get
from tianfu.testing import processes

pytestmark = pytest.mark.timeout(240)


def test_a_node_whose_chosen_port_was_taken_meanwhile_starts_on_another(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen = iter([port])
        free = processes.free_port
        monkeypatch.setattr(processes, "free_port", lambda: next(chosen, None) or free())
        node = processes.NodeProcess(tmp_path / "home")
        assert node.port == port  # the port chosen is taken before the node binds it
        try:
            node.start()
            assert node.port != port
            assert http_get(node.url + "/v1/status", timeout=30).json()["height"] >= 1
        finally:
            node.stop()


def test_a_port_the_test_gave_is_not_replaced(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        node = processes.NodeProcess(tmp_path / "home", port)
        try:
            with pytest.raises(processes.PortTaken):
                node.start()
            assert node.port == port
        finally:
            node.stop()
