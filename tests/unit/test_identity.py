"""Unit tests: organisation CAs, issuing and verifying X.509 identities, identity files."""

import datetime as dt
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tianfu.crypto import ECDSA_P256, ED25519, generate_keypair, verify
from tianfu.execution.contract_api import address_of
from tianfu.identity import (
    KINDS,
    Identity,
    IdentityError,
    OrgCA,
    cert_info,
    create_ca,
    der_to_pem,
    issue_cert,
    verify_cert,
)
from tianfu.identity.certs import MAX_CERT_SIZE

SCHEMES = [ED25519, ECDSA_P256]


@pytest.fixture(scope="module")
def cas():
    """One CA per scheme, built once (key generation is the slow part)."""
    return {s: OrgCA.create("acme", s) for s in SCHEMES}


@pytest.mark.parametrize("ca_scheme", SCHEMES)
@pytest.mark.parametrize("leaf_scheme", SCHEMES)
@pytest.mark.parametrize("kind", KINDS)
def test_issue_and_verify(cas, ca_scheme, leaf_scheme, kind):
    ca = cas[ca_scheme]
    ident = ca.issue("alice", kind, leaf_scheme)
    info = verify_cert(ident.cert_der, ca.cert_der, at_ms=ident.info.not_before_ms + 1000)
    assert (info.org, info.name, info.kind) == ("acme", "alice", kind)
    assert (info.scheme, info.public_key) == (leaf_scheme, ident.keypair.public_key)
    assert info.address == address_of(leaf_scheme, ident.keypair.public_key)
    assert not info.is_ca and info.der == ident.cert_der
    assert info.not_before_ms < info.not_after_ms
    assert cert_info(ident.cert_der) == info


def test_ca_certificate_contents():
    key, der = create_ca("Bank of Chengdu", ECDSA_P256)
    info = cert_info(der)
    assert (info.org, info.name, info.kind, info.is_ca) == (
        "Bank of Chengdu",
        "Bank of Chengdu CA",
        "",
        True,
    )
    assert (info.scheme, info.public_key) == (ECDSA_P256, key.public_key)
    cert = x509.load_der_x509_certificate(der)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_serials_are_random(cas):
    ca = cas[ED25519]
    kp = generate_keypair()
    serials = {
        cert_info(issue_cert(ca.keypair, ca.cert_der, "n", "node", kp)).serial for _ in range(5)
    }
    assert len(serials) == 5


def test_issue_accepts_a_bare_public_key(cas):
    ca = cas[ED25519]
    kp = generate_keypair(ECDSA_P256)
    der = issue_cert(ca.keypair, ca.cert_der, "bob", "member", kp.private.public_key())
    assert verify_cert(der, ca.cert_der).public_key == kp.public_key


def test_issue_rejects_bad_kind_name_and_key(cas):
    ca = cas[ED25519]
    kp = generate_keypair()
    with pytest.raises(IdentityError, match="kind"):
        issue_cert(ca.keypair, ca.cert_der, "bob", "auditor", kp)
    with pytest.raises(IdentityError, match="name"):
        issue_cert(ca.keypair, ca.cert_der, "", "member", kp)
    with pytest.raises(IdentityError, match="name"):
        issue_cert(ca.keypair, ca.cert_der, "x" * 65, "member", kp)
    with pytest.raises(IdentityError, match="does not match"):
        issue_cert(cas[ECDSA_P256].keypair, ca.cert_der, "bob", "member", kp)
    leaf = ca.issue("carol", "admin")
    with pytest.raises(IdentityError, match="not a CA"):
        issue_cert(leaf.keypair, leaf.cert_der, "bob", "member", kp)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rejects_cert_from_another_org(cas, scheme):
    other = OrgCA.create("globex", scheme)
    ident = other.issue("mallory", "admin", scheme)
    with pytest.raises(IdentityError, match="issued by"):
        verify_cert(ident.cert_der, cas[scheme].cert_der)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rejects_impostor_ca_with_the_same_name(cas, scheme):
    impostor = OrgCA.create("acme", scheme)  # same subject, different key
    ident = impostor.issue("mallory", "admin", scheme)
    verify_cert(ident.cert_der, impostor.cert_der)
    with pytest.raises(IdentityError, match="signature"):
        verify_cert(ident.cert_der, cas[scheme].cert_der)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rejects_every_single_byte_tampering(cas, scheme):
    ca = cas[scheme]
    der = ca.issue("alice", "member", scheme).cert_der
    for i in range(len(der)):
        bad = bytearray(der)
        bad[i] ^= 0x01
        with pytest.raises(IdentityError):
            verify_cert(bytes(bad), ca.cert_der)


def _custom_leaf(ca: OrgCA, ou: str | None, org: str = "acme", is_ca: bool = False) -> bytes:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if ou is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, "eve"))
    issuer = x509.load_der_x509_certificate(ca.cert_der).subject
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(issuer)
        .public_key(generate_keypair().private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if is_ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    algo = None if ca.keypair.scheme == ED25519 else hashes.SHA256()
    return builder.sign(ca.keypair.private, algo).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rejects_wrong_ou_org_and_ca_flag(cas, scheme):
    ca = cas[scheme]
    assert verify_cert(_custom_leaf(ca, "member"), ca.cert_der).kind == "member"  # control
    with pytest.raises(IdentityError, match="OU"):
        verify_cert(_custom_leaf(ca, "auditor"), ca.cert_der)
    with pytest.raises(IdentityError, match="OU"):
        verify_cert(_custom_leaf(ca, None), ca.cert_der)
    with pytest.raises(IdentityError, match="organisation"):
        verify_cert(_custom_leaf(ca, "admin", org="globex"), ca.cert_der)
    with pytest.raises(IdentityError, match="CA certificate cannot"):
        verify_cert(_custom_leaf(ca, "admin", is_ca=True), ca.cert_der)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rejects_ca_cert_as_leaf(cas, scheme):
    ca = cas[scheme]
    with pytest.raises(IdentityError, match="CA certificate"):
        verify_cert(ca.cert_der, ca.cert_der)


def test_leaf_cannot_act_as_ca(cas):
    ca = cas[ED25519]
    leaf = ca.issue("alice", "admin")
    other = ca.issue("bob", "member")
    with pytest.raises(IdentityError, match="not a CA"):
        verify_cert(other.cert_der, leaf.cert_der)


def test_validity_window(cas):
    ca = cas[ED25519]
    info = ca.issue("alice", "member").info
    verify_cert(info.der, ca.cert_der, at_ms=info.not_before_ms)
    verify_cert(info.der, ca.cert_der, at_ms=info.not_after_ms)
    with pytest.raises(IdentityError, match="expired"):
        verify_cert(info.der, ca.cert_der, at_ms=info.not_after_ms + 1)
    with pytest.raises(IdentityError, match="not yet valid"):
        verify_cert(info.der, ca.cert_der, at_ms=info.not_before_ms - 1)
    # A leaf never outlives its CA.
    assert info.not_after_ms <= ca.info.not_after_ms


def test_short_lived_cert_expires(cas):
    ca = cas[ECDSA_P256]
    der = issue_cert(ca.keypair, ca.cert_der, "tmp", "member", generate_keypair(), days=1)
    info = verify_cert(der, ca.cert_der)
    assert info.not_after_ms - info.not_before_ms < 2 * 86_400_000
    with pytest.raises(IdentityError):
        verify_cert(der, ca.cert_der, at_ms=info.not_after_ms + 86_400_000)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"\x30\x82\x01\x00" + b"\x00" * 10, bytes(range(256))]
)
def test_rejects_garbage(cas, data):
    with pytest.raises(IdentityError, match="malformed"):
        cert_info(data)
    with pytest.raises(IdentityError):
        verify_cert(data, cas[ED25519].cert_der)
    with pytest.raises(IdentityError):
        verify_cert(cas[ED25519].issue("a", "node").cert_der, data)


def test_rejects_oversize_and_non_bytes(cas):
    ca = cas[ED25519]
    with pytest.raises(IdentityError, match="exceeds"):
        verify_cert(ca.issue("a", "node").cert_der + b"\x00" * MAX_CERT_SIZE, ca.cert_der)
    with pytest.raises(IdentityError):
        cert_info("not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_identity_save_load_roundtrip(tmp_path, cas, scheme):
    ident = cas[scheme].issue("node-1", "node", scheme)
    ident.save(tmp_path / "id")
    assert stat.S_IMODE((tmp_path / "id" / "key.pem").stat().st_mode) == 0o600
    assert (tmp_path / "id" / "cert.pem").read_bytes() == der_to_pem(ident.cert_der)
    loaded = Identity.load(tmp_path / "id")
    assert loaded.cert_der == ident.cert_der and loaded.ca_cert_der == ident.ca_cert_der
    assert loaded.keypair.public_key == ident.keypair.public_key
    assert loaded.info.kind == "node" and loaded.info.name == "node-1"
    msg = b"hello"
    assert verify(scheme, ident.keypair.public_key, msg, loaded.keypair.sign(msg))


def test_identity_load_rejects_mismatched_key(tmp_path, cas):
    a = cas[ED25519].issue("alice", "admin")
    b = cas[ED25519].issue("bob", "admin")
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    (tmp_path / "a" / "key.pem").write_bytes((tmp_path / "b" / "key.pem").read_bytes())
    with pytest.raises(IdentityError, match="does not match"):
        Identity.load(tmp_path / "a")


def test_identity_load_rejects_missing_and_foreign_files(tmp_path, cas):
    a = cas[ED25519].issue("alice", "admin")
    a.save(tmp_path / "a")
    (tmp_path / "a" / "cert.pem").unlink()
    with pytest.raises(IdentityError, match="missing identity file"):
        Identity.load(tmp_path / "a")
    with pytest.raises(IdentityError, match="missing"):
        Identity.load(tmp_path / "nowhere")
    a.save(tmp_path / "a")
    (tmp_path / "a" / "ca.pem").write_bytes(der_to_pem(cas[ECDSA_P256].cert_der))
    with pytest.raises(IdentityError):
        Identity.load(tmp_path / "a")
    (tmp_path / "a" / "key.pem").write_bytes(b"not a key")
    with pytest.raises(IdentityError, match="key"):
        Identity.load(tmp_path / "a")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_org_ca_save_load_issue(tmp_path, scheme):
    ca = OrgCA.create("hospital", scheme)
    ca.save(tmp_path / "ca")
    assert stat.S_IMODE((tmp_path / "ca" / "ca-key.pem").stat().st_mode) == 0o600
    loaded = OrgCA.load(tmp_path / "ca")
    assert loaded.org == "hospital" and loaded.cert_der == ca.cert_der
    ident = loaded.issue("dr-li", "member")
    assert verify_cert(ident.cert_der, ca.cert_der).org == "hospital"


def test_org_ca_load_rejects_mismatch(tmp_path):
    a, b = OrgCA.create("a"), OrgCA.create("b")
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    (tmp_path / "a" / "ca-key.pem").write_bytes((tmp_path / "b" / "ca-key.pem").read_bytes())
    with pytest.raises(IdentityError, match="does not match"):
        OrgCA.load(tmp_path / "a")


def test_missing_identity_names_the_identities_under_the_directory(tmp_path, cas):
    # An organisation's directory given where one of its identities is meant.
    org = tmp_path / "org1"
    for name in ("user", "admin", "x-other"):
        cas[ED25519].issue(name, "member").save(org / "identities" / name)
    with pytest.raises(IdentityError) as err:
        Identity.load(org)
    msg = str(err.value)
    assert "missing identity file" in msg
    admin, user = str(org / "identities" / "admin"), str(org / "identities" / "user")
    assert admin in msg and user in msg and msg.index(user) < msg.index("x-other")
    with pytest.raises(IdentityError) as err:
        Identity.load(tmp_path / "nowhere")
    assert "under this one" not in str(err.value)
