"""Runs a benchmark: starts a fresh local network (one process per validator, as `tianfu up`
does), prepares the contract and the member identities, drives load from separate client
processes, samples every node's CPU and memory, and checks the nodes still agree.

`BenchNetwork` owns the network; `run_load` is one measured run on it (a sweep makes
several on the same network); `run_bench` is the whole of `tianfu bench`.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from tianfu.apps.common.readable import counted
from tianfu.bench import netcheck, procstat
from tianfu.bench.ceiling import ceiling_tps, verifies_per_core
from tianfu.bench.delay_links import MAX_DELAY_MS, network_params, route_through_proxies
from tianfu.bench.delay_proxy import LinkProxies
from tianfu.bench.heights import from_logs as heights_from_logs
from tianfu.bench.load import WorkerResult, WorkerSpec, run_worker
from tianfu.bench.report import BlockInfo, NodeFigures, Requests, summarize
from tianfu.bench.workloads import FLOW_CONTRACTS, lanes_for, setup_lanes
from tianfu.client.transport import http_get
from tianfu.contracts.examples import example_source
from tianfu.crypto import ED25519, scheme_name
from tianfu.identity import Identity
from tianfu.node.localnet import LocalnetEnv, LocalNetwork

CONTRACTS = ("asset", "kv", *FLOW_CONTRACTS)
MINT = 10**15
CLOSED_LOOP_GUESS = 5000.0  # tx/s signed ahead for a closed loop (twice the design goal)
MAX_BATCH = 1000  # transactions per request at most (the node's `POST /v1/txs/batch` limit)
BATCH_IN_FLIGHT = 2048  # closed loop with --batch N > 1: about this many txs in flight
Say = Callable[[str], None]


class BenchError(Exception):
    """The benchmark could not run (a node or a load generator failed)."""


@dataclass(frozen=True)
class BenchConfig:
    validators: int = 4
    duration: float = 30.0  # measured seconds, after the warm-up
    warmup: float = 5.0  # seconds of load discarded before the measured window
    rate: float | None = None  # open loop at this many tx/s in total; None: closed loop
    contract: str = "asset"
    clients: int = 2  # load-generator processes
    concurrency: int | None = None  # closed: connections in all; open: requests in flight
    senders: int = 8  # member identities, spread over the organisations
    ceiling_s: float = 1.0  # how long the signature-verify ceiling is measured
    scheme: int = ED25519  # the keys of the network, so its crypto suite (SM2: SM2/SM3)
    batch: int = 1  # transactions per request: 1 = `POST /v1/txs`, N > 1 = `/v1/txs/batch`
    delay_ms: float | None = None  # one-way delay on every validator link (None: no proxies)
    block_interval_ms: int | None = None  # the genesis `block_interval_ms` (None: its default)

    def validate(self) -> None:
        if self.validators < 1:
            raise ValueError("at least one validator")
        if self.duration <= 0 or self.warmup < 0:
            raise ValueError("duration must be positive and warm-up not negative")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("the rate must be positive")
        if self.contract not in CONTRACTS:
            raise ValueError(f"contract must be one of {', '.join(CONTRACTS)}")
        if self.clients < 1 or self.senders < 1:
            raise ValueError("at least one client process and one sender")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"the batch must be 1..{MAX_BATCH} transactions per request")
        if self.contract in FLOW_CONTRACTS and (self.rate is not None or self.batch > 1):
            raise ValueError(f"{self.contract} runs flows: closed loop, one call per request")
        if self.delay_ms is not None and not 0 <= self.delay_ms <= MAX_DELAY_MS:
            raise ValueError(f"the delay must be within 0..{MAX_DELAY_MS:g} ms")
        if self.block_interval_ms is not None and not 0 <= self.block_interval_ms <= 60_000:
            raise ValueError("the block interval must be within 0..60000 ms")

    def connections(self) -> int:
        """Closed loop: connections in all; open loop: requests in flight at most."""
        if self.concurrency is not None:
            return self.concurrency
        if self.rate is None:
            if self.batch == 1:
                return 512  # enough in flight to fill blocks: Little's law, ~1000 tx/s × 0.5 s
            # Batches: ~BATCH_IN_FLIGHT txs in flight, spread evenly over clients and nodes.
            spread = self.clients * self.validators
            return spread * max(1, math.ceil(BATCH_IN_FLIGHT / self.batch / spread))
        requests_per_s = self.rate / self.batch
        return min(4000, max(64, math.ceil(requests_per_s * 2)))  # 2 s of latency absorbed


@dataclass(frozen=True)
class Senders:
    identity_dirs: list[str]
    addresses: list[str]  # the recipients of `asset` transfers (the senders themselves)
    random_recipients: bool = False  # each transfer to a random one, not in rotation


@dataclass
class Ceiling:
    verifies_per_core: float
    cores: int

    def tps(self, validators: int) -> float:
        return ceiling_tps(self.verifies_per_core, self.cores, validators)


def measure_ceiling(seconds: float, scheme: int = ED25519) -> Ceiling:
    return Ceiling(verifies_per_core(seconds, scheme=scheme), procstat.cores())


class BenchNetwork:
    """A fresh local network in a temporary (or given) directory, stopped on exit."""

    def __init__(
        self,
        validators: int,
        home: Path | None = None,
        say: Say = print,
        scheme: int = ED25519,
        delay_ms: float | None = None,
        before_start: Callable[[LocalNetwork], None] | None = None,
        block_interval_ms: int | None = None,
    ) -> None:
        self.validators = validators
        self.block_interval_ms = block_interval_ms
        self.scheme = scheme
        self.delay_ms = delay_ms  # not None: every validator link through a delay proxy
        self._proxies: LinkProxies | None = None
        self.before_start = before_start  # e.g. seeds the data directories (bench.preload)
        self._tmp = None if home is not None else tempfile.mkdtemp(prefix="tianfu-bench-")
        self.home = Path(home) if home is not None else Path(self._tmp or ".") / "net"
        self.say = say
        self.net: LocalNetwork | None = None

    def __enter__(self) -> BenchNetwork:
        api, p2p = netcheck.free_base_ports(self.validators + 1)
        self.net, _ = LocalNetwork.prepare(
            self.home,
            self.validators,
            True,
            api_base_port=api,
            p2p_base_port=p2p,
            scheme=self.scheme,
            params=network_params(self.delay_ms, self.block_interval_ms),
        )
        if self.delay_ms is not None:
            self.say(f"validator links through delay proxies, {self.delay_ms:g} ms one way ...")
            self._proxies = route_through_proxies(self.net, self.delay_ms)
        try:
            if self.before_start is not None:
                self.before_start(self.net)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.say(
            f"starting {counted(self.validators, 'validator process', 'validator processes')} "
            f"in {self.home} ..."
        )
        self.net.start()
        try:
            self.net.wait_ready(timeout=90 + 10 * self.validators)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.net is not None:
            self.net.stop()
        if self._proxies is not None:
            self._proxies.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def network(self) -> LocalNetwork:
        if self.net is None:
            raise BenchError("the network is not running")
        return self.net

    @property
    def urls(self) -> list[str]:
        return [self.network.url(c) for c in self.network.configs]

    @property
    def targets(self) -> list[tuple[str, int]]:
        return [(c.api_host, c.api_port) for c in self.network.configs]

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.network.procs.items()}

    def check_alive(self) -> None:
        for name, proc in self.network.procs.items():
            if proc.poll() is not None:
                log = self.home / "logs" / f"{name}.log"
                raise BenchError(f"{name} exited with {proc.returncode}; see {log}")

    def setup(self, contract: str, senders: int) -> Senders:
        """Deploy the contract by governance vote and make `senders` registered members,
        round-robin over the organisations (asset: each is minted a balance)."""
        env = LocalnetEnv(self.network)
        if contract in FLOW_CONTRACTS:
            return self._setup_lanes(env, lanes_for(senders))
        self.say(f"deploying contract {contract!r} by governance vote ...")
        env.deploy(contract, example_source(contract))
        idents = [env.identity(env.orgs[i % len(env.orgs)], f"bench{i}") for i in range(senders)]
        self.say(
            f"registering {counted(senders, 'member identity', 'member identities')} from "
            f"{counted(len(env.orgs), 'organisation')} ..."
        )

        def register(ident: Identity) -> None:
            client = env.client(ident)
            try:
                if contract == "asset":
                    env.admin(ident.info.org).invoke("asset", "mint", ident.info.address, MINT)
                    admin_addr = env.admin(ident.info.org).identity.info.address  # type: ignore[union-attr]
                    client.invoke("asset", "transfer", admin_addr, 1)  # first tx: registers
                else:
                    client.invoke("kv", "put", f"register-{ident.info.address}", 1)
            finally:
                client.close()

        with ThreadPoolExecutor(max_workers=min(8, senders)) as pool:
            list(pool.map(register, idents))
        dirs = [
            str(self.home / ident.info.org / "identities" / f"bench{i}")
            for i, ident in enumerate(idents)
        ]
        return Senders(dirs, [i.info.address for i in idents])

    def _setup_lanes(self, env: LocalnetEnv, lanes: int) -> Senders:
        """The application's casts (deployed by governance, roles granted, enrolled); every
        load generator runs flows on all of them."""
        self.say(
            f"deploying supply_finance and enrolling {counted(lanes, 'lane')} of 4 parties ..."
        )
        parties = [p for lane in setup_lanes(env, lanes) for p in lane.values()]
        dirs = [
            str(self.home / p.identity.info.org / "identities" / p.identity.info.name)
            for p in parties
        ]
        return Senders(dirs, [p.address for p in parties])

    def height(self) -> int:
        return max(netcheck.height(u) for u in self.urls)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every mempool is empty (leftovers of a previous run are committed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(
                    http_get(u + "/v1/status", timeout=2).json()["mempool"] == 0 for u in self.urls
                ):
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.3)

    def check_identical(self, timeout: float = 60.0) -> dict[str, Any]:
        """Do all nodes hold identical block hashes and state roots? (the verdict, as JSON)"""
        try:
            netcheck.wait_height(self.urls, self.height(), timeout)
            top = netcheck.assert_identical(self.urls)
        except (netcheck.ChainsDiffer, TimeoutError, httpx.HTTPError) as exc:
            return {"ok": False, "height": None, "message": str(exc)}
        return {
            "ok": True,
            "height": top,
            "message": f"all {len(self.urls)} nodes hold identical block hashes and state "
            f"roots up to height {top}",
        }

    def blocks(self, first: int, last: int) -> list[BlockInfo]:
        """Height, time and transaction count of blocks first..last, from node 1."""
        out: list[BlockInfo] = []
        h = max(1, first)
        while h <= last:
            doc = http_get(
                self.urls[0] + "/v1/blocks", params={"from": h, "limit": 100}, timeout=10
            ).json()
            page = [b for b in doc["blocks"] if b["height"] <= last]
            if not page:
                break
            out += [BlockInfo(b["height"], b["time_ms"] / 1000, b["tx_count"]) for b in page]
            h = page[-1]["height"] + 1
        return out


@dataclass
class Progress:
    """What the runner reports while load runs (the CLI draws a progress bar from it)."""

    elapsed: float = 0.0
    total: float = 0.0
    phase: str = ""
    committed: int = 0
    recent_tps: float = 0.0


@dataclass
class RunData:
    cfg: BenchConfig
    start_at: float
    requests: Requests
    workers: list[WorkerResult]
    blocks: list[BlockInfo]
    nodes: list[NodeFigures]
    client_cpu_percent: list[float | None]
    machine_busy_percent: float | None  # all processes, % of one core (max: cores × 100)
    samples: list[dict[str, Any]] = field(default_factory=list)


def _presign(cfg: BenchConfig, ceiling: Ceiling) -> int:
    """Transactions each client signs before the run: its expected share of the whole run."""
    run_s = cfg.warmup + cfg.duration
    expected = cfg.rate * 1.05 if cfg.rate else min(ceiling.tps(cfg.validators), CLOSED_LOOP_GUESS)
    return max(200, min(int(expected * run_s), 200_000) // cfg.clients + 50)


def run_load(
    bn: BenchNetwork,
    senders: Senders,
    cfg: BenchConfig,
    ceiling: Ceiling,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunData:
    """One measured run on a running network."""
    cfg.validate()
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    go = ctx.Event()
    start_at = ctx.RawValue("d", 0.0)
    counters = [ctx.RawValue("q", 0) for _ in range(cfg.clients)]
    run_s = cfg.warmup + cfg.duration
    conns = cfg.connections()
    specs = []
    for i in range(cfg.clients):
        dirs = senders.identity_dirs[i :: cfg.clients] or senders.identity_dirs
        if cfg.contract in FLOW_CONTRACTS:
            dirs = senders.identity_dirs  # whole lanes: every party of a flow signs
        specs.append(
            WorkerSpec(
                index=i,
                targets=bn.targets,
                chain_id=bn.network.genesis.chain_id,
                identity_dirs=dirs,
                recipients=senders.addresses,
                random_recipients=senders.random_recipients,
                contract=cfg.contract,
                presign=_presign(cfg, ceiling),
                concurrency=max(1, conns // cfg.clients + (1 if i < conns % cfg.clients else 0)),
                rate=None if cfg.rate is None else cfg.rate / cfg.clients,
                run_s=run_s,
                status_url=bn.urls[i % len(bn.urls)],
                batch=cfg.batch,
            )
        )
    procs = [
        ctx.Process(
            target=run_worker, args=(s, results, go, start_at, counters[s.index]), daemon=True
        )
        for s in specs
    ]
    for p in procs:
        p.start()
    done: dict[int, WorkerResult] = {}
    try:
        _wait_ready(procs, results, done, on_progress, run_s)
        h_before = bn.height()
        node_pids = bn.pids()
        begin = time.time() + 0.5
        start_at.value = begin
        go.set()
        samples = _monitor(bn, node_pids, procs, counters, cfg, begin, on_progress)
        deadline = time.monotonic() + 60
        while len(done) < len(procs) and time.monotonic() < deadline:
            try:
                kind, idx, payload = results.get(timeout=1)
            except queue.Empty:
                continue
            if kind == "done":
                done[idx] = payload
        if len(done) < len(procs):
            raise BenchError("a load generator did not report its results")
        for p in procs:
            p.join(10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    errors = [w.error for w in done.values() if w.error]
    if errors:
        raise BenchError("load generator failed: " + "; ".join(errors))
    bn.check_alive()
    w0, w1 = begin + cfg.warmup, begin + run_s
    first, second = _window_samples(samples, w0, w1)
    nodes = [
        NodeFigures(
            name=name,
            pid=pid,
            cpu_percent=procstat.cpu_percent(
                first["nodes"][name], second["nodes"][name], second["t"] - first["t"]
            ),
            rss_peak_mb=procstat.peak_rss_mb(pid),
        )
        for name, pid in node_pids.items()
    ]
    client_cpu = [
        procstat.cpu_percent(a, b, second["t"] - first["t"])
        for a, b in zip(first["clients"], second["clients"], strict=True)
    ]
    machine_busy = None
    if first["machine"] and second["machine"]:
        machine_busy = procstat.cpu_percent(
            first["machine"][0], second["machine"][0], second["t"] - first["t"]
        )
    ordered = [done[i] for i in sorted(done)]
    blocks = bn.blocks(h_before + 1, bn.height())
    return RunData(
        cfg,
        begin,
        Requests.join(ordered),
        ordered,
        blocks,
        nodes,
        client_cpu,
        machine_busy,
        samples,
    )


def _wait_ready(
    procs: list[Any],
    results: mp.Queue,  # type: ignore[type-arg]
    done: dict[int, WorkerResult],
    on_progress: Callable[[Progress], None] | None,
    run_s: float,
) -> None:
    ready = 0
    deadline = time.monotonic() + 600
    while ready < len(procs):
        if time.monotonic() > deadline:
            raise BenchError("load generators did not finish signing in 10 minutes")
        if on_progress:
            on_progress(Progress(0.0, run_s, "signing transactions in the client processes"))
        try:
            kind, idx, *rest = results.get(timeout=0.5)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise BenchError("a load generator died while signing") from None
            continue
        if kind == "ready":
            ready += 1
        elif kind == "done":
            done[idx] = rest[0]
            raise BenchError(f"load generator {idx} failed: {rest[0].error}")


def _sample(node_pids: dict[str, int], procs: list[Any], t: float) -> dict[str, Any]:
    return {
        "t": t,
        "nodes": {name: procstat.cpu_seconds(pid) for name, pid in node_pids.items()},
        "clients": [procstat.cpu_seconds(p.pid) for p in procs],
        "machine": procstat.machine_cpu_seconds(),
    }


def _monitor(
    bn: BenchNetwork,
    node_pids: dict[str, int],
    procs: list[Any],
    counters: list[Any],
    cfg: BenchConfig,
    begin: float,
    on_progress: Callable[[Progress], None] | None,
) -> list[dict[str, Any]]:
    """Sample CPU once a second (and exactly at the window's edges) until the load ends."""
    run_s = cfg.warmup + cfg.duration
    marks = sorted({begin + k for k in range(int(run_s) + 1)} | {begin + cfg.warmup, begin + run_s})
    samples: list[dict[str, Any]] = []
    history: list[tuple[float, int]] = []
    for mark in marks:
        while (now := time.time()) < mark:
            time.sleep(min(0.25, mark - now))
            committed = sum(c.value for c in counters)
            history.append((time.time(), committed))
            history = [h for h in history if h[0] > time.time() - 2.0]
            if on_progress:
                span = history[-1][0] - history[0][0]
                rate = (history[-1][1] - history[0][1]) / span if span > 0 else 0.0
                elapsed = max(0.0, time.time() - begin)
                phase = "warm-up (not measured)" if elapsed < cfg.warmup else "measuring"
                on_progress(Progress(elapsed, run_s, phase, committed, rate))
        sample = _sample(node_pids, procs, time.time())
        sample["committed"] = sum(c.value for c in counters)
        samples.append(sample)
        bn.check_alive()
    if on_progress:
        on_progress(
            Progress(run_s, run_s, "waiting for the last answers", sum(c.value for c in counters))
        )
    return samples


def _window_samples(
    samples: list[dict[str, Any]], w0: float, w1: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    first = min(samples, key=lambda s: abs(s["t"] - w0))
    second = min(samples, key=lambda s: abs(s["t"] - w1))
    return first, second


def run_bench(
    cfg: BenchConfig,
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
    home: Path | None = None,
) -> dict[str, Any]:
    """`tianfu bench`: the ceiling, a fresh network, one run, the agreement check; figures."""
    cfg.validate()
    say(f"measuring the {scheme_name(cfg.scheme)} ceiling for {cfg.ceiling_s:g} s (one core) ...")
    ceiling = measure_ceiling(cfg.ceiling_s, cfg.scheme)
    with BenchNetwork(
        cfg.validators, home, say, cfg.scheme, cfg.delay_ms, block_interval_ms=cfg.block_interval_ms
    ) as bn:
        senders = bn.setup(cfg.contract, max(cfg.senders, cfg.clients))
        say("starting the load-generator processes (they sign ahead) ...")
        data = run_load(
            bn, senders, replace(cfg, senders=len(senders.addresses)), ceiling, on_progress
        )
        say("checking that every node holds the same chain ...")
        verdict = bn.check_identical()
        w0 = data.start_at + cfg.warmup
        logs = [bn.network.log_path(c) for c in bn.network.configs]
        heights = heights_from_logs(logs, w0, w0 + cfg.duration)
    return {
        **summarize(data, ceiling.verifies_per_core, ceiling.cores, verdict),
        "height_timeline": heights,
    }
