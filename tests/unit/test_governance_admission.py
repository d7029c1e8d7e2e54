"""Unit tests: reviewed admission through the real Executor and Ledger (4 organisations,
4 validators, blocks committed with certificates signed by the validator set of their height)."""

import time

import pytest

from tianfu.codec import encode
from tianfu.crypto import generate_keypair, sign_tx, sign_vote, verify_commit
from tianfu.identity import OrgCA
from tianfu.ledger import InvalidBlock, Ledger
from tianfu.store import Store
from tianfu.types import (
    PRECOMMIT,
    PREVOTE,
    CommitCertificate,
    CommitSig,
    ConsensusParams,
    Genesis,
    OrgConfig,
    TxBody,
    Validator,
    Vote,
)

ORGS = ("org1", "org2", "org3", "org4")


class Chain:
    def __init__(
        self, directory, params=None, genesis_age_ms=10_000, validator_orgs=ORGS, version=1
    ):
        self.cas = {o: OrgCA.create(o) for o in ORGS}
        self.admins = {o: ca.issue(f"{o}-admin", "admin") for o, ca in self.cas.items()}
        self.keys = {}
        validators = []
        for o in validator_orgs:
            node = self.cas[o].issue(f"{o}-node", "node")
            self.keys[node.keypair.public_key] = node.keypair
            validators.append(
                Validator(f"{o}-v", o, node.keypair.scheme, node.keypair.public_key, 10)
            )
        self.genesis = Genesis(
            version,
            "tianfu-gov-test",
            int(time.time() * 1000) - genesis_age_ms,
            [OrgConfig(o, ca.cert_der) for o, ca in self.cas.items()],
            validators,
            params or ConsensusParams(),
        )
        self.genesis.validate()
        self.ledger = Ledger(Store(directory / "a.db"), self.genesis)
        self.replica = Ledger(Store(directory / "b.db"), self.genesis)
        self.nonce = 0
        self.time_ms = self.genesis.time_ms

    def tx(self, who, method, *args, contract="governance"):
        self.nonce += 1
        cert = who.cert_der  # used only until the signer is registered
        body = TxBody(
            1,
            self.genesis.chain_id,
            who.keypair.scheme,
            who.keypair.public_key,
            self.nonce,
            self.ledger.height + 10,
            contract,
            method,
            list(args),
            cert,
        )
        return sign_tx(who.keypair, body)

    def block(self, txs=()):
        """Build, certify (with the validator set of that height) and commit on both ledgers.

        Blocks are dated `time_ms` (advanced 1 s per block): each block's precommits carry
        the next block's time (BFT time). When a test moved `time_ms` past the time the last
        certificate gives, an empty block certified at `time_ms` is committed first, as a
        network's empty blocks would have been."""
        self.time_ms += 1000
        if self.ledger.height and self.ledger.next_block_time() < self.time_ms:
            self._commit([], self.time_ms)
        return self._commit(txs, self.time_ms + 1000)

    def _commit(self, txs, vote_ms):
        executed = self.ledger.build_block(list(txs), b"\x01" * 32)
        header = executed.block.header
        valset = self.ledger.validator_set(header.height)
        assert header.validators_hash == valset.hash
        sigs = []
        for v in valset.validators:
            vote = sign_vote(
                self.keys[v.public_key],
                self.genesis.vote_domain,
                header.height,
                0,
                PRECOMMIT,
                header.hash,
                max(vote_ms, header.time_ms + 1),
            )
            sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
        cert = CommitCertificate(1, self.genesis.chain_id, header.height, 0, header.hash, sigs)
        verify_commit(cert, header.hash, header.height, valset, self.genesis.vote_domain)
        self.ledger.commit(executed, cert)
        # An independent node re-executes the block and agrees on every root and the set.
        self.replica.commit(self.replica.execute(executed.block), cert)
        assert self.replica.validator_set(header.height + 1) == self.ledger.validator_set(
            header.height + 1
        )
        return executed.result.receipts

    def call(self, who, method, *args, contract="governance"):
        return self.block([self.tx(who, method, *args, contract=contract)])[0]

    def ok(self, who, method, *args):
        r = self.call(who, method, *args)
        assert r.ok, r.error
        return r.result

    def query(self, method, *args):
        reader = self.ledger.latest.get
        return self.ledger.executor.query(
            "governance", method, list(args), reader, self.ledger.height, self.time_ms
        )

    def pass_proposal(self, pid, orgs=("org1", "org2", "org3")):
        for o in orgs:
            res = self.ok(self.admins[o], "vote", pid, True)
        assert res["status"] == "activated", res
        return self.ledger.height

    def close(self):
        self.ledger.store.close()
        self.replica.store.close()


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def names(valset):
    return [v.name for v in valset.validators]


def test_genesis_validator_set_is_in_state(chain):
    assert chain.ledger.validator_set(1) == chain.genesis.validator_set
    assert chain.ledger.validator_set(3) == chain.genesis.validator_set  # state of height 1
    assert [v["name"] for v in chain.query("list_validators")] == [f"{o}-v" for o in ORGS]
    with pytest.raises(InvalidBlock, match="not determined"):
        chain.ledger.validator_set(chain.ledger.height + 3)


def test_admitting_a_fifth_org_needs_three_of_four(chain):
    ca5 = OrgCA.create("org5")
    admin5, user5 = ca5.issue("org5-admin", "admin"), ca5.issue("alice", "member")
    r = chain.call(user5, "list_orgs")
    assert not r.ok and "not a member organisation" in r.error
    pid = chain.ok(chain.admins["org1"], "propose_add_org", "org5", ca5.cert_der)
    for o in ("org1", "org2"):
        res = chain.ok(chain.admins[o], "vote", pid, True)
    assert res == {"id": pid, "status": "pending", "approvals": 2, "rejections": 0, "required": 3}
    assert "org5" not in [o["name"] for o in chain.query("list_orgs")]
    assert not chain.call(user5, "list_orgs").ok  # two approvals are not enough
    res = chain.ok(chain.admins["org3"], "approve", pid)
    assert res["status"] == "activated"
    assert chain.query("get_proposal", pid)["status"] == "activated"
    assert "org5" in [o["name"] for o in chain.query("list_orgs")]
    assert chain.call(user5, "list_orgs").ok  # its users can transact
    # Its admin can propose and vote; with 5 members, more than 2/3 is 4.
    pid2 = chain.ok(admin5, "propose_set_params", {"max_block_txs": 100})
    res = chain.ok(admin5, "vote", pid2, True)
    assert res["required"] == 4 and res["approvals"] == 1
    assert not chain.call(chain.admins["org4"], "vote", pid, True).ok  # already decided
    # The same name cannot be admitted twice.
    again = chain.call(chain.admins["org1"], "propose_add_org", "org5", ca5.cert_der)
    assert not again.ok and "exists" in again.error


def test_add_org_rejects_bad_certificates(chain):
    leaf = chain.cas["org1"].issue("x", "member").cert_der
    for args, msg in (
        (("org5", leaf), "not a CA"),
        (("org6", OrgCA.create("org7").cert_der), "for organisation 'org7'"),
        (("org5", b"junk"), "bad CA certificate"),
        (("bad/name", OrgCA.create("bad/name").cert_der), "organisation name"),
    ):
        r = chain.call(chain.admins["org1"], "propose_add_org", *args)
        assert not r.ok and msg in r.error, r.error


def test_add_validator_signs_from_h_plus_2(chain):
    key = generate_keypair()
    chain.keys[key.public_key] = key
    pid = chain.ok(
        chain.admins["org2"],
        "propose_add_validator",
        "org2-v2",
        "org2",
        key.scheme,
        key.public_key,
        5,
    )
    h = chain.pass_proposal(pid)
    assert "org2-v2" not in names(chain.ledger.validator_set(h))
    assert "org2-v2" not in names(chain.ledger.validator_set(h + 1))
    new = chain.ledger.validator_set(h + 2)
    assert names(new)[-1] == "org2-v2" and new.total_power == 45
    assert chain.query("validators_from") == h + 2
    chain.block()
    chain.block()  # height h + 2: certified by the new set; the replica agrees on the hash
    assert chain.ledger.head().validators_hash == new.hash
    assert chain.ledger.store.load_header(h + 1).validators_hash == chain.genesis.validator_set.hash
    # Duplicate name and duplicate key are refused at proposal time.
    dup = chain.call(
        chain.admins["org1"],
        "propose_add_validator",
        "org2-v2",
        "org1",
        key.scheme,
        generate_keypair().public_key,
        1,
    )
    assert not dup.ok and "already taken" in dup.error
    dup = chain.call(
        chain.admins["org1"],
        "propose_add_validator",
        "other",
        "org1",
        key.scheme,
        key.public_key,
        1,
    )
    assert not dup.ok and "public key already used" in dup.error


def test_validator_checks(chain):
    a = chain.admins["org1"]
    pk = generate_keypair().public_key
    for args, msg in (
        (("v", "nosuch", 1, pk, 1), "not an active member"),
        (("v", "org1", 1, pk, 0), "power must be between"),
        (("v", "org1", 1, pk, 1_000_001), "power must be between"),
        (("v", "org1", 1, pk[:5], 1), "public_key must be 32 bytes"),
        (("v", "org1", 99, pk, 1), "unknown signature scheme"),
        (("bad name", "org1", 1, pk, 1), "validator name"),
    ):
        r = chain.call(a, "propose_add_validator", *args)
        assert not r.ok and msg in r.error, (args, r.error)
    r = chain.call(a, "propose_set_power", "org1-v", 0)
    assert not r.ok and "power must be between" in r.error
    r = chain.call(a, "propose_remove_validator", "nosuch")
    assert not r.ok and "no validator named" in r.error


def test_remove_validator_and_never_empty(chain):
    for o in ("org2", "org3", "org4"):
        pid = chain.ok(chain.admins["org1"], "propose_remove_validator", f"{o}-v")
        h = chain.pass_proposal(pid)
        assert f"{o}-v" in names(chain.ledger.validator_set(h + 1))
        assert f"{o}-v" not in names(chain.ledger.validator_set(h + 2))
    chain.block()
    chain.block()
    assert names(chain.ledger.validator_set(chain.ledger.height + 1)) == ["org1-v"]
    r = chain.call(chain.admins["org1"], "propose_remove_validator", "org1-v")
    assert not r.ok and "empty" in r.error


def test_conflicting_proposals_second_fails_without_change(chain):
    key = generate_keypair()
    chain.keys[key.public_key] = key
    a = chain.admins["org1"]
    p1 = chain.ok(a, "propose_add_validator", "n1", "org1", key.scheme, key.public_key, 1)
    p2 = chain.ok(a, "propose_add_validator", "n2", "org1", key.scheme, key.public_key, 1)
    chain.pass_proposal(p1)
    before = chain.query("list_validators")
    for o in ("org1", "org2"):
        chain.ok(chain.admins[o], "vote", p2, True)
    res = chain.ok(chain.admins["org3"], "vote", p2, True)
    assert res["status"] == "failed" and "public key already used" in res["error"]
    assert chain.query("list_validators") == before
    assert chain.query("get_proposal", p2)["status"] == "failed"


def test_set_power(chain):
    pid = chain.ok(chain.admins["org3"], "propose_set_power", "org3-v", 25)
    h = chain.pass_proposal(pid)
    assert chain.ledger.validator_set(h + 1).total_power == 40
    vs = chain.ledger.validator_set(h + 2)
    assert vs.total_power == 55 and [v.power for v in vs.validators] == [10, 10, 25, 10]
    chain.block()
    chain.block()
    assert chain.ledger.head().validators_hash == vs.hash


def test_set_params(chain):
    a = chain.admins["org1"]
    for bad, msg in (
        ({"nosuch": 1}, "unknown parameter"),
        ({"max_block_txs": 0}, "between"),
        ({"timeout_vote_ms": "100"}, "must be an integer"),
        ({"slash_double_sign": 1}, "true or false"),
        ({"max_validators": 3}, "below the current 4"),
        ({}, "non-empty"),
    ):
        r = chain.call(a, "propose_set_params", bad)
        assert not r.ok and msg in r.error, (bad, r.error)
    pid = chain.ok(a, "propose_set_params", {"max_block_txs": 77, "slash_double_sign": True})
    assert chain.query("get_params")["max_block_txs"] == 5000
    chain.pass_proposal(pid)
    params = chain.query("get_params")
    assert params["max_block_txs"] == 77 and params["slash_double_sign"] is True
    assert params["timeout_vote_ms"] == ConsensusParams().timeout_vote_ms


def test_remove_org(chain):
    user4 = chain.cas["org4"].issue("bob", "member")
    assert chain.call(user4, "list_orgs").ok  # registered while a member
    pending = chain.ok(chain.admins["org1"], "propose_set_params", {"max_block_txs": 10})
    chain.ok(chain.admins["org4"], "vote", pending, True)  # counts only while org4 is a member
    pid = chain.ok(chain.admins["org1"], "propose_remove_org", "org4")
    h = chain.pass_proposal(pid)
    assert "org4-v" in names(chain.ledger.validator_set(h + 1))
    assert "org4-v" not in names(chain.ledger.validator_set(h + 2))
    r = chain.call(user4, "list_orgs")
    assert not r.ok and "no longer a member" in r.error
    new_user = chain.cas["org4"].issue("carol", "member")
    r = chain.call(new_user, "list_orgs")
    assert not r.ok and "not a member organisation" in r.error
    # Three members now: more than 2/3 is all three.
    res = chain.ok(chain.admins["org1"], "vote", pending, True)
    assert res["required"] == 3 and res["approvals"] == 1 and res["status"] == "pending"
    r = chain.call(chain.admins["org4"], "vote", pending, False)
    assert not r.ok and "no longer a member" in r.error
    # A removed org cannot get a validator.
    pk = generate_keypair().public_key
    r = chain.call(chain.admins["org1"], "propose_add_validator", "z", "org4", 1, pk, 1)
    assert not r.ok and "not an active member" in r.error


def test_only_admins_propose_and_vote_once(chain):
    user = chain.cas["org1"].issue("dave", "member")
    r = chain.call(user, "propose_remove_org", "org2")
    assert not r.ok and "only an organisation admin" in r.error
    pid = chain.ok(chain.admins["org1"], "propose_remove_org", "org2")
    r = chain.call(user, "vote", pid, True)
    assert not r.ok and "only an organisation admin" in r.error
    chain.ok(chain.admins["org1"], "vote", pid, True)
    second_admin = chain.cas["org1"].issue("org1-admin2", "admin")
    for who in (chain.admins["org1"], second_admin):
        r = chain.call(who, "vote", pid, False)
        assert not r.ok and "already voted" in r.error
    assert chain.query("get_proposal", pid)["approvals"] == ["org1"]


def test_rejected_when_threshold_unreachable(chain):
    pid = chain.ok(chain.admins["org1"], "propose_remove_org", "org2")
    res = chain.ok(chain.admins["org2"], "reject", pid)
    assert res["status"] == "pending"  # 3 could still approve
    res = chain.ok(chain.admins["org3"], "vote", pid, False)
    assert res["status"] == "rejected"
    assert chain.query("list_proposals") == []
    assert "org2" in [o["name"] for o in chain.query("list_orgs") if o["status"] == "active"]


def test_expired_proposal(tmp_path):
    chain = Chain(tmp_path, ConsensusParams(proposal_expiry_blocks=2))
    try:
        chain.block()
        pid = chain.ok(chain.admins["org1"], "propose_set_power", "org1-v", 3)
        proposed = chain.ledger.height
        chain.ok(chain.admins["org2"], "vote", pid, True)
        chain.block()
        assert chain.ledger.height == proposed + 2
        r = chain.call(chain.admins["org3"], "vote", pid, True)
        assert not r.ok and f"expired at height {proposed + 2}" in r.error
        assert chain.query("get_proposal", pid)["status"] == "expired"
        assert chain.ledger.validator_set(chain.ledger.height + 2).total_power == 40
    finally:
        chain.close()


def _double_sign(chain, key, height, round_=0, typ=PREVOTE):
    t = 1_000 if typ == PRECOMMIT else 0  # (a precommit of a block carries a time)
    a = sign_vote(key, chain.genesis.chain_id, height, round_, typ, b"\xaa" * 32, t)
    b = sign_vote(key, chain.genesis.chain_id, height, round_, typ, b"\xbb" * 32, t)
    return encode(a), encode(b)


def test_evidence_recorded_once_and_forgeries_rejected(chain):
    node = chain.cas["org2"].issue("org2-node2", "node")
    offender = chain.ledger.validator_set(1).validators[2]
    key = chain.keys[offender.public_key]
    a, b = _double_sign(chain, key, 1)
    res = chain.ok(node, "submit_evidence", a, b)
    assert res == {"key": "evidence/org3-v/1/0/1", "validator": "org3-v", "slashed": False}
    assert chain.query("get_evidence", "org3-v", 1, 0, PREVOTE)["org"] == "org3"
    r = chain.call(chain.admins["org1"], "submit_evidence", b, a)
    assert not r.ok and "already recorded" in r.error
    # The validator stays (slashing is off by default).
    assert "org3-v" in names(chain.ledger.validator_set(chain.ledger.height + 2))

    va = Vote(
        1, chain.genesis.chain_id, 1, 1, PREVOTE, b"\xaa" * 32, 0, key.public_key, b"\x00" * 64
    )
    _, good_b = _double_sign(chain, key, 1, 1)
    outsider = generate_keypair()
    same = encode(sign_vote(key, chain.genesis.chain_id, 1, 2, PREVOTE, b"\xaa" * 32))
    other_h = encode(sign_vote(key, chain.genesis.chain_id, 2, 2, PREVOTE, b"\xbb" * 32))
    wrong_chain = encode(sign_vote(key, "other", 1, 2, PREVOTE, b"\xbb" * 32))
    user = chain.cas["org1"].issue("erin", "member")
    for who, args, msg in (
        (node, (encode(va), good_b), "signature is not valid"),
        (node, _double_sign(chain, outsider, 1), "not a validator"),
        (node, (same, same), "same block"),
        (node, (same, other_h), "different heights"),
        (node, (same, wrong_chain), "not for this chain"),
        (node, (b"junk", same), "malformed vote"),
        (node, _double_sign(chain, key, 999), "beyond the chain"),
        (user, _double_sign(chain, key, 1, 3), "node or admin"),
    ):
        r = chain.call(who, "submit_evidence", *args)
        assert not r.ok and msg in r.error, (msg, r.error)


def test_evidence_slashes_when_enabled(tmp_path):
    chain = Chain(tmp_path, ConsensusParams(slash_double_sign=True))
    try:
        chain.block()
        offender = chain.genesis.validators[1]
        res = chain.ok(
            chain.admins["org1"],
            "submit_evidence",
            *_double_sign(chain, chain.keys[offender.public_key], 1, 0, PRECOMMIT),
        )
        assert res["slashed"] is True
        h = chain.ledger.height
        assert offender.name in names(chain.ledger.validator_set(h + 1))
        assert offender.name not in names(chain.ledger.validator_set(h + 2))
        # Evidence of a vote at a height signed by the old set still verifies later.
        chain.block()
        chain.block()
        res = chain.ok(
            chain.admins["org1"],
            "submit_evidence",
            *_double_sign(chain, chain.keys[offender.public_key], 2, 0, PRECOMMIT),
        )
        assert res["slashed"] is False  # no longer in the set
    finally:
        chain.close()


def test_contract_proposals_still_work(chain):
    pid = chain.ok(
        chain.admins["org1"], "propose_contract", "kv", "def put(ctx, k, v):\n    ctx.put(k, v)\n"
    )
    for o in ("org1", "org2"):
        res = chain.ok(chain.admins[o], "approve", pid)
    assert res["status"] == "pending" and res["required"] == 3  # majority of 4
    res = chain.ok(chain.admins["org3"], "approve", pid)
    assert res["status"] == "activated"
    assert chain.query("get_contract", "kv")["version"] == 1
