"""CLI: `tianfu node init`, `start`, `check` and `repair` — one organisation's node."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tianfu.apps.common.readable import counted
from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    JsonOpt,
    UsageProblem,
    handle_errors,
    node_files,
    print_json,
)
from tianfu.types.genesis import decode_genesis

node_app = CommandGroup("Run a node.")

NodeHomeOpt = Annotated[Path, typer.Option("--home", help="The node's directory (with node.toml).")]


@node_app.command("start")
def node_start(
    home: NodeHomeOpt,
    new_signer_state: Annotated[
        bool,
        typer.Option(
            "--new-signer-state",
            help="Start although the signer file (data/privval.json) is missing: a new one is made, and "
            "the node signs only once the network has moved past what it may have signed before. "
            "Use it too after restoring data/ from a backup (the file may be older than what the "
            "key signed): the node then checks the network the same way first.",
        ),
    ] = False,
    observer: Annotated[
        bool,
        typer.Option(
            "--observer",
            help="Run an observer (open profile): a non-validating full node with its own "
            "self-made key, made by `tianfu node init-observer`.",
        ),
    ] = False,
) -> None:
    """Run one node (validator or non-voting full node) until interrupted.

    The node checks its store first (SQLite's quick_check, the chain's hash links, recent
    certificates, the latest state root) and refuses a damaged one with one line naming
    `tianfu node repair`; it stops the same way if it finds damage while running.
    """
    with handle_errors():
        from tianfu.consensus.privval import PrivValStateError
        from tianfu.consensus.wal import WALError
        from tianfu.node.config import NodeConfig
        from tianfu.node.netnode import run_network_node
        from tianfu.node.storeguard import StoreRefused

        cfg = NodeConfig.load(home)
        if observer and not cfg.observer:
            raise UsageProblem(
                f"{home} is a member node's: --observer needs `tianfu node init-observer`"
            )
        if cfg.observer and not cfg.validator and not observer:
            raise UsageProblem(f"{home} is an observer's: start it with --observer")
        try:
            if cfg.observer:  # an observer, or a validator by stake (its own key)
                from tianfu.node.observer_node import run_observer_node

                run_observer_node(cfg, new_signer_state=new_signer_state)
            else:
                run_network_node(home, new_signer_state=new_signer_state)
        except (StoreRefused, PrivValStateError) as exc:
            raise CommandFailed(str(exc)) from None
        except WALError as exc:
            raise CommandFailed(
                f"{exc}; make it a readable and writable file of the data directory and start "
                "again (the node logs its votes there before it sends them)"
            ) from None


@node_app.command("check")
def node_check(
    home: NodeHomeOpt,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Also SQLite's integrity_check, every certificate, every block's transaction "
            "and receipt roots, the tx index and the whole state tree (slow on long chains).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a stopped node's store: what `node start` checks, or (--full) everything.

    Exit code 0 if the store checks out, 1 (with one line saying what is wrong and the
    repair command) if not.
    """
    with handle_errors():
        from tianfu.crypto import suite_of
        from tianfu.ledger import Ledger
        from tianfu.node.config import NodeConfig
        from tianfu.node.storeguard import DataLock, StoreRefused, certificate_check, refusal
        from tianfu.store import Store, StoreError
        from tianfu.store.check import check_store

        cfg = NodeConfig.load(home)
        genesis = decode_genesis(cfg.genesis.read_bytes())
        path = cfg.data / "chain.db"
        if not path.exists():
            raise CommandFailed(f"{path} does not exist (the node has not run yet)")
        try:
            lock = DataLock(cfg.data, "checking its store")
        except StoreRefused as exc:
            raise CommandFailed(str(exc)) from None
        try:
            store = Store(path)
            try:
                with suite_of(genesis).use():
                    ledger = Ledger(store, genesis)
                    report = check_store(
                        store,
                        genesis.hash,
                        full=full,
                        verify_certificate=certificate_check(ledger),
                    )
            finally:
                store.close()
        except (StoreError, ValueError) as exc:
            raise CommandFailed(str(refusal(home, exc))) from None
        finally:
            lock.release()
        doc = {
            "ok": True,
            "level": report.level,
            "height": report.height,
            "file_bytes": report.file_bytes,
            "headers": report.headers,
            "certificates": report.certificates,
            "bodies": report.bodies,
            "state_rows": report.state_rows,
            "seconds": round(report.seconds, 3),
        }
        if as_json:
            print_json(doc)
        else:
            typer.echo(
                f"store {path} checks out ({report.level}): height {report.height}, "
                f"{report.file_bytes / 1e6:.1f} MB, {counted(report.headers, 'header')} linked, "
                f"{counted(report.certificates, 'certificate')} verified, "
                f"{counted(report.bodies, 'block body', 'block bodies')}, "
                f"{counted(report.state_rows, 'state row')}, {report.seconds:.2f} s"
            )


@node_app.command("repair")
def node_repair(
    home: NodeHomeOpt,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Set the store aside even if it checks out, and rebuild."),
    ] = False,
    connect_timeout: Annotated[
        float, typer.Option("--connect-timeout", min=1, help="Seconds to wait for a first peer.")
    ] = 60.0,
    stall_timeout: Annotated[
        float,
        typer.Option("--stall-timeout", min=1, help="Give up if no block arrives for this long."),
    ] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a stopped node's store from its peers, keeping its signer state.

    A store that fails the check is moved aside into data/damaged-<time>/ (kept, not
    deleted) and a new one is synced from the configured peers, every block checked
    (quorum certificate of its height, re-executed to its roots). privval.json and
    consensus.wal are not touched. Run it again to resume an interrupted repair.
    """
    with handle_errors():
        from tianfu.node.repair import RepairFailed, RepairProgress, run_repair
        from tianfu.node.storeguard import StoreRefused

        def show(p: RepairProgress) -> None:
            target = p.target if p.target else "?"
            typer.echo(
                f"repair: height {p.height} of {target}, {counted(p.peers, 'peer')}, "
                f"{p.rate:.0f} blocks/s, {p.elapsed_s:.0f} s",
                err=as_json,
            )

        try:
            result = run_repair(
                home,
                fresh=fresh,
                connect_timeout_s=connect_timeout,
                stall_timeout_s=stall_timeout,
                progress=show,
            )
        except (RepairFailed, StoreRefused) as exc:
            raise CommandFailed(f"repair failed: {exc}") from None
        doc = {
            "height": result.height,
            "blocks_fetched": result.blocks_fetched,
            "seconds": round(result.seconds, 1),
            "moved_aside": result.moved_aside,
            "reason": result.reason,
        }
        if as_json:
            print_json(doc)
            return
        if result.moved_aside:
            typer.echo(f"the old store ({result.reason}) is in {result.moved_aside}")
        typer.echo(
            f"store rebuilt from peers: height {result.height} "
            f"({counted(result.blocks_fetched, 'block')} fetched and checked in {result.seconds:.0f} s); signer state untouched. "
            f"Start the node with `tianfu node start --home {home}`"
        )


@node_app.command("init")
def node_init(
    home: Annotated[Path, typer.Option("--home", help="The node's directory to create.")],
    identity: Annotated[
        Path, typer.Option("--identity", help="The node's identity directory (kind node).")
    ],
    genesis: Annotated[Path, typer.Option("--genesis", help="The consortium's genesis.bin.")],
    api: Annotated[str, typer.Option("--api", help="API listen HOST:PORT.")] = "127.0.0.1:8701",
    p2p: Annotated[str, typer.Option("--p2p", help="P2P listen HOST:PORT.")] = "0.0.0.0:9701",
    peer: Annotated[
        list[str], typer.Option("--peer", help="HOST:PORT of another node; repeatable.")
    ] = [],  # noqa: B006
    validator: Annotated[
        bool, typer.Option("--validator/--full-node", help="Vote if in the validator set.")
    ] = True,
) -> None:
    """Write a node's node.toml (copying its identity and the genesis into HOME)."""
    with handle_errors():
        import shutil

        from tianfu.identity import Identity
        from tianfu.node.config import NodeConfig, parse_hostport

        ident = Identity.load(identity)
        if ident.info.kind != "node":
            from tianfu.cli.common import UsageProblem

            raise UsageProblem(
                f"{identity} holds a {ident.info.kind} certificate; a node needs kind node"
            )
        home.mkdir(parents=True, exist_ok=True)
        ident.save(home / "identity")
        shutil.copyfile(genesis, home / "genesis.bin")
        api_host, api_port = parse_hostport(api)
        p2p_host, p2p_port = parse_hostport(p2p)
        cfg = NodeConfig(
            **node_files(home),
            name=ident.info.name,
            org=ident.info.org,
            validator=validator,
            api_host=api_host,
            api_port=api_port,
            p2p_host=p2p_host,
            p2p_port=p2p_port,
            peers=[parse_hostport(p) for p in peer],
        )
        cfg.save()
        if validator:
            from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator

            FilePrivValidator.initialise(ident.keypair, cfg.data / SIGNER_FILE)
        typer.echo(
            f"node {cfg.name} of {cfg.org} configured in {home}: start it with "
            f"`tianfu node start --home {home}`"
        )
