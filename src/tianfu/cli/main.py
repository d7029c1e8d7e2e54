"""The `tianfu` command: run a dev chain, send transactions, read and verify chain data.

Every command takes `--help`; node commands take `--url` (env TIANFU_URL) and signing
commands `--identity DIR` (env TIANFU_IDENTITY); `--json` prints JSON only. Exit codes:
0 success, 1 failed transaction / verification / error, 2 usage error.
"""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from tianfu.api.render import jsonable
from tianfu.apps.common.readable import date, zone
from tianfu.cli import (
    apps,
    observer_cmds,  # noqa: F401 (registers `tianfu node init-observer`)
    proof_cmds,
)
from tianfu.cli.account_cmds import account_app
from tianfu.cli.admin import ca_app, cert_app, identity_app, role_app
from tianfu.cli.bench_cmds import bench_app
from tianfu.cli.common import (
    CONTRACT_ARGS,
    HEIGHT_ARGS,
    CommandFailed,
    CommandGroup,
    HeightArg,
    Node,
    chain_height,
    contract_args,
    handle_errors,
    print_fields,
    print_json,
    print_rows,
    scheme_of,
    show_fields,
    tx_hash_arg,
)
from tianfu.cli.governance_cmds import gov_app
from tianfu.cli.network_cmds import genesis_app, network_app, up
from tianfu.cli.node_cmds import node_app
from tianfu.cli.privdata_cmds import privdata_app

app = CommandGroup(
    "Tianfu Chain: a consortium blockchain. `tianfu up` runs a local network of four"
    " organisations; `tianfu dev` a one-validator chain for contract development.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
contract_app = CommandGroup("Contract lifecycle: propose, approve, list.")
tx_app = CommandGroup("Transactions.")
block_app = CommandGroup("Blocks.")
# The command groups, by name, in the order --help lists them.
GROUPS = {
    "ca": ca_app,
    "identity": identity_app,
    "contract": contract_app,
    "tx": tx_app,
    "block": block_app,
    "role": role_app,
    "cert": cert_app,
    "gov": gov_app,
    "network": network_app,
    "node": node_app,
    "genesis": genesis_app,
    "bench": bench_app,
    "privdata": privdata_app,
    "account": account_app,
}
for group_name, group in GROUPS.items():
    app.add_typer(group, name=group_name)
app.command("up")(up)


apps.register(app)  # `tianfu app <name> ...` for every application, `tianfu evidence ...`

ArgsArg = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Argument(help="Arguments, each parsed as JSON or else taken as a string."),
]


@app.command()
def dev(
    home: Annotated[Path, typer.Option("--home", help="Home directory of the dev chain.")] = Path(
        ".tianfu/dev"
    ),
    port: Annotated[int, typer.Option("--port", help="API port.")] = 8701,
    host: Annotated[str, typer.Option("--host", help="API host.")] = "127.0.0.1",
    scheme: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--scheme",
            help="Keys of a new chain: ed25519 (default), ecdsa-p256, or sm2 for an SM2/SM3 "
            "chain (SM2 signatures, SM3 hashes). An existing chain keeps its suite.",
        ),
    ] = None,
) -> None:
    """Run a one-validator development chain (created on first run)."""
    with handle_errors():
        from tianfu.node.dev import run_dev
        from tianfu.node.storeguard import StoreRefused

        try:
            run_dev(home, host, port, None if scheme is None else scheme_of(scheme))
        except StoreRefused as exc:
            raise CommandFailed(str(exc)) from None


@app.node_command("status", "url", "json")
def status(node: Node) -> None:
    """Show the node's chain id, height and latest block. The latest block's time is
    shown in TIANFU_TZ (default Asia/Shanghai); --json gives time_ms, milliseconds since
    the epoch."""
    tz = None if node.as_json else zone()  # an unknown TIANFU_TZ: a usage error, at once
    doc = node.client().status()
    if tz is not None and isinstance(doc.get("time_ms"), int):
        doc = {("time" if k == "time_ms" else k): v for k, v in doc.items()}
        doc["time"] = date(doc["time"], tz)
    show_fields(f"node at {node.url}", doc, node.as_json)


@contract_app.node_command("propose", "url", "identity", "json")
def contract_propose(
    node: Node,
    name: str,
    file: Annotated[Path, typer.Argument(help="The contract's Python source.")],
) -> None:
    """Propose a contract; prints the proposal id (the result)."""
    source = file.read_text(encoding="utf-8")
    node.send("governance", "propose_contract", name, source, check=False)


@contract_app.node_command("approve", "url", "identity", "json")
def contract_approve(node: Node, proposal_id: str) -> None:
    """Approve a contract proposal as your organisation's admin."""
    node.send("governance", "approve", proposal_id, check=False)


@contract_app.node_command("list", "url", "json")
def contract_list(node: Node) -> None:
    """List deployed contracts."""
    items = node.client().contracts()
    if node.as_json:
        print_json(items)
    else:
        cols = sorted(
            {k for c in items for k in c if k != "source"}, key=lambda k: (k != "name", k)
        )
        print_rows("contracts", cols, [[c.get(k, "") for k in cols] for c in items])


@app.node_command("invoke", "url", "identity", "wait", "json", **CONTRACT_ARGS)
def invoke(
    node: Node,
    contract: str,
    method: str,
    args: ArgsArg = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the commit.")] = True,
) -> None:
    """Send a signed transaction calling CONTRACT.METHOD(ARGS...)."""
    values = contract_args(args)
    node.send(contract, method, *values, wait=wait, check=False)


@app.node_command("query", "url", "json", **CONTRACT_ARGS)
def query(node: Node, contract: str, method: str, args: ArgsArg = None) -> None:
    """Call a read-only contract method on the latest state."""
    values = contract_args(args)
    result = node.client().query(contract, method, *values)
    if node.as_json:
        print_json({"result": result})
    else:
        typer.echo(json.dumps(jsonable(result), indent=2))


@tx_app.node_command("show", "url", "json")
def tx_show(node: Node, tx_hash: str) -> None:
    """Show a committed transaction and its receipt."""
    tx_hash = tx_hash_arg(tx_hash)
    client = node.client()
    info = client.get_tx(tx_hash)
    body = info.tx.body
    doc = {
        "hash": info.tx_hash,
        "height": info.height,
        "index": info.index,
        "contract": body.contract,
        "method": body.method,
        "args": body.args,
        "signer": body.signer.hex(),
        "status": "ok" if info.receipt.ok else "failed",
        "result": info.receipt.result,
        "error": info.receipt.error,
        "gas_used": info.receipt.gas_used,
    }
    show_fields("transaction", doc, node.as_json)


@block_app.node_command("show", "url", "json", **HEIGHT_ARGS)
def block_show(node: Node, height: HeightArg) -> None:
    """Show a block's header and transaction hashes (-1: the latest block). The time is
    shown in TIANFU_TZ (default Asia/Shanghai); --json gives time_ms, milliseconds since
    the epoch."""
    tz = None if node.as_json else zone()  # an unknown TIANFU_TZ: a usage error, at once
    client = node.client()
    height = chain_height(client, height)
    doc = client.block_raw(height)
    if node.as_json:
        print_json(doc)
        return
    header = {
        ("time" if k == "time_ms" else k): (date(v, tz) if k == "time_ms" else v)
        for k, v in doc["header"].items()
        if k != "raw"
    }
    print_fields(f"block {height}", {**header, "txs": doc.get("txs", [])})


@block_app.node_command("list", "url", "json")
def block_list(
    node: Node,
    from_: Annotated[Optional[int], typer.Option("--from", min=1, help="First height.")] = None,  # noqa: UP045
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 20,
) -> None:
    """List block headers (the latest ones unless --from is given). Times are shown in
    TIANFU_TZ (default Asia/Shanghai); --json gives time_ms, milliseconds since the epoch."""
    tz = None if node.as_json else zone()  # an unknown TIANFU_TZ: a usage error, at once
    client = node.client()
    headers = client.blocks(from_, limit)
    with client.suite.use():  # a header's hash is the chain's (SM3 on an SM2 chain)
        rows = [[h.height, h.hash.hex(), h.tx_count, h.time_ms] for h in headers]
    if node.as_json:
        print_json(
            [dict(zip(["height", "hash", "tx_count", "time_ms"], r, strict=True)) for r in rows]
        )
    else:
        with client.suite.use():
            shown = [[h.height, h.hash.hex(), h.tx_count, date(h.time_ms, tz)] for h in headers]
        print_rows("blocks", ["height", "hash", "txs", "time"], shown)


# Reading with proofs (tianfu.cli.proof_cmds): state, history, validators, tx proof/absent,
# block events, verify-proof.
app.command()(proof_cmds.state)
app.command()(proof_cmds.history)
app.command("validators")(proof_cmds.validators_cmd)
app.command("verify-proof")(proof_cmds.verify_proof)
tx_app.command("proof")(proof_cmds.tx_proof)
tx_app.command("absent")(proof_cmds.tx_absent)
block_app.command("events", **HEIGHT_ARGS)(proof_cmds.block_events)


if __name__ == "__main__":  # pragma: no cover
    app()
