"""`tianfu up --demo`: create every shipped application's demo data on a running local network.

The applications are those of `tianfu.apps.registry`. Each one's `create_demo(env)` is
idempotent, so running `tianfu up --demo` again on a resumed chain describes the data that
is already there instead of failing.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.text import Text

from tianfu.apps.registry import APPLICATIONS
from tianfu.node.localnet import LocalnetEnv, LocalNetwork

log = logging.getLogger(__name__)

# The applications' hints name the default network of `tianfu up`.
DEFAULT_GENESIS = ".tianfu/localnet/genesis.bin"
DEFAULT_URL = "http://127.0.0.1:8701"


def create_demos(net: LocalNetwork, console: Console) -> dict[str, Any]:
    """Create (or find) each application's demo data and print what it is and what to try.

    A failing application is reported and skipped; the network keeps running."""
    env = LocalnetEnv(net)
    genesis = str(net.home / "genesis.bin")
    url = net.url(net.configs[0])
    summaries: dict[str, Any] = {}
    for app in APPLICATIONS:
        try:
            with console.status(Text(f"demo data: {app.name} ...")):
                summaries[app.name] = app.create_demo(env)
        except Exception as exc:  # top level of one demo: report it, go on with the others
            log.exception("demo %s failed", app.name)
            console.print(
                Text.assemble((f"demo {app.name} failed:", "red"), f" {type(exc).__name__}: {exc}"),
                soft_wrap=True,
            )
            continue
        console.print(Text(app.name, style="bold green"))
        for line in app.describe(summaries[app.name]):
            line = line.replace(DEFAULT_GENESIS, genesis)
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    if url != DEFAULT_URL:
        console.print(
            f"(this network's first node is {url}: add --url {url} to the commands above)",
            soft_wrap=True,
            highlight=False,
        )
    return summaries
