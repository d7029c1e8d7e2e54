"""Private data: record content kept off the public ledger, encrypted, and stored only by the
nodes of the organisations granted to read it (docs/adr/0023-private-data.md).

- `sealing`   content encryption (XChaCha20-Poly1305) and key wrapping (X25519 sealed boxes)
- `keys`      an organisation's X25519 data keys on its node (`OrgKeyring`)
- `record`    the on-chain record a contract keeps under `pd:<hash>` (`PrivateRecord`)
- `messages`  signed API requests and the p2p fetch messages
- `store`     the node's content directory, bounded by quotas (`PrivateStore`)
- `node`      the node side: access checks, API operations, distribution (`PrivateDataNode`)
- `contract`  the `privdata` contract: each organisation's registered data public key
"""

from __future__ import annotations

from pathlib import Path

REGISTRY = "privdata"  # the governed contract holding the organisations' data public keys


def registry_source() -> str:
    """The source of the `privdata` key-registry contract (deployed as is)."""
    return (Path(__file__).parent / "contract.py").read_text(encoding="utf-8")
