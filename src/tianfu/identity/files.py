"""Identities and organisation CAs on disk: PEM key and certificate files, loaded and checked.

An identity directory holds `key.pem` (PKCS#8, mode 0600), `cert.pem` and `ca.pem`;
an organisation CA directory holds `ca-key.pem` (mode 0600) and `ca.pem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tianfu.crypto.keys import KeyPair, generate_keypair, load_private_key_pem
from tianfu.crypto.suite import ED25519, SM2, CryptoError
from tianfu.durable import replace_durably
from tianfu.identity import certs
from tianfu.identity.certs import CertInfo, IdentityError

KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"


def _read(directory: Path, name: str) -> bytes:
    path = Path(directory) / name
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        if not Path(directory).is_dir():
            raise IdentityError(
                f"missing identity file {path}: {_no_directory(directory)}"
            ) from None
        raise IdentityError(f"missing identity file {path}{_identities_under(directory)}") from None
    except OSError as exc:
        raise IdentityError(f"cannot read {path}: {exc}") from None


def _no_directory(directory: Path) -> str:
    """What to do when the identity directory itself does not exist (a relative path given
    in another directory than the one the chain was made in, a typo)."""
    where = "" if Path(directory).is_absolute() else f" (looked for in {Path.cwd()})"
    what = "is a file, not a directory" if Path(directory).exists() else "does not exist"
    return (
        f"{directory} {what}{where} — give an identity directory "
        f"({KEY_FILE}, {CERT_FILE}, {CA_FILE}; `tianfu identity issue` makes one), or run the "
        "command in the directory that holds the chain's .tianfu/"
    )


def _identities_under(directory: Path) -> str:
    """A hint naming the identity directories one or two levels under `directory` (such as
    an organisation's `identities/admin`), for a path given one level too high; or ""."""
    try:
        found = [
            str(d)
            for d in sorted(
                (
                    k.parent
                    for p in (f"*/{KEY_FILE}", f"*/*/{KEY_FILE}")
                    for k in Path(directory).glob(p)
                ),
                key=lambda d: (d.name not in ("admin", "user"), str(d)),
            )
        ]
    except OSError:
        return ""
    if not found:
        return ""
    more = f" (and {len(found) - 4} more)" if len(found) > 4 else ""
    return f" (an identity directory holds {KEY_FILE}, {CERT_FILE}, {CA_FILE}; under this one: {', '.join(found[:4])}{more})"


def _read_key(directory: Path, name: str) -> KeyPair:
    try:
        return load_private_key_pem(_read(directory, name))
    except CryptoError as exc:
        raise IdentityError(f"{Path(directory) / name}: {exc}") from None


def _check_key_matches(keypair: KeyPair, info: CertInfo, where: Path) -> None:
    if (keypair.scheme, keypair.public_key) != (info.scheme, info.public_key):
        raise IdentityError(
            f"{where}: the private key does not match the certificate — {KEY_FILE} and "
            f"{CERT_FILE} must come from the same identity directory (copy both together)"
        )


@dataclass(frozen=True)
class Identity:
    """A user's, admin's or node's key with its certificate and its organisation's CA."""

    keypair: KeyPair
    cert_der: bytes
    ca_cert_der: bytes

    @cached_property
    def info(self) -> CertInfo:
        return certs.cert_info(self.cert_der)

    @property
    def is_account(self) -> bool:
        """An open-profile account: a self-made key without a certificate."""
        return not self.cert_der

    @classmethod
    def account(cls, keypair: KeyPair) -> Identity:
        return cls(keypair, b"", b"")

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        replace_durably(directory / KEY_FILE, self.keypair.private_pem(), 0o600)
        if self.is_account:
            return
        replace_durably(directory / CERT_FILE, certs.der_to_pem(self.cert_der), 0o644)
        replace_durably(directory / CA_FILE, certs.der_to_pem(self.ca_cert_der), 0o644)

    @classmethod
    def load(cls, directory: Path) -> Identity:
        """Load and check: the certificate is issued by `ca.pem` and matches `key.pem`. A
        directory with `key.pem` alone is an open-profile account (no certificate)."""
        directory = Path(directory)
        keypair = _read_key(directory, KEY_FILE)
        if not (directory / CERT_FILE).exists() and not (directory / CA_FILE).exists():
            return cls.account(keypair)
        cert = certs.pem_to_der(_read(directory, CERT_FILE))
        ca = certs.pem_to_der(_read(directory, CA_FILE))
        try:
            info = certs.verify_cert(cert, ca)
        except IdentityError as exc:
            raise IdentityError(f"{directory}: {exc}") from None
        _check_key_matches(keypair, info, directory)
        return cls(keypair, cert, ca)


@dataclass(frozen=True)
class OrgCA:
    """An organisation's certificate authority: its key and self-signed certificate."""

    org: str
    keypair: KeyPair
    cert_der: bytes

    @classmethod
    def create(cls, org: str, scheme: int = ED25519) -> OrgCA:
        key, cert = certs.create_ca(org, scheme)
        return cls(org, key, cert)

    @cached_property
    def info(self) -> CertInfo:
        return certs.cert_info(self.cert_der)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        replace_durably(directory / CA_KEY_FILE, self.keypair.private_pem(), 0o600)
        replace_durably(directory / CA_FILE, certs.der_to_pem(self.cert_der), 0o644)

    @classmethod
    def load(cls, directory: Path) -> OrgCA:
        directory = Path(directory)
        keypair = _read_key(directory, CA_KEY_FILE)
        cert = certs.pem_to_der(_read(directory, CA_FILE))
        info = certs.cert_info(cert)
        if not info.is_ca:
            raise IdentityError(f"{directory / CA_FILE} is not a CA certificate")
        _check_key_matches(keypair, info, directory)
        return cls(info.org, keypair, cert)

    def issue(self, name: str, kind: str, scheme: int | None = None) -> Identity:
        """A new identity of `kind` ("admin", "member" or "node"): fresh key + certificate.
        The key is `scheme`'s; by default SM2 from an SM2 CA, else Ed25519."""
        if scheme is None:
            scheme = SM2 if self.keypair.scheme == SM2 else ED25519
        try:
            keypair = generate_keypair(scheme)
        except CryptoError as exc:
            raise IdentityError(str(exc)) from None
        cert = certs.issue_cert(self.keypair, self.cert_der, name, kind, keypair)
        return Identity(keypair, cert, self.cert_der)
