"""How long a restarted validator takes to catch up: in process (block sync) and with real nodes.

    .venv/bin/python benchmarks/catchup.py [--blocks 10000] [--txs-per-block 5]
        [--mode inproc|network|both] [--network-seconds 300] [--json FILE]
        [--rounds N] [--baseline-src OTHER_TREE/src]

**inproc** (all `--blocks`): node A of a 4-organisation consortium (`benchchain.py`)
commits the setup blocks (asset contract deployed through governance, 16 funded
members); node B, the validator that then stops, executes and commits the same blocks.
A then commits `--blocks` blocks of `--txs-per-block` `asset.transfer`s, each with a
3-of-4 commit certificate. B then "restarts": the real `tianfu.sync.BlockSyncer` of both
nodes, default settings as `tianfu.node.netnode` uses them (batches of 100, status every
second), over an in-memory link. Timed from the start of B's syncer until it reports being
caught up at A's height; then A's and B's block hashes and state roots are compared at
every height. B verifies every certificate (3 Ed25519 signatures), re-executes every
transaction (signature check, sandbox, JMT update, state roots) and stores each batch
of blocks in one SQLite transaction (one COMMIT and fsync per batch). Both nodes share one process (A serves
from its store), no TCP/TLS. The catch-up runs in a child process on a copy of B's store,
`--rounds` times (the median is reported); with `--baseline-src DIR` the same chain is
also caught up by the `tianfu` package of another source tree (e.g. `git worktree add
/tmp/base <commit>` then `--baseline-src /tmp/base/src`), alternating with this tree
round by round, and `ratio_catchup_blocks_per_s` (and `ratio_cpu_ms_per_block`, the child
process's CPU per block) compare the medians: ratios measured in one run. With
`--apply-thread` each child measures only the applying thread instead (`apply_inproc`:
blocks executed and committed in batches of 100 without the syncer, the checks made ahead
taken as passed), and the ratios are of its wall and CPU ms per block.

**network** (real processes, as `tianfu up` runs them): a 4-validator `LocalNetwork`
whose genesis has fast block parameters (`fast_params`: 10 ms block intervals, 50 ms
propose timeout, at most `--txs-per-block` transactions per block), 3 x `--txs-per-block`
client threads sending `asset.transfer`s through the API (each waits for its commit),
validator node4 stopped with SIGINT; the other three commit until `--blocks` blocks were added or
`--network-seconds` passed, whichever comes first (with node4's turns as proposer lost to
the propose timeout, three validators on this 2-core machine commit ~15 empty blocks/s,
fewer with transactions, so 10,000 blocks would take over ten minutes). node4 is started
again while the load goes on; reported: seconds until its API answers, until it holds the
height the others had at the restart (`target`), and until its height equals theirs
(`level`), and the blocks/s of catch-up. Then the load stops and all four nodes' block
hashes and state roots are compared. The nodes run a snapshot of the source taken at the
start. Ports are chosen below the kernel's ephemeral range (see `ports_below_ephemeral`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchchain import ORGS, BenchChain, bench_asset_source, db_bytes

from tianfu.crypto import generate_keypair
from tianfu.ledger import Ledger
from tianfu.p2p.protocol import PeerId
from tianfu.store import Store
from tianfu.sync import BlockSyncer, SyncConfig
from tianfu.types import ConsensusParams
from tianfu.types.genesis import decode_genesis

MEMBERS_PER_ORG = 4
BALANCE = 10**15


# -- in process --------------------------------------------------------------------------
class Link:
    """Two in-process nodes joined by one link: every frame is delivered on the event loop."""

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[PeerId, Any]] = {}
        self.frames = 0
        self.bytes = 0

    def attach(self, name: str, handler: Any) -> LinkEnd:
        kp = generate_keypair()
        me = PeerId(address=f"addr-{name}", org=ORGS[0], name=name, public_key=kp.public_key)
        self.handlers[me.address] = (me, handler)
        return LinkEnd(self, me)

    def deliver(self, src: PeerId, dst: str, kind: int, payload: bytes) -> None:
        if dst not in self.handlers:
            return
        self.frames += 1
        self.bytes += len(payload)
        _, handler = self.handlers[dst]
        asyncio.get_running_loop().call_soon(handler, src, kind, payload)


class LinkEnd:
    """One node's `tianfu.p2p.protocol.Network` on a `Link`."""

    def __init__(self, link: Link, me: PeerId) -> None:
        self.link = link
        self.me = me

    def peers(self) -> list[PeerId]:
        return [p for a, (p, _) in self.link.handlers.items() if a != self.me.address]

    def broadcast(self, kind: int, payload: bytes) -> None:
        for p in self.peers():
            self.link.deliver(self.me, p.address, kind, payload)

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        self.link.deliver(self.me, peer, kind, payload)


def copy_blocks(src: BenchChain, dst: BenchChain, upto: int) -> None:
    """Have `dst` execute and commit `src`'s blocks up to `upto` (as a live validator would)."""
    for h in range(dst.ledger.height + 1, upto + 1):
        block, cert = src.store.load_block(h), src.store.load_cert(h)
        assert block is not None and cert is not None
        dst.ledger.commit(dst.ledger.execute(block), cert)


def produce_inproc(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Node A's chain in `work/a` and node B's store, stopped after the setup, in `work/b`."""
    a = BenchChain(work / "a")
    a.deploy("asset", bench_asset_source())
    members = [a.identity(o, f"m{o}-{j}") for o in ORGS for j in range(MEMBERS_PER_ORG)]
    a.register(members)
    admin = a.admins[ORGS[0]]
    r = a.call(admin, "asset", "mint_many", [m.info.address for m in members], BALANCE)
    assert r.ok, r.error
    b = a.replica(work / "b")
    copy_blocks(a, b, a.ledger.height)
    stopped_at = b.ledger.height
    b.close()
    print(f"inproc: B stops at height {stopped_at}; A commits {args.blocks} blocks ...", flush=True)

    rng = random.Random(1)
    n, k = len(members), args.txs_per_block
    t0 = time.perf_counter()
    for i in range(args.blocks):
        txs = []
        for j in range(k):
            who = members[(i * k + j) % n]
            to = members[(i * k + j + 1 + rng.randrange(n - 1)) % n]
            txs.append(a.sign(who, "asset", "transfer", [to.info.address, 1]))
        executed = a.produce(txs)
        if len(executed.block.txs) != k or not all(x.ok for x in executed.result.receipts):
            raise RuntimeError(f"block {executed.block.header.height} lost or failed transfers")
        if (i + 1) % 2000 == 0:
            print(f"  {i + 1} blocks, {time.perf_counter() - t0:.0f} s", flush=True)
    produce_s = time.perf_counter() - t0
    a.close()
    return {
        "blocks": args.blocks,
        "txs_per_block": k,
        "stopped_at": stopped_at,
        "produce_s": round(produce_s, 1),
        "produce_blocks_per_s": round(args.blocks / produce_s, 1),
    }


def open_ledger(directory: Path) -> Ledger:
    """The ledger of a benchmark node's store, with the genesis the store holds."""
    store = Store(directory / "chain.db")
    raw = store.load_genesis()
    assert raw is not None, f"no chain in {directory}"
    return Ledger(store, decode_genesis(raw))


def sync_inproc(
    work: Path, run_dir: Path, timeout: float, checks: str = "default"
) -> dict[str, Any]:
    """B (a fresh copy of `work/b`) catches up with A (`work/a`) through both nodes' real
    `BlockSyncer`s over an in-memory link; timed until B reports being caught up. `checks`:
    "default" (the tree's defaults), "thread" (checked ahead in a thread, not a process) or
    "inline" (no checks ahead)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(work / "b", run_dir)
    a, b = open_ledger(work / "a"), open_ledger(run_dir)
    stopped_at, target = b.height, a.height
    link = Link()
    done: list[int] = []
    # No consensus on B here: sync to the very top.
    knobs = {"default": {}, "thread": {"check_in_process": False}, "inline": {"check_ahead": False}}
    cfg_b = SyncConfig(consensus_gap=0, **knobs[checks])  # type: ignore[arg-type]
    end_a = link.attach("a", lambda p, kind, d: sa.handle(p, kind, d))
    sa = BlockSyncer(a, end_a, on_commit=lambda e: None)
    end_b = link.attach("b", lambda p, kind, d: sb.handle(p, kind, d))
    sb = BlockSyncer(b, end_b, on_commit=lambda e: None, on_caught_up=done.append, config=cfg_b)

    async def main() -> float:
        tasks = [asyncio.create_task(s.run()) for s in (sa, sb)]
        start = time.perf_counter()
        try:
            while not done or done[-1] < target:
                await asyncio.sleep(0.005)
                if time.perf_counter() - start > timeout:
                    raise TimeoutError(f"B did not catch up: {sb.progress}")
            return time.perf_counter() - start
        finally:
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    sync_s = asyncio.run(main())
    same = all(
        (ha := a.store.load_header(h)) is not None
        and (hb := b.store.load_header(h)) is not None
        and ha.hash == hb.hash
        and ha.state_root == hb.state_root
        for h in range(1, target + 1)
    )
    blocks = target - stopped_at
    k = len(a.store.load_block(target).txs)  # type: ignore[union-attr]
    fig = {
        "blocks": blocks,
        "target_height": target,
        "catchup_s": round(sync_s, 2),
        "catchup_blocks_per_s": round(blocks / sync_s, 1),
        "catchup_tx_per_s": round(blocks * k / sync_s, 1),
        "frames": link.frames,
        "mb_transferred": round(link.bytes / 2**20, 1),
        "db_mb": round(db_bytes(run_dir) / 2**20, 1),
        "identical_chains": same,
    }
    a.store.close()
    b.store.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    return fig


def apply_inproc(work: Path, run_dir: Path, batch: int = 100) -> dict[str, Any]:
    """The applying thread's own work, without the syncer: B (a fresh copy of `work/b`)
    executes and commits A's blocks in batches of `batch` as block sync's worker thread does
    (each batch one `Ledger.grouped_commits`, or the baseline's `Store.deferred_fsync`),
    with the checks the checking thread makes ahead taken as passed (signatures,
    certificates). Reports that thread's CPU and wall time per block."""
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(work / "b", run_dir)
    a, b = open_ledger(work / "a"), open_ledger(run_dir)
    blocks = []
    for h in range(b.height + 1, a.height + 1):
        block, cert = a.store.load_block(h), a.store.load_cert(h)
        assert block is not None and cert is not None
        blocks.append((block, cert))
    # One batch's context: the baseline (before the grouped store transaction) may lack it.
    batch_of = getattr(b, "grouped_commits", None) or b.store.deferred_fsync

    def passed(*_: object) -> bool:
        return True

    wall, cpu = time.perf_counter(), time.thread_time()
    for i in range(0, len(blocks), batch):
        with batch_of():
            for block, cert in blocks[i : i + batch]:
                b.validator_set(block.header.height)  # as the syncer asks for them
                b.params(block.header.height)
                b.commit(b.execute(block, verified=passed, last_commit_checked=passed), cert)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    same = all(
        (ha := a.store.load_header(h)) is not None
        and (hb := b.store.load_header(h)) is not None
        and ha.hash == hb.hash
        and ha.state_root == hb.state_root
        for h in range(1, a.height + 1)
    )
    a.store.close()
    b.store.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    n = len(blocks)
    return {
        "blocks": n,
        "apply_cpu_ms_per_block": round(1000 * cpu / n, 3),
        "apply_wall_ms_per_block": round(1000 * wall / n, 3),
        "identical_chains": same,
    }


def sync_child(
    src: Path,
    work: Path,
    run_dir: Path,
    timeout: float,
    checks: str = "default",
    apply_only: bool = False,
) -> dict[str, Any]:
    """`sync_inproc` (or `apply_inproc`) in a fresh process that imports `tianfu` from the
    source tree `src`."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(Path(__file__).parent)]))
    cmd = [sys.executable, __file__, "--sync-child", str(work), str(run_dir)]
    cmd += ["--inproc-timeout", str(timeout), "--checks", checks]
    cmd += ["--apply-thread"] if apply_only else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fig = dict(json.loads(out.strip().splitlines()[-1]))
    # The child's CPU (start-up included) per block: less sensitive to a busy machine than
    # wall time, blind to time spent waiting for the disk.
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    fig["cpu_ms_per_block"] = round(1000 * cpu / fig["blocks"], 3)
    return fig


def run_inproc(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    fig = produce_inproc(args, work)
    here = Path(__file__).resolve().parents[1] / "src"
    variants = [("this tree", here)]
    if args.baseline_src is not None:
        variants.append(("baseline", args.baseline_src.resolve()))
    keys = ["catchup_blocks_per_s", "cpu_ms_per_block"]
    if args.apply_thread:
        keys = ["apply_wall_ms_per_block", "apply_cpu_ms_per_block"]
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]  # alternate who goes first
        for name, src in order:
            checks = args.checks if name == "this tree" else "default"
            got = sync_child(
                src, work, work / "b-run", args.inproc_timeout, checks, args.apply_thread
            )
            got["variant"] = name
            rounds.append(got)
            print(f"  round {r + 1}, {name}: {got[keys[0]]} {keys[0]}", flush=True)
    mine = [x for x in rounds if x["variant"] == "this tree"]
    fig.update({k: v for k, v in mine[-1].items() if k != "variant"})
    for key in keys:
        fig[key] = statistics.median(x[key] for x in mine)
    fig["identical_chains"] = all(x["identical_chains"] for x in rounds)
    if args.baseline_src is not None:
        base = [x for x in rounds if x["variant"] == "baseline"]
        for key in keys:
            fig[f"baseline_{key}"] = statistics.median(x[key] for x in base)
            fig[f"ratio_{key}"] = round(fig[key] / fig[f"baseline_{key}"], 2)
    fig["rounds"] = rounds
    return fig


# -- real processes --------------------------------------------------------------------------
def fast_params(txs_per_block: int) -> ConsensusParams:
    return ConsensusParams(
        max_block_txs=txs_per_block,
        block_interval_ms=10,
        empty_block_interval_ms=10,
        timeout_propose_ms=50,
        timeout_vote_ms=100,
        timeout_delta_ms=100,
    )


def ports_below_ephemeral(n: int) -> tuple[int, int]:
    """API and p2p port bases with base+1..base+n free, below the kernel's ephemeral range.

    A validator that is down for minutes is dialled again and again by its peers; if its
    port lies in the ephemeral range (as `netcheck.free_base_ports`' 20000-40000 partly
    does), one of those dials can be given that very port as its source and connect to
    itself (TCP self-connect), and the restarted node then cannot bind it.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        api = random.randrange(10000, max(low - 200, 10100), 100)
        p2p = api + 50
        socks = []
        try:
            for port in [api + i for i in range(1, n + 1)] + [p2p + i for i in range(1, n + 1)]:
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return api, p2p
    raise RuntimeError("no free ports below the ephemeral range")


def run_network(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from fault_run import setup_workload, snapshot_source
    from rich.console import Console

    from tianfu.bench.netcheck import Load, assert_identical, height
    from tianfu.node.localnet import LocalNetwork

    console = Console()
    snapshot_source(work)
    api, p2p = ports_below_ephemeral(4)
    params = fast_params(args.txs_per_block)
    net, _ = LocalNetwork.prepare(
        work / "net", 4, True, api_base_port=api, p2p_base_port=p2p, params=params
    )
    urls = [net.url(c) for c in net.configs]
    victim = net.configs[3]
    others = urls[:3]
    net.start()
    load = None
    try:
        net.wait_ready(timeout=120)
        members = setup_workload(net, console)
        n = len(members)
        load = Load(
            urls[:3],
            members,
            net.genesis,
            "asset",
            "transfer",
            threads=3 * args.txs_per_block,
            args_for=lambda i, c: (members[(i + 1 + c % (n - 1)) % n].info.address, 1),
        ).start()
        time.sleep(3)
        h_victim = height(urls[3])
        net.stop_node(victim.name, sig=signal.SIGINT)
        h_stop = max(height(u) for u in others)
        t_stop = time.monotonic()
        print(f"network: {victim.name} stopped near height {h_stop}; the others commit ...")
        want = h_stop + args.blocks
        next_print = t_stop
        while True:
            h = min(height(u) for u in others)
            now = time.monotonic()
            if h >= want or now - t_stop >= args.network_seconds:
                break
            if now >= next_print:
                print(f"  {now - t_stop:4.0f} s: others at {h} (+{h - h_stop})", flush=True)
                next_print = now + 30
            time.sleep(0.5)
        down_s = time.monotonic() - t_stop
        target = max(height(u) for u in others)
        produced = target - h_stop
        acked_before = len(load.acked)
        print(f"network: {produced} blocks in {down_s:.0f} s; restarting {victim.name} ...")
        t_restart = time.monotonic()
        net.start_node(victim)
        t_api = t_target = t_level = None
        h_api = -1
        level_at = -1
        while time.monotonic() - t_restart < args.catchup_timeout:
            if net.procs[victim.name].poll() is not None:
                raise RuntimeError(f"{victim.name} exited; see {net.log_path(victim)}")
            hv = height(urls[3])
            now = time.monotonic()
            if hv >= 0 and t_api is None:
                t_api, h_api = now, hv
            if t_target is None and hv >= target:
                t_target = now
            if t_target is not None:
                ho = min(height(u) for u in others)
                hv = height(urls[3])
                if hv >= ho:
                    t_level, level_at = time.monotonic(), hv
                    break
            time.sleep(0.05)
        load.stop()
        acked = len(load.acked)
        time.sleep(2)
        top = assert_identical(urls) if t_level is not None else -1
    finally:
        if load is not None:
            load.stop()
        net.stop()
    behind = target - h_victim
    return {
        "params": {
            f: getattr(params, f)
            for f in (
                "max_block_txs",
                "block_interval_ms",
                "empty_block_interval_ms",
                "timeout_propose_ms",
                "timeout_vote_ms",
                "timeout_delta_ms",
            )
        },
        "stopped_near_height": h_stop,
        "down_s": round(down_s, 1),
        "blocks_while_down": produced,
        "production_blocks_per_s": round(produced / down_s, 1),
        "txs_acked_while_down": acked_before,
        "txs_per_block_while_down": round(acked_before / max(produced, 1), 1),
        "victim_height_at_stop": h_victim,
        "target_height": target,
        "blocks_behind": behind,
        "api_up_s": round(t_api - t_restart, 1) if t_api else None,
        "height_at_api_up": h_api,
        "target_s": round(t_target - t_restart, 1) if t_target else None,
        "level_s": round(t_level - t_restart, 1) if t_level else None,
        "level_height": level_at,
        # blocks/s from the restart (process start-up included) to holding the target
        "catchup_blocks_per_s": round(behind / (t_target - t_restart), 1) if t_target else None,
        # the same after the API first answered (sync may have begun before that)
        "catchup_blocks_per_s_after_api": (
            round((target - h_api) / (t_target - t_api), 1)
            if t_target and t_api and t_target > t_api
            else None
        ),
        "txs_acked_total": acked,
        "identical_chains_upto": top,
    }


def print_figs(title: str, fig: dict[str, Any]) -> None:
    print(f"\n{title}")
    width = max(len(k) for k in fig)
    for k, v in fig.items():
        print(f"  {k:<{width}}  {v}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=10_000, help="blocks to catch up")
    ap.add_argument("--txs-per-block", type=int, default=5)
    ap.add_argument("--mode", choices=("inproc", "network", "both"), default="both")
    ap.add_argument(
        "--network-seconds",
        type=float,
        default=300.0,
        help="network mode: at most this long with the validator down",
    )
    ap.add_argument("--catchup-timeout", type=float, default=900.0)
    ap.add_argument("--inproc-timeout", type=float, default=1800.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument(
        "--rounds", type=int, default=1, help="inproc: catch-ups of the same chain (median)"
    )
    ap.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="inproc: also catch up with the tianfu package of this source tree (its src/ "
        "folder), alternating with this tree round by round, and report the ratio",
    )
    ap.add_argument(
        "--checks",
        choices=("default", "thread", "inline"),
        default="default",
        help="inproc: how this tree checks signatures: its defaults (ahead, in the checking "
        "process), ahead in a thread (SyncConfig.check_in_process off) or every one in line "
        "(SyncConfig.check_ahead off); the baseline always runs with its defaults",
    )
    ap.add_argument(
        "--no-check-ahead",
        action="store_const",
        dest="checks",
        const="inline",
        help="--checks inline",
    )
    ap.add_argument(
        "--apply-thread",
        action="store_true",
        help="inproc: measure only the applying thread (blocks executed and committed in "
        "batches of 100 without the syncer, checks ahead taken as passed): its CPU and wall "
        "ms per block",
    )
    ap.add_argument("--sync-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sync_child:
        work, run_dir = args.sync_child
        if args.apply_thread:
            print(json.dumps(apply_inproc(work, run_dir)))
            return 0
        print(json.dumps(sync_inproc(work, run_dir, args.inproc_timeout, args.checks)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="tianfu-catchup-"))
    out: dict[str, Any] = {}
    ok = True
    try:
        if args.mode in ("inproc", "both"):
            out["inproc"] = run_inproc(args, work / "inproc")
            print_figs("in process: BlockSyncer, 3-of-4 certificates, no TCP", out["inproc"])
            ok &= bool(out["inproc"]["identical_chains"])
        if args.mode in ("network", "both"):
            out["network"] = run_network(args, work / "network")
            print_figs("real processes: 4-validator LocalNetwork, node4 restarted", out["network"])
            ok &= out["network"]["level_s"] is not None
    finally:
        if args.json:
            args.json.write_text(json.dumps(out, indent=2) + "\n")
        if args.keep or not ok:
            print(f"working directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
