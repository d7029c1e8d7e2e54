"""The `governance` system contract: organisations, member certificates, roles, revocations
and the contract lifecycle (propose -> approve by policy -> activate, pinned by source hash).

State layout (all under the contract name `governance`):
  orgs                  list of organisation names (admission order)
  org/<name>            {"name", "ca_cert": DER, "status": "active"}
  cert/<address>        the certificate a signer registered with (see identity.py)
  revoked/<address>, revoked_cert/<fingerprint>, revoked_serial/<org>/<serial>
                        the certificate revocation list (see identity.py)
  roles/<address>       sorted list of on-chain roles
  supervisory_roles     roles only a governance vote grants (see identity.py)
  contracts             list of activated contract names
  contract/<name>       {"name", "source_hash", "version", "activated_height", "proposal"}
  source/<hash hex>     contract source text
  proposal/<id>         {"id", "kind", "proposer", "proposer_org", "approvals": [org...],
                        "rejections": [org...], "status", "height", "expires", and either
                        "name", "source_hash" (kind "contract") or "args" (admission kinds)}
  pending               ids of proposals still open (pruned when a proposal is made)

Admission proposals (organisations, validators, voting power, parameters, supervisory
roles), the validator set and double-sign evidence: see `tianfu.contracts.reviewed_admission` and
ADR 0012. Signers, revocation and roles: `tianfu.contracts.identity`.
Proposal status: pending -> activated | rejected | failed (approved, but no longer
applicable); a pending proposal past its `expires` height reads as "expired".
"""

from __future__ import annotations

import re
from typing import Any

from tianfu.contracts import identity, reviewed_admission, staking
from tianfu.contracts.identity import (  # noqa: F401 (this module's interface)
    AuthError,
    Resolved,
    resolve_caller,
)
from tianfu.execution.contract_api import Context, ContractError, failing_as, view
from tianfu.execution.system import GOVERNANCE
from tianfu.types import Genesis

NAME = GOVERNANCE  # (the executor knows the name: it runs this contract natively)
SYSTEM_CONTRACTS = frozenset({NAME})
# The whole name (`\Z`: a `$` would also match before a final line feed).
CONTRACT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
ROLE_RE = identity.ROLE_RE
MAX_PENDING = 256  # open proposals at any time; an organisation's share: 256 / members


def genesis_entries(genesis: Genesis) -> dict[str, Any]:
    """Governance state at height 0, as key -> value."""
    entries: dict[str, Any] = {
        "orgs": [o.name for o in genesis.orgs],
        "contracts": [],
        "policies": {
            "contract_approval": genesis.policies.contract_approval,
            "governance": genesis.policies.governance,
        },
        "pending": [],
        **reviewed_admission.genesis_entries(genesis),
        **staking.genesis_entries(genesis),  # open profile only
    }
    for org in genesis.orgs:
        entries[f"org/{org.name}"] = {"name": org.name, "ca_cert": org.ca_cert, "status": "active"}
    return entries


def threshold_met(policy: str, approvals: int, members: int) -> bool:
    """Whether `approvals` distinct organisations satisfy `policy` out of `members`."""
    if policy == "majority":
        return approvals * 2 > members
    if policy == "two_thirds":
        return approvals * 3 > members * 2
    if policy == "all":
        return approvals == members
    raise ContractError(f"unknown approval policy {policy!r}")


def required_approvals(policy: str, members: int) -> int:
    for k in range(members + 1):
        if threshold_met(policy, k, members):
            return k
    return members


def _require_admin(ctx: Context) -> None:
    if ctx.sender.kind != "admin":
        raise ContractError(
            f"only an organisation admin may do this ({ctx.sender.name} is {ctx.sender.kind})"
        )


def _member_count(ctx: Context) -> int:
    return sum(
        1 for o in ctx.get("orgs", []) if (ctx.get(f"org/{o}") or {}).get("status") == "active"
    )


def _is_active(ctx: Context, org: str) -> bool:
    return (ctx.get(f"org/{org}") or {}).get("status") == "active"


def _kind_policy(ctx: Context, kind: str) -> str:
    return _policy(ctx, "contract_approval" if kind == "contract" else "governance")


def _open_proposal(ctx: Context, kind: str, fields: dict[str, Any]) -> str:
    """Store a new pending proposal (id: the transaction hash prefix) and index it."""
    pid = ctx.tx_hash[:16]
    if ctx.has(f"proposal/{pid}"):
        raise ContractError("one proposal per transaction")
    pending: list[str] = []
    mine = 0  # the open proposals of the sender's organisation
    for p in ctx.get("pending", []):
        q = ctx.get(f"proposal/{p}")
        if (
            q is not None
            and q["status"] == "pending"
            and ctx.height <= q.get("expires", ctx.height)
        ):
            pending.append(p)
            mine += q.get("proposer_org") == ctx.sender.org
    if len(pending) >= MAX_PENDING:
        raise ContractError(f"{MAX_PENDING} proposals are already open; decide some first")
    # Each organisation keeps at most its share of the open proposals: one member filling
    # them all would leave the others unable to propose anything, even its removal.
    share = max(1, MAX_PENDING // max(1, _member_count(ctx)))
    if mine >= share:
        raise ContractError(
            f"organisation {ctx.sender.org} has {share} open proposals, its share of the "
            f"{MAX_PENDING} open at most among {_member_count(ctx)} members; wait until "
            "some are decided or expire"
        )
    expiry = int(reviewed_admission.params(ctx)["proposal_expiry_blocks"])
    proposal = {
        "id": pid,
        "kind": kind,
        **fields,
        "proposer": ctx.sender.address,
        "proposer_org": ctx.sender.org,
        "approvals": [],
        "rejections": [],
        "status": "pending",
        "height": ctx.height,
        "expires": ctx.height + expiry,
    }
    ctx.put(f"proposal/{pid}", proposal)
    ctx.put("pending", [*pending, pid])
    return pid


def _shown(ctx: Context, proposal: dict[str, Any] | None) -> dict[str, Any] | None:
    """A proposal as a view shows it: a pending one past its expiry reads as expired."""
    if proposal is None:
        return None
    expires = proposal.get("expires")
    if proposal["status"] == "pending" and expires is not None and ctx.height > expires:
        return {**proposal, "status": "expired"}
    return proposal


def _policy(ctx: Context, which: str) -> str:
    policies = ctx.get("policies") or {}
    return str(policies.get(which, "majority" if which == "contract_approval" else "two_thirds"))


class Governance:
    """Native system contract; every method is `method(ctx, *args)` like a user contract."""

    name = NAME

    # -- contract lifecycle -------------------------------------------------------------
    def propose_contract(self, ctx: Context, name: str, source: str) -> str:
        from tianfu.execution.sandbox import ContractRejected, compile_contract

        _require_admin(ctx)
        if not isinstance(name, str) or not CONTRACT_NAME_RE.match(name):
            raise ContractError("contract name must match [a-z][a-z0-9_]{0,63}")
        if name in SYSTEM_CONTRACTS:
            raise ContractError(f"{name!r} is a system contract")
        if not isinstance(source, str):
            raise ContractError("source must be a string")
        with failing_as(ContractRejected, "contract rejected"):
            compiled = compile_contract(source)
        source_hash = compiled.source_hash.hex()
        ctx.put(f"source/{source_hash}", source)
        pid = _open_proposal(ctx, "contract", {"name": name, "source_hash": source_hash})
        ctx.emit("ContractProposed", id=pid, name=name, source_hash=source_hash, org=ctx.sender.org)
        return pid

    def approve(self, ctx: Context, proposal_id: str) -> dict[str, Any]:
        """Approve a proposal (of any kind) as your organisation's admin."""
        return self.vote(ctx, proposal_id, True)

    def reject(self, ctx: Context, proposal_id: str) -> dict[str, Any]:
        """Vote against a proposal as your organisation's admin."""
        return self.vote(ctx, proposal_id, False)

    def vote(self, ctx: Context, proposal_id: str, approve: bool = True) -> dict[str, Any]:
        """One vote per member organisation, by one of its admins; decides when it can."""
        _require_admin(ctx)
        if not isinstance(proposal_id, str):
            raise ContractError("proposal id must be a string")
        if not isinstance(approve, bool):
            raise ContractError("approve must be true or false")
        proposal = ctx.get(f"proposal/{proposal_id}")
        if proposal is None:
            raise ContractError(f"no proposal {proposal_id}")
        if proposal["status"] != "pending":
            raise ContractError(f"proposal {proposal_id} is already {proposal['status']}")
        expires = proposal.get("expires")
        if expires is not None and ctx.height > expires:
            raise ContractError(f"proposal {proposal_id} expired at height {expires}")
        org = ctx.sender.org
        approvals = list(proposal["approvals"])
        rejections = list(proposal.get("rejections", []))
        if org in approvals or org in rejections:
            raise ContractError(f"organisation {org} has already voted on {proposal_id}")
        if approve:
            approvals = sorted([*approvals, org])
            ctx.emit("ProposalApproved", id=proposal_id, org=org)
        else:
            rejections = sorted([*rejections, org])
            ctx.emit("ProposalOpposed", id=proposal_id, org=org)
        proposal["approvals"], proposal["rejections"] = approvals, rejections
        members = _member_count(ctx)
        policy = _kind_policy(ctx, proposal["kind"])
        yes = sum(1 for o in approvals if _is_active(ctx, o))
        no = sum(1 for o in rejections if _is_active(ctx, o))
        if threshold_met(policy, yes, members):
            self._decide(ctx, proposal)
        elif not threshold_met(policy, members - no, members):
            proposal["status"] = "rejected"
            ctx.emit("ProposalRejected", id=proposal_id, kind=proposal["kind"])
        if proposal["status"] != "pending":
            ctx.put("pending", [p for p in ctx.get("pending", []) if p != proposal_id])
        ctx.put(f"proposal/{proposal_id}", proposal)
        out = {
            "id": proposal_id,
            "status": proposal["status"],
            "approvals": yes,
            "rejections": no,
            "required": required_approvals(policy, members),
        }
        if "error" in proposal:
            out["error"] = proposal["error"]
        return out

    def _decide(self, ctx: Context, proposal: dict[str, Any]) -> None:
        """The proposal has its approvals: carry it out (or mark it failed, changing nothing)."""
        kind = proposal["kind"]
        if kind == "contract":
            proposal["status"] = "activated"
            self._activate(ctx, proposal)
            return
        try:
            reviewed_admission.apply_proposal(ctx, kind, proposal["args"])
        except ContractError as exc:  # apply checks everything before its first write
            proposal["status"] = "failed"
            proposal["error"] = str(exc)
            ctx.emit("ProposalFailed", id=proposal["id"], kind=kind, error=str(exc))
            return
        proposal["status"] = "activated"
        proposal["activated_height"] = ctx.height
        ctx.emit("ProposalActivated", id=proposal["id"], kind=kind)

    def _activate(self, ctx: Context, proposal: dict[str, Any]) -> None:
        name = proposal["name"]
        current = ctx.get(f"contract/{name}")
        version = 1 if current is None else current["version"] + 1
        ctx.put(
            f"contract/{name}",
            {
                "name": name,
                "source_hash": proposal["source_hash"],
                "version": version,
                "activated_height": ctx.height,
                "proposal": proposal["id"],
            },
        )
        if current is None:
            ctx.put("contracts", [*ctx.get("contracts", []), name])
        ctx.emit(
            "ContractActivated", name=name, source_hash=proposal["source_hash"], version=version
        )

    # -- identities and roles -------------------------------------------------------------
    def _same_org_identity(self, ctx: Context, address: str) -> dict[str, Any]:
        _require_admin(ctx)
        if not isinstance(address, str):
            raise ContractError("address must be a string")
        record = ctx.get(f"cert/{address}")
        if record is None:
            raise ContractError(
                f"unknown identity {address} (it registers with its first transaction)"
            )
        if record["org"] != ctx.sender.org:
            raise ContractError(
                f"identity {address} belongs to {record['org']}; only its own organisation's admin may do this"
            )
        return record

    def grant_role(self, ctx: Context, address: str, role: str) -> list[str]:
        """Grant an ordinary application role to an identity of your organisation (a
        supervisory role is granted only by a vote: `propose_grant_role`)."""
        self._same_org_identity(ctx, address)
        identity.check_role(role)
        if role in identity.supervisory_roles(ctx):
            raise ContractError(
                f"role {role!r} is supervisory: only a governance vote of the consortium "
                "grants it (propose_grant_role)"
            )
        return identity.add_role(ctx, address, role, ctx.sender.address)

    def revoke_role(self, ctx: Context, address: str, role: str) -> list[str]:
        """Take a role (ordinary or supervisory) from an identity of your organisation."""
        self._same_org_identity(ctx, address)
        return identity.remove_role(ctx, address, role, ctx.sender.address)

    def revoke_cert(self, ctx: Context, address: str) -> None:
        """Revoke a registered identity (every certificate of its key) of your organisation."""
        self._same_org_identity(ctx, address)
        if ctx.has(f"revoked/{address}"):
            raise ContractError(f"identity {address} is already revoked")
        ctx.put(f"revoked/{address}", {"height": ctx.height, "by": ctx.sender.address})
        ctx.emit("CertificateRevoked", address=address, by=ctx.sender.address)

    def revoke_certificate(self, ctx: Context, cert: bytes | str) -> dict[str, Any]:
        """Revoke a certificate your organisation issued, by its DER or SHA-256 fingerprint
        (hex), whether or not it ever transacted."""
        return identity.revoke_certificate(ctx, cert)

    def revoke_serial(self, ctx: Context, serial: str) -> dict[str, Any]:
        """Revoke the certificate your organisation issued with this serial number."""
        return identity.revoke_serial(ctx, serial)

    def propose_grant_role(self, ctx: Context, address: str, role: str) -> str:
        """Propose granting a role (typically a supervisory one) to any member identity."""
        return self._propose(ctx, identity.GRANT_ROLE, {"address": address, "role": role})

    def propose_revoke_role(self, ctx: Context, address: str, role: str) -> str:
        return self._propose(ctx, identity.REVOKE_ROLE, {"address": address, "role": role})

    def propose_set_supervisory_roles(self, ctx: Context, roles: list[str]) -> str:
        """Propose the list of roles that only a governance vote grants."""
        return self._propose(ctx, identity.SET_SUPERVISORY_ROLES, {"roles": roles})

    # -- reviewed admission (ADR 0012) ------------------------------------------------------
    def _propose(self, ctx: Context, kind: str, args: dict[str, Any]) -> str:
        _require_admin(ctx)
        checked = reviewed_admission.check_proposal(ctx, kind, args)
        pid = _open_proposal(ctx, kind, {"args": checked})
        ctx.emit("ProposalMade", id=pid, kind=kind, org=ctx.sender.org)
        return pid

    def propose_add_org(self, ctx: Context, name: str, ca_cert_der: bytes) -> str:
        return self._propose(
            ctx, reviewed_admission.ADD_ORG, {"name": name, "ca_cert": ca_cert_der}
        )

    def propose_remove_org(self, ctx: Context, name: str) -> str:
        return self._propose(ctx, reviewed_admission.REMOVE_ORG, {"name": name})

    def propose_add_validator(
        self, ctx: Context, name: str, org: str, scheme: int, public_key: bytes, power: int
    ) -> str:
        args = {"name": name, "org": org, "scheme": scheme, "public_key": public_key}
        return self._propose(ctx, reviewed_admission.ADD_VALIDATOR, {**args, "power": power})

    def propose_remove_validator(self, ctx: Context, name: str) -> str:
        return self._propose(ctx, reviewed_admission.REMOVE_VALIDATOR, {"name": name})

    def propose_set_power(self, ctx: Context, name: str, power: int) -> str:
        return self._propose(ctx, reviewed_admission.SET_POWER, {"name": name, "power": power})

    def propose_unbar_validator(self, ctx: Context, name: str) -> str:
        """Open profile: let validator `name`, removed by governance, bond stake again."""
        return self._propose(ctx, reviewed_admission.UNBAR_VALIDATOR, {"name": name})

    def propose_set_params(self, ctx: Context, params: dict[str, Any]) -> str:
        return self._propose(ctx, reviewed_admission.SET_PARAMS, {"params": params})

    def submit_evidence(self, ctx: Context, vote_a: bytes, vote_b: bytes) -> dict[str, Any]:
        """Record that a validator signed two different blocks at one height/round/type."""
        return reviewed_admission.submit_evidence(ctx, vote_a, vote_b)

    # -- views -----------------------------------------------------------------------------
    @view
    def list_orgs(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for name in ctx.get("orgs", []):
            org = ctx.get(f"org/{name}")
            out.append({"name": name, "status": org["status"], "ca_cert": org["ca_cert"]})
        return out

    @view
    def get_identity(self, ctx: Context, address: str) -> dict[str, Any] | None:
        record = ctx.get(f"cert/{address}")
        if record is None:
            return None
        return {
            "address": address,
            "org": record["org"],
            "name": record["name"],
            "kind": record["kind"],
            "roles": ctx.get(f"roles/{address}", []),
            "revoked": ctx.has(f"revoked/{address}") or identity.is_revoked(ctx, record["cert"]),
            "serial": record["serial"],
            "fingerprint": identity.fingerprint(record["cert"]),
        }

    @view
    def is_revoked(self, ctx: Context, cert: bytes | str) -> bool:
        """Whether a certificate (DER, or its hex) is revoked (by key, fingerprint or serial)."""
        return identity.is_revoked(ctx, cert)

    @view
    def supervisory_roles(self, ctx: Context) -> list[str]:
        """The roles that only a governance vote grants."""
        return identity.supervisory_roles(ctx)

    @view
    def list_contracts(self, ctx: Context) -> list[dict[str, Any]]:
        return [ctx.get(f"contract/{n}") for n in ctx.get("contracts", [])]

    @view
    def get_contract(self, ctx: Context, name: str) -> dict[str, Any] | None:
        return ctx.get(f"contract/{name}")

    @view
    def get_source(self, ctx: Context, name: str) -> str | None:
        record = ctx.get(f"contract/{name}")
        return None if record is None else ctx.get(f"source/{record['source_hash']}")

    @view
    def get_proposal(self, ctx: Context, proposal_id: str) -> dict[str, Any] | None:
        return _shown(ctx, ctx.get(f"proposal/{proposal_id}"))

    @view
    def list_proposals(self, ctx: Context) -> list[dict[str, Any]]:
        """The open proposals (including those that expired and were not yet pruned)."""
        shown = (_shown(ctx, ctx.get(f"proposal/{p}")) for p in ctx.get("pending", []))
        return [p for p in shown if p is not None]

    @view
    def list_validators(self, ctx: Context) -> list[dict[str, Any]]:
        """The latest validator set in state (it signs from `validators_from` on)."""
        return list(ctx.get("validators") or [])

    @view
    def validators_from(self, ctx: Context) -> int:
        """The height from which the latest validator set signs."""
        heights = ctx.get("valset_heights") or [1]
        return int(heights[-1])

    @view
    def get_params(self, ctx: Context) -> dict[str, Any]:
        return reviewed_admission.params(ctx)

    @view
    def get_evidence(
        self, ctx: Context, validator: str, height: int, round: int, type: int
    ) -> dict[str, Any] | None:
        return ctx.get(f"evidence/{validator}/{height}/{round}/{type}")


def native_methods(obj: object) -> tuple[frozenset[str], frozenset[str]]:
    """(public methods, view methods) of a native contract object."""
    from tianfu.execution.contract_api import is_view

    methods = {
        n
        for n in dir(type(obj))
        if not n.startswith("_") and callable(getattr(obj, n)) and n != "name"
    }
    views = {n for n in methods if is_view(getattr(obj, n))}
    return frozenset(methods), frozenset(views)
