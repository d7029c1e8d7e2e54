"""CLI: `tianfu account ...` — open-profile accounts: a self-made key, registered on chain by a
proof of work or an existing account's sponsorship, and its gas quota."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tianfu.cli.common import (
    CommandFailed,
    IdentityOpt,
    JsonOpt,
    SchemeOpt,
    UrlOpt,
    handle_errors,
    make_client,
    print_json,
    report_result,
    scheme_of,
    send_call,
    show_fields,
)
from tianfu.client import DEFAULT_URL

account_app = typer.Typer(
    help="Open-profile accounts: self-made keys with a gas quota (no member certificate).",
    no_args_is_help=True,
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


@account_app.command("register")
def account_register(
    identity: IdentityOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Register your key as an account with a proof of work of the chain's `pow_bits`."""
    with handle_errors():
        from tianfu.contracts.accounts import solve_pow
        from tianfu.execution.contract_api import address_of

        client = make_client(url, identity, need_identity=True)
        assert client.identity is not None  # need_identity
        kp = client.identity.keypair
        params = client.query("governance", "get_params")
        if "pow_bits" not in params:
            raise CommandFailed("this chain has the consortium profile: it has no open accounts")
        address = address_of(kp.scheme, kp.public_key)
        nonce = solve_pow(client.chain_id, address, int(params["pow_bits"]))
        report_result(client.invoke("accounts", "register", nonce), as_json)


@account_app.command("sponsor")
def account_sponsor(
    address: Annotated[str, typer.Argument(help="Address of the key to register.")],
    identity: IdentityOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Register another key's address as an account, vouched for by yours."""
    with handle_errors():
        send_call(url, identity, as_json, "accounts", "sponsor", address)


@account_app.command("show")
def account_show(
    address: Annotated[str | None, typer.Argument(help="Address (default: your key's).")] = None,
    identity: IdentityOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """An account's registration and the gas left in its quota."""
    with handle_errors():
        from tianfu.execution.contract_api import address_of

        client = make_client(url, identity, need_identity=address is None)
        if address is None:
            assert client.identity is not None  # need_identity
            kp = client.identity.keypair
            address = address_of(kp.scheme, kp.public_key)
        info = client.query("accounts", "get_account", address)
        if info is None:
            raise CommandFailed(f"{address} is not a registered account")
        show_fields(f"account {address}", info, as_json)


@account_app.command("bond")
def account_bond(
    validator: Annotated[str, typer.Argument(help="Validator name (new, or yours).")],
    public_key: Annotated[str, typer.Argument(help="Its consensus key, hex.")],
    amount: Annotated[int, typer.Argument(help="Stake units to bond.")],
    scheme: SchemeOpt = "ed25519",
    identity: IdentityOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Bond stake to a validator key (`staking.bond`): its power grows from H + 2."""
    with handle_errors():
        try:
            key = bytes.fromhex(public_key)
        except ValueError:
            raise CommandFailed("the public key must be hex") from None
        send_call(
            url, identity, as_json, "staking", "bond", validator, scheme_of(scheme), key, amount
        )


@account_app.command("unbond")
def account_unbond(
    validator: Annotated[str, typer.Argument(help="Your validator's name.")],
    amount: Annotated[int, typer.Argument(help="Stake units to unbond.")],
    identity: IdentityOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Unbond stake (`staking.unbond`): power drops from H + 2, stake freed after the period."""
    with handle_errors():
        send_call(url, identity, as_json, "staking", "unbond", validator, amount)


@account_app.command("withdraw")
def account_withdraw(
    identity: IdentityOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Take back unbonded stake whose unbonding period has passed (`staking.withdraw`)."""
    with handle_errors():
        send_call(url, identity, as_json, "staking", "withdraw")
