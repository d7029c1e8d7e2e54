"""CLI commands for identities and governance: CAs, certificates, roles, revocations."""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    JsonOpt,
    Node,
    SchemeOpt,
    UsageProblem,
    address_role_command,
    handle_errors,
    node_command,
    read_cert_file,
    report_result,
    scheme_of,
    show_fields,
)

ca_app = CommandGroup("Organisation certificate authorities.")
identity_app = CommandGroup("Identities: keys with certificates.")
role_app = CommandGroup(
    "On-chain roles: ordinary ones granted by an organisation admin, supervisory ones "
    "(see `tianfu gov supervisory-roles`) by a governance vote (`tianfu gov propose grant-role`)."
)
cert_app = CommandGroup("On-chain certificate revocation.")

KINDS = ("admin", "member", "node")


def _refuse_overwrite(path: Path) -> None:
    if path.exists():
        raise CommandFailed(f"{path} already exists; refusing to overwrite a private key")


def _scheme_name(scheme: int) -> str:
    from tianfu.crypto import scheme_name

    return scheme_name(scheme)


@ca_app.command("create")
def ca_create(
    org: Annotated[str, typer.Argument(help="Organisation name.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write ca.pem and ca-key.pem.")],
    scheme: SchemeOpt = "ed25519",
    as_json: JsonOpt = False,
) -> None:
    """Create an organisation's CA (self-signed certificate and key)."""
    with handle_errors():
        from tianfu.identity import OrgCA

        scheme_id = scheme_of(scheme)
        _refuse_overwrite(out / "ca-key.pem")
        ca = OrgCA.create(org, scheme_id)
        ca.save(out)
        doc = {"org": ca.org, "scheme": _scheme_name(scheme_id), "dir": str(out)}
        show_fields("organisation CA created", doc, as_json)


@identity_app.command("issue")
def identity_issue(
    ca: Annotated[Path, typer.Option("--ca", help="The organisation's CA directory.")],
    name: Annotated[str, typer.Option("--name", help="The identity's name (certificate CN).")],
    kind: Annotated[str, typer.Option("--kind", help="admin, member or node.")],
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write key.pem, cert.pem, ca.pem.")
    ],
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme",
            help="Key scheme: ed25519 or ecdsa-p256 from a standard CA (default ed25519); an "
            "SM2 CA issues sm2 keys only (the default for it).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a new identity (fresh key and certificate) from an organisation's CA."""
    with handle_errors():
        from tianfu.identity import OrgCA

        if kind not in KINDS:
            raise UsageProblem(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        scheme_id = None if scheme is None else scheme_of(scheme)
        _refuse_overwrite(out / "key.pem")
        ident = OrgCA.load(ca).issue(name, kind, scheme_id)
        ident.save(out)
        info = ident.info
        doc = {
            "org": info.org,
            "name": info.name,
            "kind": info.kind,
            "address": info.address,
            "dir": str(out),
        }
        show_fields("identity issued", doc, as_json)


@identity_app.command("show")
def identity_show(
    directory: Annotated[Path, typer.Argument(help="Identity directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Show an identity's organisation, name, kind and address. The certificate's expiry is
    a date in TIANFU_TZ; --json gives not_after_ms, milliseconds since the epoch. An account
    (`tianfu account create`: a key, no certificate) shows its address and key."""
    with handle_errors():
        from tianfu.identity import Identity

        ident = Identity.load(directory)
        if ident.is_account:  # an open-profile account: a key, no certificate
            from tianfu.crypto.address import address_of

            kp = ident.keypair
            show_fields(
                "identity",
                {
                    "org": None if as_json else "— (an account: no certificate)",
                    "kind": "account",
                    "address": address_of(kp.scheme, kp.public_key),
                    "scheme": _scheme_name(kp.scheme),
                    "public_key": kp.public_key.hex(),
                },
                as_json,
            )
            return
        info = ident.info
        doc = {
            "org": info.org,
            "name": info.name,
            "kind": info.kind,
            "address": info.address,
            "scheme": _scheme_name(info.scheme),
            "public_key": info.public_key.hex(),
            "serial": str(info.serial),
            "fingerprint": hashlib.sha256(info.der).hexdigest(),
            "not_after_ms": info.not_after_ms,
        }
        if not as_json:  # for people: the expiry as a date in TIANFU_TZ
            from tianfu.apps.common.readable import date, zone

            del doc["not_after_ms"]
            doc["valid until"] = date(info.not_after_ms, zone())
        show_fields("identity", doc, as_json)


role_app.command("grant")(
    address_role_command(
        "grant_role",
        "Grant an ordinary on-chain role to an address of your organisation (a supervisory\n"
        "    role is granted by a vote: `tianfu gov propose grant-role`).",
    )
)
role_app.command("revoke")(address_role_command("revoke_role", "Revoke an on-chain role."))


def _revoke(
    node: Node,
    address: str | None,
    cert: Path | None,
    fingerprint: str | None,
    serial: str | None,
) -> None:
    given = [x for x in (address, cert, fingerprint, serial) if x is not None]
    if len(given) != 1:
        raise UsageProblem("give exactly one of ADDRESS, --cert FILE, --fingerprint or --serial")
    if address is not None:
        node.governance("revoke_cert", address)
        return
    from tianfu.client.governance import revoke_certificate, revoke_serial

    client = node.client(need_identity=True)
    if cert is not None:
        try:
            data = read_cert_file(cert)
        except OSError as exc:
            raise UsageProblem(f"cannot read {cert}: {exc.strerror}") from None
        result = revoke_certificate(client, data, check=False)
    elif fingerprint is not None:
        fp = fingerprint.replace(":", "").strip().lower()
        if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
            raise UsageProblem("--fingerprint is the certificate's SHA-256: 64 hex characters")
        result = revoke_certificate(client, fp, check=False)
    else:
        try:
            number = int(serial or "", 0)
        except ValueError:
            raise UsageProblem("--serial is a decimal or 0x-hex integer") from None
        result = revoke_serial(client, number, check=False)
    report_result(result, node.as_json)


CertFileOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--cert", help="The certificate file (PEM or DER); it need not have transacted."),
]
FingerprintOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--fingerprint", help="The certificate's SHA-256 fingerprint (hex)."),
]
SerialOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--serial", help="The certificate's serial number (decimal or 0x-hex)."),
]
AddressArg = Annotated[
    Optional[str],  # noqa: UP045
    typer.Argument(help="The address of a registered identity (or use an option)."),
]


def _revoke_command(doc: str) -> Callable[..., None]:
    """A revocation command (by ADDRESS, --cert, --fingerprint or --serial) with --help `doc`."""

    @node_command("url", "identity", "json")
    def command(
        node: Node,
        address: AddressArg = None,
        cert: CertFileOpt = None,
        fingerprint: FingerprintOpt = None,
        serial: SerialOpt = None,
    ) -> None:
        _revoke(node, address, cert, fingerprint, serial)

    command.__doc__ = doc
    return command


cert_app.command("revoke")(
    _revoke_command(
        "Revoke a certificate your organisation issued: by ADDRESS (a registered identity),\n"
        "    --cert FILE, --fingerprint or --serial. Effective for the next transaction."
    )
)
identity_app.command("revoke")(
    _revoke_command("Revoke an identity's certificate (the same as `tianfu cert revoke`).")
)
