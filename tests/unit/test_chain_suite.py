"""The crypto suite chosen at genesis: recorded in it, used for every hash and signature of
the chain, and messages of the other suite refused with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tianfu.client.errors import ApiError
from tianfu.codec import SHA256, SM3, CodecError, decode, encode, hash_domain_with
from tianfu.crypto import (
    ED25519,
    SM2,
    SM2_SUITE,
    STANDARD,
    CryptoError,
    generate_keypair,
    process_suite,
    set_chain_suite,
    sign_tx,
    sign_vote,
    verify_commit,
    verify_vote,
)
from tianfu.crypto.signing import CertificateError
from tianfu.execution.contract_api import address_of
from tianfu.identity import OrgCA
from tianfu.ledger import Ledger
from tianfu.store import Store
from tianfu.testing.appchain import AppChain
from tianfu.types import (
    PRECOMMIT,
    CommitCertificate,
    CommitSig,
    Genesis,
    OrgConfig,
    TxBody,
    Validator,
    ValidatorSet,
    VoteDomain,
)


@pytest.fixture
def sm2_process() -> Iterator[None]:
    """This test's process hashes and verifies as a node of an SM2 chain does."""
    before = process_suite()
    set_chain_suite(SM2_SUITE)
    try:
        yield
    finally:
        set_chain_suite(before)


def _genesis(scheme: int, suite: str) -> Genesis:
    ca = OrgCA.create("org1", scheme)
    node = ca.issue("node1", "node", scheme)
    return Genesis(
        version=1,
        chain_id="c",
        time_ms=1,
        orgs=[OrgConfig("org1", ca.cert_der)],
        validators=[Validator("node1", "org1", scheme, node.keypair.public_key, 1)],
        suite=suite,
    )


def test_the_genesis_records_its_suite_in_one_encoding() -> None:
    g = _genesis(SM2, "sm2")
    again = decode(encode(g), Genesis)
    assert again.suite == "sm2" and again == g
    standard = _genesis(ED25519, "standard")
    assert decode(encode(standard), Genesis).suite == "standard"
    # The encoding without the field (an earlier release's) is not a genesis of this one.
    fields = msgspec.to_builtins(standard)
    with pytest.raises(CodecError):
        decode(msgspec.msgpack.encode(fields[:-1]), Genesis)


def test_the_genesis_refuses_unknown_suites_and_foreign_validator_keys() -> None:
    with pytest.raises(CodecError, match="unknown crypto suite"):
        decode(encode(msgspec.structs.replace(_genesis(SM2, "sm2"), suite="sm9")), Genesis)
    with pytest.raises(CodecError, match="does not accept"):
        decode(encode(_genesis(ED25519, "sm2")), Genesis)
    with pytest.raises(CodecError, match="does not accept"):
        decode(encode(_genesis(SM2, "standard")), Genesis)


def test_the_genesis_hash_uses_its_own_suite_anywhere() -> None:
    sm2, std = _genesis(SM2, "sm2"), _genesis(ED25519, "standard")
    assert sm2.hash == hash_domain_with(SM3, "tianfu/genesis/v1", encode(sm2))
    assert std.hash == hash_domain_with(SHA256, "tianfu/genesis/v1", encode(std))
    with SM2_SUITE.use():
        assert std.hash == hash_domain_with(SHA256, "tianfu/genesis/v1", encode(std))


def test_addresses_follow_the_key_suite() -> None:
    sm2_key, ed_key = generate_keypair(SM2), generate_keypair(ED25519)
    a = address_of(SM2, sm2_key.public_key)
    assert (
        a == hash_domain_with(SM3, "tianfu/address/v1", bytes([SM2]), sm2_key.public_key)[:20].hex()
    )
    with SM2_SUITE.use():
        assert address_of(ED25519, ed_key.public_key) == (
            hash_domain_with(SHA256, "tianfu/address/v1", bytes([ED25519]), ed_key.public_key)[
                :20
            ].hex()
        )


def test_a_ledger_refuses_to_open_under_another_suite(tmp_path: Path) -> None:
    g = _genesis(SM2, "sm2")
    with pytest.raises(CryptoError, match="names the 'sm2' crypto suite"):
        Ledger(Store(tmp_path / "a.db"), g)
    with SM2_SUITE.use():
        Ledger(Store(tmp_path / "b.db"), g).store.close()


def test_votes_and_certificates_of_the_other_suite_are_refused() -> None:
    sm2_key, ed_key = generate_keypair(SM2), generate_keypair(ED25519)
    valset = ValidatorSet([Validator("v", "o", SM2, sm2_key.public_key, 1)])
    with SM2_SUITE.use():
        vote = sign_vote(sm2_key, "c", 5, 0, PRECOMMIT, b"h" * 32, 1_000)
        assert verify_vote(vote, valset, VoteDomain("c"))
        # The validator's key, but an Ed25519 signature: refused.
        forged = msgspec.structs.replace(
            vote, signature=ed_key.sign(vote.signing_bytes(VoteDomain("c")))
        )
        assert not verify_vote(forged, valset, VoteDomain("c"))
        # An Ed25519 validator on the SM2 chain: its votes never verify.
        ed_set = ValidatorSet([Validator("e", "o", ED25519, ed_key.public_key, 1)])
        assert not verify_vote(
            sign_vote(ed_key, "c", 5, 0, PRECOMMIT, b"h" * 32, 1_000), ed_set, VoteDomain("c")
        )
        cert = CommitCertificate(
            1, "c", 5, 0, b"h" * 32, [CommitSig(sm2_key.public_key, vote.time_ms, vote.signature)]
        )
        verify_commit(cert, b"h" * 32, 5, valset, "c")
    # The same certificate on a standard chain: SM2 signatures are not accepted there.
    with pytest.raises(CertificateError, match="invalid signature"):
        verify_commit(cert, b"h" * 32, 5, valset, "c")
    assert STANDARD.refusal(SM2) is not None


@pytest.fixture
def sm2_chain(tmp_path: Path, sm2_process: None) -> AppChain:
    return AppChain(tmp_path, scheme=SM2)


def test_an_sm2_chain_runs_and_proves_with_sm3(sm2_chain: AppChain) -> None:
    chain = sm2_chain
    assert chain.genesis.suite == "sm2"
    user = chain.identity("org2", "alice")
    client = chain.client(user)
    result = client.invoke("governance", "get_identity", user.info.address)
    assert result.ok
    tx = client.build_tx("governance", "get_identity", "x")
    assert tx.hash == hash_domain_with(SM3, "tianfu/tx/v1", encode(tx.body))
    header = chain.ledger.store.load_header(result.height)
    assert header is not None
    assert header.hash == hash_domain_with(SM3, "tianfu/header/v2", encode(header))
    verified = client.verify_tx_inclusion(result.tx_hash)
    assert verified.height == result.height
    doc = client.prove_state("governance", f"cert/{user.info.address}").document
    assert doc["suite"] == "sm2"


def test_an_sm2_chain_refuses_ed25519_transactions(sm2_chain: AppChain) -> None:
    ed = OrgCA.create("org2", ED25519).issue("mallory", "member", ED25519)
    body = TxBody(
        1,
        sm2_chain.genesis.chain_id,
        ED25519,
        ed.keypair.public_key,
        1,
        sm2_chain.ledger.height + 5,
        "governance",
        "get_identity",
        ["x"],
        ed.cert_der,
    )
    client = sm2_chain.client()
    with pytest.raises(ApiError, match="ed25519 signatures are not accepted on this chain"):
        client.submit(sign_tx(ed.keypair, body))


def test_governance_refuses_keys_and_cas_of_the_other_suite(sm2_chain: AppChain) -> None:
    chain = sm2_chain
    admin = chain.admin("org1")
    ed_key = generate_keypair(ED25519)
    r = chain.call(
        admin, "governance", "propose_add_validator", "v5", "org1", ED25519, ed_key.public_key, 1
    )
    assert not r.ok and "ed25519 signatures are not accepted" in r.error
    ed_ca = OrgCA.create("org5", ED25519)
    r = chain.call(admin, "governance", "propose_add_org", "org5", ed_ca.cert_der)
    assert not r.ok and "CA certificate refused" in r.error


def test_a_standard_chain_refuses_sm2_transactions(tmp_path: Path) -> None:
    chain = AppChain(tmp_path)
    sm2_id = OrgCA.create("org2", SM2).issue("li", "member", SM2)
    body = TxBody(
        1,
        chain.genesis.chain_id,
        SM2,
        sm2_id.keypair.public_key,
        1,
        chain.ledger.height + 5,
        "governance",
        "get_identity",
        ["x"],
        sm2_id.cert_der,
    )
    with pytest.raises(ApiError, match="sm2 signatures are not accepted on this chain"):
        chain.client().submit(sign_tx(sm2_id.keypair, body))
