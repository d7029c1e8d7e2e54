"""The contract-safety attacks against a 4-validator network of real node processes.

- A flood of refused transactions with dict arguments on two of the four validators' APIs
  (which fills msgspec's key cache there) while members call a contract comparing decoded
  dict keys: the chain keeps committing, with one state root. The contract that split the
  network (comparing decoded keys with `is`) can no longer be deployed.
- The worst CPU transactions of before (`x in range(10**6)`, comparing structures of a
  billion shared references, reverse searches, modular powers of 4096-bit integers; one of
  them stalled a height for 549 s) are now charged by their work: they commit at once (out
  of gas, or done), and the network keeps committing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.client import Client
from tianfu.codec import encode
from tianfu.crypto import sign_tx
from tianfu.identity import Identity
from tianfu.node.localnet import LocalNetwork
from tianfu.types import Transaction, TxBody

pytestmark = pytest.mark.timeout(300)

KEYS = """
def store(ctx, d):
    ctx.put("d", d)


def compare(ctx, d):
    stored = ctx.get("d", {})
    same = sorted(stored) == sorted(d) and all(k in stored for k in d)
    order = [k for k in stored] == [k for k in d]
    ctx.put("same:" + ctx.tx_hash, [same, order, len(stored)])
    ctx.emit("Compared", same=same, order=order)
    return same
"""

IDENTITY = """
def compare(ctx, d):
    stored = ctx.get("d", {})
    return [k for k in stored][0] is [k for k in d][0]
"""

CPU = """
def scan(ctx, n):
    return "a" in range(n)


def values(ctx, n):
    d = {str(i): "a" * 64 for i in range(n)}
    return "b" * 64 in d.values()


def powmod(ctx):
    x = (1 << 4095) - 1
    m = (1 << 4095) - 3
    return pow(x, x, m) > 0


def deep(ctx):
    a = [1]
    b = [1]
    for _ in range(30):
        a = [a, a]
        b = [b, b]
    return a == b


def search(ctx):
    s = "a" * 29_999
    return s.rfind("b" + "a" * 5000)
"""


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    api, p2p = free_base_ports(4)
    home = tmp_path_factory.mktemp("sandbox-net")
    network, _ = LocalNetwork.prepare(home, 4, True, api_base_port=api, p2p_base_port=p2p)
    network.start()
    try:
        network.wait_ready(timeout=90)
        yield network
    finally:
        network.stop()


def urls(net: LocalNetwork) -> list[str]:
    return [net.url(c) for c in net.configs]


def client(net: LocalNetwork, i: int, who: str = "admin") -> Client:
    c = net.configs[i]
    return Client(
        net.url(c), Identity.load(net.home / c.org / "identities" / who), genesis=net.genesis
    )


def deploy(net: LocalNetwork, name: str, source: str) -> str:
    """Propose and approve `source` as `name`; the error if the proposal failed, else ""."""
    first = client(net, 0)
    result = first.invoke("governance", "propose_contract", name, source, check=False)
    if not result.ok:
        return result.error
    for i in range(len(net.configs)):
        r = client(net, i).approve_contract(result.result)
        if r.result["status"] == "activated":
            return ""
    raise AssertionError(f"{name} was not activated")


def refused_tx(net: LocalNetwork, i: int) -> bytes:
    """A transaction with dict arguments that a node decodes and then refuses (its
    signature is wrong)."""
    ident = Identity.load(net.home / net.configs[0].org / "identities" / "user")
    args = [{f"k{i % 7}": i, "key": [i], f"a{i % 3}": {"x": 1}}, {"key": i}]
    body = TxBody(
        1,
        net.genesis.chain_id,
        ident.keypair.scheme,
        ident.keypair.public_key,
        i,
        10**6,
        "keys",
        "compare",
        args,
    )
    tx = sign_tx(ident.keypair, body)
    return encode(Transaction(tx.body, bytes(64)))


class Flood:
    """Threads posting refused transactions to some nodes' APIs until stopped."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.stopped = threading.Event()
        self.sent = 0
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in targets]

    def _run(self, url: str) -> None:
        with httpx.Client(timeout=5) as http:
            i = 0
            while not self.stopped.is_set():
                i += 1
                try:
                    http.post(
                        url + "/v1/txs",
                        content=self.bodies[i % len(self.bodies)],
                        headers={"content-type": "application/octet-stream"},
                    )
                    self.sent += 1
                except httpx.HTTPError:
                    pass

    def start(self, net: LocalNetwork) -> Flood:
        self.bodies = [refused_tx(net, i) for i in range(500)]
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=10)


def test_a_flood_of_refused_dict_transactions_cannot_split_the_network(net: LocalNetwork) -> None:
    error = deploy(net, "keyid", IDENTITY)
    assert "'is' compares object identity" in error  # the contract that split the network
    assert deploy(net, "keys", KEYS) == ""
    user = client(net, 2, "user")
    user.invoke("keys", "store", {"key": 1, "k1": 2, "amount": 3, "to": 4})
    flood = Flood(urls(net)[:2]).start(net)
    try:
        deadline = time.monotonic() + 60
        results = []
        while len(results) < 12 and time.monotonic() < deadline:
            member = client(net, len(results) % 4, "user")
            results.append(
                member.invoke("keys", "compare", {"to": 0, "key": 5, "amount": 1, "k1": 2})
            )
        assert len(results) == 12, "the chain stopped committing under the flood"
        assert all(r.ok and r.result is True for r in results)
    finally:
        flood.stop()
    assert flood.sent > 100
    top = max(height(u) for u in urls(net))
    wait_height(urls(net), top + 2, 60)
    assert_identical(urls(net))


def test_the_worst_cpu_transactions_of_before_do_not_stall_a_height(net: LocalNetwork) -> None:
    assert deploy(net, "cpu", CPU) == ""
    member = client(net, 1, "user")
    start = max(height(u) for u in urls(net))
    began = time.monotonic()
    calls = [("scan", 10**6), ("values", 30_000), ("powmod",), ("deep",), ("search",)]
    results = [member.invoke("cpu", name, *args, check=False) for name, *args in calls]
    for (name, *_), r in zip(calls, results, strict=True):
        assert r.committed, name
        assert r.ok or "out of gas" in r.error, (name, r.error)
        assert r.gas_used > 100_000 or not r.ok, (name, r.gas_used)  # charged by the work
    wait_height(urls(net), start + len(calls) + 3, 60)
    assert all(height(u) >= start + len(calls) + 3 for u in urls(net))
    assert time.monotonic() - began < 60
    assert_identical(urls(net))
