"""An open-profile network of real processes: 4 validators and 2 observers on loopback. An
outsider makes an account, calls an open contract and registers a photo through an observer,
and has both verified by an observer (the photo's authorship certificate offline); an account past its quota is refused until it replenishes; the
observers' chain equals the validators'; an outsider's validator node joins by bonding
stake and leaves by unbonding, each at the documented height; a validator by stake that
double-signs (a Byzantine test node on the observer port) is slashed and jailed while the
chain goes on.

To add an open application (e.g. photo_sharing), put its contract in `OPEN_CONTRACTS` and a
scenario `(env, outsider_client) -> None` in `OUTSIDER_SCENARIOS`: the network is created
with every contract there marked open, and each scenario runs as the same outsider.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tianfu.apps import photo_sharing
from tianfu.apps.photo_sharing.certificate import verify_certificate
from tianfu.apps.photo_sharing.scenario import fresh_picture
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms
from tianfu.bench.netcheck import assert_identical, free_base_ports, height
from tianfu.client import Client
from tianfu.client.errors import ApiError
from tianfu.codec import encode
from tianfu.contracts.accounts import solve_pow
from tianfu.contracts.reviewed_admission import validator_set_from_records
from tianfu.contracts.staking import prove_possession
from tianfu.crypto import KeyPair, generate_keypair, sign_vote
from tianfu.execution.contract_api import address_of
from tianfu.identity import Identity
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.p2p.observer import ObserverTransport
from tianfu.p2p.protocol import KIND_VOTE
from tianfu.testing.processes import NodeProcess
from tianfu.types import PREVOTE, OpenProfile, StakeGrant, VoteDomain

pytestmark = pytest.mark.timeout(600)
WAIT_S = 180.0
POW_BITS = 8
QUOTA_GAS = 300_000
QUOTA_REPLENISH = 200  # below a transaction's base cost: a dry bucket needs several blocks
UNBONDING = 5
GENESIS_POWER = 10  # each genesis validator's bonded stake: a bond of 3 is far below 1/3

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


def _photo_scenario(env: LocalnetEnv, outsider: Client) -> None:
    """An outsider registers a photo (no certificate, no role); the node it talks to (an
    observer) keeps the bytes, checked against the registration."""
    author = PhotoSharing(outsider)
    _seed, photo = fresh_picture(author)
    pid = author.register(photo.image, "Jinli street at dusk", licence_terms("cc-by"))
    kp = outsider.identity.keypair
    assert author.get(pid)["author"] == address_of(kp.scheme, kp.public_key)
    assert author.download(photo.sha256) == photo.image
    OUTSIDER_PHOTOS.append((pid, photo.image))


OPEN_CONTRACTS: dict[str, str] = {"hello": HELLO, photo_sharing.NAME: photo_sharing.source()}
OUTSIDER_SCENARIOS: list[Callable[[LocalnetEnv, Client], None]] = [
    _hello_scenario,
    _photo_scenario,
]
OUTSIDER_PHOTOS: list[tuple[str, bytes]] = []  # (photo id, image) the scenarios registered


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
    staked: NodeProcess  # a validator by stake's node (its key bonded in a test)
    staked_key: dict[str, Any]  # its `node init-observer --json` answer
    owners: dict[str, KeyPair]  # accounts holding genesis stake: "staker", "byzantine"

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
    # Every port this module's processes listen on is checked free here, below the
    # ephemeral range (a port that bind(0) gave is free now, not when a node binds it: any
    # process, or an outgoing connection's source port, may take it meanwhile): the 4
    # validators' API, p2p and observer ports, then api+5.. for the observers' and the staked
    # node's APIs and p2p+5.. for the observers' listening ports.
    api, p2p = free_base_ports(7, observers=True)
    owners = {"staker": generate_keypair(), "byzantine": generate_keypair()}
    profile = OpenProfile(
        open_contracts=sorted(OPEN_CONTRACTS),
        pow_bits=POW_BITS,
        quota_gas=QUOTA_GAS,
        quota_replenish=QUOTA_REPLENISH,
        unbonding_blocks=UNBONDING,
        stake=sorted(
            (StakeGrant(address_of(k.scheme, k.public_key), 10) for k in owners.values()),
            key=lambda g: g.address,
        ),
    )
    net, _ = LocalNetwork.prepare(
        home / "net", 4, True, api_base_port=api, p2p_base_port=p2p, open_profile=profile,
        validator_power=GENESIS_POWER,
    )  # fmt: skip
    observers: list[NodeProcess] = []
    net.start()
    try:
        net.wait_ready(timeout=90)
        env = LocalnetEnv(net)
        for name, source in OPEN_CONTRACTS.items():
            env.deploy(name, source)
        # Observer 1 follows two validators; observer 2 follows observer 1 only.
        genesis = home / "net" / "genesis.bin"
        obs_ports = [p2p + 5, p2p + 6]
        v_ports = [f"{c.p2p_host}:{c.observer_port}" for c in net.configs[:2]]
        for i, peers in enumerate([v_ports, [f"127.0.0.1:{obs_ports[0]}"]]):
            ohome = home / f"observer{i + 1}"
            port = api + 5 + i
            _init_observer(ohome, genesis, peers, port, obs_ports[i])
            proc = NodeProcess(ohome, port, ["node", "start", "--observer", "--home", str(ohome)])
            proc.start_process()
            observers.append(proc)
        # A validator by stake: its own key, the validators' observer ports; not yet bonded.
        shome = home / "staked"
        sport = api + 7
        all_v = [f"{c.p2p_host}:{c.observer_port}" for c in net.configs]
        args = [sys.executable, "-m", "tianfu", "node", "init-observer", "--validator",
                "--home", str(shome), "--genesis", str(genesis), "--api",
                f"127.0.0.1:{sport}", "--name", "staked", "--json"]  # fmt: skip
        for p in all_v:
            args += ["--peer", p]
        out = subprocess.run(args, check=True, capture_output=True, timeout=60, text=True)
        staked_key = json.loads(out.stdout)
        staked = NodeProcess(shome, sport, ["node", "start", "--home", str(shome)])
        staked.start_process()
        observers.append(staked)  # stopped with them
        for proc in observers:
            proc.wait_ready(WAIT_S)
        yield OpenNet(net, env, observers[:2], staked, staked_key, owners)
    finally:
        for proc in observers:
            proc.stop()
        net.stop()


def outsider(url: str, genesis, kp: KeyPair | None = None) -> tuple[Client, str]:
    """A (new) self-made key, registered by proof of work through the node at `url`."""
    kp = kp or generate_keypair()
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
    # The outsider's photo: its authorship certificate, exported by observer 2, verifies
    # offline against nothing but the genesis.
    for pid, image in OUTSIDER_PHOTOS:
        cert = json.loads(json.dumps(PhotoSharing(verifier).certificate(pid)))
        proven = verify_certificate(cert, image, genesis)
        assert (proven.photo_id, proven.author) == (pid, address)
    # Not open: a member-only contract (governance) is refused to the account.
    with pytest.raises(ApiError, match="not open to accounts"):
        client.invoke("governance", "propose_set_params", {"pow_bits": 1})


def test_outsider_account_from_the_command_line(opennet, tmp_path):
    me, url = tmp_path / "me", opennet.observer_urls[1]

    def tianfu(*args: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "tianfu", *args, "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))

    address = tianfu("account", "create", "--out", str(me))["address"]
    tianfu("account", "register", "--identity", str(me), "--url", url)
    shown = tianfu("account", "show", "--identity", str(me), "--url", url)
    assert shown["address"] == address and shown["via"] == "pow"
    assert shown["available"] == QUOTA_GAS
    # The operators' guide's sponsorship: the sponsor's quota pays the newcomer's half quota.
    newcomer = tianfu("account", "create", "--out", str(tmp_path / "newcomer"))["address"]
    tianfu("account", "sponsor", newcomer, "--identity", str(me), "--url", url)
    shown = tianfu("account", "show", newcomer, "--url", url)
    assert shown["via"] == "sponsor" and shown["sponsor"] == address
    # Half a quota (a full one before), and what blocks since the sponsorship added.
    assert QUOTA_GAS // 2 <= shown["available"] <= QUOTA_GAS // 2 + 100 * QUOTA_REPLENISH
    paid = tianfu("account", "show", "--identity", str(me), "--url", url)["available"]
    assert paid < QUOTA_GAS * 3 // 4  # half its quota gone (it refills 200 gas a block)


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
    fetched = Client(opennet.observer_urls[1]).fetch_genesis()
    assert fetched.profile == "open" and fetched.hash == opennet.net.genesis.hash


def header(url: str, h: int) -> dict[str, Any]:
    return dict(Client(url).block_raw(h)["header"])


def signers(url: str, h: int) -> set[str]:
    doc = Client(url)._get(f"/v1/blocks/{h}/commit")
    return {s["validator"] for s in doc["certificate"]["signatures"]}


def check_set_changes_at(url: str, effective: int, expect_in: bool, name: str) -> None:
    """The header of `effective` names the latest validator set (with or without `name`);
    the header before it names the previous one."""
    client = Client(url)
    wait_for(lambda: height(url) >= effective, f"height {effective}")
    records = client.query("governance", "list_validators")
    assert (name in [r["name"] for r in records]) == expect_in
    assert client.query("governance", "validators_from") == effective
    new_hash = validator_set_from_records(records).hash.hex()
    assert header(url, effective)["validators_hash"] == new_hash
    assert header(url, effective - 1)["validators_hash"] != new_hash


def test_bonding_and_unbonding_change_power_at_the_documented_height(opennet):
    genesis = opennet.net.genesis
    url = opennet.validator_urls[0]
    owner, owner_address = outsider(url, genesis, opennet.owners["staker"])
    key = bytes.fromhex(opennet.staked_key["public_key"])
    # The key's proof of possession, made where the key is (the node's home).
    args = [sys.executable, "-m", "tianfu", "node", "prove-key", "--home",
            str(opennet.staked.home), "--owner", owner_address, "--json"]  # fmt: skip
    out = subprocess.run(args, check=True, capture_output=True, timeout=60, text=True)
    proof = bytes.fromhex(json.loads(out.stdout)["proof"])
    scheme = opennet.staked_key["scheme"]
    r = owner.invoke("staking", "bond", "staked-v", scheme, key, 1, proof)
    assert r.ok, r.error
    effective = r.result["effective_height"]
    assert effective == r.height + 2
    check_set_changes_at(url, effective, True, "staked-v")
    # The outsider's node (no member certificate) now signs blocks over the observer port.
    wait_for(
        lambda: any(key.hex() in signers(url, h) for h in range(effective, height(url) + 1)),
        "a certificate signed by the validator by stake",
    )
    r = owner.invoke("staking", "unbond", "staked-v", 1)
    assert r.ok, r.error
    assert r.result["release"] == r.height + UNBONDING
    check_set_changes_at(url, r.result["effective_height"], False, "staked-v")
    wait_for(lambda: height(url) >= r.result["release"], "the end of the unbonding period")
    w = owner.invoke("staking", "withdraw")
    assert w.ok and w.result == {"withdrawn": 1, "balance": 10}, w


class ByzantineNode:
    """A validator by stake that double-signs: it links to a validator's observer port with
    its consensus key and sends two conflicting prevotes for each height it is told."""

    def __init__(self, kp: KeyPair, domain: VoteDomain, peers: list[tuple[str, int]]) -> None:
        chain_id = domain.chain_id
        self.kp, self.chain_id, self.domain = kp, chain_id, domain
        self.loop = asyncio.new_event_loop()
        self.transport = ObserverTransport(
            kp, chain_id, lambda *_: None, role="validator", listen=None, peers=peers,
            inbound_kinds=frozenset(), outbound_kinds=frozenset(),
            consensus_kinds=frozenset({KIND_VOTE}), is_validator_key=lambda _k: True,
        )  # fmt: skip
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.transport.start(), self.loop).result(10)

    def double_sign(self, h: int) -> None:
        for block_hash in (b"\x0a" * 32, b"\x0b" * 32):
            vote = sign_vote(self.kp, self.domain, h, 0, PREVOTE, block_hash)
            self.loop.call_soon_threadsafe(self.transport.broadcast, KIND_VOTE, encode(vote))

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.transport.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_double_signing_validator_is_slashed_and_jailed(opennet):
    genesis = opennet.net.genesis
    url = opennet.validator_urls[2]
    owner, owner_address = outsider(url, genesis, opennet.owners["byzantine"])
    byz = generate_keypair()
    proof = prove_possession(byz, genesis.chain_id, owner_address)
    r = owner.invoke("staking", "bond", "byzantine-v", byz.scheme, byz.public_key, 3, proof)
    assert r.ok, r.error
    check_set_changes_at(url, r.result["effective_height"], True, "byzantine-v")
    node = ByzantineNode(
        byz, genesis.vote_domain, [(c.p2p_host, c.observer_port) for c in opennet.net.configs]
    )
    try:

        def jailed() -> bool:
            bond = owner.query("staking", "get_bond", "byzantine-v")
            if bond["jailed"]:
                return True
            node.double_sign(height(url) + 1)  # the height the validators are deciding
            return False

        # The honest validators see the conflicting votes, report the evidence on chain,
        # and the staking contract burns half the bond and jails the validator.
        wait_for(jailed, "the double-signing validator to be slashed")
    finally:
        node.stop()
    bond = owner.query("staking", "get_bond", "byzantine-v")
    assert bond["amount"] == 2 and bond["jailed"]  # 3 bonded, half (rounded down) burnt
    assert owner.query("staking", "burnt") == 1
    removed_from = owner.query("governance", "validators_from")
    check_set_changes_at(url, removed_from, False, "byzantine-v")
    # Its owner cannot bond the jailed key again under a new name and sign on.
    r = owner.invoke(
        "staking", "bond", "byzantine-v2", byz.scheme, byz.public_key, 1, proof, check=False
    )
    assert not r.ok and "already used by validator byzantine-v (jailed" in r.error, r.error
    assert owner.query("staking", "get_bond", "byzantine-v2") is None
    # The chain goes on, every node and observer alike.
    top = height(url)
    urls = opennet.validator_urls + opennet.observer_urls
    wait_for(lambda: all(height(u) >= top + 3 for u in urls), "three more blocks everywhere")
    assert_identical(urls)
