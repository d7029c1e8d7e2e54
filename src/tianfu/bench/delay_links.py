"""Delayed validator links for a bench network: a `DelayProxy` on every link, and round
timeouts that fit the delay."""

from __future__ import annotations

from dataclasses import replace

import msgspec

from tianfu.bench.delay_proxy import LinkProxies
from tianfu.node.localnet import LocalNetwork
from tianfu.types import ConsensusParams

DEFAULTS = ConsensusParams()
MAX_DELAY_MS = 1000.0  # one way; the bench refuses more


def delayed_params(delay_ms: float) -> ConsensusParams:
    """Round timeouts grown with the one-way delay: a proposal takes one delay to arrive,
    a vote step two (its votes out, the others' in), so the propose timeout gains 4 × and
    the vote timeout and per-round increment 2 × the delay. Nothing else changes."""
    d = round(delay_ms)
    return msgspec.structs.replace(
        DEFAULTS,
        timeout_propose_ms=DEFAULTS.timeout_propose_ms + 4 * d,
        timeout_vote_ms=DEFAULTS.timeout_vote_ms + 2 * d,
        timeout_delta_ms=DEFAULTS.timeout_delta_ms + 2 * d,
    )


def network_params(delay_ms: float | None, block_interval_ms: int | None) -> ConsensusParams | None:
    """The genesis parameters of a bench network: round timeouts grown with a one-way
    delay (`delayed_params`), the shortest time between blocks if given; None when both
    are the defaults."""
    if delay_ms is None and block_interval_ms is None:
        return None
    params = DEFAULTS if delay_ms is None else delayed_params(delay_ms)
    if block_interval_ms is not None:
        params = msgspec.structs.replace(params, block_interval_ms=block_interval_ms)
    return params


def route_through_proxies(net: LocalNetwork, delay_ms: float) -> LinkProxies:
    """Put a delay proxy on every validator-to-validator link: node i dials node j through
    its own proxy, so each direction of every connection is delayed once. The node
    configurations are rewritten before the nodes start; the caller stops the proxies."""
    proxies = LinkProxies(delay_ms / 1000, host=net.configs[0].p2p_host)
    try:
        configs = []
        for cfg in net.configs:
            new = replace(cfg, peers=proxies.add_all(cfg.peers))
            new.save()
            configs.append(new)
    except BaseException:
        proxies.stop()
        raise
    net.configs = configs
    return proxies
