"""Who signs: a transaction's signer resolved from governance state, certificate revocation
(by address, by certificate fingerprint, by issuer and serial number), the validity period
checked at every transaction, and which application roles only a consortium vote grants.

State (under the contract name `governance`, next to governance.py's keys):
  cert/<address>                {"org", "name", "kind", "serial", "scheme", "public_key",
                                "cert", "fingerprint", "not_before", "not_after"} — the
                                certificate a signer registered with its first transaction
                                (records written before the last three existed lack them;
                                they are then read from "cert")
  revoked/<address>             {"height", "by"}: every certificate of that key is refused
  revoked_cert/<fingerprint>    {"org", "height", "by"}: the certificate whose DER has this
                                SHA-256 (hex) is refused if `org` issued it
  revoked_serial/<org>/<serial> {"height", "by"}: the certificate `org` issued with this
                                serial number (decimal) is refused
  supervisory_roles             sorted roles only a governance vote grants (absent: the
                                default list below)

A revocation is an ordinary governance write: it applies to every later transaction, from
the next one in the same block on, at admission and in execution, whether or not the
certificate ever transacted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from tianfu.execution.contract_api import Caller, Context, ContractError, address_of, failing_as

# Application roles that let their holder judge, attest or supervise others' business: an
# organisation granting one to its own member would be judge in its own cause.
DEFAULT_SUPERVISORY_ROLES = (
    "arbitrator",
    "auditor",
    "court",
    "fund_authority",
    "inspector",
    "notary",
    "regulator",
)
ROLE_RE = re.compile(r"^[a-z][a-z0-9_:-]{0,63}\Z")
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}\Z")
SERIAL_RE = re.compile(r"^[1-9][0-9]{0,49}\Z")  # X.509 serials are at most 20 bytes
MAX_SUPERVISORY_ROLES = 64

# Proposal kinds (handled through `tianfu.contracts.reviewed_admission`).
GRANT_ROLE = "grant_role"
REVOKE_ROLE = "revoke_role"
SET_SUPERVISORY_ROLES = "set_supervisory_roles"
KINDS = frozenset({GRANT_ROLE, REVOKE_ROLE, SET_SUPERVISORY_ROLES})


class AuthError(ContractError):
    """The signer is not (or no longer) an admitted member of the consortium."""


class Resolved(NamedTuple):
    caller: Caller
    writes: dict[str, Any]  # the registration of a first-use certificate, else empty
    not_before_ms: int  # the certificate's validity period: the answer holds within it
    not_after_ms: int


def fingerprint(cert_der: bytes) -> str:
    """The SHA-256 of a certificate's DER, hex: how a certificate is named for revocation."""
    return hashlib.sha256(cert_der).hexdigest()


def _check_revoked(read: Any, org: str, fp: str, serial: str) -> None:
    entry = read(f"revoked_cert/{fp}")
    if entry is not None and entry.get("org") == org:
        raise AuthError(f"certificate {fp[:16]}… is revoked (since height {entry['height']})")
    entry = read(f"revoked_serial/{org}/{serial}")
    if entry is not None:
        raise AuthError(
            f"certificate serial {serial} of {org} is revoked (since height {entry['height']})"
        )


def _check_period(not_before: int, not_after: int, time_ms: int) -> None:
    if time_ms < not_before:
        raise AuthError(f"the signer's certificate is not valid before {not_before} ms")
    if time_ms > not_after:
        raise AuthError(f"the signer's certificate expired at {not_after} ms")


def resolve_caller(
    read: Any,
    scheme: int,
    public_key: bytes,
    cert_der: bytes,
    time_ms: int,
    before_chain_check: Callable[[], None] | None = None,
) -> Resolved:
    """Identify a transaction's signer from governance state at time `time_ms`.

    `read(key)` returns a governance value or None. Raises AuthError for an unknown signer,
    a revoked certificate (by address, fingerprint or serial), one outside its validity
    period at `time_ms`, or one of an organisation that is no longer a member.

    `before_chain_check` (mempool admission: the transaction's signature check) is called
    just before a first-use certificate's chain check (a CA signature, ~0.4 ms): after every
    cheap refusal (a revoked key, no certificate, a malformed one, one of no member
    organisation, a revoked one), and before the dearest.

    Callers memoise the answer with the values `read` returned (`tianfu.execution.admission_memo`,
    `BlockGov`): it is a function of those, the arguments, and — only through the validity
    period returned (and, for a registration, the CA's) — of `time_ms`.
    """
    address = address_of(scheme, public_key)
    if read(f"revoked/{address}") is not None:
        raise AuthError(f"signer {address} has a revoked certificate")
    record = read(f"cert/{address}")
    writes: dict[str, Any] = {}
    if record is None:
        # Imported here: only a first-use certificate needs X.509 (and `cryptography`).
        # Its parse and chain check are kept per certificate, refusals too
        # (`tianfu.identity.verdicts`); governance values are read afresh below.
        from tianfu.identity import IdentityError
        from tianfu.identity.verdicts import parse, verify_issued

        if not cert_der:
            raise AuthError(
                f"unknown signer {address}: include the signer's certificate (cert) "
                "in its first transaction"
            )
        from tianfu.crypto import current_suite

        try:
            info = parse(cert_der)
        except IdentityError as exc:
            raise AuthError(f"bad certificate: {exc}") from None
        refused = current_suite().refusal(info.scheme)  # the chain's suite, fixed at genesis
        if refused is not None:
            raise AuthError(f"certificate refused: {refused}")
        org = read(f"org/{info.org}")
        if org is None or org.get("status") != "active":
            raise AuthError(
                f"certificate issued by {info.org!r}, which is not a member organisation"
            )
        fp = fingerprint(cert_der)
        _check_revoked(read, info.org, fp, str(info.serial))
        if before_chain_check is not None:
            before_chain_check()
        try:
            info = verify_issued(cert_der, org["ca_cert"], time_ms)
        except IdentityError as exc:
            raise AuthError(f"certificate not valid for organisation {info.org}: {exc}") from None
        if info.scheme != scheme or info.public_key != public_key:
            raise AuthError("the certificate's public key is not the transaction's signer")
        record = {
            "org": info.org,
            "name": info.name,
            "kind": info.kind,
            "serial": str(info.serial),
            "scheme": info.scheme,
            "public_key": info.public_key,
            "cert": cert_der,
            "fingerprint": fp,
            "not_before": info.not_before_ms,
            "not_after": info.not_after_ms,
        }
        writes[f"cert/{address}"] = record
        not_before, not_after = info.not_before_ms, info.not_after_ms
    else:
        org = read(f"org/{record['org']}")
        if org is None or org.get("status") != "active":
            raise AuthError(f"organisation {record['org']} is no longer a member")
        fp, not_before, not_after = _registered_facts(record)
        _check_revoked(read, record["org"], fp, record["serial"])
        _check_period(not_before, not_after, time_ms)
    roles = read(f"roles/{address}") or []
    caller = Caller(
        address=address,
        org=record["org"],
        name=record["name"],
        kind=record["kind"],
        roles=frozenset([*roles, record["kind"]]),
    )
    return Resolved(caller, writes, not_before, not_after)


def _registered_facts(record: dict[str, Any]) -> tuple[str, int, int]:
    """(fingerprint, not_before, not_after) of a registered certificate record."""
    if "not_after" in record:
        return record["fingerprint"], record["not_before"], record["not_after"]
    from tianfu.identity import IdentityError, cert_info

    try:
        info = cert_info(record["cert"])
    except IdentityError as exc:  # it was parsed when it registered: cannot happen
        raise AuthError(f"the registered certificate does not parse: {exc}") from None
    return fingerprint(record["cert"]), info.not_before_ms, info.not_after_ms


# -- revocation -----------------------------------------------------------------------------
def _require_admin(ctx: Context) -> None:
    if ctx.sender.kind != "admin":
        raise ContractError(
            f"only an organisation admin may do this ({ctx.sender.name} is {ctx.sender.kind})"
        )


def _mark(ctx: Context, key: str, entry: dict[str, Any]) -> bool:
    """Write a revocation entry unless one is there; True if written."""
    if ctx.has(key):
        return False
    ctx.put(key, entry)
    return True


def revoke_certificate(ctx: Context, cert: Any) -> dict[str, Any]:
    """Revoke a certificate your organisation issued, given its DER (bytes) or its SHA-256
    fingerprint (64 hex characters), whether or not it ever transacted.

    With the DER: the issuer's signature is checked against your organisation's CA, and the
    certificate's key (its address), fingerprint and serial number are all revoked. With a
    fingerprint alone, the certificate with that fingerprint is refused if your organisation
    issued it.
    """
    _require_admin(ctx)
    org = ctx.sender.org
    base = {"height": ctx.height, "by": ctx.sender.address}
    if isinstance(cert, str):
        fp = cert.lower()
        if not FINGERPRINT_RE.match(fp):
            raise ContractError("a certificate fingerprint is 64 hex characters (SHA-256 of DER)")
        if not _mark(ctx, f"revoked_cert/{fp}", {"org": org, **base}):
            raise ContractError(f"certificate {fp} is already revoked")
        ctx.emit("CertificateRevoked", fingerprint=fp, org=org, by=ctx.sender.address)
        return {"fingerprint": fp, "org": org}
    if not isinstance(cert, bytes):
        raise ContractError("give the certificate's DER (bytes) or its fingerprint (hex)")
    from tianfu.identity import MAX_CERT_SIZE, IdentityError, verify_cert

    if not 0 < len(cert) <= MAX_CERT_SIZE:
        raise ContractError(f"a certificate is 1 to {MAX_CERT_SIZE} bytes of DER")
    record = ctx.get(f"org/{org}")
    with failing_as(IdentityError, f"not a certificate issued by {org}"):
        info = verify_cert(cert, record["ca_cert"])  # any time: an expired one too
    fp = fingerprint(cert)
    address = address_of(info.scheme, info.public_key)
    serial = str(info.serial)
    written = [
        _mark(ctx, f"revoked_cert/{fp}", {"org": org, **base}),
        _mark(ctx, f"revoked_serial/{org}/{serial}", base),
        _mark(ctx, f"revoked/{address}", base),
    ]
    if not any(written):
        raise ContractError(f"certificate {fp} is already revoked")
    ctx.emit(
        "CertificateRevoked",
        fingerprint=fp,
        org=org,
        serial=serial,
        address=address,
        by=ctx.sender.address,
    )
    return {"fingerprint": fp, "org": org, "serial": serial, "address": address}


def revoke_serial(ctx: Context, serial: Any) -> dict[str, Any]:
    """Revoke the certificate your organisation issued with this serial number."""
    _require_admin(ctx)
    if isinstance(serial, int) and not isinstance(serial, bool):
        serial = str(serial)
    if not isinstance(serial, str) or not SERIAL_RE.match(serial):
        raise ContractError("a serial number is a positive decimal integer of at most 50 digits")
    org = ctx.sender.org
    if not _mark(
        ctx, f"revoked_serial/{org}/{serial}", {"height": ctx.height, "by": ctx.sender.address}
    ):
        raise ContractError(f"serial {serial} of {org} is already revoked")
    ctx.emit("CertificateRevoked", org=org, serial=serial, by=ctx.sender.address)
    return {"org": org, "serial": serial}


def is_revoked(ctx: Context, cert: bytes | str) -> bool:
    """Whether a certificate (DER, or its hex for a JSON query) is revoked in any way."""
    from tianfu.identity import IdentityError, cert_info

    if isinstance(cert, str):
        try:
            cert = bytes.fromhex(cert)
        except ValueError:
            raise ContractError("give the certificate's DER (bytes, or hex)") from None
    if not isinstance(cert, bytes):
        raise ContractError("give the certificate's DER (bytes, or hex)")
    with failing_as(IdentityError, "bad certificate"):
        info = cert_info(cert)
    fp = fingerprint(cert)
    entry = ctx.get(f"revoked_cert/{fp}")
    return bool(
        (entry is not None and entry.get("org") == info.org)
        or ctx.has(f"revoked_serial/{info.org}/{info.serial}")
        or ctx.has(f"revoked/{address_of(info.scheme, info.public_key)}")
    )


# -- roles ----------------------------------------------------------------------------------
def supervisory_roles(ctx: Context) -> list[str]:
    roles = ctx.get("supervisory_roles")
    return list(DEFAULT_SUPERVISORY_ROLES) if roles is None else list(roles)


def check_role(role: Any) -> str:
    if not isinstance(role, str) or not ROLE_RE.match(role):
        raise ContractError("role must match [a-z][a-z0-9_:-]{0,63}")
    return role


def registered(ctx: Context, address: Any) -> dict[str, Any]:
    if not isinstance(address, str):
        raise ContractError("address must be a string")
    record = ctx.get(f"cert/{address}")
    if record is None:
        raise ContractError(f"unknown identity {address} (it registers with its first transaction)")
    return record


def add_role(ctx: Context, address: str, role: str, by: str) -> list[str]:
    roles = sorted(set(ctx.get(f"roles/{address}", [])) | {role})
    ctx.put(f"roles/{address}", roles)
    ctx.emit("RoleGranted", address=address, role=role, by=by)
    return roles


def remove_role(ctx: Context, address: str, role: str, by: str) -> list[str]:
    roles = ctx.get(f"roles/{address}", [])
    if role not in roles:
        raise ContractError(f"identity {address} does not hold role {role!r}")
    roles = [r for r in roles if r != role]
    ctx.put(f"roles/{address}", roles)
    ctx.emit("RoleRevoked", address=address, role=role, by=by)
    return roles


def check_proposal(ctx: Context, kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Arguments of a role proposal, checked against current state and normalised."""
    if kind == SET_SUPERVISORY_ROLES:
        roles = raw.get("roles")
        if not isinstance(roles, list) or len(roles) > MAX_SUPERVISORY_ROLES:
            raise ContractError(f"roles must be a list of at most {MAX_SUPERVISORY_ROLES} roles")
        return {"roles": sorted({check_role(r) for r in roles})}
    address, role = raw.get("address"), check_role(raw.get("role"))
    registered(ctx, address)
    held = role in ctx.get(f"roles/{address}", [])
    if kind == GRANT_ROLE and held:
        raise ContractError(f"identity {address} holds role {role!r} already")
    if kind == REVOKE_ROLE and not held:
        raise ContractError(f"identity {address} does not hold role {role!r}")
    return {"address": address, "role": role}


def apply_proposal(ctx: Context, kind: str, args: dict[str, Any]) -> None:
    """Carry out an approved role proposal (its arguments checked again just before)."""
    if kind == SET_SUPERVISORY_ROLES:
        ctx.put("supervisory_roles", args["roles"])
        ctx.emit("SupervisoryRolesChanged", roles=args["roles"])
    elif kind == GRANT_ROLE:
        add_role(ctx, args["address"], args["role"], "governance")
    else:
        remove_role(ctx, args["address"], args["role"], "governance")
