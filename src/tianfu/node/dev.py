"""`tianfu dev`: a one-validator chain for development, kept under one home directory.

Layout of the home directory (default `.tianfu/dev`):
  genesis.bin / genesis.json    the consortium configuration (canonical bytes / readable)
  ca/                           the dev organisation's CA (ca.pem, ca-key.pem)
  identities/{admin,user,node}  key.pem, cert.pem, ca.pem of each identity
  data/chain.db                 blocks, certificates, state (SQLite)
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from tianfu.api.server import PortInUse, listen_socket
from tianfu.client.transport import DEFAULT_URL
from tianfu.codec import encode, to_builtins
from tianfu.crypto import ED25519, scheme_name, suite_for_scheme
from tianfu.identity import Identity, OrgCA
from tianfu.types import Genesis, OrgConfig, Validator
from tianfu.types.genesis import GENESIS_VERSION, decode_genesis

DEV_ORG = "devorg"
DEV_CHAIN_ID = "tianfu-dev"


def write_genesis(home: Path, genesis: Genesis) -> None:
    (home / "genesis.bin").write_bytes(encode(genesis))
    readable = to_builtins(genesis)
    (home / "genesis.json").write_text(json.dumps(_hexify(readable), indent=2) + "\n")


def _hexify(obj: object) -> object:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, list):
        return [_hexify(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _hexify(v) for k, v in obj.items()}
    return obj


def load_genesis(home: Path | str) -> Genesis:
    """The genesis of the chain whose home is `home` (a path or a string, as the README's
    SDK example passes it): its `genesis.bin`."""
    return decode_genesis((Path(home) / "genesis.bin").read_bytes())


def init_dev(home: Path, scheme: int = ED25519) -> bool:
    """Create the dev chain's identities and genesis unless they exist. True if created.

    `scheme` chooses the keys and so the crypto suite: SM2 makes an SM2/SM3 chain."""
    if (home / "genesis.bin").exists():
        return False
    home.mkdir(parents=True, exist_ok=True)
    ca = OrgCA.create(DEV_ORG, scheme)
    ca.save(home / "ca")
    ids = {}
    for name, kind in (("admin", "admin"), ("user", "member"), ("node", "node")):
        ident = ca.issue(name, kind, scheme)
        ident.save(home / "identities" / name)
        ids[name] = ident
    node = ids["node"]
    genesis = Genesis(
        version=GENESIS_VERSION,
        chain_id=DEV_CHAIN_ID,
        time_ms=int(time.time() * 1000),
        orgs=[OrgConfig(DEV_ORG, ca.cert_der)],
        validators=[Validator("node0", DEV_ORG, node.keypair.scheme, node.keypair.public_key, 1)],
        suite=suite_for_scheme(scheme).name,
    )
    write_genesis(home, genesis)
    return True


def port_in_use(host: str, port: int) -> bool:
    """Whether something else already listens on `host:port` (as the servers bind: a port
    in TIME_WAIT is free, a listening one is not)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def run_dev(
    home: Path, host: str = "127.0.0.1", port: int = 8701, scheme: int | None = None
) -> None:
    """Create (first time) and run the dev chain until interrupted. `scheme` (default
    Ed25519) is for a new chain; an existing one must be of that scheme's suite."""
    from tianfu.node.runner import run_solo_node
    from tianfu.node.storeguard import DataLock

    # The API's port is bound here, once, and the listening socket is handed to the server:
    # a check that closed its socket and a bind later would let two starts both pass it.
    try:
        listener = listen_socket(host, port, "the dev chain's API")
    except PortInUse as exc:
        raise PortInUse(
            f"{exc} — is the local network (`tianfu up`, `make run`) or another dev chain "
            "running? Stop it, or start this one with --port (and use --url with that port)"
        ) from None
    try:
        # One process per dev chain, as per node (two would each build blocks on a store the
        # other moved past, and drop their transactions): `StoreRefused` names the holder.
        lock = DataLock(home / "data", "running this dev chain again (or use another --home)")
        try:
            _run_dev(home, host, port, scheme, listener, run_solo_node)
        finally:
            lock.release()
    finally:
        listener.close()


def _run_dev(
    home: Path,
    host: str,
    port: int,
    scheme: int | None,
    listener: socket.socket,
    run_solo_node: Any,
) -> None:
    created = init_dev(home, ED25519 if scheme is None else scheme)
    genesis = load_genesis(home)
    if scheme is not None and suite_for_scheme(scheme).name != genesis.suite:
        raise ValueError(
            f"the dev chain in {home} uses the {genesis.suite!r} crypto suite, not the one of "
            f"{scheme_name(scheme)} keys: use another --home for a new chain"
        )
    node_id = Identity.load(home / "identities" / "node")
    print(f"Tianfu dev chain {genesis.chain_id} ({'new' if created else 'resumed'}) in {home}")
    print(f"  suite      {genesis.suite}")
    print(f"  console    http://{host}:{port}/")
    print(f"  API        http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    if f"http://{host}:{port}" != DEFAULT_URL:  # the commands would talk to another port
        print(f"  commands   export TIANFU_URL=http://{host}:{port}  (they use {DEFAULT_URL})")
    print(f"  admin      {home / 'identities' / 'admin'}")
    print(f"  user       {home / 'identities' / 'user'}")
    print("  stop with Ctrl-C", flush=True)
    run_solo_node(home / "data", genesis, node_id, host=host, port=port, listener=listener)
