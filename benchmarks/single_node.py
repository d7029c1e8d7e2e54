"""Single-node throughput: committed asset transfers per second on a real `tianfu dev` node,
printed beside this machine's Ed25519 verifications per second measured in the same run.

    .venv/bin/python benchmarks/single_node.py [--txs 4000] [--senders 16] [--concurrency 64] [--json FILE]

Everything a transaction costs is included: HTTP admission (decode, signature check),
execution in the contract sandbox, the Merkle update and the SQLite commit. Transactions
are signed before the clock starts, so the load generator is not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nacl.bindings
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from tianfu.bench.loadgen import post_all
from tianfu.codec import encode
from tianfu.identity import OrgCA
from tianfu.testing.devchain import DevChain
from tianfu.testing.processes import NodeProcess


def ed25519_verifies_per_second(seconds: float = 1.0) -> float:
    """Single-core Ed25519 verifications per second with libsodium (what the node uses)."""
    pk, sk = nacl.bindings.crypto_sign_keypair()
    msg = os.urandom(32)
    signed = nacl.bindings.crypto_sign(msg, sk)
    n = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            nacl.bindings.crypto_sign_open(signed, pk)
        n += 200
    return n / elapsed


async def drive(
    url: str, payloads: list[bytes], concurrency: int, progress: Progress
) -> tuple[list[float], int, float]:
    task = progress.add_task("submitting (closed loop, wait=commit)", total=len(payloads))
    host, port = url.removeprefix("http://").split(":")
    res = await post_all(
        host,
        int(port),
        "/v1/txs?wait=commit",
        payloads,
        concurrency,
        on_done=lambda _s, _b: progress.advance(task),
    )
    ok = sum(
        1
        for status, body in zip(res.statuses, res.bodies, strict=True)
        if status == 200 and json.loads(body)["receipt"]["ok"]
    )
    return res.latencies, ok, res.elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=4000)
    ap.add_argument("--senders", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args()
    console = Console()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess(Path(tmp) / "home").start()
        try:
            chain = DevChain(node)
            console.print("deploying the asset contract and funding the senders ...")
            admin = chain.deploy_asset()
            ca = OrgCA.load(chain.home / "ca")
            senders = [ca.issue(f"bench{i}", "member") for i in range(args.senders)]
            for s in senders:
                admin.invoke("asset", "mint", s.info.address, 10**9)
                chain.client(s).invoke(
                    "asset", "transfer", chain.admin.info.address, 1
                )  # registers
            clients = [chain.client(s) for s in senders]
            for c in clients:
                c._cert_registered = True  # registered above: no certificate in later txs
            console.print(f"signing {args.txs} transfers ...")
            payloads = []
            for i in range(args.txs):
                c = clients[i % len(clients)]
                to = senders[(i + 1) % len(senders)].info.address
                payloads.append(encode(c.build_tx("asset", "transfer", to, 1, expiry_blocks=900)))
            h0 = admin.status()["height"]
            verifies = ed25519_verifies_per_second()
            with Progress(console=console, transient=True) as progress:
                latencies, ok, elapsed = asyncio.run(
                    drive(node.url, payloads, args.concurrency, progress)
                )
            h1 = admin.status()["height"]
        finally:
            node.stop()

    tps = ok / elapsed
    ceiling = verifies * cores  # one validator: every core could verify signatures
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100)
    figures = {
        "txs": args.txs,
        "ok": ok,
        "elapsed_s": round(elapsed, 3),
        "tps": round(tps, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "blocks": h1 - h0,
        "txs_per_block": round(ok / max(h1 - h0, 1), 1),
        "ed25519_verify_per_s_per_core": round(verifies),
        "cores": cores,
        "ceiling_tps": round(ceiling),
        "fraction_of_ceiling": round(tps / ceiling, 4),
    }
    table = Table(title="Tianfu single node — asset transfers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in figures.items():
        table.add_row(k, str(v))
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if ok == args.txs else 1


if __name__ == "__main__":
    sys.exit(main())
