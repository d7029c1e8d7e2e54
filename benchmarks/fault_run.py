"""Long fault run: a fresh N-organisation network under steady asset-transfer load, one validator
at a time killed with SIGKILL and restarted; then no lost, duplicated or forked anything.

    .venv/bin/python benchmarks/fault_run.py [--duration 300] [--orgs 4] [--seed N] [--json FILE]

Every 10-20 s (seeded) a random validator is killed with SIGKILL and restarted 2-8 s later,
so at most one is down at a time. Client threads, one per member identity of every
organisation, send `asset.transfer`s to members of the other organisations through all
nodes in turn. At the end the load stops, every node must reach the same height, and the
run reports: committed and acknowledged transactions, acknowledged ones missing from the
chain (must be 0), transactions committed twice (must be 0), heights where the nodes'
block hash or state root differ (must be 0), kills, and the gaps between consecutive block
times. Exit code 1 if anything must-be-0 is not, a node never catches up or exits by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import tianfu
from tianfu.bench.netcheck import Load, check_chains, free_base_ports, height, scan_logs
from tianfu.client import Client
from tianfu.contracts.examples import example_source
from tianfu.identity import Identity
from tianfu.node.config import NodeConfig
from tianfu.node.localnet import LocalnetEnv, LocalNetwork

MEMBERS_PER_ORG = 2
BALANCE = 10**12


@dataclass
class Faults:
    """The kill/restart schedule and what happened: one validator down at a time."""

    net: LocalNetwork
    rng: random.Random
    every: tuple[float, float] = (10.0, 20.0)
    down_for: tuple[float, float] = (2.0, 8.0)
    kills: list[dict[str, Any]] = field(default_factory=list)
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    down: NodeConfig | None = None
    _t0: float = 0.0
    _next_kill: float = 0.0
    _restart_at: float = 0.0
    _catching_up: dict[str, tuple[int, float, dict[str, Any]]] = field(default_factory=dict)

    def begin(self, now: float) -> None:
        self._t0 = now
        self._next_kill = now + self.rng.uniform(*self.every)

    def urls_heights(self) -> dict[str, int]:
        return {c.name: height(self.net.url(c)) for c in self.net.configs}

    def tick(self, now: float, heights: dict[str, int]) -> None:
        self._check_exits(now)
        if self.down is None and now >= self._next_kill:
            victim = self.rng.choice(self.net.configs)
            self.net.stop_node(victim.name, sig=signal.SIGKILL)
            self.down = victim
            self._restart_at = now + self.rng.uniform(*self.down_for)
            self.kills.append(
                {
                    "node": victim.name,
                    "killed_at_s": round(now - self._t0, 1),
                    "height_at_kill": max(heights.values()),
                }
            )
            self._next_kill = now + self.rng.uniform(*self.every)
        elif self.down is not None and now >= self._restart_at:
            self.restart(now, heights)
        self.note_heights(now, heights)

    def note_heights(self, now: float, heights: dict[str, int]) -> None:
        """Record when restarted nodes reach the height the others had at their restart."""
        for name, (target, since, rec) in list(self._catching_up.items()):
            if heights.get(name, -1) >= target:
                rec["caught_up_s"] = round(now - since, 1)
                del self._catching_up[name]

    def restart(self, now: float, heights: dict[str, int]) -> None:
        if self.down is None:
            return
        cfg, self.down = self.down, None
        self.net.start_node(cfg)
        rec = self.kills[-1]
        rec["restarted_at_s"] = round(now - self._t0, 1)
        target = max(h for n, h in heights.items() if n != cfg.name)
        self._catching_up[cfg.name] = (target, now, rec)
        self._next_kill = max(self._next_kill, now + 1.0)

    def _check_exits(self, now: float) -> None:
        for cfg in self.net.configs:
            if cfg is self.down:
                continue
            proc = self.net.procs.get(cfg.name)
            if proc is not None and proc.poll() is not None:
                log = self.net.log_path(cfg).read_text(errors="replace").splitlines()[-15:]
                self.unexpected_exits.append(
                    {
                        "node": cfg.name,
                        "at_s": round(now - self._t0, 1),
                        "returncode": proc.returncode,
                        "log_tail": log,
                    }
                )
                self.net.start_node(cfg)

    @property
    def not_caught_up(self) -> list[str]:
        return list(self._catching_up)


def setup_workload(net: LocalNetwork, console: Console) -> list[Identity]:
    """Deploy the asset contract and fund MEMBERS_PER_ORG members of every organisation."""
    env = LocalnetEnv(net)
    console.print("deploying the asset contract ...")
    env.deploy("asset", example_source("asset"))
    members = [env.identity(org, f"fault-m{j}") for j in range(MEMBERS_PER_ORG) for org in env.orgs]
    admin = Client(
        net.url(net.configs[0]),
        Identity.load(net.home / env.orgs[0] / "identities" / "admin"),
        genesis=net.genesis,
    )
    console.print(f"funding {len(members)} members of {len(env.orgs)} organisations ...")
    for m in members:
        admin.invoke("asset", "mint", m.info.address, BALANCE)
    admin.close()
    return members


def converge(urls: list[str], timeout: float) -> tuple[bool, float, list[int]]:
    """Wait until every node reaches the highest height seen now; (ok, seconds, heights)."""
    t0 = time.monotonic()
    target = max(height(u) for u in urls)
    while time.monotonic() - t0 < timeout:
        hs = [height(u) for u in urls]
        if min(hs) >= target:
            return True, time.monotonic() - t0, hs
        time.sleep(0.3)
    return False, time.monotonic() - t0, [height(u) for u in urls]


def snapshot_source(home: Path) -> Path:
    """Copy the `tianfu` package the nodes will run, so that a node restarted mid-run runs the
    same code as the others even while the working tree is being edited."""
    src = Path(tianfu.__file__).resolve().parent
    dst = home / "src" / "tianfu"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(dst.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return dst.parent


def run(args: argparse.Namespace, home: Path, console: Console) -> dict[str, Any]:
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    if not args.live_source:
        console.print(f"nodes run a snapshot of the source: {snapshot_source(home)}")
    api, p2p = free_base_ports(args.orgs)
    net, _ = LocalNetwork.prepare(
        home / "net", args.orgs, True, api_base_port=api, p2p_base_port=p2p
    )
    urls = [net.url(c) for c in net.configs]
    net.start()
    try:
        net.wait_ready(timeout=120)
        members = setup_workload(net, console)
        n = len(members)
        load = Load(
            urls,
            members,
            net.genesis,
            "asset",
            "transfer",
            threads=args.threads or n,
            args_for=lambda i, k: (members[(i + 1 + k % (n - 1)) % n].info.address, 1),
        )
        faults = Faults(net, random.Random(seed))
        h_start = max(height(u) for u in urls)
        console.print(
            f"fault run: {args.duration:.0f} s, seed {seed}, {load.threads} client threads"
        )
        load.start()
        t0 = time.monotonic()
        faults.begin(t0)
        with Progress(
            TextColumn("[bold]fault run"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=not console.is_terminal,
        ) as progress:
            task = progress.add_task("run", total=args.duration, info="")
            next_line = t0
            while (now := time.monotonic()) - t0 < args.duration:
                heights = faults.urls_heights()
                faults.tick(now, heights)
                down = faults.down.name if faults.down else "-"
                info = (
                    f"height {max(heights.values())}  committed {len(load.acked)}  "
                    f"kills {len(faults.kills)}  down {down}  errors {load.errors}"
                )
                progress.update(task, completed=now - t0, info=info)
                if not console.is_terminal and now >= next_line:  # logs get a line now and then
                    console.print(f"{now - t0:5.0f} s  {info}")
                    next_line = now + 15
                time.sleep(1.0)
            progress.update(task, completed=args.duration)
        faults.restart(time.monotonic(), faults.urls_heights())
        elapsed = time.monotonic() - t0
        console.print("stopping the load, waiting for every node to reach the same height ...")
        acked = load.stop()
        ok, catchup_s, end_heights = converge(urls, args.converge_timeout)
        faults.note_heights(time.monotonic(), faults.urls_heights())
        check = check_chains(urls) if max(end_heights) >= 1 else None
    finally:
        net.stop()
    logs = scan_logs(sorted((net.home / "logs").glob("*.log")))
    return report(
        args, seed, elapsed, h_start, load, acked, faults, ok, catchup_s, end_heights, check, logs
    )


def report(
    args: argparse.Namespace,
    seed: int,
    elapsed: float,
    h_start: int,
    load: Load,
    acked: list[str],
    faults: Faults,
    converged: bool,
    catchup_s: float,
    end_heights: list[int],
    check: Any,
    logs: dict[str, list[str]],
) -> dict[str, Any]:
    all_acked = acked + load.acked_failed
    lost = check.missing(all_acked) if check else all_acked
    dups = check.duplicates if check else {}
    gap_max, gap_p50, gap_p99 = check.gap_quantiles() if check else (0, 0.0, 0.0)
    caught = [k["caught_up_s"] for k in faults.kills if "caught_up_s" in k]
    return {
        "duration_s": round(elapsed, 1),
        "seed": seed,
        "orgs": args.orgs,
        "client_threads": load.threads,
        "height": check.top if check else max(end_heights),
        "blocks_during_run": (check.top if check else max(end_heights)) - h_start,
        "committed_txs": sum(check.tx_counts.values()) if check else 0,
        "acknowledged_txs": len(all_acked),
        "acknowledged_failed_receipts": len(load.acked_failed),
        "acked_tps": round(len(all_acked) / elapsed, 1),
        "lost_acknowledged": len(lost),
        "duplicates": len(dups),
        "forks": len(check.forks) if check else -1,
        "kills": len(faults.kills),
        "unexpected_node_exits": len(faults.unexpected_exits),
        "restarted_not_caught_up": len(faults.not_caught_up),
        "max_catch_up_s": max(caught, default=0.0),
        "converged": converged,
        "final_convergence_s": round(catchup_s, 1),
        "end_heights": end_heights,
        "block_gap_max_ms": gap_max,
        "block_gap_max_at_height": check.largest_gap_at if check else 0,
        "block_gap_p50_ms": round(gap_p50, 1),
        "block_gap_p99_ms": round(gap_p99, 1),
        "client_errors": load.errors,
        "client_error_kinds": dict(load.error_kinds),
        "load_worker_crashes": load.worker_crashes,
        "kill_log": faults.kills,
        "unexpected_exit_log": faults.unexpected_exits,
        "lost_detail": [{"tx": h, "acked_by": load.acked_where.get(h)} for h in lost[:20]],
        "duplicate_detail": dict(list(dups.items())[:20]),
        "fork_detail": check.forks[:5] if check else [],
        "suspect_log_lines": logs,
    }


def failed(fig: dict[str, Any]) -> bool:
    return bool(
        fig["lost_acknowledged"]
        or fig["duplicates"]
        or fig["forks"] != 0
        or not fig["converged"]
        or fig["unexpected_node_exits"]
        or fig["load_worker_crashes"]
    )


def print_table(console: Console, fig: dict[str, Any]) -> None:
    table = Table(title=f"Tianfu fault run — {fig['orgs']} validators, SIGKILL one at a time")
    table.add_column("figure")
    table.add_column("value", justify="right")
    must_zero = {"lost_acknowledged", "duplicates", "forks", "unexpected_node_exits"}
    for k, v in fig.items():
        if k.endswith(("_log", "_detail")) or k in {"suspect_log_lines", "load_worker_crashes"}:
            continue
        style = "red bold" if k in must_zero and v != 0 else None
        table.add_row(k, str(v), style=style)
    console.print(table)
    for k in fig["kill_log"]:
        console.print(f"  kill {k}")
    for key in ("unexpected_exit_log", "lost_detail", "duplicate_detail", "fork_detail"):
        if fig[key]:
            console.print(f"[red]{key}:[/red]", fig[key])
    if fig["load_worker_crashes"]:
        console.print("[red]load worker crashes:[/red]", fig["load_worker_crashes"])
    for name, lines in fig["suspect_log_lines"].items():
        console.print(f"[yellow]{name}: {len(lines)} suspect log lines[/yellow]")
        for line in lines[:5]:
            console.print("   ", line, markup=False, highlight=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of load and faults")
    ap.add_argument("--orgs", type=int, default=4, help="organisations (one validator each)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the fault schedule")
    ap.add_argument(
        "--threads", type=int, default=0, help="client threads (default: one per member)"
    )
    ap.add_argument("--converge-timeout", type=float, default=120.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument(
        "--live-source",
        action="store_true",
        help="restart nodes from the working tree instead of a snapshot taken at start",
    )
    ap.add_argument("--keep", action="store_true", help="keep the network's directory")
    args = ap.parse_args()
    if args.orgs < 4:
        ap.error("killing one validator needs at least 4 organisations (n >= 3f + 1)")
    console = Console()
    home = Path(tempfile.mkdtemp(prefix="tianfu-fault-"))
    try:
        fig = run(args, home, console)
    except BaseException:
        console.print(f"the run broke off; network directory kept: {home}")
        raise
    print_table(console, fig)
    bad = failed(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    if bad or args.keep:
        console.print(f"network directory kept: {home} (logs under {home / 'net' / 'logs'})")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
