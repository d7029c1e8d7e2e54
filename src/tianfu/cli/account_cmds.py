"""CLI: `tianfu account ...` — open-profile accounts: a self-made key, registered on chain by a
proof of work or an existing account's sponsorship, and its gas quota."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    JsonOpt,
    Node,
    SchemeOpt,
    handle_errors,
    print_json,
    report_result,
    scheme_of,
    show_fields,
)

account_app = CommandGroup(
    "Open-profile accounts: self-made keys with a gas quota (no member certificate)."
)


@account_app.command("create")
def account_create(
    out: Annotated[Path, typer.Option("--out", help="Directory for the new key (key.pem).")],
    scheme: SchemeOpt = "ed25519",
    as_json: JsonOpt = False,
) -> None:
    """Make a new key (no certificate) and print its address. Register it next."""
    with handle_errors():
        from tianfu.crypto import generate_keypair
        from tianfu.execution.contract_api import address_of
        from tianfu.identity import Identity

        if (out / "key.pem").exists():
            raise CommandFailed(f"{out} already holds a key")
        kp = generate_keypair(scheme_of(scheme))
        Identity.account(kp).save(out)
        address = address_of(kp.scheme, kp.public_key)
        if as_json:
            print_json({"address": address, "key": str(out / "key.pem")})
        else:
            typer.echo(f"account {address} (key in {out / 'key.pem'})")
            typer.echo(f"register it: tianfu account register --identity {out}")


@account_app.node_command("register", "identity", "url", "json")
def account_register(node: Node) -> None:
    """Register your key as an account with a proof of work of the chain's `pow_bits`."""
    from tianfu.contracts.accounts import solve_pow
    from tianfu.execution.contract_api import address_of

    client = node.client(need_identity=True)
    assert client.identity is not None  # need_identity
    kp = client.identity.keypair
    params = client.query("governance", "get_params")
    if "pow_bits" not in params:
        raise CommandFailed("this chain has the consortium profile: it has no open accounts")
    address = address_of(kp.scheme, kp.public_key)
    with client.suite.use():  # the node judges it with the chain's hash (SM3 on an SM2 chain)
        nonce = solve_pow(client.chain_id, address, int(params["pow_bits"]))
    report_result(client.invoke("accounts", "register", nonce), node.as_json)


@account_app.node_command("sponsor", "identity", "url", "json")
def account_sponsor(
    node: Node, address: Annotated[str, typer.Argument(help="Address of the key to register.")]
) -> None:
    """Register another key's address as an account, vouched for by yours (a member's, or an
    account's registered by proof of work: its quota pays the new account's starting gas,
    half a full quota)."""
    node.send("accounts", "sponsor", address)


@account_app.node_command("show", "identity", "url", "json")
def account_show(
    node: Node,
    address: Annotated[str | None, typer.Argument(help="Address (default: your key's).")] = None,
) -> None:
    """An account's registration and the gas left in its quota."""
    from tianfu.execution.contract_api import address_of

    client = node.client(need_identity=address is None)
    if address is None:
        assert client.identity is not None  # need_identity
        kp = client.identity.keypair
        address = address_of(kp.scheme, kp.public_key)
    info = client.query("accounts", "get_account", address)
    if info is None:
        raise CommandFailed(f"{address} is not a registered account")
    show_fields(f"account {address}", info, node.as_json)


@account_app.node_command("bond", "identity", "url", "json")
def account_bond(
    node: Node,
    validator: Annotated[str, typer.Argument(help="Validator name (new, or yours).")],
    public_key: Annotated[str, typer.Argument(help="Its consensus key, hex.")],
    amount: Annotated[int, typer.Argument(help="Stake units to bond.")],
    scheme: SchemeOpt = "ed25519",
    proof: Annotated[
        str,
        typer.Option(
            "--proof",
            help="A new validator's proof of possession of its key, hex: "
            "`tianfu node prove-key --home HOME --owner YOUR_ADDRESS` where the key is.",
        ),
    ] = "",
) -> None:
    """Bond stake to a validator key (`staking.bond`): its power grows from H + 2. A new
    validator needs `--proof`; bonding more to yours does not."""
    try:
        key, proof_bytes = bytes.fromhex(public_key), bytes.fromhex(proof)
    except ValueError:
        raise CommandFailed("the public key and the proof must be hex") from None
    extra = (proof_bytes,) if proof_bytes else ()
    node.send("staking", "bond", validator, scheme_of(scheme), key, amount, *extra)


@account_app.node_command("unbond", "identity", "url", "json")
def account_unbond(
    node: Node,
    validator: Annotated[str, typer.Argument(help="Your validator's name.")],
    amount: Annotated[int, typer.Argument(help="Stake units to unbond.")],
) -> None:
    """Unbond stake (`staking.unbond`): power drops from H + 2, stake freed after the period."""
    node.send("staking", "unbond", validator, amount)


@account_app.node_command("withdraw", "identity", "url", "json")
def account_withdraw(node: Node) -> None:
    """Take back unbonded stake whose unbonding period has passed (`staking.withdraw`)."""
    node.send("staking", "withdraw")
