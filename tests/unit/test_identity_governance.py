"""Identity in the governance contract: revocation by certificate (fingerprint, serial)
whether or not it ever transacted, the validity period checked at every transaction
against the block time, and supervisory roles granted only by a vote of the consortium."""

import hashlib

import pytest
from test_dynamic_params import tx_with_expiry
from test_governance_admission import Chain

from tianfu.contracts.identity import DEFAULT_SUPERVISORY_ROLES
from tianfu.crypto import generate_keypair
from tianfu.execution.contract_api import ContractError
from tianfu.identity import Identity, issue_cert

DAY_MS = 86_400_000


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def short_lived(chain, org, name, days=1):
    """An identity whose certificate is valid from now for `days` days."""
    ca = chain.cas[org]
    key = generate_keypair()
    cert = issue_cert(ca.keypair, ca.cert_der, name, "member", key, days=days)
    return Identity(key, cert, ca.cert_der)


def admit(chain, tx, time_ms=None):
    """Mempool admission on the replica's executor (raises ContractError when refused)."""
    ledger = chain.replica
    ledger.executor.check_tx(
        tx, ledger.height + 1, time_ms or chain.time_ms + 1000, ledger.latest.get
    )


def first_tx(chain, who):
    return tx_with_expiry(chain, who, chain.ledger.height + 20, "list_orgs")


# -- revocation -------------------------------------------------------------------------------
def test_a_certificate_that_never_transacted_can_be_revoked_by_its_der(chain):
    admin = chain.admins["org1"]
    leaked = chain.cas["org1"].issue("leaked", "member")
    # By address it is unknown (it never transacted): revocation by the certificate works.
    assert "unknown identity" in chain.call(admin, "revoke_cert", leaked.info.address).error
    out = chain.ok(admin, "revoke_certificate", leaked.cert_der)
    assert out["fingerprint"] == hashlib.sha256(leaked.cert_der).hexdigest()
    assert out["address"] == leaked.info.address and out["serial"] == str(leaked.info.serial)
    assert chain.query("is_revoked", leaked.cert_der) is True
    tx = first_tx(chain, leaked)
    with pytest.raises(ContractError, match="revoked"):
        admit(chain, tx)
    (receipt,) = chain.block([tx])  # a faulty node's block: execution refuses it too
    assert not receipt.ok and "revoked" in receipt.error
    assert chain.query("get_identity", leaked.info.address) is None  # never registered
    # Twice is refused; another organisation cannot revoke it.
    assert "already revoked" in chain.call(admin, "revoke_certificate", leaked.cert_der).error
    other = chain.cas["org2"].issue("bob", "member")
    r = chain.call(chain.admins["org2"], "revoke_certificate", leaked.cert_der)
    assert not r.ok and "not a certificate issued by org2" in r.error
    r = chain.call(chain.admins["org1"], "revoke_certificate", other.cert_der)
    assert not r.ok
    # Only an admin revokes.
    member = chain.cas["org1"].issue("m", "member")
    assert (
        "only an organisation admin"
        in chain.call(member, "revoke_certificate", other.cert_der).error
    )


def test_revocation_by_fingerprint_and_by_serial(chain):
    admin = chain.admins["org1"]
    a = chain.cas["org1"].issue("by-fingerprint", "member")
    b = chain.cas["org1"].issue("by-serial", "member")
    c = chain.cas["org1"].issue("registered", "member")
    assert chain.call(c, "list_orgs").ok  # c registers with its first transaction
    fp = hashlib.sha256(a.cert_der).hexdigest()
    chain.ok(admin, "revoke_certificate", fp.upper())  # hex in any case
    chain.ok(admin, "revoke_serial", str(b.info.serial))
    chain.ok(admin, "revoke_certificate", hashlib.sha256(c.cert_der).hexdigest())
    for who in (a, b, c):
        tx = first_tx(chain, who)
        with pytest.raises(ContractError, match="revoked"):
            admit(chain, tx)
        (receipt,) = chain.block([tx])
        assert not receipt.ok and "revoked" in receipt.error
    assert chain.query("get_identity", c.info.address)["revoked"] is True
    # A fingerprint revoked by another organisation does not touch org1's certificate.
    d = chain.cas["org1"].issue("safe", "member")
    chain.ok(chain.admins["org2"], "revoke_certificate", hashlib.sha256(d.cert_der).hexdigest())
    assert chain.call(d, "list_orgs").ok
    for bad in ("zz" * 32, "abc", 12, b"not a cert"):
        assert not chain.call(admin, "revoke_certificate", bad).ok, bad
    for bad in ("0", "-5", "1e9", "x", "1" * 51, True):
        assert not chain.call(admin, "revoke_serial", bad).ok, bad


def test_a_revocation_refuses_a_signer_at_admission_from_the_next_block(chain):
    user = chain.cas["org2"].issue("user", "member")
    assert chain.call(user, "list_orgs").ok
    admit(chain, first_tx(chain, user))  # kept in the admission memo from here on
    admit(chain, first_tx(chain, user))
    chain.ok(chain.admins["org2"], "revoke_serial", str(user.info.serial))
    with pytest.raises(ContractError, match="serial .* revoked"):
        admit(chain, first_tx(chain, user))


# -- validity period --------------------------------------------------------------------------
def test_an_expired_certificate_is_refused_after_its_first_use(chain):
    user = short_lived(chain, "org3", "temp", days=1)
    assert chain.call(user, "list_orgs").ok  # registered while valid
    not_after = user.info.not_after_ms
    admit(chain, first_tx(chain, user))  # the memo holds the answer now
    # A block dated 20 s past not_after: refused in execution and at admission.
    chain.time_ms = not_after + 20_000 - 1000  # (`block` adds 1000)
    tx = first_tx(chain, user)
    with pytest.raises(ContractError, match="expired"):
        admit(chain, tx, not_after + 20_000)
    (receipt,) = chain.block([tx])
    assert not receipt.ok and "expired" in receipt.error
    # A certificate of the same organisation that is still valid keeps working.
    other = chain.cas["org3"].issue("other", "member")
    assert chain.call(other, "list_orgs").ok


def test_the_admission_memo_keeps_no_answer_past_the_validity_period(chain):
    user = short_lived(chain, "org2", "memo", days=1)
    assert chain.call(user, "list_orgs").ok
    tx = first_tx(chain, user)
    now = chain.time_ms + 1000
    admit(chain, tx, now)
    key = (user.keypair.scheme, user.keypair.public_key)
    kept = chain.replica.executor._admission.callers[key][1]
    assert kept.not_after_ms == user.info.not_after_ms
    admit(chain, tx, user.info.not_after_ms)  # the last valid millisecond
    with pytest.raises(ContractError, match="expired"):
        admit(chain, tx, user.info.not_after_ms + 1)
    with pytest.raises(ContractError, match="not valid before"):
        admit(chain, tx, user.info.not_before_ms - 1)


def test_a_record_without_the_validity_fields_reads_them_from_its_certificate(chain):
    """Certificates registered before the record kept fingerprint and validity."""
    from tianfu.contracts.governance import resolve_caller

    user = short_lived(chain, "org1", "legacy", days=1)
    assert chain.call(user, "list_orgs").ok
    values = {}
    read = values.get

    record = {
        "org": "org1",
        "name": "legacy",
        "kind": "member",
        "serial": str(user.info.serial),
        "scheme": user.keypair.scheme,
        "public_key": user.keypair.public_key,
        "cert": user.cert_der,
    }
    values[f"cert/{user.info.address}"] = record
    values["org/org1"] = {"name": "org1", "ca_cert": chain.cas["org1"].cert_der, "status": "active"}
    resolved = resolve_caller(
        read, user.keypair.scheme, user.keypair.public_key, b"", chain.time_ms
    )
    assert resolved.caller.name == "legacy" and resolved.writes == {}
    assert resolved.not_after_ms == user.info.not_after_ms
    with pytest.raises(ContractError, match="expired"):
        resolve_caller(
            read, user.keypair.scheme, user.keypair.public_key, b"", user.info.not_after_ms + 1
        )
    values[f"revoked_serial/org1/{user.info.serial}"] = {"height": 1, "by": "x"}
    with pytest.raises(ContractError, match="revoked"):
        resolve_caller(read, user.keypair.scheme, user.keypair.public_key, b"", chain.time_ms)


# -- supervisory roles ------------------------------------------------------------------------
def test_supervisory_roles_are_granted_only_by_a_vote(chain):
    admin = chain.admins["org1"]
    user = chain.cas["org1"].issue("officer", "member")
    assert chain.call(user, "list_orgs").ok
    addr = user.info.address
    assert chain.query("supervisory_roles") == list(DEFAULT_SUPERVISORY_ROLES)
    assert {"regulator", "court", "auditor", "notary"} <= set(DEFAULT_SUPERVISORY_ROLES)
    for role in DEFAULT_SUPERVISORY_ROLES:
        r = chain.call(admin, "grant_role", addr, role)
        assert not r.ok and "supervisory" in r.error, role
    assert chain.ok(admin, "grant_role", addr, "producer") == ["producer"]  # ordinary: as before
    pid = chain.ok(admin, "propose_grant_role", addr, "regulator")
    assert chain.query("get_proposal", pid)["kind"] == "grant_role"
    chain.pass_proposal(pid)
    assert chain.query("get_identity", addr)["roles"] == ["producer", "regulator"]
    # The role works for the holder at once (a contract sees it in ctx.sender.roles).
    assert "already" in chain.call(admin, "propose_grant_role", addr, "regulator").error
    # Its own admin may take it away (less power is safe); a vote may too.
    assert chain.ok(admin, "revoke_role", addr, "regulator") == ["producer"]
    pid = chain.ok(chain.admins["org2"], "propose_grant_role", addr, "court")
    chain.pass_proposal(pid)
    pid = chain.ok(chain.admins["org3"], "propose_revoke_role", addr, "court")
    chain.pass_proposal(pid)
    assert chain.query("get_identity", addr)["roles"] == ["producer"]
    # Proposals about unknown identities or bad roles are refused when made.
    stranger = chain.cas["org1"].issue("stranger", "member").info.address
    assert not chain.call(admin, "propose_grant_role", stranger, "regulator").ok
    assert not chain.call(admin, "propose_grant_role", addr, "Bad Role").ok
    assert not chain.call(admin, "propose_revoke_role", addr, "notary").ok


def test_which_roles_are_supervisory_is_changed_by_a_vote(chain):
    admin = chain.admins["org2"]
    user = chain.cas["org2"].issue("banker", "member")
    assert chain.call(user, "list_orgs").ok
    pid = chain.ok(admin, "propose_set_supervisory_roles", ["regulator", "bank", "bank"])
    chain.pass_proposal(pid)
    assert chain.query("supervisory_roles") == ["bank", "regulator"]
    assert "supervisory" in chain.call(admin, "grant_role", user.info.address, "bank").error
    assert chain.ok(admin, "grant_role", user.info.address, "notary") == ["notary"]
    assert not chain.call(admin, "propose_set_supervisory_roles", "regulator").ok
    assert not chain.call(admin, "propose_set_supervisory_roles", ["x"] * 65).ok
    # A non-admin cannot propose.
    assert not chain.call(user, "propose_set_supervisory_roles", []).ok
