"""SDK helpers for reviewed admission: propose and vote on organisations, validators, voting
power, chain parameters and supervisory roles; revoke certificates; submit double-sign
evidence; read the validator set.

Each function takes a `tianfu.client.Client` (with an admin identity for proposals and
votes). Proposals return the proposal id; votes return the transaction `Result`, whose
`result` is {"id", "status", "approvals", "rejections", "required"}. With `check=True`
(the default) a failed transaction raises `TxFailed`. See docs/adr/0012-reviewed-admission.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from tianfu.client.client import Client, Result
from tianfu.client.errors import ClientError
from tianfu.client.verify import LightClient, VerificationError
from tianfu.codec import encode
from tianfu.contracts.reviewed_admission import validator_set_from_records
from tianfu.crypto import ED25519
from tianfu.types import ValidatorSet, Vote

GOV = "governance"


def _propose(client: Client, method: str, *args: Any, check: bool = True) -> Any:
    return client.invoke(GOV, method, *args, check=check).result


def propose_add_org(client: Client, name: str, ca_cert_der: bytes) -> str:
    """Propose admitting organisation `name` with its CA certificate (DER)."""
    return str(_propose(client, "propose_add_org", name, ca_cert_der))


def propose_remove_org(client: Client, name: str) -> str:
    """Propose removing an organisation (its validators leave the set with it)."""
    return str(_propose(client, "propose_remove_org", name))


def propose_add_validator(
    client: Client, name: str, org: str, public_key: bytes, power: int, scheme: int = ED25519
) -> str:
    """Propose a validator of `org` with `public_key` and voting `power`."""
    return str(_propose(client, "propose_add_validator", name, org, scheme, public_key, power))


def propose_remove_validator(client: Client, name: str) -> str:
    return str(_propose(client, "propose_remove_validator", name))


def propose_unbar_validator(client: Client, name: str) -> str:
    """Open profile: let validator `name`, removed by governance, bond stake again."""
    return str(_propose(client, "propose_unbar_validator", name))


def propose_set_power(client: Client, name: str, power: int) -> str:
    return str(_propose(client, "propose_set_power", name, power))


def propose_set_params(client: Client, params: dict[str, Any]) -> str:
    """Propose new values for chain parameters (fields of `ConsensusParams`)."""
    return str(_propose(client, "propose_set_params", dict(params)))


def propose_grant_role(client: Client, address: str, role: str) -> str:
    """Propose granting `role` (e.g. a supervisory one, such as "regulator") to `address`."""
    return str(_propose(client, "propose_grant_role", address, role))


def propose_revoke_role(client: Client, address: str, role: str) -> str:
    return str(_propose(client, "propose_revoke_role", address, role))


def propose_set_supervisory_roles(client: Client, roles: list[str]) -> str:
    """Propose the list of roles that only a governance vote grants."""
    return str(_propose(client, "propose_set_supervisory_roles", sorted(roles)))


def supervisory_roles(client: Client) -> list[str]:
    """The roles that only a governance vote grants (an org admin grants the others)."""
    return list(client.query(GOV, "supervisory_roles"))


def grant_role(admins: Sequence[Client], address: str, role: str) -> Result | str:
    """Grant `role` to `address`: by the first admin alone for an ordinary role; for a
    supervisory one, proposed by the first admin and approved by the admins in turn until
    the consortium's policy is met. Returns the grant's `Result`, or the proposal id."""
    first = admins[0]
    if role not in supervisory_roles(first):
        return first.grant_role(address, role)
    pid = propose_grant_role(first, address, role)
    for admin in admins:
        status = vote(admin, pid).result["status"]
        if status != "pending":
            if status != "activated":
                raise ClientError(f"the grant of {role!r} to {address} was {status}")
            return pid
    raise ClientError(f"the grant of {role!r} to {address} did not get enough approvals")


def fingerprint(cert_der: bytes) -> str:
    """A certificate's SHA-256 fingerprint (hex), as revocation names it."""
    return hashlib.sha256(cert_der).hexdigest()


def revoke_certificate(client: Client, cert: bytes | str, *, check: bool = True) -> Result:
    """Revoke a certificate your organisation issued: its DER (bytes; PEM is converted) or
    its SHA-256 fingerprint (hex). It need not have transacted."""
    if isinstance(cert, bytes) and cert.lstrip().startswith(b"-----BEGIN"):
        from tianfu.identity import pem_to_der

        cert = pem_to_der(cert)
    if isinstance(cert, str):
        cert = cert.replace(":", "").strip().lower()
    return client.invoke(GOV, "revoke_certificate", cert, check=check)


def revoke_serial(client: Client, serial: int | str, *, check: bool = True) -> Result:
    """Revoke the certificate your organisation issued with this serial number (decimal or
    0x-hex)."""
    if isinstance(serial, str) and serial.lower().startswith("0x"):
        serial = int(serial, 16)
    return client.invoke(GOV, "revoke_serial", str(serial), check=check)


def is_revoked(client: Client, cert_der: bytes) -> bool:
    """Whether a certificate (DER) is revoked, by its key, fingerprint or serial."""
    return bool(client.query(GOV, "is_revoked", cert_der.hex()))


def vote(client: Client, proposal_id: str, approve: bool = True, *, check: bool = True) -> Result:
    """Vote for (or, with approve=False, against) a proposal as your organisation's admin."""
    return client.invoke(GOV, "vote", proposal_id, approve, check=check)


def get_proposal(client: Client, proposal_id: str) -> dict[str, Any] | None:
    result = client.query(GOV, "get_proposal", proposal_id)
    return None if result is None else dict(result)


def list_proposals(client: Client) -> list[dict[str, Any]]:
    """The open proposals."""
    return list(client.query(GOV, "list_proposals"))


def list_validators(client: Client) -> list[dict[str, Any]]:
    """The latest validator set in state (signing from `validators_from(client)` on)."""
    return list(client.query(GOV, "list_validators"))


def validators_from(client: Client) -> int:
    return int(client.query(GOV, "validators_from"))


def get_params(client: Client) -> dict[str, Any]:
    return dict(client.query(GOV, "get_params"))


def submit_evidence(
    client: Client, vote_a: Vote | bytes, vote_b: Vote | bytes, *, check: bool = True
) -> Result:
    """Submit two conflicting votes of one validator (as a member's node or admin)."""
    a = vote_a if isinstance(vote_a, bytes) else encode(vote_a)
    b = vote_b if isinstance(vote_b, bytes) else encode(vote_b)
    return client.invoke(GOV, "submit_evidence", a, b, check=check)


def validator_set_at(client: Client, height: int, light: LightClient | None = None) -> ValidatorSet:
    """The validator set that signs block `height`, proven by a Merkle proof.

    It is `governance/validators` in the state of height `height - 2`, read with a proof
    and checked by `light` (default: the client's light client, which trusts the genesis
    set); so `light` must trust the validator set of height `height - 2`. Heights 1 and 2
    are signed by the genesis set.
    """
    light = light or client.light_client
    if height < 1:
        raise VerificationError(f"no validator set for height {height}")
    if height <= 2:
        if client.genesis is None:
            raise VerificationError("no trusted genesis for the first validator set")
        return client.genesis.validator_set
    from tianfu.client.verify import verify_state_json

    doc = client.state_raw(GOV, "validators", height - 2, prove=True)
    value = verify_state_json(light, doc, contract=GOV, key="validators", height=height - 2)
    if not value.present:
        raise VerificationError(f"no validator set in the state of height {height - 2}")
    try:
        return validator_set_from_records(value.value)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"malformed validator set: {exc}") from None
