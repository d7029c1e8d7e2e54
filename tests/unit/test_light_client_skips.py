"""The SDK's light client after a skipping validator chain: the heights a skipping link
passed over are proven again from the trust anchor when a later proof needs them, so one
skipping document (which a node may send whatever was asked) does not make the client
refuse valid proofs of those heights; and a validator chain longer than a bundle may
hold is refused by the node, not served as a document no verifier accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tianfu.client import Client
from tianfu.client.verify import verify_tx_proof_json
from tianfu.testing.appchain import AppChain
from tianfu.types import Receipt


def _send(chain: AppChain, org: str, method: str, *args: Any) -> tuple[bytes, Receipt]:
    tx = chain.sign(chain.admin(org), "governance", method, *args)
    executed = chain.driver.produce_one([tx])
    chain.service.block_committed(executed)
    return tx.hash, executed.result.receipts[0]


def _set_power(chain: AppChain, power: int) -> bytes:
    """A governance vote changing node0's power; the hash of its proposal transaction."""
    tx_hash, r = _send(chain, "org1", "propose_set_power", "node0", power)
    assert r.ok, r.error
    for org in ("org1", "org2", "org3"):
        _, v = _send(chain, org, "vote", r.result, True)
        assert v.ok, v.error
    assert v.result["status"] == "activated", v.result
    return tx_hash


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppChain, bytes, bytes]]:
    c = AppChain(Path(tmp_path_factory.mktemp("skips")))
    try:
        _set_power(c, 5)
        middle = _set_power(c, 6)  # its block lies between two changes
        _set_power(c, 7)
        for _ in range(3):
            last, _r = _send(c, "org1", "vote", 1, True)  # blocks after the last change
        yield c, middle, last
    finally:
        c.close()


def _skipped(chain: AppChain, last: bytes) -> Client:
    """A client whose light client followed a skipping chain to the last block."""
    client = chain.client(None)
    doc = client.tx_proof_raw(last, "skipping")
    assert any(c["skipped_to"] for c in doc["validator_changes"])
    verify_tx_proof_json(client.light_client, doc, tx_hash=last)
    return client


def test_a_transaction_at_a_height_skipped_over_still_verifies(chain) -> None:
    c, middle, last = chain
    client = _skipped(c, last)
    height = c.client(None).verify_tx_inclusion(middle).height  # a fresh client's answer
    assert client.light_client.history.skipped_over(height)
    assert client.verify_tx_inclusion(middle).height == height


def test_a_state_read_at_a_height_skipped_over_still_verifies(chain) -> None:
    c, middle, last = chain
    client = _skipped(c, last)
    height = c.client(None).verify_tx_inclusion(middle).height
    assert client.light_client.history.skipped_over(height)
    read = client.read_state("governance", "validators", height=height)
    assert read.height == height and read.present


def test_a_chain_longer_than_a_bundle_holds_is_refused_not_served(chain, monkeypatch) -> None:
    """A document whose validator chain has more links than the format allows (4,096; one
    per change, and every bond or unbond of the open profile is one) would be refused by
    every verifier: the node answers 404 naming the skipping chain instead, and serves that.
    The bound is lowered here to the test chain's three changes."""
    from tianfu.proofs import build

    c, _, _ = chain
    http = c.http
    assert len(http.get("/v1/proofs/validators").json()["validator_changes"]) == 4
    monkeypatch.setattr(build, "MAX_LINKS", 2)
    r = http.get("/v1/proofs/validators")
    assert r.status_code == 404 and "mode=skipping" in r.json()["error"], r.text
    r = http.get("/v1/proofs/validators", params={"mode": "skipping"})
    assert r.status_code == 200, r.text
    assert c.client(None).verify_document(r.json(), "validators") is not None
