"""A flood of failing writes against a real 4-validator network: heights per minute with
and without it, and what each refusal costs the nodes.

Starts a local network of 4 node processes, commits one transaction of org1's admin, then
alternates quiet and flooded windows of `--window` seconds (`--cycles` of each); in a
flooded window `--connections` client threads, each from its own loopback address, send
writes that look valid but fail, to every node, as fast as the answers come. Prints the
heights per minute of each window, the ratio flooded / quiet (a same-run ratio: this
machine is shared, absolute figures are noise), the CPU seconds the 4 node processes used
per window (from /proc), that CPU per refused request, and the answers by kind and status.

`--mix` chooses what the flood sends:

- `txs` (`POST /v1/txs`, every transaction prepared before the flood): a bad signature; the
  wrong chain id; a replay of the committed transaction (its nonce spent); an expired one;
  an unknown signer without a certificate; a 900 KB argument with a bad signature; 1.5 MiB
  (over the body limit); 64 KiB of random bytes;
- `batch` (`POST /v1/txs/batch`): 1,000 transactions with bad signatures in one body;
- `private` (`POST /v1/private/read` signed by an outsider's key; a 512 KiB photo upload to
  `PUT /v1/apps/photo_sharing/blobs/<sha256>` whose body is not that hash);
- `all`: each connection one of the three in turn.

Transactions carry no gas limit of their own: execution is bounded by the chain's
`max_gas_per_tx` and the block's gas, which `benchmarks/gas_attack_soak.py` floods.

    .venv/bin/python benchmarks/write_flood.py --window 30 --cycles 2 --mix all
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tianfu.apps.photo_sharing import BLOB_PREFIX
from tianfu.bench.netcheck import free_base_ports, height
from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.crypto.signing import sign_tx
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.privdata.messages import READ, sign_access
from tianfu.types.tx import Transaction, TxBody

OCTETS = {"content-type": "application/octet-stream"}


def _bad_sig(tx: Transaction) -> bytes:
    sig = bytearray(tx.signature)
    sig[0] ^= 0xFF
    return encode(Transaction(tx.body, bytes(sig)))


class Payloads:
    """Every failing write of the flood, made before it starts (the flood's own CPU is
    the machine's too)."""

    def __init__(self, env: LocalnetEnv, top: int) -> None:
        admin = env.admin(env.orgs[0])
        committed = admin.build_tx("governance", "list_orgs")
        admin.send(committed)
        chain_id = env.genesis.chain_id
        kp = admin.identity.keypair if admin.identity else generate_keypair()
        stranger = generate_keypair()

        def body(**kw: object) -> TxBody:
            fields: dict[str, object] = {
                "version": 1,
                "chain_id": chain_id,
                "scheme": kp.scheme,
                "signer": kp.public_key,
                "nonce": secrets.randbits(63),
                "expiry": top + 900,  # within the 1,000-block window
                "contract": "governance",
                "method": "list_orgs",
                "args": [],
                "cert": b"",
            }
            fields.update(kw)  # the expiry: a flood's windows are well under 900 heights
            return TxBody(**fields)  # type: ignore[arg-type]

        self.txs = {
            "bad-signature": _bad_sig(sign_tx(kp, body())),
            "wrong-chain": encode(sign_tx(kp, body(chain_id="not-this-chain"))),
            "replay": encode(committed),
            "expired": encode(sign_tx(kp, body(expiry=1))),
            "unknown-signer": encode(
                sign_tx(stranger, body(scheme=stranger.scheme, signer=stranger.public_key))
            ),
            "big-bad-signature": _bad_sig(sign_tx(kp, body(args=[os.urandom(900_000)]))),
            "over-limit": os.urandom(1_500_000),
            "garbage": os.urandom(65_536),
        }
        self.batch = encode([_bad_sig(sign_tx(kp, body())) for _ in range(1000)])
        self.private = encode(
            sign_access(
                stranger,
                chain_id=chain_id,
                action=READ,
                contract="notes",
                content_hash=bytes(32),
                time_ms=int(time.time() * 1000),
                nonce=secrets.token_bytes(16),
                reply_key=bytes(32),
            )
        )
        self.photo = os.urandom(512 << 10)
        self.photo_name = hashlib.sha256(b"another image").hexdigest()


class Flood:
    def __init__(self, urls: list[str], connections: int, mix: str, p: Payloads) -> None:
        self.urls, self.mix, self.p = urls, mix, p
        self.on = threading.Event()
        self.done = threading.Event()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, str] = {}  # one answer of each kind
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(connections)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _send(self, client: httpx.Client, mix: str, n: int) -> str:
        if mix == "txs":
            kind = list(self.p.txs)[n % len(self.p.txs)]
            r = client.post("/v1/txs", content=self.p.txs[kind], headers=OCTETS)
        elif mix == "batch":
            kind = "batch"
            r = client.post("/v1/txs/batch", content=self.p.batch, headers=OCTETS)
        elif n % 2:
            kind = "private-read"
            r = client.post("/v1/private/read", content=self.p.private, headers=OCTETS)
        else:
            kind = "photo-upload"
            path = f"{BLOB_PREFIX}/{self.p.photo_name}"
            r = client.put(path, content=self.p.photo, headers=OCTETS)
        self.samples.setdefault(kind, r.text[:160])
        return f"{kind}:{r.status_code}"

    def _run(self, i: int) -> None:
        local = f"127.0.0.{10 + i % 240}"
        transport = httpx.HTTPTransport(local_address=local)
        mix = ("txs", "batch", "private")[i % 3] if self.mix == "all" else self.mix
        with httpx.Client(base_url=self.urls[i % len(self.urls)], transport=transport) as c:
            c.timeout = httpx.Timeout(60)
            n = i
            while not self.done.is_set():
                if not self.on.wait(0.2):
                    continue
                n += 1
                try:
                    status = self._send(c, mix, n)
                except (httpx.HTTPError, OSError) as exc:
                    status = f"{mix}:{type(exc).__name__}"
                self.statuses[status] += 1


def cpu_s(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def window(urls: list[str], pids: list[int], seconds: float) -> tuple[float, float]:
    """Heights per minute of node 0 over `seconds`, and the nodes' CPU seconds."""
    start_h, c0, t0 = height(urls[0], timeout=30), cpu_s(pids), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    end_h, c1, t1 = height(urls[0], timeout=30), cpu_s(pids), time.monotonic()
    return (end_h - start_h) * 60 / (t1 - t0), c1 - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--connections", type=int, default=24)
    ap.add_argument("--mix", choices=("txs", "batch", "private", "all"), default="all")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="write-flood-") as tmp:
        api, p2p = free_base_ports(5)
        net, _ = LocalNetwork.prepare(
            Path(tmp) / "net", 4, True, api_base_port=api, p2p_base_port=p2p
        )
        net.start()
        try:
            net.wait_ready(timeout=120)
            urls = [net.url(c) for c in net.configs]
            pids = [p.pid for p in net.procs.values()]
            payloads = Payloads(LocalnetEnv(net), height(urls[0], timeout=30))
            flood = Flood(urls, args.connections, args.mix, payloads)
            flood.start()
            quiet, flooded = [], []
            sent = 0
            for _ in range(args.cycles):
                flood.on.clear()
                quiet.append(window(urls, pids, args.window))
                before = sum(flood.statuses.values())
                flood.on.set()
                flooded.append(window(urls, pids, args.window))
                sent += sum(flood.statuses.values()) - before
            flood.on.clear()
            flood.done.set()
            q = sum(h for h, _ in quiet) / len(quiet)
            f = sum(h for h, _ in flooded) / len(flooded)
            extra_cpu = sum(c for _, c in flooded) - sum(c for _, c in quiet)
            print("quiet   heights/min:", " ".join(f"{h:.1f}" for h, _ in quiet))
            print("flooded heights/min:", " ".join(f"{h:.1f}" for h, _ in flooded))
            print(f"ratio flooded/quiet: {f / q:.2f}" if q else "no heights while quiet")
            print("quiet   node CPU s:", " ".join(f"{c:.1f}" for _, c in quiet))
            print("flooded node CPU s:", " ".join(f"{c:.1f}" for _, c in flooded))
            if sent:
                print(f"extra node CPU per request: {extra_cpu / sent * 1000:.2f} ms ({sent})")
            print("flood answers:", dict(sorted(flood.statuses.items())))
            for kind, text in sorted(flood.samples.items()):
                print(f"  {kind}: {text}")
            print("heights now:", [height(u, timeout=30) for u in urls])
        finally:
            net.stop()


if __name__ == "__main__":
    main()
