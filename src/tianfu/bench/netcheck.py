"""Checks on a real local network, for `tianfu bench`, fault runs and integration tests:
free ports, heights, identical chains, acknowledged transactions present exactly once,
steady load from client threads."""

from __future__ import annotations

import random
import re
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tianfu.client import Client
from tianfu.client.errors import ClientError
from tianfu.client.transport import http_get
from tianfu.identity import Identity


def free_base_ports(n: int, observers: bool = False) -> tuple[int, int]:
    """Two port bases such that base+1 .. base+n are free for both the API and p2p; with
    `observers`, the open profile's observer ports too (p2p base + OBSERVER_PORT_OFFSET + 1
    .. n), which fall in the p2p ports of the next base up."""
    from tianfu.node.netinit import OBSERVER_PORT_OFFSET

    for _ in range(200):
        # Below the kernel's ephemeral range (32768+): a peer redialling a down node must
        # never get that node's port as its own source port.
        api = random.randrange(10000, 32000, 100)
        p2p = api + 50
        ports = [api + i for i in range(1, n + 1)] + [p2p + i for i in range(1, n + 1)]
        if observers:
            ports += [p2p + OBSERVER_PORT_OFFSET + i for i in range(1, n + 1)]
        try:
            socks = []
            for p in ports:
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return api, p2p
    raise RuntimeError("no free ports")


def height(url: str, timeout: float = 10.0) -> int:
    """The node's committed height; -1 when it does not answer within `timeout` seconds
    (a node stopped or crashed answers at once: the connection is refused)."""
    try:
        return int(http_get(url + "/v1/status", timeout=timeout).json()["height"])
    except (httpx.HTTPError, ValueError, KeyError):
        return -1


def wait_height(urls: list[str], target: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(height(u) >= target for u in urls):
            return
        time.sleep(0.2)
    raise TimeoutError(f"not all nodes reached height {target}: {[height(u) for u in urls]}")


def header_docs(url: str, upto: int) -> list[dict[str, Any]]:
    """The rendered headers (JSON, with "hash") of blocks 1..upto, 100 per request."""
    out: list[dict[str, Any]] = []
    h = 1
    while h <= upto:
        resp = http_get(url + "/v1/blocks", params={"from": h, "limit": 100}, timeout=10)
        resp.raise_for_status()
        page = [b for b in resp.json()["blocks"] if b["height"] <= upto]
        if not page:
            raise RuntimeError(f"{url} has no block {h} (asked up to {upto})")
        out.extend(page)
        h = page[-1]["height"] + 1
    return out[:upto]


def headers(url: str, upto: int) -> list[tuple[str, str]]:
    """(hash, state_root) of blocks 1..upto."""
    return [(b["hash"], b["state_root"]) for b in header_docs(url, upto)]


class ChainsDiffer(AssertionError):
    """The nodes do not hold one chain (a fork), or one of them does not answer. Raised
    explicitly (never by `assert`), so the check holds under `python -O` too."""


def assert_identical(urls: list[str]) -> int:
    """All nodes hold identical block hashes and state roots up to the lowest height (that
    height); `ChainsDiffer` otherwise."""
    top = min(height(u) for u in urls)
    if top < 1:
        raise ChainsDiffer("a node is not answering")
    first = headers(urls[0], top)
    for u in urls[1:]:
        other = headers(u, top)
        for i, (a, b) in enumerate(zip(first, other, strict=True), start=1):
            if a != b:
                raise ChainsDiffer(f"fork at height {i}: {urls[0]} {a} vs {u} {b}")
    return top


def committed_tx_counts(url: str) -> Counter[str]:
    """How many times each transaction hash appears in the chain (the headers are read 100
    a request; a block is read only if its header counts transactions)."""
    counts: Counter[str] = Counter()
    top = height(url)
    for b in header_docs(url, top) if top >= 1 else []:
        if not b["tx_count"]:
            continue
        doc = http_get(f"{url}/v1/blocks/{b['height']}", timeout=10).json()
        for tx in doc.get("txs", []):
            counts[tx if isinstance(tx, str) else tx["hash"]] += 1
    return counts


@dataclass
class ChainCheck:
    """What `check_chains` found: heights compared up to `top`, disagreements counted."""

    top: int
    heights: list[int]  # each node's height when checked
    forks: list[dict[str, Any]]  # one per height where the nodes disagree: height + per-node views
    ref_url: str  # the node whose chain (a longest one) gave the transactions and times
    tx_counts: Counter[str]  # tx hash -> occurrences in the reference chain
    tx_heights: dict[str, list[int]]  # tx hash -> heights it appears at
    gaps_ms: list[int]  # time_ms(h) - time_ms(h-1) for h = 2..top
    largest_gap_at: int  # the height that ends the largest gap (0 if none)

    @property
    def duplicates(self) -> dict[str, list[int]]:
        return {h: self.tx_heights[h] for h, n in self.tx_counts.items() if n > 1}

    def missing(self, acked: list[str]) -> list[str]:
        return [h for h in acked if self.tx_counts[h] == 0]

    def gap_quantiles(self) -> tuple[int, float, float]:
        """(largest, p50, p99) of the gaps between consecutive block times, in ms."""
        if not self.gaps_ms:
            return 0, 0.0, 0.0
        if len(self.gaps_ms) == 1:
            g = self.gaps_ms[0]
            return g, float(g), float(g)
        q = statistics.quantiles(self.gaps_ms, n=100, method="inclusive")
        return max(self.gaps_ms), q[49], q[98]


def check_chains(urls: list[str], top: int | None = None) -> ChainCheck:
    """Compare the nodes' headers (hash, state root) at every height up to `top` (default: the
    highest node's height) among the nodes that have it, counting the heights where they
    disagree instead of stopping at the first; then read the transactions and block times
    of a longest chain. A node that lags is not a fork: compare its height separately."""
    heights = [height(u) for u in urls]
    if top is None:
        top = max(heights)
    if top < 1:
        raise RuntimeError(f"no node is answering: {heights}")
    views = [
        header_docs(u, min(h, top)) if h >= 1 else [] for u, h in zip(urls, heights, strict=True)
    ]
    forks: list[dict[str, Any]] = []
    for i in range(top):
        have = [(u, v[i]) for u, v in zip(urls, views, strict=True) if len(v) > i]
        if len({(b["hash"], b["state_root"]) for _, b in have}) > 1:
            nodes = {u: {"hash": b["hash"], "state_root": b["state_root"]} for u, b in have}
            forks.append({"height": i + 1, "nodes": nodes})
    ref = max(range(len(urls)), key=lambda j: len(views[j]))
    docs = views[ref]
    counts: Counter[str] = Counter()
    where: dict[str, list[int]] = {}
    for b in docs:
        if not b.get("tx_count"):
            continue
        resp = http_get(f"{urls[ref]}/v1/blocks/{b['height']}", timeout=10)
        resp.raise_for_status()
        for tx in resp.json()["txs"]:
            counts[tx] += 1
            where.setdefault(tx, []).append(b["height"])
    gaps = [docs[i]["time_ms"] - docs[i - 1]["time_ms"] for i in range(1, len(docs))]
    at = gaps.index(max(gaps)) + 2 if gaps else 0
    return ChainCheck(len(docs), heights, forks, urls[ref], counts, where, gaps, at)


_SUSPECT = re.compile(r"Traceback|\bCRITICAL\b|\bERROR\b|Exception|double.?sign", re.IGNORECASE)


def scan_logs(paths: list[Path], limit: int = 20) -> dict[str, list[str]]:
    """Suspicious lines (tracebacks, errors) of each node log, at most `limit` per file."""
    out: dict[str, list[str]] = {}
    for p in paths:
        if not p.exists():
            continue
        hits = [
            line.rstrip()
            for line in p.read_text(errors="replace").splitlines()
            if _SUSPECT.search(line)
        ]
        if hits:
            out[p.name] = hits[:limit] + (
                [f"... {len(hits) - limit} more"] if len(hits) > limit else []
            )
    return out


@dataclass
class Load:
    """Client threads invoking a contract method on rotating nodes; records acknowledged txs.

    `args_for(thread, call)` may give each call its own arguments (default: `args`). A tx is
    acknowledged when a node answered that it committed; `acked` holds those whose receipt
    is ok, `acked_failed` those committed with a failed receipt, `acked_where[hash]` the
    (url, height) of the answer."""

    urls: list[str]
    identities: list[Identity]
    genesis: object
    contract: str
    method: str
    args: tuple = ()
    threads: int = 4
    args_for: Callable[[int, int], tuple] | None = None
    acked: list[str] = field(default_factory=list)
    acked_failed: list[str] = field(default_factory=list)
    acked_where: dict[str, tuple[str, int]] = field(default_factory=dict)
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    worker_crashes: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def _run(self, i: int) -> None:
        try:
            self._loop(i)
        except Exception as exc:  # a dying worker must show in the report, not vanish
            with self._lock:
                self.worker_crashes.append(f"thread {i}: {type(exc).__name__}: {exc}")

    def _loop(self, i: int) -> None:
        ident = self.identities[i % len(self.identities)]
        k = i
        call = 0
        while not self._stop.is_set():
            url = self.urls[k % len(self.urls)]
            k += 1
            args = self.args_for(i, call) if self.args_for else self.args
            call += 1
            c = Client(url, ident, genesis=self.genesis, timeout=8)  # type: ignore[arg-type]
            try:
                r = c.invoke(self.contract, self.method, *args, check=False)
                with self._lock:
                    if r.committed and r.ok:
                        self.acked.append(r.tx_hash)
                    elif r.committed:
                        self.acked_failed.append(r.tx_hash)
                    if r.committed:
                        self.acked_where[r.tx_hash] = (url, r.height or 0)
            except (ClientError, OSError) as exc:
                with self._lock:
                    self.errors += 1
                    self.error_kinds[type(exc).__name__] += 1
                time.sleep(0.2)
            finally:
                c.close()

    def stop(self) -> list[str]:
        self._stop.set()
        for t in self._workers:
            t.join(20)
        with self._lock:
            return list(self.acked)
