"""An HTTP-protocol attack on a real 4-validator network: heights per minute with and
without it, the honest transactions sent meanwhile, the nodes' memory, and their state.

Starts a local network of 4 node processes, then alternates quiet and flooded windows of
`--window` seconds (`--cycles` of each). In a flooded window `--connections` attacker
threads, each from its own loopback address, send to every node in turn what no earlier
flood sent: `pipeline` (pipelined `GET /v1/status` sent without pause for 3 s, the answers read),
`hog` (one address opening idle connections as fast as they are taken, up to 600 held),
`chunks` (a transaction body in 100,000 chunks of one byte), `headers` (requests of 1,500
tiny headers, under the 16 KiB head bound), `wsloris` (WebSocket handshakes half sent,
and event streams opened and never read). All the while an honest member (its own
address) submits one transaction every 0.5 s to node 1 and waits for none; at the end
every one it got a hash for must be committed, every node at one height with one state
root, and the nodes' largest resident memory is printed.

    .venv/bin/python benchmarks/protocol_flood.py --window 20 --cycles 2
"""

from __future__ import annotations

import argparse
import collections
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tianfu.bench.netcheck import free_base_ports, height
from tianfu.client import Client
from tianfu.node.localnet import LocalnetEnv, LocalNetwork

KINDS = ("pipeline", "hog", "chunks", "headers", "wsloris")


def _connect(host: str, port: int, local: str) -> socket.socket:
    return socket.create_connection((host, port), timeout=30, source_address=(local, 0))


def _drain(s: socket.socket) -> bytes:
    got = b""
    try:
        while chunk := s.recv(1 << 16):
            got += chunk
    except OSError:
        pass
    return got


def pipeline(host: str, port: int, local: str) -> str:
    """Pipelined requests sent without pause for 3 s (2,000 a write), the answers read."""
    with _connect(host, port, local) as s:
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(_drain(s)), daemon=True)
        reader.start()
        end = time.monotonic() + 3
        try:
            while time.monotonic() < end:
                s.sendall(b"GET /v1/status HTTP/1.1\r\nhost: n\r\n\r\n" * 2000)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        reader.join(60)
        answers = got[0].count(b"HTTP/1.1 ") if got else 0
        return "answers:" + ("<=17" if answers <= 17 else ">17")


def hog(host: str, port: int, local: str, held: list[socket.socket]) -> str:
    try:
        held.append(_connect(host, port, local))
    except OSError as exc:
        return type(exc).__name__
    if len(held) > 600:
        held.pop(0).close()
    return "held"


def chunks(host: str, port: int, local: str) -> str:
    head = b"POST /v1/txs HTTP/1.1\r\nhost: n\r\ncontent-type: application/octet-stream\r\n"
    body = b"1\r\nX\r\n" * 100_000 + b"0\r\n\r\n"
    with _connect(host, port, local) as s:
        try:
            s.sendall(head + b"transfer-encoding: chunked\r\n\r\n" + body)
        except OSError:
            pass
        return _drain(s)[9:12].decode() or "closed"


def headers(host: str, port: int, local: str) -> str:
    many = b"".join(b"x%d: y\r\n" % i for i in range(1500))
    with _connect(host, port, local) as s:
        s.sendall(b"GET /v1/genesis HTTP/1.1\r\nhost: n\r\nconnection: close\r\n" + many + b"\r\n")
        return _drain(s)[9:12].decode() or "closed"


def wsloris(host: str, port: int, local: str, n: int) -> str:
    with _connect(host, port, local) as s:
        if n % 2:  # a handshake half sent, left to its deadline
            s.sendall(b"GET /v1/events HTTP/1.1\r\nhost: n\r\nupgrade: websocket\r\n")
        else:  # a stream opened and never read
            s.sendall(
                b"GET /v1/events/blocks?from=1 HTTP/1.1\r\nhost: n\r\nupgrade: websocket\r\n"
                b"connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"sec-websocket-version: 13\r\n\r\n"
            )
            time.sleep(5)
        return _drain(s)[9:12].decode() or "closed"


class Flood:
    def __init__(self, urls: list[str], connections: int) -> None:
        self.targets = [(u.split("//")[1].split(":")[0], int(u.rsplit(":", 1)[1])) for u in urls]
        self.on = threading.Event()
        self.done = threading.Event()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(connections)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _run(self, i: int) -> None:
        local = f"127.0.0.{10 + i % 240}"
        kind = KINDS[i % len(KINDS)]
        held: list[socket.socket] = []
        n = i
        while not self.done.is_set():
            if not self.on.wait(0.2):
                for s in held:
                    s.close()
                held.clear()
                continue
            n += 1
            host, port = self.targets[n % len(self.targets)]
            try:
                if kind == "pipeline":
                    status = pipeline(host, port, local)
                elif kind == "hog":
                    status = hog(host, port, local, held)
                elif kind == "chunks":
                    status = chunks(host, port, local)
                elif kind == "headers":
                    status = headers(host, port, local)
                else:
                    status = wsloris(host, port, local, n)
            except OSError as exc:
                status = type(exc).__name__
            self.statuses[f"{kind}:{status}"] += 1


class Honest:
    """A member submitting one transaction every `every_s` to node 1, from 127.0.0.2."""

    def __init__(self, env: LocalnetEnv, url: str, every_s: float = 0.5) -> None:
        who = env.admin(env.orgs[0]).identity
        assert who is not None
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        http = httpx.Client(base_url=url, transport=transport, timeout=30)
        self.client = Client(url, who, genesis=env.genesis, http=http)
        self.every_s = every_s
        self.hashes: list[bytes] = []
        self.refused: collections.Counter[str] = collections.Counter()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.wait(self.every_s):
            try:
                tx = self.client.build_tx("governance", "list_orgs")
                self.client.send(tx, wait=False)
                self.hashes.append(tx.hash)
            except Exception as exc:  # noqa: BLE001 - counted and printed
                self.refused[type(exc).__name__ + ": " + str(exc)[:80]] += 1


def rss_mb(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # the process's peak resident memory
                out.append(int(line.split()[1]) // 1024)
    return out


def rate(url: str, seconds: float) -> float:
    start_h, t0 = height(url, timeout=30), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    return (height(url, timeout=30) - start_h) * 60 / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--connections", type=int, default=25)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="protocol-flood-") as tmp:
        api, p2p = free_base_ports(5)
        net, _ = LocalNetwork.prepare(
            Path(tmp) / "net", 4, True, api_base_port=api, p2p_base_port=p2p
        )
        net.start()
        try:
            net.wait_ready(timeout=120)
            urls = [net.url(c) for c in net.configs]
            pids = [p.pid for p in net.procs.values()]
            honest = Honest(LocalnetEnv(net), urls[0])
            honest.thread.start()
            flood = Flood(urls, args.connections)
            flood.start()
            quiet, flooded = [], []
            for _ in range(args.cycles):
                flood.on.clear()
                quiet.append(rate(urls[1], args.window))
                flood.on.set()
                flooded.append(rate(urls[1], args.window))
            flood.on.clear()
            flood.done.set()
            honest.done.set()
            honest.thread.join(30)
            q, f = sum(quiet) / len(quiet), sum(flooded) / len(flooded)
            print("quiet   heights/min:", " ".join(f"{h:.1f}" for h in quiet))
            print("flooded heights/min:", " ".join(f"{h:.1f}" for h in flooded))
            print(f"ratio flooded/quiet: {f / q:.2f}" if q else "no heights while quiet")
            print("flood answers:", dict(sorted(flood.statuses.items())))
            print("peak resident MB of the nodes:", rss_mb(pids))
            deadline = time.monotonic() + 60
            missing = list(honest.hashes)
            while missing and time.monotonic() < deadline:
                missing = [h for h in missing if _committed(urls[0], h) is None]
                time.sleep(0.5)
            print(
                f"honest transactions: {len(honest.hashes)} admitted, "
                f"{len(honest.hashes) - len(missing)} committed, refused: {dict(honest.refused)}"
            )
            _same_state(urls)
        finally:
            net.stop()


def _committed(url: str, tx_hash: bytes) -> int | None:
    r = httpx.get(f"{url}/v1/txs/{tx_hash.hex()}", timeout=30)
    return r.json()["height"] if r.status_code == 200 else None


def _same_state(urls: list[str]) -> None:
    """Wait (60 s at most) until every node has one block at a common height; print it."""
    deadline = time.monotonic() + 60
    while True:
        top = min(height(u, timeout=30) for u in urls)
        roots = {httpx.get(f"{u}/v1/blocks/{top}", timeout=30).json()["header"]["state_root"]
                 for u in urls}  # fmt: skip
        if len(roots) == 1 or time.monotonic() > deadline:
            print(f"height {top}: {len(roots)} state root(s) over {len(urls)} nodes")
            return
        time.sleep(0.5)


if __name__ == "__main__":
    main()
