"""`tianfu up --demo`: create every shipped application's demo data on a running local network.

Each application's `create_demo(env)` is idempotent, so running `tianfu up --demo` again on a
resumed chain describes the data that is already there instead of failing.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from rich.console import Console

from tianfu.node.localnet import LocalnetEnv, LocalNetwork

APPS = ("supply_finance", "fund_supervision", "traceability", "evidence", "ip_rights")
log = logging.getLogger(__name__)


def describe(module: Any, summary: dict[str, Any]) -> list[str]:
    """Readable lines for one application's demo summary."""
    if hasattr(module, "describe"):
        return list(module.describe(summary))
    return [f"{k}: {v}" for k, v in summary.items() if not isinstance(v, dict)]


def create_demos(net: LocalNetwork, console: Console) -> dict[str, Any]:
    """Create (or find) each application's demo data and print what it is and what to try.

    A failing application is reported and skipped; the network keeps running."""
    env = LocalnetEnv(net)
    summaries: dict[str, Any] = {}
    for name in APPS:
        try:
            module = importlib.import_module(f"tianfu.apps.{name}.demo")
        except ModuleNotFoundError:
            continue
        try:
            with console.status(f"demo data: {name} ..."):
                summaries[name] = module.create_demo(env)
        except Exception as exc:  # top level of one demo: report it, go on with the others
            log.exception("demo %s failed", name)
            console.print(f"[red]demo {name} failed:[/] {type(exc).__name__}: {exc}")
            continue
        console.print(f"[bold green]{name}[/]")
        for line in describe(module, summaries[name]):
            console.print(f"  {line}", highlight=False, markup=False)
    return summaries
