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
from test_node_partial_start import observer_home
from typer.testing import CliRunner

import tianfu.node.observer_node as observer_node
from tianfu.api.limits import TrustedProxies

runner = CliRunner()


class _Served(Exception):
    """Stops the observer's start once its HTTP server is made."""


def test_an_observer_serves_with_its_trusted_proxies(tmp_path: Path, monkeypatch: Any) -> None:
    cfg = dataclasses.replace(observer_home(tmp_path), trusted_proxies=("10.0.0.0/8",))
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
