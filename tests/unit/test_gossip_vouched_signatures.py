"""A peer's transaction whose signer is refused before its signature is checked (admission
looks the signer up first: unknown, revoked, an open chain's unregistered account) still
has its signature checked, and a bad one is `FORGED` (the peer struck): the signer-first
order made a peer's forged transactions of unknown keys plain refusals, never struck nor
counted. A peer's refused transaction with a valid signature is not blamed; an API
submission's refusal of an unknown signer costs no signature check."""

from __future__ import annotations

import asyncio

import pytest
from msgspec.structs import replace
from test_batch_service import _forged

import tianfu.execution.admission_checks as admission_checks
from tianfu.api.service import TxSignerRefused
from tianfu.contracts.examples import example_source
from tianfu.crypto.keys import generate_keypair
from tianfu.crypto.signing import sign_tx
from tianfu.mempool.gossip import FORGED
from tianfu.testing.appchain import AppChain


@pytest.fixture
def chain(tmp_path):
    c = AppChain(tmp_path)
    c.deploy("kv", example_source("kv"))
    c.service.on_tx = None  # admit only
    yield c
    c.close()


def test_a_peers_forged_transaction_of_an_unknown_signer_is_forged(chain, monkeypatch):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    good = chain.sign(alice, "kv", "put", "a", 1)
    stranger = generate_keypair()
    signed = sign_tx(stranger, replace(good.body, signer=stranger.public_key, cert=b""))
    forged = _forged(sign_tx(stranger, replace(signed.body, nonce=good.body.nonce + 1)))
    assert chain.service.gossip_verdicts([forged, signed]) == [FORGED, False]
    # An API submission of the unknown signer is refused for its signer, unchecked.
    checks = [0]
    verify = admission_checks.verify_tx

    def counting(tx):
        checks[0] += 1
        return verify(tx)

    monkeypatch.setattr(admission_checks, "verify_tx", counting)
    (outcome,) = asyncio.run(chain.service.submit_many([forged]))
    assert isinstance(outcome, TxSignerRefused) and checks == [0]
