"""Unit tests: mempool admission looks the signer up before it checks the signature. A
transaction of a signer that may not transact — unknown, revoked, with a certificate of no
member organisation, an open chain's unregistered key — cost one signature check (~70 us
on the event loop) before its signer was looked up (a few state reads); it now costs no
signature check, on every submission path: the single route and the batch route (binary and
JSON bodies). A peer's gossiped one is checked as before (the peer vouched for its signature,
and a forged one strikes it). A member's transaction gets the answers it got before: a
valid one is checked once and admitted, a forged one is refused for its signature, and a
first-use certificate's chain check (dearer than a signature's) still comes after the
signature check. Real ledger and API (AppChain), signature checks counted."""

from __future__ import annotations

import asyncio

import pytest
from msgspec.structs import replace

import tianfu.execution.admission_checks as admission
import tianfu.identity.verdicts as verdicts
from tianfu.api.service import TxBadSignature, TxSignerRefused, TxUnchecked
from tianfu.codec import encode
from tianfu.contracts.examples import example_source
from tianfu.crypto.keys import generate_keypair
from tianfu.crypto.signing import sign_tx
from tianfu.identity import OrgCA
from tianfu.mempool.gossip import FORGED
from tianfu.testing.appchain import AppChain
from tianfu.types import Transaction


@pytest.fixture
def chain(tmp_path):
    c = AppChain(tmp_path)
    c.deploy("kv", example_source("kv"))
    yield c
    c.close()


@pytest.fixture
def checks(monkeypatch):
    """The number of transaction signature checks made (a one-element list)."""
    counted = [0]
    verify = admission.verify_tx

    def counting(tx):
        counted[0] += 1
        return verify(tx)

    monkeypatch.setattr(admission, "verify_tx", counting)
    return counted


def _forged(tx: Transaction) -> Transaction:
    return Transaction(tx.body, bytes([tx.signature[0] ^ 1]) + tx.signature[1:])


def _as(keypair, tx: Transaction, nonce: int, cert: bytes = b"") -> Transaction:
    """`tx` signed by `keypair` (nonce `nonce`, certificate `cert`), its signature forged."""
    body = replace(tx.body, signer=keypair.public_key, nonce=nonce, cert=cert)
    return _forged(sign_tx(keypair, body))


def _paths(chain, txs: list[Transaction]) -> list[tuple[str, int, str]]:
    """Submit each of `txs` on every path; (path, status, error) of each answer."""
    http = chain.http
    answers = []
    for tx in txs:
        raw = encode(tx)
        r = http.post("/v1/txs", content=raw, headers={"content-type": "application/octet-stream"})
        answers.append(("single", r.status_code, r.json()["error"]))
        r = http.post("/v1/txs", json={"tx": raw.hex()})
        answers.append(("single json", r.status_code, r.json()["error"]))
        body = encode([raw])
        r = http.post(
            "/v1/txs/batch", content=body, headers={"content-type": "application/octet-stream"}
        )
        [result] = r.json()["results"]
        answers.append(("batch", r.status_code, result["error"]))
        r = http.post("/v1/txs/batch", json={"txs": [raw.hex()]})
        [result] = r.json()["results"]
        answers.append(("batch json", r.status_code, result["error"]))
    return answers


def test_a_non_members_transaction_costs_no_signature_check_on_any_path(chain, checks):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    template = chain.sign(alice, "kv", "put", "k", 1)
    stranger = generate_keypair()
    outsider_ca = OrgCA.create("outsiders")
    outsider = outsider_ca.issue("mallory", "member")
    unknown = _as(stranger, template, 10)
    foreign = _as(outsider.keypair, template, 11, outsider.cert_der)
    checks[0] = 0
    answers = _paths(chain, [unknown, foreign])
    assert checks[0] == 0, checks[0]
    assert len(answers) == 8
    for path, status, error in answers[:4]:
        assert status == 200 if path.startswith("batch") else status == 400, path
        assert "unknown signer " in error, (path, error)
    for path, _status, error in answers[4:]:
        assert "'outsiders', which is not a member organisation" in error, (path, error)
    # A peer's gossip: its signature is checked after all (the peer vouched for it; not
    # counted here: `tianfu.node.forged` checks it), and a forged one blames the peer.
    assert chain.service.gossip_verdicts([unknown, foreign]) == [FORGED, FORGED]
    assert checks[0] == 0, checks[0]
    out = asyncio.run(chain.service.submit_many([foreign, unknown]))
    assert [type(o) for o in out] == [TxSignerRefused, TxUnchecked]
    assert checks[0] == 0, checks[0]
    assert len(chain.mempool) == 0


def test_a_revoked_signer_costs_no_signature_check(chain, checks):
    bob = chain.identity("org1", "bob")
    assert chain.call(bob, "kv", "put", "b", 0).ok
    assert chain.call(chain.admin("org1"), "governance", "revoke_certificate", bob.cert_der).ok
    tx = _forged(chain.sign(bob, "kv", "put", "b", 1))
    checks[0] = 0
    with pytest.raises(TxSignerRefused, match="revoked"):
        chain.service.admit(tx)
    assert checks[0] == 0, checks[0]


def test_a_members_transactions_get_the_answers_they_got(chain, checks, monkeypatch):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    chain.service.on_tx = None  # admit only
    good = chain.sign(alice, "kv", "put", "a", 1)
    forged = _forged(chain.sign(alice, "kv", "put", "b", 2))
    no_method = chain.sign(alice, "kv", "nothing", 3)
    checks[0] = 0
    assert chain.service.admit(good) == good.hash
    with pytest.raises(TxBadSignature, match="^bad signature$"):
        chain.service.admit(forged)
    with pytest.raises(Exception, match="has no method 'nothing'"):
        chain.service.admit(no_method)
    assert checks[0] == 3, checks[0]
    # A first-use certificate of a member CA: the signature is checked before the chain.
    chained = [0]
    verify_issued = verdicts.verify_issued

    def counting(*args, **kwargs):
        chained[0] += 1
        return verify_issued(*args, **kwargs)

    monkeypatch.setattr(verdicts, "verify_issued", counting)
    carol = chain.identity("org2", "carol")
    first = chain.sign(carol, "kv", "put", "c", 4)
    assert first.body.cert == carol.cert_der
    checks[0] = 0
    with pytest.raises(TxBadSignature, match="^bad signature$"):
        chain.service.admit(_forged(first))
    assert (checks[0], chained[0]) == (1, 0)
    assert chain.service.admit(first) == first.hash
    assert (checks[0], chained[0]) == (2, 1)
    # A certificate naming a member organisation that its CA did not issue: the
    # signature first, then the chain check refuses it.
    impostor_ca = OrgCA.create("org1")
    mallory = impostor_ca.issue("mallory", "member")
    fake = replace(first.body, signer=mallory.keypair.public_key, cert=mallory.cert_der)
    checks[0] = chained[0] = 0
    with pytest.raises(TxBadSignature):
        chain.service.admit(_forged(sign_tx(mallory.keypair, fake)))
    assert (checks[0], chained[0]) == (1, 0)
    with pytest.raises(TxSignerRefused, match="not valid for organisation org1"):
        chain.service.admit(sign_tx(mallory.keypair, fake))
    assert (checks[0], chained[0]) == (2, 1)


def test_an_open_chains_unregistered_key_costs_no_signature_check(tmp_path, checks):
    from test_open_accounts import PROFILE, OpenChain

    from tianfu.execution.refusals import AccessRefused

    chain = OpenChain(tmp_path, PROFILE)
    try:
        chain.block()
        tx = _forged(chain.account_tx(generate_keypair(), "governance", "propose", 1))
        checks[0] = 0
        with pytest.raises(AccessRefused, match="register an account first"):
            chain.admit(tx)
        assert checks[0] == 0, checks[0]
    finally:
        chain.close()


def test_a_private_data_request_of_an_outsider_costs_no_signature_check(chain, monkeypatch):
    """The private-data routes check a signed request too (`verify_request`): the signature
    was checked, and the nonce kept (200,000 at most, the oldest dropped first), before the
    signer was looked up, so an outsider's request cost a signature check and took a place
    among the nonces kept. The signer is now looked up first, the nonce kept only for a
    request whose signer and signature both pass."""
    from tianfu.privdata import messages
    from tianfu.privdata.messages import READ, AccessRequest, sign_access

    verified = [0]
    verify = messages.verify

    def counting(*args):
        verified[0] += 1
        return verify(*args)

    monkeypatch.setattr(messages, "verify", counting)
    stranger = generate_keypair()
    import time

    def request(key, nonce: bytes) -> AccessRequest:
        return sign_access(
            key,
            chain_id=chain.genesis.chain_id,
            action=READ,
            contract="kv",
            content_hash=bytes(32),
            time_ms=int(time.time() * 1000),
            nonce=nonce,
            reply_key=bytes(32),
        )

    nonces = chain.service.private.nonces
    kept = len(nonces._seen)
    for i in range(20):
        req = request(stranger, i.to_bytes(16, "big"))
        if i % 2:
            req = AccessRequest(req.body, bytes(64))  # forged too
        r = chain.http.post("/v1/private/read", content=encode(req))
        assert r.status_code == 401, r.text
        assert "not a registered identity" in r.json()["error"]
    assert verified[0] == 0, verified[0]
    assert len(nonces._seen) == kept
