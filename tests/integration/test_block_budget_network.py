"""On a real 4-validator network, a transaction whose receipt no block may hold (the halt of
a block that could not be stored) never stops the chain: it fails with a receipt or is
dropped by the proposers, every other transaction commits, and all nodes agree."""

from __future__ import annotations

import time

import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.client import ApiError
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.types import ConsensusParams
from tianfu.types.genesis import MAX_TX_RECEIPT_BYTES

pytestmark = pytest.mark.timeout(300)

SOURCE = (
    "def small(ctx):\n"
    "    return 'ok'\n"
    "\n"
    "def huge(ctx, n):\n"
    "    s = 'x' * n\n"
    "    return [s, s]\n"  # two references to one string: encoded twice in the receipt
)


def test_a_transaction_no_block_can_hold_never_halts_the_network(tmp_path):
    api, p2p = free_base_ports(4)
    params = ConsensusParams(max_block_receipt_bytes=MAX_TX_RECEIPT_BYTES)
    net, _ = LocalNetwork.prepare(
        tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p, params=params
    )
    net.start()
    try:
        net.wait_ready(timeout=90)
        urls = [net.url(c) for c in net.configs]
        env = LocalnetEnv(net)
        env.deploy("bigret", SOURCE)
        user = env.client(env.identity("org2", "big-receipts"))
        assert user.invoke("bigret", "small").ok  # registered
        huge = user.build_tx("bigret", "huge", 900_000)
        user.send(huge, wait=False)
        start = max(height(u) for u in urls)
        # The chain goes on: ordinary transactions after it commit, on every node.
        for _ in range(3):
            assert user.invoke("bigret", "small").result == "ok"
        wait_height(urls, start + 5, timeout=120)
        # The oversized one: a failed receipt, or never committed (the proposers drop it).
        deadline = time.monotonic() + 60
        outcome = None
        while outcome is None and time.monotonic() < deadline:
            try:
                info = user.get_tx(huge.hash.hex())
                outcome = "failed" if not info.receipt.ok else "committed ok"
            except ApiError:
                logs = [net.log_path(c).read_text(errors="replace") for c in net.configs]
                if any(f"dropping transaction {huge.hash.hex()}" in text for text in logs):
                    outcome = "dropped"
                else:
                    time.sleep(0.5)
        assert outcome in ("failed", "dropped"), outcome
        top = min(height(u) for u in urls)
        wait_height(urls, top + 2, timeout=60)  # and keeps committing afterwards
        assert_identical(urls)
    finally:
        net.stop()
