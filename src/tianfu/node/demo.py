"""`tianfu up --demo`: create every shipped application's demo data on a running local network."""

from __future__ import annotations

import importlib
import json
from typing import Any

from rich.console import Console

from tianfu.node.localnet import LocalnetEnv, LocalNetwork

APPS = ("supply_finance", "fund_supervision", "traceability", "evidence", "ip_rights")


def create_demos(net: LocalNetwork, console: Console) -> dict[str, Any]:
    env = LocalnetEnv(net)
    summaries: dict[str, Any] = {}
    for name in APPS:
        try:
            module = importlib.import_module(f"tianfu.apps.{name}.demo")
        except ModuleNotFoundError:
            continue
        with console.status(f"demo data: {name} ..."):
            summaries[name] = module.create_demo(env)
        console.print(f"[green]demo[/] {name}: {json.dumps(summaries[name], default=str)[:300]}")
    return summaries
