"""A `tianfu node start` that fails after opening its store (the signer file missing, the
consensus driver's start or a p2p service's start failing) closes the store and stops what it
started: it closed the store only after serving, so six handles on chain.db, its WAL and shm
stayed open, and the transports started before the failing step kept running. In-process
users (tests, the dev chain, a supervisor that retries) leaked fds and ports. Opening the
store itself failing part way (below) leaves nothing open either."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tianfu.node.observer_node as observer_node
from tianfu.cli.main import app
from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.privval import SIGNER_FILE
from tianfu.node.config import NodeConfig
from tianfu.node.netinit import init_network
from tianfu.node.netnode import serve_network_node
from tianfu.privdata.distribution import Distributor

runner = CliRunner()


class Boom(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _base_port() -> int:
    """A base port for `init_network`, whose node 1 listens on base + 1: that port was free
    (the free port itself, given as base + 1), not the unchecked one after it, which another
    program on a busy machine may hold."""
    return _free_port() - 1


def _open_under(directory: Path) -> list[str]:
    """The files under `directory` this process holds open (its /proc/self/fd links)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own fd, closed meanwhile
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def _fail(*_: object, **__: object) -> None:
    raise Boom("fails here")


async def _fail_async(*_: object, **__: object) -> None:
    raise Boom("fails here")


def _no_signer(cfg: NodeConfig, monkeypatch: pytest.MonkeyPatch) -> type[Exception]:
    (cfg.data / SIGNER_FILE).unlink()
    from tianfu.consensus.privval import PrivValStateError

    return PrivValStateError


def _driver_start_fails(cfg: NodeConfig, monkeypatch: pytest.MonkeyPatch) -> type[Exception]:
    monkeypatch.setattr(ConsensusDriver, "start", _fail_async)
    return Boom


def _private_start_fails(cfg: NodeConfig, monkeypatch: pytest.MonkeyPatch) -> type[Exception]:
    monkeypatch.setattr(Distributor, "start", _fail_async)
    return Boom


@pytest.mark.parametrize(
    "failing", [_no_signer, _driver_start_fails, _private_start_fails], ids=lambda f: f.__name__
)
def test_a_start_that_fails_part_way_leaves_nothing_open(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: Callable[[NodeConfig, pytest.MonkeyPatch], type[Exception]],
) -> None:
    layout = init_network(
        tmp_path / "net", orgs=1, api_base_port=_base_port(), p2p_base_port=_base_port()
    )
    cfg = layout.nodes[0]
    expected = failing(cfg, monkeypatch)
    left: list[str] = []

    async def run() -> None:
        with pytest.raises(expected):
            await serve_network_node(cfg)
        # Nothing the start began still runs: no transport task, no driver timer.
        left.extend(t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task())

    asyncio.run(run())
    assert left == []
    assert _open_under(tmp_path) == []
    for port in (cfg.api_port, cfg.p2p_port):  # bindable again
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((cfg.api_host if port == cfg.api_port else cfg.p2p_host, port))
            s.listen()


def test_a_node_stopped_after_serving_leaves_nothing_open(tmp_path: Path) -> None:
    """The signer file and the consensus WAL are closed too, not only the store."""
    layout = init_network(
        tmp_path / "net", orgs=1, api_base_port=_base_port(), p2p_base_port=_base_port()
    )
    cfg = layout.nodes[0]

    async def run() -> list[str]:
        node = asyncio.create_task(serve_network_node(cfg))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not any(f.endswith("consensus.wal") for f in _open_under(tmp_path)):
            assert not node.done(), node.exception()
            assert loop.time() < deadline, "the node did not start"
            await asyncio.sleep(0.05)
        while True:  # serving: its API port answers
            try:
                _, writer = await asyncio.open_connection(cfg.api_host, cfg.api_port)
                writer.close()
                break
            except OSError:
                assert loop.time() < deadline, "the API did not answer"
                await asyncio.sleep(0.05)
        node.cancel()
        with pytest.raises(asyncio.CancelledError):
            await node
        return [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
    assert _open_under(tmp_path) == []


def observer_home(tmp_path: Path) -> NodeConfig:
    """The config of an observer initialised beside a one-organisation open network."""
    out = tmp_path / "net"
    r = runner.invoke(
        app, ["network", "init", "--out", str(out), "--orgs", "1", "--profile", "open"]
    )
    assert r.exit_code == 0, r.output
    member = NodeConfig.load(out / "org1" / "node1")
    home = tmp_path / "obs"
    r = runner.invoke(
        app,
        ["node", "init-observer", "--home", str(home), "--genesis", str(out / "genesis.bin"),
         "--peer", f"127.0.0.1:{member.observer_port}", "--api", "127.0.0.1:0"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return NodeConfig.load(home)


class _FailingServer:
    async def serve(self, sockets: Any = None) -> None:
        raise Boom("the API server fails")


@pytest.mark.parametrize("at", ["make_server", "serve"])
def test_an_observer_start_that_fails_part_way_leaves_nothing_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: str
) -> None:
    cfg = observer_home(tmp_path)
    monkeypatch.setattr(
        observer_node,
        "make_server",
        _fail if at == "make_server" else lambda *a, **k: _FailingServer(),
    )

    async def run() -> list[str]:
        with pytest.raises(Boom):
            await observer_node.serve_observer_node(cfg)
        return [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
    assert _open_under(cfg.home) == []


def test_a_dev_chain_start_that_fails_part_way_closes_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tianfu.crypto import ED25519
    from tianfu.identity import Identity
    from tianfu.node import runner
    from tianfu.node.dev import init_dev, load_genesis

    home = tmp_path / "dev"
    init_dev(home, ED25519)
    genesis = load_genesis(home)
    node_id = Identity.load(home / "identities" / "node")
    monkeypatch.setattr(runner, "make_server", _fail)
    with pytest.raises(Boom):
        asyncio.run(runner.serve_solo(home / "data", genesis, node_id, "127.0.0.1", 0))
    assert _open_under(home) == []


# A failure inside opening the store itself, after SQLite has opened the file: a header that
# is not a database's (failing in the connection's first statements), the quick check
# failing with something that is not a store error (a full disk, Ctrl-C), or the service on
# the opened ledger failing. Each left handles on chain.db open (the first until the
# garbage collector ran), as the callers get no store to close.


def _not_a_database(data: Path, monkeypatch: pytest.MonkeyPatch) -> type[BaseException]:
    data.mkdir(parents=True, exist_ok=True)
    (data / "chain.db").write_bytes(b"not a database, " * 256)
    from tianfu.node.storeguard import StoreRefused

    return StoreRefused


def _check_fails(data: Path, monkeypatch: pytest.MonkeyPatch) -> type[BaseException]:
    import tianfu.node.storeguard as storeguard

    def full_disk(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storeguard, "check_store", full_disk)
    return OSError


def _service_fails(data: Path, monkeypatch: pytest.MonkeyPatch) -> type[BaseException]:
    import tianfu.node.wiring as wiring

    monkeypatch.setattr(wiring, "NodeService", _fail)
    return Boom


def _interrupted_loading(data: Path, monkeypatch: pytest.MonkeyPatch) -> type[BaseException]:
    """Ctrl-C while the store loads its tx hashes at open (seconds on a long chain)."""
    from tianfu.store.connection import StoreFile

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(StoreFile, "_load_seen", staticmethod(interrupted))
    return KeyboardInterrupt


_OPEN_FAILURES = [_not_a_database, _interrupted_loading, _check_fails, _service_fails]


@pytest.mark.parametrize("failing", _OPEN_FAILURES, ids=lambda f: f.__name__)
def test_a_network_node_whose_store_fails_to_open_leaves_nothing_open(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: Callable[[Path, pytest.MonkeyPatch], type[BaseException]],
) -> None:
    layout = init_network(
        tmp_path / "net", orgs=1, api_base_port=_base_port(), p2p_base_port=_base_port()
    )
    cfg = layout.nodes[0]
    expected = failing(cfg.data, monkeypatch)

    async def run() -> list[str]:
        with pytest.raises(expected):
            await serve_network_node(cfg)
        return [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
    assert _open_under(tmp_path) == []


@pytest.mark.parametrize("failing", _OPEN_FAILURES, ids=lambda f: f.__name__)
def test_an_observer_whose_store_fails_to_open_leaves_nothing_open(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: Callable[[Path, pytest.MonkeyPatch], type[BaseException]],
) -> None:
    cfg = observer_home(tmp_path)
    expected = failing(cfg.data, monkeypatch)

    async def run() -> list[str]:
        with pytest.raises(expected):
            await observer_node.serve_observer_node(cfg)
        return [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
    assert _open_under(cfg.home) == []


@pytest.mark.parametrize(
    "failing", [_not_a_database, _interrupted_loading, _check_fails], ids=lambda f: f.__name__
)
def test_a_dev_chain_whose_store_fails_to_open_leaves_nothing_open(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: Callable[[Path, pytest.MonkeyPatch], type[BaseException]],
) -> None:
    from tianfu.crypto import ED25519
    from tianfu.identity import Identity
    from tianfu.node import runner
    from tianfu.node.dev import init_dev, load_genesis

    home = tmp_path / "dev"
    init_dev(home, ED25519)
    genesis = load_genesis(home)
    node_id = Identity.load(home / "identities" / "node")
    expected = failing(home / "data", monkeypatch)
    with pytest.raises(expected):
        asyncio.run(runner.serve_solo(home / "data", genesis, node_id, "127.0.0.1", 0))
    assert _open_under(home) == []


def test_a_store_check_running_when_the_node_stops_ends_before_the_store_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read error starts a store check (a task, in a worker thread); the node stopping
    meanwhile ends that check and waits for it before closing the store: it had left the
    task running past the node's end, checking a closed store."""
    import threading

    import tianfu.node.storeguard as storeguard
    from tianfu.store import StoreDamaged

    layout = init_network(
        tmp_path / "net", orgs=1, api_base_port=_base_port(), p2p_base_port=_base_port()
    )
    cfg = layout.nodes[0]
    guards: list[storeguard.StoreGuard] = []
    attach = storeguard.StoreGuard.attach

    def attach_and_keep(self: storeguard.StoreGuard) -> None:
        guards.append(self)
        attach(self)

    monkeypatch.setattr(storeguard.StoreGuard, "attach", attach_and_keep)
    started, released = threading.Event(), threading.Event()
    store_closed_at_end: list[bool] = []

    def long_check(store: Any, *_: object, progress: Any = None, **__: object) -> None:
        """A quick check of a big store: it goes on (reporting progress) until released."""
        started.set()
        try:
            while not released.wait(0.01):
                if progress is not None:
                    progress("headers", 0, 1)
        finally:
            store_closed_at_end.append(store._closed)
        raise AssertionError("released: the node stopped without ending the check")

    async def run() -> list[str]:
        node = asyncio.create_task(serve_network_node(cfg))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not any(f.endswith("consensus.wal") for f in _open_under(tmp_path)):
            assert not node.done(), node.exception()
            assert loop.time() < deadline, "the node did not start"
            await asyncio.sleep(0.05)
        monkeypatch.setattr(storeguard, "check_store", long_check)
        heard = guards[0].ledger.store.on_damage
        assert heard is not None
        heard(StoreDamaged("a read failed"))
        while not started.is_set():
            assert loop.time() < deadline, "no store check started"
            await asyncio.sleep(0.02)
        node.cancel()
        with pytest.raises(asyncio.CancelledError):
            await node
        left = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        released.set()  # (a check still running ends now)
        return left

    try:
        assert asyncio.run(run()) == []
    finally:
        released.set()
    assert store_closed_at_end == [False]  # ended before the store was closed
    assert guards[0].checks == 0  # and it did not count as a check passed
    assert _open_under(tmp_path) == []
