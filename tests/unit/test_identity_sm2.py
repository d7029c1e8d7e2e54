"""SM2 identities: SM2-with-SM3 X.509 CAs and certificates, checked by us and by OpenSSL."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from asn1crypto import core as acore
from asn1crypto import x509 as ax509

from tianfu.crypto import ED25519, SM2, generate_keypair
from tianfu.execution.contract_api import address_of
from tianfu.identity import KINDS, Identity, IdentityError, OrgCA, cert_info, sm2certs, verify_cert


@pytest.fixture(scope="module")
def ca() -> OrgCA:
    return OrgCA.create("acme", SM2)


@pytest.mark.parametrize("kind", KINDS)
def test_issue_and_verify(ca: OrgCA, kind: str) -> None:
    ident = ca.issue("alice", kind, SM2)
    info = verify_cert(ident.cert_der, ca.cert_der, at_ms=ident.info.not_before_ms + 1000)
    assert (info.org, info.name, info.kind, info.scheme) == ("acme", "alice", kind, SM2)
    assert info.public_key == ident.keypair.public_key and len(info.public_key) == 33
    assert info.address == address_of(SM2, ident.keypair.public_key)
    assert cert_info(ident.cert_der) == info and not info.is_ca
    ca_info = cert_info(ca.cert_der)
    assert ca_info.is_ca and ca_info.scheme == SM2 and ca_info.kind == ""


def test_the_layout_is_the_standard_one(ca: OrgCA) -> None:
    cert = ax509.Certificate.load(ca.issue("bob", "node", SM2).cert_der)
    assert cert["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    tbs = cert["tbs_certificate"]
    assert tbs["signature"]["algorithm"].dotted == "1.2.156.10197.1.501"
    spki = tbs["subject_public_key_info"]
    assert spki["algorithm"]["algorithm"].dotted == "1.2.840.10045.2.1"
    assert spki["algorithm"]["parameters"].chosen.dotted == "1.2.156.10197.1.301"
    assert len(spki["public_key"].native) == 65
    assert tbs["issuer"] == ax509.Certificate.load(ca.cert_der)["tbs_certificate"]["subject"]
    assert tbs["subject"].native == {
        "organization_name": "acme",
        "organizational_unit_name": "node",
        "common_name": "bob",
    }


def test_rejects_other_orgs_and_impostor_cas(ca: OrgCA) -> None:
    other = OrgCA.create("globex", SM2)
    with pytest.raises(IdentityError, match="issued by"):
        verify_cert(other.issue("mallory", "admin", SM2).cert_der, ca.cert_der)
    impostor = OrgCA.create("acme", SM2)  # same subject, another key
    forged = impostor.issue("mallory", "admin", SM2).cert_der
    verify_cert(forged, impostor.cert_der)
    with pytest.raises(IdentityError, match="does not verify"):
        verify_cert(forged, ca.cert_der)


def test_rejects_every_single_byte_tampering(ca: OrgCA) -> None:
    der = ca.issue("alice", "member", SM2).cert_der
    for i in range(len(der)):
        bad = bytearray(der)
        bad[i] ^= 0x01
        with pytest.raises(IdentityError):
            verify_cert(bytes(bad), ca.cert_der)


def test_suites_do_not_mix(ca: OrgCA) -> None:
    ed_ca = OrgCA.create("acme", ED25519)
    with pytest.raises(IdentityError, match="SM2 keys only"):
        ca.issue("eve", "member", ED25519)
    with pytest.raises(IdentityError, match="SM2 CA"):
        ed_ca.issue("eve", "member", SM2)
    # An SM2-signed certificate does not verify against a standard CA of the same name,
    # nor a standard one against the SM2 CA.
    with pytest.raises(IdentityError):
        verify_cert(ca.issue("eve", "member", SM2).cert_der, ed_ca.cert_der)
    with pytest.raises(IdentityError):
        verify_cert(ed_ca.issue("eve", "member", ED25519).cert_der, ca.cert_der)


def test_rejects_another_encoding_of_the_signature_algorithm(ca: OrgCA) -> None:
    """SM2-with-SM3 with NULL parameters is a second byte form: refused."""
    der = ca.issue("eve", "member", SM2).cert_der
    cert = ax509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    alg = {"algorithm": "1.2.156.10197.1.501", "parameters": acore.Null()}
    tbs["signature"] = ax509.SignedDigestAlgorithm(alg)
    tbs_der = tbs.dump(force=True)
    from tianfu.crypto import sm2

    forged = ax509.Certificate(
        {
            "tbs_certificate": ax509.TbsCertificate.load(tbs_der),
            "signature_algorithm": alg,
            "signature_value": sm2.sign_der(ca.keypair.private, tbs_der),
        }
    ).dump()
    assert b"\x06\x08\x2a\x81\x1c\xcf\x55\x01\x83\x75\x05\x00" in forged  # OID, NULL
    with pytest.raises(IdentityError, match="SM2-with-SM3 alone"):
        verify_cert(forged, ca.cert_der)


def test_validity_window(ca: OrgCA) -> None:
    ident = ca.issue("alice", "member", SM2)
    info = ident.info
    verify_cert(ident.cert_der, ca.cert_der, at_ms=info.not_before_ms)
    with pytest.raises(IdentityError, match="not valid at this time"):
        verify_cert(ident.cert_der, ca.cert_der, at_ms=info.not_after_ms + 1)


def test_identity_and_ca_files(tmp_path: Path, ca: OrgCA) -> None:
    ca.save(tmp_path / "ca")
    loaded_ca = OrgCA.load(tmp_path / "ca")
    assert loaded_ca.keypair.public_key == ca.keypair.public_key
    ident = loaded_ca.issue("node1", "node", SM2)
    ident.save(tmp_path / "node1")
    assert stat.S_IMODE((tmp_path / "node1" / "key.pem").stat().st_mode) == 0o600
    again = Identity.load(tmp_path / "node1")
    assert again.keypair.scheme == SM2 and again.keypair.public_key == ident.keypair.public_key
    assert again.cert_der == ident.cert_der
    (tmp_path / "node1" / "key.pem").write_bytes(generate_keypair(SM2).private_pem())
    with pytest.raises(IdentityError, match="does not match"):
        Identity.load(tmp_path / "node1")


def test_sm2_cert_helpers_refuse_non_sm2_input() -> None:
    with pytest.raises(sm2certs.Sm2CertError):
        sm2certs.build(
            issuer_key=generate_keypair(ED25519),
            issuer_name=None,
            subject={"organization_name": "x", "common_name": "x CA"},
            public_key=generate_keypair(SM2).public_key,
            serial=1,
            not_before=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            not_after=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            ca=True,
        )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_reads_and_verifies_the_certificates(tmp_path: Path, ca: OrgCA) -> None:
    ca.save(tmp_path / "ca")
    ca.issue("node1", "node", SM2).save(tmp_path / "node1")
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "node1" / "cert.pem"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SM2-with-SM3" in text and "ASN1 OID: SM2" in text
    assert "O = acme, OU = node, CN = node1" in text and "CA:FALSE" in text
    ok = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "ca" / "ca.pem"),
            "-vfyopt",
            "distid:1234567812345678",
            str(tmp_path / "node1" / "cert.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith(": OK")
    key = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "node1" / "key.pem"), "-noout", "-text"],
        capture_output=True,
        text=True,
    )
    assert key.returncode == 0 and "SM2" in key.stdout
