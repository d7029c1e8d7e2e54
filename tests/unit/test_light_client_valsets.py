"""Unit tests: the light client follows validator-set changes voted through governance (an
organisation and its validator admitted, a power changed, a validator removed) through the
chain of proven changes served by a real node API, sequentially and by skipping; it
refuses sets never voted in, chains that hide or forge a change, and skips outside the
trust rules."""

import time

import msgspec
import pytest
from fastapi.testclient import TestClient
from test_governance_admission import Chain

from tianfu.api.app import create_app
from tianfu.client import Client
from tianfu.client.verify import LightClient, VerificationError, verify_state_json
from tianfu.codec import decode, encode
from tianfu.crypto import generate_keypair, sign_vote
from tianfu.identity import OrgCA
from tianfu.ledger.proofs import ledger_proofs
from tianfu.mempool import Mempool
from tianfu.node.service import NodeService
from tianfu.proofs.commit import Fraction
from tianfu.proofs.formats import ValidatorLink
from tianfu.proofs.valchain import TrustedHistory, TrustOptions
from tianfu.types import PRECOMMIT, CommitCertificate, CommitSig, Validator, ValidatorSet


class Env:
    """The 4-org test chain with org5 and its validator admitted, org1's power raised and
    org4's validator removed, served over the REST API."""

    def __init__(self, tmp_path):
        # Blocks are one second apart: a genesis 2 minutes old keeps them in the past.
        self.chain = chain = Chain(tmp_path, genesis_age_ms=120_000)
        chain.block()
        ca5 = OrgCA.create("org5")
        pid = chain.ok(chain.admins["org1"], "propose_add_org", "org5", ca5.cert_der)
        chain.pass_proposal(pid)
        self.new_key = generate_keypair()
        chain.keys[self.new_key.public_key] = self.new_key
        pid = chain.ok(
            chain.admins["org2"],
            "propose_add_validator",
            "org5-v",
            "org5",
            self.new_key.scheme,
            self.new_key.public_key,
            5,
        )
        self.added = chain.pass_proposal(pid, ("org1", "org2", "org3", "org4")) + 2
        for _ in range(3):
            chain.block()
        pid = chain.ok(chain.admins["org1"], "propose_set_power", "org1-v", 25)
        self.powered = chain.pass_proposal(pid, ("org1", "org2", "org3", "org4")) + 2
        chain.block()
        pid = chain.ok(chain.admins["org1"], "propose_remove_validator", "org4-v")
        self.removed = chain.pass_proposal(pid, ("org1", "org2", "org3", "org4")) + 2
        self.tx_receipt_height = chain.ledger.height
        for _ in range(4):
            chain.block()
        service = NodeService(chain.ledger, Mempool(), node_name="n", org="org1", is_validator=True)
        self.http = TestClient(create_app(service))
        self.client = Client("http://testserver", genesis=chain.genesis, http=self.http)
        self.builder = ledger_proofs(chain.ledger)

    def header(self, h):
        return self.chain.ledger.store.load_header(h), self.chain.ledger.store.load_cert(h)

    def links(self, height=None, **kw):
        return self.builder.validator_chain(height or self.chain.ledger.height, **kw)

    def close(self):
        self.http.close()
        self.chain.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("lc"))
    yield e
    e.close()


def names(vs):
    return [v.name for v in vs.validators]


def test_the_changes_are_the_ledgers(env):
    ledger = env.chain.ledger
    changes = [c + 2 for c in env.builder.changes_until(ledger.height)]
    assert changes == [env.added, env.powered, env.removed]
    assert "org5-v" in names(ledger.validator_set(env.added))
    assert "org4-v" not in names(ledger.validator_set(env.removed))


def test_genesis_only_light_client_refuses_after_change(env):
    light = LightClient.from_genesis(env.chain.genesis)
    light.verify_header(*env.header(env.added - 1))  # still the genesis set
    with pytest.raises(VerificationError, match="other than the trusted one"):
        light.verify_header(*env.header(env.added))


def test_sync_follows_every_change_and_verifies_every_header(env):
    light = LightClient.from_genesis(env.chain.genesis)
    top = env.chain.ledger.height
    light.sync(env.client, top)
    assert list(light.trusted_sets()) == [1, env.added, env.powered, env.removed]
    assert light.known_until == env.removed  # exact up to the last change's link + 2
    for h in range(1, top + 1):
        if h <= light.known_until:
            assert light.validator_set_at(h) == env.chain.ledger.validator_set(h)
        light.verify_header(*env.header(h))


def test_verify_header_fetches_the_chain_through_its_source(env):
    light = LightClient.from_genesis(env.chain.genesis, source=env.client)
    light.verify_header(*env.header(env.added + 1))
    assert light.validator_set_at(env.added) == env.chain.ledger.validator_set(env.added)
    top = env.chain.ledger.height
    light.verify_header(*env.header(top))  # later changes are followed too
    light.verify_header(*env.header(1))  # old headers keep their old set
    light.verify_header(*env.header(env.powered - 1))


def test_state_reads_and_tx_proofs_verify_across_changes(env):
    top = env.chain.ledger.height
    doc = env.client.state_raw("governance", "validators", top, prove=True)
    value = verify_state_json(env.client.light_client, doc, contract="governance", key="validators")
    assert value.height == top and "org5-v" in [r["name"] for r in value.value]
    tx = env.chain.ledger.store.load_block(env.tx_receipt_height).txs[0]
    inc = env.client.verify_tx_inclusion(tx.hash)
    assert inc.height == env.tx_receipt_height and inc.receipt is not None and inc.receipt.ok
    assert env.client.read_state("governance", "validators", top).height == top


def test_documents_of_every_kind_verify_against_the_genesis_after_changes(env):
    c = env.client
    top = env.chain.ledger.height
    tx = env.chain.ledger.store.load_block(env.tx_receipt_height).txs[0]
    for proven in (
        c.prove_state("governance", "validators"),
        c.prove_states([("governance", "params"), ("governance", "orgs")], top - 1),
        c.prove_tx(tx.hash),
        c.prove_absence(b"\x05" * 32),
        c.prove_history("governance", "validators"),
        c.prove_validators(),
        c.prove_validators(mode="skipping"),
    ):
        changes = [ch["changed_in"] for ch in proven.document["validator_changes"]]
        assert changes[0] == 0 and len(changes) >= 2
    hist = c.prove_history("governance", "validators").document
    assert [v["height"] for v in hist["versions"]] == [
        env.removed - 2,
        env.powered - 2,
        env.added - 2,
        0,
    ]
    assert hist["complete"] is True
    vals = c.prove_validators().document
    assert [v["name"] for v in vals["validators"]] == ["org1-v", "org2-v", "org3-v", "org5-v"]
    assert vals["validators"][0]["power"] == 25


def test_skipping_chain_and_its_trust_rules(env):
    genesis = env.chain.genesis
    skip = env.links(mode="skipping")
    seq = env.links()
    assert len(seq) == 3 and len(skip) < len(seq) and skip[-1].block.signers
    TrustedHistory.from_genesis(genesis).apply_links(skip)
    # Beyond the trusting period (measured from the trusted header), skipping is refused.
    late = TrustOptions(now_ms=int(time.time() * 1000) + 30 * 24 * 3600 * 1000)
    with pytest.raises(VerificationError, match="trusting period"):
        TrustedHistory.from_genesis(genesis, late).apply_links(skip)
    TrustedHistory.from_genesis(genesis, late).apply_links(seq)  # sequential: no time limit
    # A trust level the signers do not reach refuses the skip.
    strict = TrustOptions(trust_level=Fraction(1, 1))
    with pytest.raises(VerificationError, match="more than 1/1"):
        TrustedHistory.from_genesis(genesis, strict).apply_links(skip)
    with pytest.raises(ValueError, match="trust level"):
        TrustOptions(trust_level=Fraction(1, 4))
    with pytest.raises(VerificationError, match="not allowed"):
        TrustedHistory.from_genesis(genesis, TrustOptions(allow_skipping=False)).apply_links(skip)
    # A header from the future is refused.
    past = TrustOptions(now_ms=genesis.time_ms + 1)
    with pytest.raises(VerificationError, match="future|not later"):
        TrustedHistory.from_genesis(genesis, past).apply_links(skip)


def test_a_chain_that_hides_or_forges_a_change_is_refused(env):
    genesis = env.chain.genesis
    seq = env.links()

    def refused(links, needle):
        with pytest.raises(VerificationError, match=needle):
            TrustedHistory.from_genesis(genesis).apply_links(links)

    refused([seq[0], seq[2]], "skips a change|other than the trusted")
    refused([seq[1], seq[2]], "skips a change|other than the trusted")
    refused([seq[1], seq[0], seq[2]], "ascend|skips|other than")
    refused([seq[0], seq[0]], "ascend")
    fake = generate_keypair()
    records = [
        {
            "name": "evil",
            "org": "org1",
            "scheme": fake.scheme,
            "public_key": fake.public_key,
            "power": 100,
        }
    ]
    refused([msgspec.structs.replace(seq[0], value=encode(records))], "proof does not match")
    refused([msgspec.structs.replace(seq[0], proof=seq[1].proof)], "proof does not match")
    # A sequential link may not carry a set it does not need (every byte must count).
    with_set = msgspec.structs.replace(
        seq[0], block=msgspec.structs.replace(seq[0].block, signers=encode(genesis.validator_set))
    )
    refused([with_set], "does not need")
    # The links a node's API serves are checked the same way by the light client.
    light = LightClient.from_genesis(genesis, source=Hiding(env.client, drop=1))
    with pytest.raises(VerificationError):
        light.verify_header(*env.header(env.chain.ledger.height))
    assert light.validator_set_at(env.chain.ledger.height) is None


class Hiding:
    """A node whose validator chain leaves out one change."""

    def __init__(self, client, drop):
        self.client, self.drop = client, drop

    def validator_chain_raw(self, height, after=0):
        doc = self.client.validator_chain_raw(height, after)
        links = decode(bytes.fromhex(doc["links"]), list[ValidatorLink])
        del links[self.drop]
        return {**doc, "links": encode(links).hex()}


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
    with pytest.raises(VerificationError, match="commit certificate"):
        light.verify_header(real, forged_cert(real, old_keys, chain_id))


def test_trusted_header_anchor(env):
    """A light client may start from a later header trusted by its hash."""
    h = env.powered + 1
    b = env.builder
    anchor = b.light_block(h, env.chain.ledger.validator_set(h))
    entry = b.entry(b"governance/validators", h)
    header, _ = env.header(h)
    hist = TrustedHistory.from_trusted_header(
        env.chain.genesis, anchor, entry.value, entry.proof, header.hash
    )
    hist.apply_links(env.links(after=env.powered - 2))
    top = env.chain.ledger.height
    hdr, cert = env.header(top)
    hist.check_header(hdr, cert, hist.set_at(top))
    with pytest.raises(VerificationError, match="trusted hash"):
        TrustedHistory.from_trusted_header(
            env.chain.genesis, anchor, entry.value, entry.proof, b"\x00" * 32
        )
