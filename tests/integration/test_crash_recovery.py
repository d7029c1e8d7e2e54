"""kill -9 a node during a stream of transactions: nothing acknowledged is lost, the chain
goes on, and replaying every block from genesis gives the stored state root."""

from __future__ import annotations

import threading
import time

import pytest

from tianfu.client import Client
from tianfu.client.errors import ClientError
from tianfu.ledger.replay import replay_chain
from tianfu.store import Store
from tianfu.testing.devchain import DevChain
from tianfu.testing.processes import NodeProcess

pytestmark = pytest.mark.timeout(240)


def test_kill9_during_load_then_restart_and_replay(tmp_path):
    home = tmp_path / "home"
    node = NodeProcess(home).start()
    chain = DevChain(node)
    admin = chain.deploy_asset()
    user_addr = chain.user.info.address
    admin.invoke("asset", "mint", user_addr, 1_000_000)
    chain.client(chain.user).invoke("asset", "transfer", chain.admin.info.address, 1)  # registers

    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def stream() -> None:
        c = Client(node.url, chain.user, genesis=chain.genesis, timeout=60)
        while not stop.is_set():
            try:
                r = c.invoke("asset", "transfer", chain.admin.info.address, 1)
            except (ClientError, OSError):
                return  # the node is gone
            if r.committed and r.ok:
                with lock:
                    acked.append(r.tx_hash)

    threads = [threading.Thread(target=stream, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(acked) < 60:
        time.sleep(0.05)
    node.kill9()
    stop.set()
    for t in threads:
        t.join(15)
    acknowledged = list(acked)
    assert len(acknowledged) >= 20, "the load did not get going before the kill"

    node.start()
    try:
        c = chain.client(chain.user)
        for h in acknowledged:
            info = c.get_tx(h)
            assert info.receipt.ok
        assert len(set(acknowledged)) == len(acknowledged)
        height_before = c.status()["height"]
        r = c.invoke("asset", "transfer", chain.admin.info.address, 1)
        assert r.ok and r.height > height_before  # the chain goes on
        balance = c.query("asset", "balance", user_addr)
    finally:
        assert node.stop() is not None

    # Every acknowledged transfer is in the balance exactly once (1 for registration, +1 after restart).
    assert balance == 1_000_000 - 1 - len(_committed_transfers(home, chain))
    store = Store(home / "data" / "chain.db")
    try:
        rebuilt = replay_chain(store, chain.genesis, tmp_path / "replay.db")
        head = store.load_header(store.height())
        assert rebuilt.height == store.height()
        assert rebuilt.head().state_root == head.state_root
        rebuilt.store.close()
    finally:
        store.close()


def _committed_transfers(home, chain) -> list[bytes]:
    """Successful asset transfers from the user after the registering one."""
    store = Store(home / "data" / "chain.db")
    try:
        out = []
        for h in range(1, store.height() + 1):
            block = store.load_block(h)
            receipts = store.load_receipts(h)
            for tx, rc in zip(block.txs, receipts, strict=True):
                if tx.body.contract == "asset" and tx.body.method == "transfer" and rc.ok:
                    out.append(tx.hash)
        return out[1:]
    finally:
        store.close()
