"""`tianfu privdata ...`: set up and inspect private data (docs/adr/0023-private-data.md).

`propose` puts the `privdata` key-registry contract to the consortium's vote (approve with
`tianfu contract approve`); `register-key` registers, as an organisation's admin, the data
key the organisation's node holds; `rotate-key` adds a new key to a stopped node's keyring;
`keys`, `status` and `show` read what a node keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    JsonOpt,
    Node,
    handle_errors,
    print_json,
    print_rows,
    report_result,
    show_fields,
)
from tianfu.client.private import PrivateData
from tianfu.privdata import REGISTRY, registry_source

privdata_app = CommandGroup("Private data: the organisations' data keys, and what a node keeps.")


@privdata_app.node_command("propose", "url", "identity", "json")
def propose(node: Node) -> None:
    """Propose the `privdata` key-registry contract (as an admin); prints the proposal id."""
    client = node.client(need_identity=True)
    result = client.invoke(
        "governance", "propose_contract", REGISTRY, registry_source(), check=False
    )
    report_result(result, node.as_json)


@privdata_app.node_command("register-key", "url", "identity", "json")
def register_key(node: Node) -> None:
    """Register the data key your organisation's node (at --url) holds, as its admin."""
    pd = PrivateData(node.client(need_identity=True))
    version = pd.register_node_key()
    org = pd.client.identity.info.org  # type: ignore[union-attr]
    doc = {"org": org, "registered": True, "version": version, "changed": version is not None}
    if node.as_json:
        print_json(doc)
    elif version is None:
        typer.echo(f"the data key of {org} held by {node.url} is registered already")
    else:
        typer.echo(f"registered the data key of {org} (version {version})")


@privdata_app.node_command("keys", "url", "json")
def keys(node: Node) -> None:
    """The data public keys the node holds, and whether each is registered on chain."""
    held = PrivateData(node.client()).node_keys()
    if node.as_json:
        print_json(held)
        return
    rows = [
        [org, k["public_key"].hex(), "yes" if k["registered"] else "NO"] for org, k in held.items()
    ]
    print_rows("data keys of this node", ["org", "public key", "registered"], rows)


@privdata_app.node_command("status", "url", "json")
def status(node: Node) -> None:
    """What the node keeps (records, bytes per writer organisation) and its counters."""
    doc = PrivateData(node.client()).status()
    show_fields("private data on this node", doc, node.as_json)


@privdata_app.node_command("show", "url", "json")
def show(
    node: Node,
    contract: Annotated[str, typer.Argument(help="The contract keeping the record.")],
    content_hash: Annotated[str, typer.Argument(help="The record's content hash (64 hex).")],
) -> None:
    """A private record as the node sees it: size, owner, readers, purged, held here."""
    if len(content_hash) != 64:
        raise CommandFailed("a content hash is 64 hex characters")
    doc = PrivateData(node.client()).describe(contract, content_hash)
    show_fields(f"private record {content_hash[:16]}…", doc, node.as_json)


@privdata_app.command("rotate-key")
def rotate_key(
    home: Annotated[Path, typer.Option("--home", help="The node's home (its node.toml).")],
    as_json: JsonOpt = False,
) -> None:
    """Add a new data key to a stopped node's keyring (old keys stay: older content still
    opens). Copy the keyring to the organisation's other nodes, start them, then register
    the new key: `tianfu privdata register-key`."""
    with handle_errors():
        from tianfu.node.config import NodeConfig
        from tianfu.node.storeguard import DataLock, StoreRefused
        from tianfu.privdata.keys import OrgKeyring
        from tianfu.privdata.node import KEYS_FILE

        cfg = NodeConfig.load(home)
        try:
            lock = DataLock(cfg.data, "rotating its data key")
        except StoreRefused as exc:
            raise CommandFailed(str(exc)) from None
        try:
            path = cfg.data / "private" / KEYS_FILE
            ring = OrgKeyring.open(path, {cfg.org})
            public_key = ring.rotate(cfg.org)
            ring.save(path)
        finally:
            lock.release()
        doc = {"org": cfg.org, "public_key": public_key.hex(), "keyring": str(path)}
        show_fields("new data key (start the node, then register it)", doc, as_json)
