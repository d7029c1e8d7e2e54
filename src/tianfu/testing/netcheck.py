"""Checks for integration tests and fault runs on a real local network: identical chains,
acknowledged transactions present exactly once, steady load from client threads."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tianfu.client import Client
from tianfu.client.errors import ClientError
from tianfu.identity import Identity


def free_base_ports(n: int) -> tuple[int, int]:
    """Two port bases such that base+1 .. base+n are free for both the API and p2p."""
    for _ in range(200):
        api = random.randrange(20000, 40000, 100)
        p2p = api + 50
        ports = [api + i for i in range(1, n + 1)] + [p2p + i for i in range(1, n + 1)]
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


def height(url: str) -> int:
    try:
        return int(httpx.get(url + "/v1/status", timeout=2).json()["height"])
    except (httpx.HTTPError, ValueError, KeyError):
        return -1


def wait_height(urls: list[str], target: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(height(u) >= target for u in urls):
            return
        time.sleep(0.2)
    raise TimeoutError(f"not all nodes reached height {target}: {[height(u) for u in urls]}")


def headers(url: str, upto: int) -> list[tuple[str, str]]:
    """(hash, state_root) of blocks 1..upto."""
    out: list[tuple[str, str]] = []
    h = 1
    while h <= upto:
        doc = httpx.get(url + "/v1/blocks", params={"from": h, "limit": 100}, timeout=10).json()
        for b in doc["blocks"]:
            if b["height"] > upto:
                break
            out.append((b["hash"], b["state_root"]))
        h += 100
    return out[:upto]


def assert_identical(urls: list[str]) -> int:
    """All nodes hold identical block hashes and state roots up to the lowest height."""
    top = min(height(u) for u in urls)
    assert top >= 1, "a node is not answering"
    first = headers(urls[0], top)
    for u in urls[1:]:
        other = headers(u, top)
        for i, (a, b) in enumerate(zip(first, other, strict=True), start=1):
            assert a == b, f"fork at height {i}: {urls[0]} {a} vs {u} {b}"
    return top


def committed_tx_counts(url: str) -> Counter[str]:
    """How many times each transaction hash appears in the chain."""
    counts: Counter[str] = Counter()
    for h in range(1, height(url) + 1):
        doc = httpx.get(f"{url}/v1/blocks/{h}", timeout=10).json()
        for tx in doc.get("txs", []):
            counts[tx if isinstance(tx, str) else tx["hash"]] += 1
    return counts


@dataclass
class Load:
    """Client threads invoking a contract method on rotating nodes; records acknowledged txs."""

    urls: list[str]
    identities: list[Identity]
    genesis: object
    contract: str
    method: str
    args: tuple = ()
    threads: int = 4
    acked: list[str] = field(default_factory=list)
    errors: int = 0
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
        ident = self.identities[i % len(self.identities)]
        k = i
        while not self._stop.is_set():
            url = self.urls[k % len(self.urls)]
            k += 1
            c = Client(url, ident, genesis=self.genesis, timeout=8)  # type: ignore[arg-type]
            try:
                r = c.invoke(self.contract, self.method, *self.args, check=False)
                if r.committed and r.ok:
                    with self._lock:
                        self.acked.append(r.tx_hash)
            except (ClientError, OSError):
                with self._lock:
                    self.errors += 1
                time.sleep(0.2)
            finally:
                c.close()

    def stop(self) -> list[str]:
        self._stop.set()
        for t in self._workers:
            t.join(20)
        with self._lock:
            return list(self.acked)
