"""Setting an environment up for applications that keep private data (docs/adr/0023): the
`privdata` key-registry contract deployed, and every organisation's data key registered by
its admin — the key its own node holds."""

from __future__ import annotations

from tianfu.apps.common.scenario import ensure_deployed
from tianfu.apps.env import AppEnv
from tianfu.client.private import PrivateData
from tianfu.privdata import REGISTRY, registry_source

ADMIN = "admin"  # the organisation admin's identity name in an environment


def ensure_private_data(env: AppEnv) -> None:
    """Deploy `privdata` unless active, and register each organisation's node data key
    unless the chain has it already. Idempotent: a second run sends nothing."""
    admins = [env.client(env.identity(org, ADMIN, "admin")) for org in env.orgs]
    ensure_deployed(env, admins[0], REGISTRY, registry_source())
    for admin in admins:
        PrivateData(admin).register_node_key()
