"""An observer node serves its API with the operator's `[api] trusted_proxies`, as a member
node does: it built its application without them, so behind a reverse proxy every client
counted as the proxy — one client of the query gate (2 at once), the read budgets and the
event streams, and of the per-address connection cap (half the node's connections)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tianfu.node.observer_node as observer_node
from tianfu.api.limits import TrustedProxies
from tianfu.cli.main import app
from tianfu.node.config import NodeConfig

runner = CliRunner()


class _Served(Exception):
    """Stops the observer's start once its HTTP server is made."""


def test_an_observer_serves_with_its_trusted_proxies(tmp_path: Path, monkeypatch: Any) -> None:
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
    cfg = dataclasses.replace(NodeConfig.load(home), trusted_proxies=("10.0.0.0/8",))
    served: list[Any] = []

    def make_server(api: Any, host: str, port: int, **kw: Any) -> Any:
        served.append(api)
        raise _Served()

    monkeypatch.setattr(observer_node, "make_server", make_server)
    with pytest.raises(_Served):
        asyncio.run(observer_node.serve_observer_node(cfg))
    (api,) = served
    proxies = api.state.trusted_proxies
    assert isinstance(proxies, TrustedProxies) and proxies.trusts("10.1.2.3")
