"""A node's HTTP application: the chain API, every application's routes and the web console.

`tianfu.api.create_app` serves the chain (submission, reads, proofs, private data); the
applications (`tianfu.apps.registry`) and the console (`tianfu.web`) sit above the API
package in the layering, so a node composes them here, beside the chain routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tianfu.api.app import create_app
from tianfu.api.service import ChainService
from tianfu.apps.registry import PeerService, mount_apps
from tianfu.p2p.protocol import Network
from tianfu.web import install_console

__all__ = ["network_node_app", "node_app"]


def network_node_app(
    service: ChainService,
    data_dir: Path,
    network: Network | None,
    trusted_proxies: tuple[str, ...] = (),
) -> tuple[FastAPI, list[PeerService]]:
    """The HTTP application of a node on `network`, and the applications' p2p services (for
    the node to route their message kinds to, and to start and stop); `trusted_proxies`:
    `create_app`'s."""
    app = create_app(service, trusted_proxies=trusted_proxies)
    services = mount_apps(app, service, data_dir, network)
    install_console(app, service)  # the web console and offline /docs
    return app, services


def node_app(
    service: ChainService, data_dir: Path, trusted_proxies: tuple[str, ...] = ()
) -> FastAPI:
    """The HTTP application of a node without a p2p network of members (a solo node, a test
    chain, an observer); `trusted_proxies`: `create_app`'s."""
    app, _services = network_node_app(service, data_dir, None, trusted_proxies)
    return app
