"""`tianfu network init`: everything a multi-organisation deployment needs, one folder per
organisation — its CA, admin and user identities, its node's certificate and config — plus
the shared genesis.

    OUT/genesis.bin, OUT/genesis.json          the consortium configuration (give it to every org)
    OUT/orgN/ca/                               orgN's CA (ca.pem; ca-key.pem stays with orgN)
    OUT/orgN/identities/{admin,user}/          key.pem, cert.pem, ca.pem
    OUT/orgN/nodeN/node.toml                   the node's configuration
    OUT/orgN/nodeN/identity/                   the node's key and certificate
    OUT/orgN/nodeN/data/                       its chain database (created on start)
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
from tianfu.crypto import ED25519, suite_for_scheme
from tianfu.identity import OrgCA
from tianfu.node.config import NodeConfig
from tianfu.node.dev import write_genesis
from tianfu.types import ConsensusParams, Genesis, OpenGenesis, OpenProfile, OrgConfig, Validator
from tianfu.types.genesis import GENESIS_VERSION

API_BASE_PORT = 8700
P2P_BASE_PORT = 9700
OBSERVER_PORT_OFFSET = 100


@dataclass(frozen=True)
class NetworkLayout:
    out: Path
    orgs: list[str]
    nodes: list[NodeConfig]
    genesis: Genesis


def init_network(
    out: Path,
    orgs: int = 4,
    *,
    chain_id: str = "tianfu-local",
    host: str = "127.0.0.1",
    api_base_port: int = API_BASE_PORT,
    p2p_base_port: int = P2P_BASE_PORT,
    scheme: int = ED25519,
    params: ConsensusParams | None = None,
    force: bool = False,
    open_profile: OpenProfile | None = None,
    validator_power: int = 1,
) -> NetworkLayout:
    """Create `orgs` organisations, each with one validator node. Refuses to overwrite.

    With `open_profile` the chain has the open profile (ADR 0025): its genesis is an
    `OpenGenesis` carrying those settings; the organisations are the founding members, and
    each node also listens on an observer port (its p2p port + OBSERVER_PORT_OFFSET)."""
    out = Path(out)
    if (out / "genesis.bin").exists():
        if not force:
            raise FileExistsError(
                f"{out} already holds a network (use --force / --fresh to replace it)"
            )
        shutil.rmtree(out)
    if orgs < 1:
        raise ValueError("a network needs at least one organisation")
    out.mkdir(parents=True, exist_ok=True)
    names = [f"org{i}" for i in range(1, orgs + 1)]
    cas: dict[str, OrgCA] = {}
    validators: list[Validator] = []
    node_ids = {}
    for i, org in enumerate(names, start=1):
        ca = OrgCA.create(org, scheme)
        ca.save(out / org / "ca")
        cas[org] = ca
        ca.issue("admin", "admin", scheme).save(out / org / "identities" / "admin")
        ca.issue("user", "member", scheme).save(out / org / "identities" / "user")
        node = ca.issue(f"node{i}", "node", scheme)
        node.save(out / org / f"node{i}" / "identity")
        node_ids[org] = node
        validators.append(
            Validator(
                f"node{i}", org, node.keypair.scheme, node.keypair.public_key, validator_power
            )
        )
    fields = {
        "version": GENESIS_VERSION,
        "chain_id": chain_id,
        "time_ms": int(time.time() * 1000),
        "orgs": [OrgConfig(o, cas[o].cert_der) for o in names],
        "validators": validators,
        "params": params or ConsensusParams(),
        "suite": suite_for_scheme(scheme).name,  # sm2 keys: the SM2/SM3 suite
    }
    genesis = (
        Genesis(**fields)  # type: ignore[arg-type]
        if open_profile is None
        else OpenGenesis(**fields, open_profile=open_profile)  # type: ignore[arg-type]
    )
    genesis.validate()
    write_genesis(out, genesis)
    configs = []
    for i, org in enumerate(names, start=1):
        home = out / org / f"node{i}"
        cfg = NodeConfig(
            home=home,
            name=f"node{i}",
            org=org,
            validator=True,
            genesis=(out / "genesis.bin").resolve(),
            identity=(home / "identity").resolve(),
            data=(home / "data").resolve(),
            api_host=host,
            api_port=api_base_port + i,
            p2p_host=host,
            p2p_port=p2p_base_port + i,
            peers=[(host, p2p_base_port + j) for j in range(1, orgs + 1) if j != i],
            # Open profile: node i's observer port is its p2p port + OBSERVER_PORT_OFFSET.
            observer_port=p2p_base_port + OBSERVER_PORT_OFFSET + i if open_profile else 0,
        )
        cfg.save()
        FilePrivValidator.initialise(node_ids[org].keypair, cfg.data / SIGNER_FILE)
        configs.append(cfg)
    return NetworkLayout(out, names, configs, genesis)
