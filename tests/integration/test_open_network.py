"""An open-profile network of real processes: 4 validators and 2 observers on loopback. An
outsider makes an account, calls an open contract through an observer and has the result
verified by an observer; an account past its quota is refused until it replenishes; the
observers' chain equals the validators'.

To add an open application (e.g. photo_sharing), put its contract in `OPEN_CONTRACTS` and a
scenario `(env, outsider_client) -> None` in `OUTSIDER_SCENARIOS`: the network is created
with every contract there marked open, and each scenario runs as the same outsider.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tianfu.client import Client
from tianfu.client.errors import ApiError
from tianfu.contracts.accounts import solve_pow
from tianfu.crypto import generate_keypair
from tianfu.execution.api import address_of
from tianfu.identity import Identity
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.testing.netcheck import assert_identical, free_base_ports, height
from tianfu.testing.processes import NodeProcess, free_port
from tianfu.types import OpenProfile

pytestmark = pytest.mark.timeout(600)
WAIT_S = 180.0
POW_BITS = 8
QUOTA_GAS = 300_000
QUOTA_REPLENISH = 200  # below a transaction's base cost: a dry bucket needs several blocks

HELLO = (
    "def greet(ctx, name):\n"
    "    ctx.put('by/' + ctx.sender.address, name)\n"
    "    return 'hello ' + name\n"
    "def burn(ctx, n):\n"
    "    x = 0\n"
    "    while x < n:\n"
    "        x = x + 1\n"
    "    return x\n"
    "@view\n"
    "def greeted(ctx, address):\n"
    "    return ctx.get('by/' + address)\n"
)


def _hello_scenario(env: LocalnetEnv, outsider: Client) -> None:
    r = outsider.invoke("hello", "greet", "outsider")
    assert r.ok and r.result == "hello outsider", r.error


OPEN_CONTRACTS: dict[str, str] = {"hello": HELLO}
OUTSIDER_SCENARIOS: list[Callable[[LocalnetEnv, Client], None]] = [_hello_scenario]


def wait_for(pred: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@dataclass
class OpenNet:
    net: LocalNetwork
    env: LocalnetEnv
    observers: list[NodeProcess]

    @property
    def validator_urls(self) -> list[str]:
        return [self.net.url(c) for c in self.net.configs]

    @property
    def observer_urls(self) -> list[str]:
        return [o.url for o in self.observers]


def _init_observer(home: Path, genesis: Path, peers: list[str], api: int, listen: int) -> None:
    args = [sys.executable, "-m", "tianfu", "node", "init-observer", "--home", str(home),
            "--genesis", str(genesis), "--api", f"127.0.0.1:{api}",
            "--listen", f"127.0.0.1:{listen}", "--name", home.name]  # fmt: skip
    for p in peers:
        args += ["--peer", p]
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def opennet(tmp_path_factory) -> Iterator[OpenNet]:
    home = tmp_path_factory.mktemp("open")
    api, p2p = free_base_ports(5)
    profile = OpenProfile(
        open_contracts=sorted(OPEN_CONTRACTS),
        pow_bits=POW_BITS,
        quota_gas=QUOTA_GAS,
        quota_replenish=QUOTA_REPLENISH,
    )
    net, _ = LocalNetwork.prepare(
        home / "net", 4, True, api_base_port=api, p2p_base_port=p2p, open_profile=profile
    )
    observers: list[NodeProcess] = []
    net.start()
    try:
        net.wait_ready(timeout=90)
        env = LocalnetEnv(net)
        for name, source in OPEN_CONTRACTS.items():
            env.deploy(name, source)
        # Observer 1 follows two validators; observer 2 follows observer 1 only.
        genesis = home / "net" / "genesis.bin"
        obs_ports = [free_port() for _ in range(2)]
        v_ports = [f"{c.p2p_host}:{c.observer_port}" for c in net.configs[:2]]
        for i, peers in enumerate([v_ports, [f"127.0.0.1:{obs_ports[0]}"]]):
            ohome = home / f"observer{i + 1}"
            port = free_port()
            _init_observer(ohome, genesis, peers, port, obs_ports[i])
            proc = NodeProcess(ohome, port, ["node", "start", "--observer", "--home", str(ohome)])
            proc.start_process()
            observers.append(proc)
        for proc in observers:
            proc.wait_ready(WAIT_S)
        yield OpenNet(net, env, observers)
    finally:
        for proc in observers:
            proc.stop()
        net.stop()


def outsider(url: str, genesis) -> tuple[Client, str]:
    """A new self-made key, registered by proof of work through the node at `url`."""
    kp = generate_keypair()
    client = Client(url, identity=Identity.account(kp), genesis=genesis)
    address = address_of(kp.scheme, kp.public_key)
    r = client.invoke("accounts", "register", solve_pow(genesis.chain_id, address, POW_BITS))
    assert r.ok, r.error
    return client, address


def test_outsider_account_calls_open_contract_verified_by_observer(opennet):
    genesis = opennet.net.genesis
    assert genesis.profile == "open"
    client, address = outsider(opennet.observer_urls[0], genesis)
    for scenario in OUTSIDER_SCENARIOS:
        scenario(opennet.env, client)
    r = client.invoke("hello", "greet", "verified")
    # The other observer (which follows observer 1 only) verifies the transaction against
    # its trusted genesis: certificate, validator set, Merkle proof.
    verifier = Client(opennet.observer_urls[1], genesis=genesis)
    wait_for(lambda: height(opennet.observer_urls[1]) >= r.height, "observer 2 to sync")
    verified = verifier.verify_tx_inclusion(r.tx_hash)
    assert verified.height == r.height
    assert verifier.query("hello", "greeted", address) == "verified"
    # Not open: a member-only contract (governance) is refused to the account.
    with pytest.raises(ApiError, match="not open to accounts"):
        client.invoke("governance", "propose_set_params", {"pow_bits": 1})


def test_account_past_its_quota_is_refused_until_replenished(opennet):
    genesis = opennet.net.genesis
    client, address = outsider(opennet.validator_urls[1], genesis)
    r = client.invoke("hello", "burn", 10**8, check=False)  # burns its whole bucket
    assert not r.ok and "out of gas" in r.error, r.error
    with pytest.raises(ApiError) as refused:
        client.invoke("hello", "greet", "too soon")
    assert refused.value.status == 429 and "quota exceeded" in str(refused.value)

    # Each block adds QUOTA_REPLENISH gas: after enough blocks the account may send again.
    def available() -> int:
        return int(client.query("accounts", "get_account", address)["available"])

    wait_for(lambda: available() >= 5_000, "the quota to replenish")
    r = client.invoke("hello", "greet", "later")
    assert r.ok, r.error


def test_observers_hold_the_validators_chain(opennet):
    urls = opennet.validator_urls + opennet.observer_urls
    top = max(height(u) for u in opennet.validator_urls)
    wait_for(lambda: all(height(u) >= top for u in urls), "observers to catch up")
    assert assert_identical(urls) >= top
    status = Client(opennet.observer_urls[0]).status()
    assert status["validator"] is False
