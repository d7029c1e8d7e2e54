"""CLI: `tianfu network init`, `tianfu node start` and `tianfu up` (a local multi-org network)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tianfu.cli.common import JsonOpt, SchemeOpt, handle_errors, print_json, scheme_of

network_app = typer.Typer(help="Create the files of a multi-organisation network.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
console = Console()


@network_app.command("init")
def network_init(
    out: Annotated[Path, typer.Option("--out", help="Directory to create.")] = Path("network"),
    orgs: Annotated[int, typer.Option("--orgs", min=1, max=64, help="Number of organisations.")] = 4,
    chain_id: Annotated[str, typer.Option("--chain-id", help="Chain id.")] = "tianfu-local",
    host: Annotated[str, typer.Option("--host", help="Address the nodes listen on.")] = "127.0.0.1",
    api_base: Annotated[int, typer.Option("--api-base-port", help="Node i's API port is this + i.")] = 8700,
    p2p_base: Annotated[int, typer.Option("--p2p-base-port", help="Node i's p2p port is this + i.")] = 9700,
    scheme: SchemeOpt = "ed25519",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing network in OUT.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create CAs, admin/user/node identities, the genesis and one config per node."""
    with handle_errors():
        from tianfu.node.netinit import init_network

        layout = init_network(
            out, orgs, chain_id=chain_id, host=host, api_base_port=api_base,
            p2p_base_port=p2p_base, scheme=scheme_of(scheme), force=force,
        )
        rows = [
            {
                "org": c.org, "node": c.name, "home": str(c.home), "api": f"http://{c.api_host}:{c.api_port}",
                "p2p": f"{c.p2p_host}:{c.p2p_port}", "identities": str(out / c.org / "identities"),
            }
            for c in layout.nodes
        ]
        if as_json:
            print_json({"out": str(out), "genesis": str(out / "genesis.bin"), "nodes": rows})
            return
        table = Table(title=f"network {chain_id} in {out}")
        for col in ("org", "node", "home", "api", "p2p"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["org"], r["node"], r["home"], r["api"], r["p2p"])
        console.print(table)
        console.print(f"genesis: {out / 'genesis.bin'} — start each node with `tianfu node start --home HOME`")


@node_app.command("start")
def node_start(
    home: Annotated[Path, typer.Option("--home", help="The node's directory (with node.toml).")],
) -> None:
    """Run one node (validator or non-voting full node) until interrupted."""
    with handle_errors():
        from tianfu.node.netnode import run_network_node

        run_network_node(home)


def up(
    orgs: Annotated[int, typer.Option("--orgs", min=1, max=16, help="Number of organisations.")] = 4,
    home: Annotated[Path, typer.Option("--home", help="Where the network's files live.")] = Path(
        ".tianfu/localnet"
    ),
    fresh: Annotated[bool, typer.Option("--fresh", help="Start a new chain (deletes the old one).")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Create the applications' demo data.")] = False,
) -> None:
    """Run a local network: one validator process per organisation, on 127.0.0.1."""
    with handle_errors():
        from tianfu.node.localnet import LocalNetwork

        net, created = LocalNetwork.prepare(home, orgs, fresh)
        console.print(f"[bold]Tianfu local network[/] ({'new' if created else 'resumed'}) in {home}")
        net.start()
        stopping = False

        def on_signal(_sig: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        try:
            with console.status("waiting for the nodes to commit a block ..."):
                net.wait_ready(timeout=90)
            table = Table(title=f"chain {net.genesis.chain_id}")
            for col in ("node", "org", "API", "identities"):
                table.add_column(col)
            for c in net.configs:
                table.add_row(c.name, c.org, net.url(c), str(home / c.org / "identities"))
            console.print(table)
            console.print(f"genesis: {home / 'genesis.bin'}   logs: {home / 'logs'}")
            if demo:
                from tianfu.node.demo import create_demos

                create_demos(net, console)
            console.print("Press Ctrl-C to stop every node.")
            while not stopping:
                for name, proc in net.procs.items():
                    if proc.poll() is not None:
                        console.print(f"[red]{name} exited with {proc.returncode}[/]; see {home / 'logs'}")
                        stopping = True
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            console.print("stopping ...")
            net.stop()
            console.print("stopped.")
