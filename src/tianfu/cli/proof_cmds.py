"""`tianfu` commands that read with proofs and verify them: state, history, validators,
tx proof / absent, block events, verify-proof.

Every proof comes from the node as a self-contained document (`tianfu.proofs.documents`)
and is verified against a trusted genesis (`--genesis FILE`, or the node's own genesis
with a warning) through every validator-set change. `--out FILE` saves the document;
`tianfu verify-proof FILE --genesis GENESIS` checks it again offline, strictly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tianfu.apps.common.readable import counted
from tianfu.cli.common import (
    NODE_OPTIONS,
    CommandFailed,
    GenesisOpt,
    HeightArg,
    JsonOpt,
    Node,
    UsageProblem,
    chain_height,
    handle_errors,
    load_genesis_file,
    node_command,
    option,
    print_fields,
    print_json,
    print_rows,
    trusted_genesis,
    tx_hash_arg,
)
from tianfu.client import Client, VerifiedDocument
from tianfu.client.verify import verify_block_events
from tianfu.proofs.documents import dump_document, read_document, verify_document

OutOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--out",
        help="Write the proof document to this file (verify it later with "
        "`tianfu verify-proof FILE --genesis GENESIS`).",
    ),
]

HeightOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--height", min=1, help="The block to read at (default: the latest)."),
]


@dataclass(frozen=True)
class ProvingNode(Node):
    """The options of a command that reads with proofs: the node's, the height proven at
    (`--height`; None: the latest), the trusted genesis (`--genesis`; None: the node's own)
    and where to save the proof document (`--out`)."""

    height: int | None = None
    genesis: Path | None = None
    out: Path | None = None


PROOF_OPTIONS = {
    **NODE_OPTIONS,
    "height": option("height", HeightOpt, None),
    "genesis": option("genesis", GenesisOpt, None),
    "out": option("out", OutOpt, None),
}


def proof_command(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`node_command` with the options of `ProvingNode` too ("height", "genesis", "out")."""
    return node_command(*names, node=ProvingNode, options=PROOF_OPTIONS)


def _load_app_kinds() -> None:
    """Register the applications' document kinds (evidence, photo authorship, traceability)."""
    import tianfu.apps.evidence.certificate  # noqa: F401
    import tianfu.apps.photo_sharing.certificate  # noqa: F401
    import tianfu.apps.traceability.proof  # noqa: F401


def _proven(
    node: ProvingNode, kind: str, fetch: Callable[[Client], dict[str, Any]]
) -> VerifiedDocument:
    """Fetch a proof document from the node and verify it against the trusted genesis (the
    file, or the node's own)."""
    client = node.client()
    return verify_document(fetch(client), trusted_genesis(client, node.genesis), kind=kind)


def _saved(proven: VerifiedDocument, node: ProvingNode) -> bool:
    """Save the document to `--out` if asked; with --json print it (and say so: True)."""
    if node.out is not None:
        node.out.write_text(dump_document(proven.document), encoding="utf-8")
    if node.as_json:
        print_json(proven.document)
    return node.as_json


def _emit(
    proven: VerifiedDocument, node: ProvingNode, title: str, fields: dict[str, Any], line: str
) -> None:
    """Save the document if asked; print it (--json) or a summary and one verified line."""
    if _saved(proven, node):
        return
    print_fields(title, fields)
    if proven.verified.changes[1:]:
        typer.echo(
            f"validator-set changes proven from the genesis: {len(proven.verified.changes) - 1}"
        )
    if node.out is not None:
        typer.echo(f"proof document written to {node.out}")
    typer.echo(line)


@proof_command("height", "prove", "genesis", "out", "url", "json")
def state(
    node: ProvingNode,
    contract: str,
    key: str,
    prove: Annotated[bool, typer.Option("--prove", help="Verify with the light client.")] = False,
) -> None:
    """Read a contract's state entry; with --prove, verify it against the genesis (through
    every validator-set change) and print or save the proof document."""
    if not prove:
        if node.out is not None:
            raise UsageProblem("--out needs --prove")
        doc = node.client().state_raw(contract, key, node.height)
        if node.as_json:
            print_json(doc)
            return
        print_fields(
            f"{contract}/{key}",
            {
                "value": doc.get("value"),
                "present": doc.get("value_raw") is not None,
                "height": doc.get("height"),
                "state_root": doc.get("header", {}).get("state_root"),
            },
        )
        return
    proven = _proven(node, "state", lambda c: c.state_proof_raw(contract, key, node.height))
    e = proven.document["entries"][0]
    _emit(
        proven,
        node,
        f"{contract}/{key}",
        {
            "value": e["value"],
            "present": e["present"],
            "changed_at": e["changed_at"],
            "height": proven.document["height"],
            "state_root": proven.document["state_root"],
        },
        f"verified: value proven at height {proven.document['height']} by a commit "
        "certificate of the validators of that height",
    )


@proof_command("height", "limit", "genesis", "out", "url", "json")
def history(
    node: ProvingNode,
    contract: str,
    key: str,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=256, help="At most this many versions.")
    ] = 100,
) -> None:
    """Every version of a state entry, each proven in the block that wrote it, and proof
    that none was left out."""
    proven = _proven(
        node, "history", lambda c: c.history_proof_raw(contract, key, node.height, limit)
    )
    if _saved(proven, node):
        return
    d = proven.document
    rows = [[v["height"], "yes" if v["present"] else "deleted", v["value"]] for v in d["versions"]]
    print_rows(
        f"history of {contract}/{key} up to block {d['height']}",
        ["height", "present", "value"],
        rows,
    )
    if node.out is not None:
        typer.echo(f"proof document written to {node.out}")
    tail = (
        "back to its creation"
        if d["complete"]
        else f"(earlier changes from block {d['earlier_change']} not shown)"
    )
    typer.echo(f"verified: {counted(len(d['versions']), 'version')}, none left out, {tail}")


@proof_command("height", "genesis", "out", "url", "json")
def validators_cmd(node: ProvingNode) -> None:
    """The validator set of a block, proven from the genesis through every change."""
    proven = _proven(node, "validators", lambda c: c.validators_proof_raw(node.height))
    if _saved(proven, node):
        return
    d = proven.document
    rows = [[v["name"], v["org"], v["power"]] for v in d["validators"]]
    print_rows(f"validators of block {d['height']}", ["name", "org", "power"], rows)
    for c in d["validator_changes"][1:]:
        names = ", ".join(f"{v['name']}={v['power']}" for v in c["validators"])
        typer.echo(f"change in block {c['changed_in']}, from block {c['effective_from']}: {names}")
    typer.echo(
        "verified: proven from the genesis through "
        + counted(len(d["validator_changes"]) - 1, "change")
    )


def verify_proof(
    file: Annotated[
        Path,
        typer.Argument(
            help="A proof document (`--out` / `--json` of `tianfu state --prove`, `tx proof`, `tx absent`, `history`, `validators`, `evidence certificate`, `app traceability lookup`)."
        ),
    ],
    genesis: Annotated[Path, typer.Option("--genesis", help="Trusted genesis file.")],
    as_json: JsonOpt = False,
) -> None:
    """Verify a saved proof document offline against a trusted genesis alone."""
    with handle_errors():
        text = read_document(file)
        _load_app_kinds()
        proven = verify_document(text, load_genesis_file(genesis))
        readable = proven.readable
        if as_json:
            print_json({"verified": True, **readable})
            return
        shown = {
            k: v
            for k, v in readable.items()
            if k not in ("validator_changes", "lineage", "versions")
        }
        print_fields(f"verified {proven.kind} proof", shown)
        typer.echo(
            f"verified: {proven.kind} proof of chain {readable['chain_id']}, against the genesis "
            f"through {counted(len(readable['validator_changes']) - 1, 'validator-set change')}"
        )


@proof_command("genesis", "out", "url", "json")
def tx_proof(node: ProvingNode, tx_hash: str) -> None:
    """Fetch and verify a transaction's inclusion proof and its receipt."""
    tx_hash = tx_hash_arg(tx_hash)
    proven = _proven(node, "tx", lambda c: c.tx_proof_raw(tx_hash))
    d = proven.document
    if d["tx"]["hash"] != tx_hash.lower():
        raise CommandFailed("the node proved another transaction")
    _emit(
        proven,
        node,
        "verified inclusion",
        {
            "hash": d["tx"]["hash"],
            "height": d["height"],
            "index": d["index"],
            "contract": d["tx"]["contract"],
            "method": d["tx"]["method"],
            "status": "ok" if d["receipt"]["ok"] else "failed",
            "result": d["receipt"]["result"],
            "error": d["receipt"]["error"],
            "events": len(d["receipt"]["events"]),
            "block_hash": d["block_hash"],
        },
        f"verified: the transaction and its receipt are in block {d['height']}",
    )


@proof_command("height", "genesis", "out", "url", "json")
def tx_absent(node: ProvingNode, tx_hash: str) -> None:
    """Prove that a transaction was NOT committed up to a height (the latest by default)."""
    tx_hash = tx_hash_arg(tx_hash)
    proven = _proven(node, "absence", lambda c: c.absence_proof_raw(tx_hash, node.height))
    d = proven.document
    if d["tx_hash"] != tx_hash.lower():
        raise CommandFailed("the node proved the absence of another transaction")
    _emit(
        proven,
        node,
        "verified absence",
        {
            "hash": d["tx_hash"],
            "committed": False,
            "up_to_height": d["height"],
            "block_hash": d["block_hash"],
        },
        f"verified: transaction {d['tx_hash']} was not committed up to block {d['height']}",
    )


@proof_command("genesis", "url", "json")
def block_events(
    node: ProvingNode,
    height: HeightArg,
    contract: Annotated[Optional[str], typer.Option("--contract")] = None,  # noqa: UP045
    name: Annotated[Optional[str], typer.Option("--name")] = None,  # noqa: UP045
) -> None:
    """Every event of a block (matching --contract/--name), proven complete: the block's
    receipts hash to its certified receipts root."""
    client = node.client()
    client.genesis = trusted_genesis(client, node.genesis)
    at = chain_height(client, height)
    batch = client.block_events_raw(at, contract, name)
    v = verify_block_events(client.light_client, batch, contract=contract, name=name, height=at)
    if node.as_json:
        print_json({"verified": True, "height": v.height, "events": batch["events"]})
        return
    rows = [[i, ev.contract, ev.name, ev.data] for i, ev in v.events]
    print_rows(f"events of block {v.height}", ["tx", "contract", "event", "data"], rows)
    typer.echo(
        f"verified: all {counted(len(v.events), 'matching event')} of block {v.height} "
        f"({counted(len(v.receipts), 'receipt')} under its certified receipts root)"
    )
