"""Unit tests: the light client follows validator-set changes voted through governance,
with proven reads of the validator history served by a real node API, and refuses headers
signed by a set that was never voted in."""

import msgspec
import pytest
from fastapi.testclient import TestClient
from test_governance_admission import Chain

from tianfu.api.app import create_app
from tianfu.client import Client
from tianfu.client.verify import (
    LightClient,
    VerificationError,
    verify_state_json,
    verify_tx_proof_json,
)
from tianfu.codec import encode
from tianfu.crypto import generate_keypair, sign_vote
from tianfu.mempool import Mempool
from tianfu.node.service import NodeService
from tianfu.types import PRECOMMIT, CommitCertificate, CommitSig, Validator, ValidatorSet


class Env:
    """The 4-org test chain with a validator added (from `added`) and one removed (from
    `removed`), served over the REST API."""

    def __init__(self, tmp_path):
        self.chain = chain = Chain(tmp_path)
        chain.block()
        self.new_key = generate_keypair()
        chain.keys[self.new_key.public_key] = self.new_key
        pid = chain.ok(
            chain.admins["org2"],
            "propose_add_validator",
            "org2-v2",
            "org2",
            self.new_key.scheme,
            self.new_key.public_key,
            5,
        )
        self.added = chain.pass_proposal(pid) + 2
        for _ in range(3):
            chain.block()
        pid = chain.ok(chain.admins["org1"], "propose_remove_validator", "org4-v")
        self.removed = chain.pass_proposal(pid) + 2
        self.tx_receipt_height = chain.ledger.height
        for _ in range(4):
            chain.block()
        service = NodeService(chain.ledger, Mempool(), node_name="n", org="org1", is_validator=True)
        self.http = TestClient(create_app(service))
        self.client = Client("http://testserver", genesis=chain.genesis, http=self.http)

    def header(self, h):
        return self.chain.ledger.store.load_header(h), self.chain.ledger.store.load_cert(h)

    def close(self):
        self.http.close()
        self.chain.close()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def names(vs):
    return [v.name for v in vs.validators]


def test_genesis_only_light_client_refuses_after_change(env):
    light = LightClient.from_genesis(env.chain.genesis)
    light.verify_header(*env.header(env.added - 1))  # still the genesis set
    with pytest.raises(VerificationError, match="other than the trusted one"):
        light.verify_header(*env.header(env.added))


def test_sync_walks_the_history_and_verifies_later_headers(env):
    light = LightClient.from_genesis(env.chain.genesis)
    light.sync(env.client, env.chain.ledger.height)
    assert light.known_until >= env.chain.ledger.height
    sets = light.trusted_sets()
    assert list(sets) == [1, env.added, env.removed]
    assert "org2-v2" in names(sets[env.added]) and "org4-v" in names(sets[env.added])
    assert "org4-v" not in names(sets[env.removed])
    for h in range(1, env.chain.ledger.height + 1):
        assert light.validator_set_at(h) == env.chain.ledger.validator_set(h)
        light.verify_header(*env.header(h))


def test_verify_header_fetches_the_history_through_its_source(env):
    light = LightClient.from_genesis(env.chain.genesis, source=env.client)
    light.verify_header(*env.header(env.added + 1))
    assert light.known_until >= env.added + 1
    assert light.validator_set_at(env.added) == env.chain.ledger.validator_set(env.added)
    top = env.chain.ledger.height
    light.verify_header(*env.header(top))  # a later change is followed too
    assert light.validator_set_at(top) == env.chain.ledger.validator_set(top)
    light.verify_header(*env.header(1))  # old headers keep their old set


def test_state_reads_and_tx_proofs_verify_across_changes(env):
    light = LightClient.from_genesis(env.chain.genesis, source=env.client)
    top = env.chain.ledger.height
    doc = env.client.state_raw("governance", "validators", top, prove=True)
    value = verify_state_json(light, doc, contract="governance", key="validators")
    assert value.height == top and [r["name"] for r in value.value][-1] == "org2-v2"
    block = env.chain.ledger.store.load_block(env.tx_receipt_height)
    tx = block.txs[0]
    proof = env.client.tx_proof_raw(tx.hash)
    assert verify_tx_proof_json(light, proof, tx_hash=tx.hash).height == env.tx_receipt_height
    # The same through the Client once its light client has a source (Client.light_client
    # does not pass one yet: it builds LightClient.from_genesis(genesis) without source=).
    env.client._light = light
    assert env.client.read_state("governance", "validators", top).height == top
    assert env.client.verify_tx_inclusion(tx.hash).index == 0


def forged_cert(header, keys, chain_id):
    sigs = []
    for k in keys:
        v = sign_vote(k, chain_id, header.height, 0, PRECOMMIT, header.hash, header.time_ms + 1000)
        sigs.append(CommitSig(v.validator, v.time_ms, v.signature))
    return CommitCertificate(1, chain_id, header.height, 0, header.hash, sigs)


def test_rejects_a_set_never_voted_in(env):
    chain_id = env.chain.genesis.chain_id
    light = LightClient.from_genesis(env.chain.genesis, source=env.client)
    fake_keys = [generate_keypair() for _ in range(4)]
    fake = ValidatorSet(
        [Validator(f"x{i}", "org1", k.scheme, k.public_key, 10) for i, k in enumerate(fake_keys)]
    )
    for h in (2, env.added + 1, env.chain.ledger.height):
        real, _ = env.header(h)
        header = msgspec.structs.replace(real, validators_hash=fake.hash)
        with pytest.raises(VerificationError, match="other than the trusted one"):
            light.verify_header(header, forged_cert(header, fake_keys, chain_id))
    # The right set named, but signed by the old (genesis) validators: refused.
    real, _ = env.header(env.removed)
    old_keys = [env.chain.keys[v.public_key] for v in env.chain.genesis.validators]
    with pytest.raises(VerificationError, match="commit certificate rejected"):
        light.verify_header(real, forged_cert(real, old_keys, chain_id))


class Tampering:
    """A node that lies about the validator history (`how` picks the lie)."""

    def __init__(self, client, how, fake_value=None):
        self.client, self.how, self.fake_value = client, how, fake_value

    def state_raw(self, contract, key, height=None, prove=False):
        doc = self.client.state_raw(contract, key, height, prove)
        if self.how == "hide" and key == "valset_heights":
            if not prove:
                doc["value_raw"] = encode([1]).hex()  # hint: no change ever
            return doc
        if self.how == "swap" and key.startswith("valset/"):
            doc["value_raw"] = encode(self.fake_value).hex()
        if self.how == "truncate" and key == "valset_heights" and prove:
            doc["value_raw"] = encode([1]).hex()
        return doc


def test_a_lying_node_cannot_make_it_accept_a_set(env):
    fake = generate_keypair()
    record = {"name": "evil", "org": "org1", "scheme": fake.scheme, "public_key": fake.public_key}
    top = env.chain.ledger.height
    for how in ("swap", "truncate", "hide"):
        light = LightClient.from_genesis(
            env.chain.genesis, source=Tampering(env.client, how, [{**record, "power": 100}])
        )
        with pytest.raises(VerificationError):
            light.verify_header(*env.header(top))
        assert light.validator_set_at(top) is None
        assert light.trusted_sets() == {1: env.chain.genesis.validator_set}


def test_update_validators_step_by_step(env):
    """The pure step: proven reads at height added - 2 add the new set from `added`."""
    light = LightClient.from_genesis(env.chain.genesis)
    x = env.added - 2
    heights_doc = env.client.state_raw("governance", "valset_heights", x, prove=True)
    docs = {env.added: env.client.state_raw("governance", f"valset/{env.added}", x, prove=True)}
    assert light.update_validators(heights_doc, docs) == x + 2
    assert light.validator_set_at(env.added) == env.chain.ledger.validator_set(env.added)
    with pytest.raises(VerificationError, match="missing"):
        LightClient.from_genesis(env.chain.genesis).update_validators(heights_doc, {})
