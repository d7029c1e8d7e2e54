"""CLI: `tianfu node init-observer` — an open-profile node with a self-made key: an observer,
or a validator by stake — and `tianfu node prove-key`, its key's proof of possession for a
bond (docs/ops/open-network.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tianfu.cli.common import CommandFailed, JsonOpt, handle_errors, node_files, print_json
from tianfu.cli.node_cmds import node_app
from tianfu.types.genesis import decode_genesis


@node_app.command("init-observer")
def node_init_observer(
    home: Annotated[Path, typer.Option("--home", help="The observer's directory to create.")],
    genesis: Annotated[Path, typer.Option("--genesis", help="The open network's genesis.bin.")],
    peer: Annotated[
        list[str],
        typer.Option("--peer", help="HOST:PORT of a validator's or observer's observer port."),
    ],
    api: Annotated[str, typer.Option("--api", help="API listen HOST:PORT.")] = "127.0.0.1:8801",
    listen: Annotated[
        str,
        typer.Option("--listen", help="Observer port to serve other observers (HOST:PORT)."),
    ] = "",
    name: Annotated[str, typer.Option("--name", help="A name for this observer.")] = "observer",
    staked: Annotated[
        bool,
        typer.Option(
            "--validator",
            help="A validator by stake: it votes while its key has stake bonded "
            "(`staking.bond`); start it with `tianfu node start --home HOME`.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an observer (or a validator by stake): a self-made key (no certificate), the
    genesis and node.toml. Its key's address and public key are printed."""
    with handle_errors():
        import shutil

        from tianfu.crypto import generate_keypair
        from tianfu.execution.contract_api import address_of
        from tianfu.identity import Identity
        from tianfu.node.config import NodeConfig, parse_hostport
        from tianfu.node.observer_node import check_observer_config

        g = decode_genesis(genesis.read_bytes())
        if (home / "node.toml").exists():
            raise CommandFailed(f"{home} already holds a node")
        peers = [parse_hostport(p) for p in peer]
        listen_host, listen_port = parse_hostport(listen) if listen else ("127.0.0.1", 0)
        api_host, api_port = parse_hostport(api)
        cfg = NodeConfig(
            **node_files(home),
            name=name,
            org="",
            validator=staked,
            api_host=api_host,
            api_port=api_port,
            p2p_host=listen_host,
            p2p_port=0,
            observer=True,
            observer_port=listen_port,
            observer_peers=peers,
        )
        check_observer_config(cfg, g)  # an open chain, peers given
        kp = generate_keypair(suite_for_genesis(g))
        Identity.account(kp).save(home / "identity")
        shutil.copyfile(genesis, home / "genesis.bin")
        cfg.save()
        if staked:  # its signer state, "nothing signed" (a lost one is refused at start)
            from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator

            FilePrivValidator.initialise(kp, cfg.data / SIGNER_FILE)
        address = address_of(kp.scheme, kp.public_key)
        if as_json:
            print_json(
                {
                    "home": str(home),
                    "address": address,
                    "scheme": kp.scheme,
                    "public_key": kp.public_key.hex(),
                    "validator": staked,
                }
            )
        elif staked:
            typer.echo(
                f"validator key {kp.public_key.hex()} (scheme {kp.scheme}) in {home}: bond stake "
                f"to it, then tianfu node start --home {home}"
            )
        else:
            typer.echo(f"observer {address} in {home}: tianfu node start --observer --home {home}")


def suite_for_genesis(genesis: object) -> int:
    """The key scheme a node of this chain makes for itself (SM2 on an SM2 chain)."""
    from tianfu.crypto import ED25519, SM2

    return SM2 if getattr(genesis, "suite", "standard") == "sm2" else ED25519


@node_app.command("prove-key")
def node_prove_key(
    home: Annotated[Path, typer.Option("--home", help="The validator by stake's directory.")],
    owner: Annotated[
        str, typer.Option("--owner", help="The address of the account that will bond it.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Print the proof of possession of this node's consensus key that a new bond of it by
    `--owner` carries (`tianfu account bond ... --proof HEX`): the key's signature over the
    chain id, the owner's address, the scheme and the key (`staking.possession_message`)."""
    with handle_errors():
        from tianfu.contracts.accounts import ADDRESS_RE
        from tianfu.contracts.staking import prove_possession
        from tianfu.crypto import chain_suite
        from tianfu.identity import Identity

        if not ADDRESS_RE.match(owner):
            raise CommandFailed("--owner: an address is 40 lowercase hex characters")
        if not (home / "identity").is_dir() or not (home / "genesis.bin").is_file():
            raise CommandFailed(f"{home} holds no node made by `tianfu node init-observer`")
        g = decode_genesis((home / "genesis.bin").read_bytes())
        kp = Identity.load(home / "identity").keypair
        with chain_suite(g.suite).use():  # the chain's hash
            proof = prove_possession(kp, g.chain_id, owner)
        if as_json:
            print_json(
                {"owner": owner, "scheme": kp.scheme, "public_key": kp.public_key.hex(),
                 "proof": proof.hex()}
            )  # fmt: skip
        else:
            typer.echo(proof.hex())
