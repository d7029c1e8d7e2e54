"""CLI commands for identities and governance: CAs, certificates, roles, revocations."""

from pathlib import Path
from typing import Annotated

import typer

from tianfu.cli.common import (
    CommandFailed,
    IdentityOpt,
    JsonOpt,
    SchemeOpt,
    UrlOpt,
    UsageProblem,
    handle_errors,
    make_client,
    print_fields,
    print_json,
    report_result,
    scheme_of,
)
from tianfu.client import DEFAULT_URL

ca_app = typer.Typer(help="Organisation certificate authorities.", no_args_is_help=True)
identity_app = typer.Typer(help="Identities: keys with certificates.", no_args_is_help=True)
role_app = typer.Typer(
    help="On-chain roles (granted by an organisation admin).", no_args_is_help=True
)
cert_app = typer.Typer(help="On-chain certificate revocation.", no_args_is_help=True)

KINDS = ("admin", "member", "node")


def _refuse_overwrite(path: Path) -> None:
    if path.exists():
        raise CommandFailed(f"{path} already exists; refusing to overwrite a private key")


def _scheme_name(scheme: int) -> str:
    return {1: "ed25519", 2: "ecdsa-p256"}.get(scheme, str(scheme))


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
        if as_json:
            print_json(doc)
        else:
            print_fields("organisation CA created", doc)


@identity_app.command("issue")
def identity_issue(
    ca: Annotated[Path, typer.Option("--ca", help="The organisation's CA directory.")],
    name: Annotated[str, typer.Option("--name", help="The identity's name (certificate CN).")],
    kind: Annotated[str, typer.Option("--kind", help="admin, member or node.")],
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write key.pem, cert.pem, ca.pem.")
    ],
    scheme: SchemeOpt = "ed25519",
    as_json: JsonOpt = False,
) -> None:
    """Issue a new identity (fresh key and certificate) from an organisation's CA."""
    with handle_errors():
        from tianfu.identity import OrgCA

        if kind not in KINDS:
            raise UsageProblem(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        scheme_id = scheme_of(scheme)
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
        if as_json:
            print_json(doc)
        else:
            print_fields("identity issued", doc)


@identity_app.command("show")
def identity_show(
    directory: Annotated[Path, typer.Argument(help="Identity directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Show an identity's organisation, name, kind and address."""
    with handle_errors():
        from tianfu.identity import Identity

        info = Identity.load(directory).info
        doc = {
            "org": info.org,
            "name": info.name,
            "kind": info.kind,
            "address": info.address,
            "scheme": _scheme_name(info.scheme),
            "public_key": info.public_key.hex(),
            "serial": str(info.serial),
            "not_after_ms": info.not_after_ms,
        }
        if as_json:
            print_json(doc)
        else:
            print_fields("identity", doc)


def _governance(url: str, identity: Path | None, as_json: bool, method: str, *args: str) -> None:
    with handle_errors():
        client = make_client(url, identity, need_identity=True)
        report_result(client.invoke("governance", method, *args, check=False), as_json)


@role_app.command("grant")
def role_grant(
    address: str,
    role: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant an on-chain role to an address of your organisation."""
    _governance(url, identity, as_json, "grant_role", address, role)


@role_app.command("revoke")
def role_revoke(
    address: str,
    role: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an on-chain role."""
    _governance(url, identity, as_json, "revoke_role", address, role)


@cert_app.command("revoke")
def cert_revoke(
    address: str,
    url: UrlOpt = DEFAULT_URL,
    identity: IdentityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke the certificate of an address (effective from the next block)."""
    _governance(url, identity, as_json, "revoke_cert", address)
