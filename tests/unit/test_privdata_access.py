"""Private data through a node's API on the in-process chain: who may hand content to a node,
read it, wrap its key; grants, revocation, purge and tampering; every refusal."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tianfu.api.app import create_app
from tianfu.client import ApiError, Client
from tianfu.client.private import PrivateData
from tianfu.codec import encode
from tianfu.contracts.examples import example_source
from tianfu.identity import Identity
from tianfu.privdata import REGISTRY, registry_source
from tianfu.privdata.access import Forbidden
from tianfu.privdata.messages import READ, WRAP, AccessRequest, sign_access
from tianfu.privdata.node import PrivateDataNode
from tianfu.privdata.sealing import new_private_key, public_key_of
from tianfu.privdata.store import PrivateStore, Quotas
from tianfu.testing.appchain import AppChain

POLICY_NOTES = (
    example_source("private_notes")
    + """

def allow(ctx, address):
    ctx.put("allow:" + address, True)


@view
def private_can_read(ctx, h, address):
    return ctx.get("allow:" + address, False)
"""
)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("privdata"))
    c.deploy(REGISTRY, registry_source())
    c.deploy("notes", example_source("private_notes"))
    c.deploy("guarded", POLICY_NOTES)
    for org in c.orgs:
        assert PrivateData(c.client(c.admin(org))).register_node_key() == 1
    yield c
    c.close()


def member(chain: AppChain, org: str, name: str) -> Identity:
    who = chain.identity(org, name)
    if who.info.address not in chain._registered:
        assert chain.call(who, "governance", "get_identity", who.info.address).ok
        chain._registered.add(who.info.address)
    return who


def pd(chain: AppChain, who: Identity) -> PrivateData:
    return PrivateData(chain.client(who))


def write(chain: AppChain, who: Identity, orgs: list[str], text: bytes, contract: str = "notes"):
    p = pd(chain, who)
    sealed = p.seal(text, orgs)
    chain.client(who).invoke(contract, "write", sealed.hash, sealed.size, sealed.readers)
    p.put(contract, sealed)
    return sealed


def refused(action: Any, status: int, needle: str = "") -> str:
    with pytest.raises(ApiError) as info:
        action()
    assert info.value.status == status, info.value
    assert needle in info.value.message, info.value
    return info.value.message


def test_registered_keys_are_the_nodes_keys(chain: AppChain) -> None:
    p = pd(chain, chain.admin("org2"))
    keys = p.node_keys()
    assert sorted(keys) == chain.orgs and all(k["registered"] for k in keys.values())
    assert p.org_key("org2") == keys["org2"]["public_key"]  # proven read of the registry
    assert p.register_node_key() is None  # registered already: nothing sent
    user = chain.client(member(chain, "org1", "keyless"))
    r = user.invoke(REGISTRY, "set_key", b"k" * 32, check=False)
    assert not r.ok and "only an organisation admin" in r.error


def test_grant_read_wrap_revoke_purge(chain: AppChain) -> None:
    alice, bob, carol = (
        member(chain, o, n) for o, n in (("org1", "a"), ("org2", "b"), ("org3", "c"))
    )
    text = b"imaging report: no abnormality " + secrets.token_bytes(8)
    sealed = write(chain, alice, ["org1", "org2"], text)
    h = sealed.hash
    assert pd(chain, bob).read("notes", h) == text
    refused(lambda: pd(chain, carol).read("notes", h), 403, "org3 is not granted")
    refused(lambda: pd(chain, carol).wrap("notes", h, "org3"), 403, "not granted")
    refused(lambda: pd(chain, carol).put("notes", sealed), 403, "not granted")
    # A reader wraps the key for org3; the owner's grant lets org3 read.
    wrapped = pd(chain, bob).wrap("notes", h, "org3")
    r = chain.client(bob).invoke("notes", "grant", h, "org3", wrapped, check=False)
    assert not r.ok and "owner" in r.error  # only the owner grants
    chain.client(alice).invoke("notes", "grant", h, "org3", wrapped)
    assert pd(chain, carol).read("notes", h) == text
    chain.client(alice).invoke("notes", "revoke", h, "org3")
    refused(lambda: pd(chain, carol).read("notes", h), 403, "not granted")
    path = chain.service.private.store.path("notes", h)
    assert path.exists()
    chain.client(alice).invoke("notes", "purge", h)
    assert not path.exists(), "a purge deletes the content"
    refused(lambda: pd(chain, bob).read("notes", h), 410, "purged")
    refused(lambda: pd(chain, alice).put("notes", sealed), 410, "purged")
    assert pd(chain, alice).describe("notes", h)["purged"] is True
    assert chain.client().read_state("notes", f"pd:{h}").value["hash"] == h


def test_tampered_content_is_detected_and_dropped(chain: AppChain) -> None:
    alice, bob = member(chain, "org1", "a"), member(chain, "org2", "b")
    sealed = write(chain, alice, ["org1", "org2"], b"lab result " + secrets.token_bytes(8))
    path = chain.service.private.store.path("notes", sealed.hash)
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 0xFF
    path.write_bytes(bytes(damaged))
    before = chain.service.private.stats["tampered"]
    refused(lambda: pd(chain, bob).read("notes", sealed.hash), 409, "does not match")
    assert chain.service.private.stats["tampered"] == before + 1
    assert not path.exists()
    refused(lambda: pd(chain, bob).read("notes", sealed.hash), 404, "has not received")
    pd(chain, alice).put("notes", sealed)  # any granted member can hand it over again
    assert pd(chain, bob).read("notes", sealed.hash).startswith(b"lab result ")


def test_content_that_does_not_match_the_record_is_refused(chain: AppChain) -> None:
    alice = member(chain, "org1", "a")
    p = pd(chain, alice)
    sealed = p.seal(b"one", ["org1"])
    refused(lambda: p.put("notes", sealed), 404, "no private record")  # not committed yet
    chain.client(alice).invoke("notes", "write", sealed.hash, sealed.size, sealed.readers)
    other = p.seal(b"two", ["org1"])
    req = _signed(chain, alice, "put", "notes", sealed.hash, blob=other.blob)
    assert _post(chain, "put", req).status_code == 400
    assert "does not match" in _post(chain, "put", _resign(chain, alice, req)).json()["error"]


def test_the_contract_read_policy_is_applied(chain: AppChain) -> None:
    alice, bob = member(chain, "org1", "a"), member(chain, "org2", "b")
    sealed = write(chain, alice, ["org1", "org2"], b"guarded", contract="guarded")
    refused(lambda: pd(chain, bob).read("guarded", sealed.hash), 403, "private_can_read")
    chain.client(alice).invoke("guarded", "allow", bob.info.address)
    assert pd(chain, bob).read("guarded", sealed.hash) == b"guarded"


def test_a_node_decrypts_only_for_its_own_organisation(chain: AppChain, tmp_path) -> None:
    """A node of org1 (only org1's key) refuses org2's members, and gives org3's node nothing."""
    alice, bob = member(chain, "org1", "a"), member(chain, "org2", "b")
    sealed = write(chain, alice, ["org1", "org2"], b"for org1 and org2")
    node = PrivateDataNode.open(tmp_path / "n1", chain.ledger, {"org1"})
    node.store.save("notes", sealed.hash, "org1", sealed.blob)
    reply = public_key_of(new_private_key())
    req = _signed(chain, bob, READ, "notes", sealed.hash, reply_key=reply)
    with pytest.raises(Forbidden, match="members of org1 only"):
        node.read(req)
    assert node.blob_for_peer("org2", "notes", sealed.hash) == sealed.blob
    assert node.blob_for_peer("org3", "notes", sealed.hash) is None
    assert node.stats["refused_peers"] == 1 and node.stats["served"] == 1


def test_signed_requests_are_checked(chain: AppChain) -> None:
    alice = member(chain, "org1", "a")
    sealed = write(chain, alice, ["org1"], b"x")
    h, reply = sealed.hash, public_key_of(new_private_key())

    def read(req: AccessRequest) -> tuple[int, str]:
        r = _post(chain, READ, req)
        return r.status_code, r.json().get("error", "")

    good = _signed(chain, alice, READ, "notes", h, reply_key=reply)
    assert read(good)[0] == 200
    assert read(good) == (401, "this request was used already (sign a new one)")
    stale = _signed(chain, alice, READ, "notes", h, reply_key=reply, skew_ms=-10 * 60_000)
    assert read(stale)[0] == 401 and "clock" in read(stale)[1]
    other_chain = _signed(chain, alice, READ, "notes", h, reply_key=reply, chain_id="elsewhere")
    assert "elsewhere" in read(other_chain)[1]
    forged = AccessRequest(good.body, bytes(64))
    assert read(forged) == (401, "bad signature on the request")
    stranger = chain.identity("org1", "never-transacted")
    assert (
        "not a registered identity"
        in read(_signed(chain, stranger, READ, "notes", h, reply_key=reply))[1]
    )
    assert read(_signed(chain, alice, WRAP, "notes", h, target="org2"))[0] == 400  # wrong route
    revoked = member(chain, "org1", "soon-revoked")
    chain.client(chain.admin("org1")).invoke("governance", "revoke_cert", revoked.info.address)
    code, error = read(_signed(chain, revoked, READ, "notes", h, reply_key=reply))
    assert code == 401 and "revoked" in error


def test_wrap_needs_an_active_organisation_with_a_key(chain: AppChain) -> None:
    alice = member(chain, "org1", "a")
    sealed = write(chain, alice, ["org1"], b"x")
    refused(lambda: pd(chain, alice).wrap("notes", sealed.hash, "org9"), 404, "not an active")


def test_malformed_bodies_and_nodes_without_private_data(chain: AppChain) -> None:
    for route in ("put", "read", "wrap"):
        r = chain.http.post(f"/v1/private/{route}", content=b"\x93\x01")
        assert r.status_code == 400 and "malformed" in r.json()["error"]
    bare = TestClient(create_app(_NoPrivate(chain.service)))
    assert bare.get("/v1/private/keys").status_code == 404
    assert bare.post("/v1/private/read", content=b"").status_code == 404


def test_a_node_over_its_quota_refuses_content(chain: AppChain, tmp_path) -> None:
    alice = member(chain, "org1", "a")
    p = pd(chain, alice)
    sealed = p.seal(b"y" * 500, ["org1"])
    chain.client(alice).invoke("notes", "write", sealed.hash, sealed.size, sealed.readers)
    node = chain.service.private
    saved = node.store
    node.store = PrivateStore(tmp_path / "small", Quotas(max_bytes_per_org=100))
    try:
        refused(lambda: p.put("notes", sealed), 413, "written by org1")
    finally:
        node.store = saved


# -- helpers ----------------------------------------------------------------------------------
class _NoPrivate:
    def __init__(self, service: Any) -> None:
        self._service = service
        self.private = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


def _signed(
    chain: AppChain,
    who: Identity,
    action: str,
    contract: str,
    content_hash: str,
    *,
    skew_ms: int = 0,
    chain_id: str | None = None,
    **kw: Any,
) -> AccessRequest:
    return sign_access(
        who.keypair,
        chain_id=chain_id or chain.genesis.chain_id,
        action=action,
        contract=contract,
        content_hash=bytes.fromhex(content_hash),
        time_ms=int(time.time() * 1000) + skew_ms,
        nonce=secrets.token_bytes(16),
        **kw,
    )


def _resign(chain: AppChain, who: Identity, req: AccessRequest) -> AccessRequest:
    b = req.body
    return _signed(chain, who, b.action, b.contract, b.hash.hex(), blob=req.blob)


def _post(chain: AppChain, action: str, req: AccessRequest) -> Any:
    return chain.http.post(f"/v1/private/{action}", content=encode(req))


def _client(chain: AppChain, who: Identity) -> Client:
    return chain.client(who)


def test_unusable_x25519_keys_are_refused_not_crashed_on(tmp_path) -> None:
    """A low-order reply key (400) or registered data key (409) is a refusal, never a 500."""
    chain = AppChain(tmp_path)
    chain.deploy(REGISTRY, registry_source())
    chain.deploy("notes", example_source("private_notes"))
    for org in ("org1", "org2"):
        PrivateData(chain.client(chain.admin(org))).register_node_key()
    assert chain.call(chain.admin("org3"), REGISTRY, "set_key", bytes(32)).ok
    alice = member(chain, "org1", "a")
    sealed = write(chain, alice, ["org1"], b"x")
    req = _signed(chain, alice, READ, "notes", sealed.hash, reply_key=bytes(32))
    r = _post(chain, READ, req)
    assert r.status_code == 400 and "reply key" in r.json()["error"]
    refused(lambda: pd(chain, alice).wrap("notes", sealed.hash, "org3"), 409, "not a usable")
    with pytest.raises(Exception, match="not a usable"):
        pd(chain, alice).seal(b"y", ["org1", "org3"])
    chain.close()


def test_answers_conform_to_the_documented_models(chain: AppChain) -> None:
    """Every private-data answer is what the OpenAPI schema documents (`tianfu.api.models`:
    extra fields forbidden, none missing) — put, read, wrap, keys, status, records."""
    from tianfu.api import models
    from tianfu.privdata.messages import PUT

    alice, bob = member(chain, "org1", "schema-a"), member(chain, "org2", "schema-b")
    p = pd(chain, alice)
    sealed = p.seal(b"conforming " + secrets.token_bytes(8), ["org1", "org2"])
    chain.client(alice).invoke("notes", "write", sealed.hash, sealed.size, sealed.readers)
    h = sealed.hash
    put = _post(chain, "put", _signed(chain, alice, PUT, "notes", h, blob=sealed.blob))
    reply = public_key_of(new_private_key())
    read = _post(chain, "read", _signed(chain, bob, READ, "notes", h, reply_key=reply))
    wrap = _post(chain, "wrap", _signed(chain, bob, WRAP, "notes", h, target="org3"))
    for response, model in (
        (put, models.PrivatePutOut),
        (read, models.PrivateReadOut),
        (wrap, models.PrivateWrapOut),
        (chain.http.get("/v1/private/keys"), models.PrivateKeysOut),
        (chain.http.get("/v1/private/status"), models.PrivateStatusOut),
        (chain.http.get(f"/v1/private/records/notes/{h}"), models.PrivateRecordOut),
    ):
        assert response.status_code == 200, response.text
        model.model_validate(response.json())
