"""Private data on a real 4-organisation network (one node process per organisation).

A member of org1 writes a note readable by org1 and org2 (`private_notes` contract). The
content reaches org2's node and is served to org2's members; org3 and org4 — never granted —
get nothing from any node's API, and their nodes never receive it: their whole node
directories and logs are searched for a marker of the plaintext and a slice of the
ciphertext. A tampered copy is detected and fetched again; revocation deletes org2's copy
and refuses its members; a purge deletes the content everywhere while the hash stays.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.client import ApiError, Client
from tianfu.client.private import NOT_RECEIVED, PrivateData, Sealed
from tianfu.contracts.examples import example_source
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.privdata import REGISTRY, registry_source

pytestmark = pytest.mark.timeout(600)
NOTES = "notes"


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting until {what}")


def files_with(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under `root` that contains one of `needles` (SQLite files and WALs too)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path} has {n[:12]!r}" for n in needles if n in data]
    return found


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    api, p2p = free_base_ports(4)
    home = tmp_path_factory.mktemp("private") / "net"
    network, _ = LocalNetwork.prepare(home, 4, True, api_base_port=api, p2p_base_port=p2p)
    network.start()
    try:
        network.wait_ready(timeout=90)
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="module")
def env(net: LocalNetwork) -> LocalnetEnv:
    e = LocalnetEnv(net)
    e.deploy(REGISTRY, registry_source())
    e.deploy(NOTES, example_source("private_notes"))
    for org in e.orgs:  # each admin registers the data key its own node made
        PrivateData(e.admin(org)).register_node_key()
    return e


def member(env: LocalnetEnv, org: str, name: str) -> Client:
    """A registered member of `org`, talking to its organisation's node."""
    client = env.client(env.identity(org, name))
    client.invoke("governance", "get_identity", client.identity.info.address)  # registers
    return client


def node_dir(net: LocalNetwork, org: str) -> Path:
    return next(c.home for c in net.configs if c.org == org)


def node_log(net: LocalNetwork, org: str) -> Path:
    return net.log_path(next(c for c in net.configs if c.org == org))


def held(pd: PrivateData, content_hash: str) -> bool:
    return bool(pd.describe(NOTES, content_hash)["held"])


def refused(action: Callable[[], object], status: int, needle: str = "") -> str:
    with pytest.raises(ApiError) as info:
        action()
    assert info.value.status == status, info.value
    assert needle in info.value.message, info.value
    return info.value.message


def test_private_content_reaches_only_granted_organisations(
    net: LocalNetwork, env: LocalnetEnv
) -> None:
    alice, bob = member(env, "org1", "pd-alice"), member(env, "org2", "pd-bob")
    carol, dave = member(env, "org3", "pd-carol"), member(env, "org4", "pd-dave")
    pa, pb, pc, pdv = (PrivateData(c) for c in (alice, bob, carol, dave))
    marker = b"PLAINTEXT-MARKER-" + secrets.token_hex(16).encode()
    plaintext = marker + b"\n" + b"lab result: haemoglobin 141 g/L\n" * 60
    sealed: Sealed = pa.seal(plaintext, ["org1", "org2"])
    cipher_marker = sealed.blob[200:240]
    assert marker not in sealed.blob
    alice.invoke(NOTES, "write", sealed.hash, sealed.size, sealed.readers)
    pa.put(NOTES, sealed)
    h = sealed.hash

    # org2's node fetches it from org1's node; org2's member reads it there.
    wait_for(lambda: held(pb, h), 60, "org2's node holds the content")
    assert pb.read(NOTES, h) == plaintext
    assert pa.read(NOTES, h) == plaintext

    # org3 and org4 get nothing from any node's API.
    for who in (pc, pdv):
        refused(lambda who=who: who.read(NOTES, h), 403, "not granted")
        refused(lambda who=who: who.wrap(NOTES, h, who.client.identity.info.org), 403)
    for url in (net.url(c) for c in net.configs if c.org in ("org1", "org2")):
        outsider = PrivateData(Client(url, carol.identity, genesis=env.genesis))
        refused(lambda o=outsider: o.read(NOTES, h), 403, "members of")
    refused(lambda: pc.put(NOTES, sealed), 403)  # nor can they place it on their own node
    assert not held(pc, h) and not held(pdv, h)
    # org1's node, which holds the content (its member put it), never asked org2's node for
    # it (each answered the other's announcement with a fetch and announced again, without
    # end: org2's node served org1's), and never announced it back.
    assert pb.status()["stats"].get("served", 0) == 0, pb.status()["stats"]
    assert pa.status()["stats"].get("fetched", 0) == 0, pa.status()["stats"]

    # Tampering with org2's stored copy is detected; org2's node fetches a good one again.
    path = node_dir(net, "org2") / "data" / "private" / "blobs" / NOTES / h
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    path.write_bytes(bytes(damaged))
    # The first load of the damaged copy finds it: this read's (409), or a granted peer's
    # fetch that came first (then this read finds the copy deleted, 404, or already
    # fetched again). The damaged bytes are never served.
    try:
        assert pb.read(NOTES, h) == plaintext
    except ApiError as exc:
        if exc.status == 409:
            assert "does not match its on-chain hash" in exc.message, exc
        else:
            assert exc.status == 404 and NOT_RECEIVED in exc.message, exc
    wait_for(lambda: pb.status()["stats"]["tampered"] == 1, 60, "org2's node found the damage")
    wait_for(lambda: held(pb, h), 60, "org2's node fetched the content again")
    assert pb.read(NOTES, h) == plaintext
    assert pb.status()["stats"]["tampered"] == 1

    # The content at rest is encrypted on the granted nodes too; the never-granted nodes
    # (their data, identities, keys) and their logs hold neither plaintext nor ciphertext.
    needles = [marker, cipher_marker]
    for org in ("org1", "org2"):
        assert files_with(node_dir(net, org), [marker]) == []
        assert files_with(node_dir(net, org), [cipher_marker]) != []
    for org in ("org3", "org4"):
        assert files_with(node_dir(net, org), needles) == []
        assert files_with(node_log(net, org).parent, needles) == []

    # Revocation: org2's node deletes its copy; org2's members are refused; newer content
    # written by the owner for org1 alone never reaches org2.
    alice.invoke(NOTES, "revoke", h, "org2")
    wait_for(lambda: not path.exists(), 30, "org2's node deleted the revoked content")
    refused(lambda: pb.read(NOTES, h), 403, "not granted")
    newer = pa.seal(b"NEWER-" + secrets.token_hex(8).encode() + b" follow-up result", ["org1"])
    alice.invoke(NOTES, "write", newer.hash, newer.size, newer.readers)
    pa.put(NOTES, newer)
    refused(lambda: pb.read(NOTES, newer.hash), 403, "not granted")

    # Purge: gone from every node, refused to everyone, the hash stays on chain as proof.
    alice.invoke(NOTES, "purge", h)
    origin = node_dir(net, "org1") / "data" / "private" / "blobs" / NOTES / h
    wait_for(lambda: not origin.exists(), 30, "org1's node deleted the purged content")
    refused(lambda: pa.read(NOTES, h), 410, "purged")
    proven = alice.read_state(NOTES, f"pd:{h}", verify=True).value
    assert proven["hash"] == h and proven["purged"] is True and proven["readers"] == {}
    for org in ("org1", "org2", "org3", "org4"):
        assert files_with(node_dir(net, org) / "data" / "private", [cipher_marker]) == []

    # Every node kept the same chain throughout.
    urls = [net.url(c) for c in net.configs]
    wait_height(urls, max(height(u) for u in urls), 60)
    assert_identical(urls)
