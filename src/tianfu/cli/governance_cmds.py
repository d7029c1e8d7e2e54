"""`tianfu gov`: propose and vote on organisations, validators, voting power, chain
parameters and supervisory roles (reviewed admission, ADR 0012); show and list proposals,
validators and the supervisory roles.

Conventions as in `tianfu.cli.main`: `--url`, `--identity` (an admin's) and `--json`;
exit codes 0 success, 1 failed transaction or error, 2 usage error.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    Node,
    SchemeOpt,
    UsageProblem,
    address_role_command,
    print_fields,
    print_json,
    print_rows,
    read_cert_file,
    scheme_of,
)
from tianfu.cli.tables import HEXLIKE
from tianfu.contracts.reviewed_admission import BOOL_PARAMS, PARAM_KEYS

gov_app = CommandGroup("Governance: admit organisations and validators by vote.")
propose_app = CommandGroup("Make a governance proposal (as an admin).")
gov_app.add_typer(propose_app, name="propose")


@propose_app.node_command("add-org", "url", "identity", "json")
def propose_add_org(
    node: Node,
    name: str,
    ca: Annotated[Path, typer.Option("--ca", help="The organisation's CA certificate (PEM/DER).")],
) -> None:
    """Propose admitting organisation NAME; prints the proposal id (the result)."""
    node.governance("propose_add_org", name, read_cert_file(ca))


@propose_app.node_command("remove-org", "url", "identity", "json")
def propose_remove_org(node: Node, name: str) -> None:
    """Propose removing organisation NAME and its validators."""
    node.governance("propose_remove_org", name)


@propose_app.node_command("add-validator", "url", "identity", "json")
def propose_add_validator(
    node: Node,
    name: str,
    org: Annotated[str, typer.Option("--org", help="The validator's organisation.")],
    power: Annotated[
        int,
        typer.Option(
            "--power",
            min=1,
            help="Voting power: below half of the present validators' total (raise it "
            "with set-power once the node signs).",
        ),
    ] = 1,
    pubkey: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--pubkey", help="The validator's public key, hex."),
    ] = None,
    cert: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--cert", help="The node's certificate (PEM/DER) instead of --pubkey."),
    ] = None,
    scheme: SchemeOpt = "ed25519",
) -> None:
    """Propose validator NAME of --org with --pubkey (or the key of --cert) and --power."""
    if (pubkey is None) == (cert is None):
        raise UsageProblem("give exactly one of --pubkey HEX or --cert FILE")
    if cert is not None:
        from tianfu.identity import cert_info

        info = cert_info(read_cert_file(cert))
        if info.org != org:
            raise UsageProblem(f"the certificate belongs to {info.org!r}, not --org {org!r}")
        key, scheme_id = info.public_key, info.scheme
    else:
        try:
            key = bytes.fromhex(pubkey or "")
        except ValueError:
            raise UsageProblem("--pubkey must be hex") from None
        scheme_id = scheme_of(scheme)
    node.governance("propose_add_validator", name, org, scheme_id, key, power)


@propose_app.node_command("remove-validator", "url", "identity", "json")
def propose_remove_validator(node: Node, name: str) -> None:
    """Propose removing validator NAME from the set."""
    node.governance("propose_remove_validator", name)


@propose_app.node_command("set-power", "url", "identity", "json")
def propose_set_power(node: Node, name: str, power: int) -> None:
    """Propose a new voting POWER for validator NAME."""
    node.governance("propose_set_power", name, power)


@propose_app.node_command("unbar-validator", "url", "identity", "json")
def propose_unbar_validator(node: Node, name: str) -> None:
    """Open profile: propose letting validator NAME, removed by governance, bond again."""
    node.governance("propose_unbar_validator", name)


def parse_params(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs of chain parameters: integers, or true/false for flags; on an
    open-profile chain also its parameters (open_contracts=NAME,NAME,...)."""
    from tianfu.types.openparams import OPEN_LIST_PARAMS, OPEN_PARAM_KEYS

    known = PARAM_KEYS | OPEN_PARAM_KEYS
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in known:
            raise UsageProblem(
                f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}"
            )
        if key in OPEN_LIST_PARAMS:
            out[key] = [name for name in text.split(",") if name]
        elif key in BOOL_PARAMS:
            if text.lower() not in ("true", "false"):
                raise UsageProblem(f"{key} takes true or false")
            out[key] = text.lower() == "true"
        else:
            try:
                out[key] = int(text.replace("_", ""))
            except ValueError:
                raise UsageProblem(f"{key} takes an integer, not {text!r}") from None
    return out


@propose_app.node_command("set-params", "url", "identity", "json")
def propose_set_params(
    node: Node,
    params: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs, e.g. max_block_txs=2000.")],
) -> None:
    """Propose new values for chain parameters."""
    node.governance("propose_set_params", parse_params(params))


propose_app.command("grant-role")(
    address_role_command(
        "propose_grant_role",
        "Propose granting ROLE (e.g. a supervisory one: regulator, court...) to ADDRESS.",
    )
)
propose_app.command("revoke-role")(
    address_role_command(
        "propose_revoke_role", "Propose taking ROLE from ADDRESS (any organisation's identity)."
    )
)


@propose_app.node_command("supervisory-roles", "url", "identity", "json")
def propose_supervisory_roles(
    node: Node,
    roles: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="The roles only a vote may grant (none: every role is ordinary)."),
    ] = None,
) -> None:
    """Propose the complete list of supervisory roles (granted only by a governance vote)."""
    node.governance("propose_set_supervisory_roles", sorted(roles or []))


@gov_app.node_command("supervisory-roles", "url", "json")
def supervisory_roles(node: Node) -> None:
    """Show the roles that only a governance vote grants (an org admin grants the others)."""
    roles = node.client().query("governance", "supervisory_roles")
    if node.as_json:
        print_json(roles)
    else:
        print_rows("supervisory roles", ["role"], [[r] for r in roles])


@gov_app.node_command("vote", "url", "identity", "json")
def vote(
    node: Node,
    proposal_id: str,
    reject: Annotated[bool, typer.Option("--reject", help="Vote against.")] = False,
) -> None:
    """Vote for a proposal (or against it with --reject) as your organisation's admin."""
    node.governance("vote", proposal_id, not reject)


def _summary(p: dict[str, Any]) -> dict[str, Any]:
    fields = {k: p.get(k) for k in ("id", "kind", "status", "proposer_org", "height", "expires")}
    fields["approvals"] = p.get("approvals", [])
    fields["rejections"] = p.get("rejections", [])
    args = dict(p.get("args") or {k: p[k] for k in ("name", "source_hash") if k in p})
    for k, v in list(args.items()):
        if isinstance(v, bytes):
            args[k] = v.hex() if len(v) <= 64 else f"<{len(v)} bytes>"
    fields["args"] = args
    if "error" in p:
        fields["error"] = p["error"]
    return fields


@gov_app.node_command("show", "url", "json")
def show(node: Node, proposal_id: str) -> None:
    """Show one proposal and its votes."""
    p = node.client().query("governance", "get_proposal", proposal_id)
    if p is None:
        raise CommandFailed(f"no proposal {proposal_id}")
    if node.as_json:
        print_json(p)
    else:
        print_fields(f"proposal {proposal_id}", _summary(p))


@gov_app.node_command("list", "url", "json")
def list_(node: Node) -> None:
    """List the open proposals."""
    items = node.client().query("governance", "list_proposals")
    if node.as_json:
        print_json(items)
        return
    rows = []
    for p in items:  # who voted and what is proposed, as lines of text (show ID: in full)
        s = _summary(p)
        votes = [
            f"{label}: {', '.join(map(str, orgs))}"
            for label, orgs in (("for", s["approvals"]), ("against", s["rejections"]))
            if isinstance(orgs, list) and orgs
        ]
        rows.append(
            [
                s["id"],
                s["status"],
                "\n".join(votes) or "—",
                s["expires"],
                f"{s['kind']}: {_subject(s['args'])}",
            ]
        )
    print_rows("open proposals", ["id", "status", "votes", "expires at", "proposes"], rows)


def _subject(args: Any) -> str:
    """What a proposal proposes, in a line: its arguments as "key value", a hash or key (16
    hex digits or more) shortened to 8 and `…` (`tianfu gov show ID` prints it whole); names
    and numbers whole."""
    if not isinstance(args, dict):
        return str(args)
    parts = []
    for k, v in args.items():
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        hexed = isinstance(v, str) and HEXLIKE.fullmatch(v)  # a number is never cut
        parts.append(f"{k} {text[:8]}…" if hexed else f"{k} {text}")
    return ", ".join(parts)


@gov_app.node_command("validators", "url", "json")
def validators(node: Node) -> None:
    """List the latest validator set in state and the height it signs from."""
    client = node.client()
    items = client.query("governance", "list_validators")
    start = client.query("governance", "validators_from")
    if node.as_json:
        print_json({"from_height": start, "validators": items})
        return
    rows = [[v["name"], v["org"], v["power"], v["public_key"].hex()] for v in items]
    print_rows(f"validators (signing from height {start})", ["name", "org", "power", "key"], rows)
