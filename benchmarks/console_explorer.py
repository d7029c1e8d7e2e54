"""Server time of the web console's explorer pages over a long chain (not run by CI).

    .venv/bin/python benchmarks/console_explorer.py [--blocks 100000] [--requests 200]
        [--json FILE]

Builds a 4-validator consortium's chain of `--blocks` blocks in one process
(`benchchain.BenchChain`: real blocks, 3-of-4 commit certificates, one governance read
transaction in every 100th block), then serves it with the node's API application
(`tianfu.node.http.node_app` over a `NodeService`, the console included) and times, per
page, `--requests` requests through FastAPI's in-process test client: the explorer home
(`/`), a recent block page, a block page deep in history, the block list, a transaction
page, and the same pages at the chain's first 1,000 blocks (the ratio shows how the
time grows with the chain). Reported: median and 95th percentile milliseconds per page.
The issue's bar: home and block pages under 100 ms with 100,000 blocks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchchain import BenchChain  # noqa: E402

from tianfu.mempool import Mempool  # noqa: E402
from tianfu.node.http import node_app  # noqa: E402
from tianfu.node.service import NodeService  # noqa: E402


def build(chain: BenchChain, upto: int, reader: Any) -> list[str]:
    """Commit blocks until `upto`; every 100th carries one transaction. Returns tx hashes."""
    txs: list[str] = []
    while chain.ledger.height < upto:
        h = chain.ledger.height + 1
        batch = []
        if h % 100 == 0:
            batch = [chain.sign(reader, "governance", "get_identity", [reader.info.address])]
        executed = chain.produce(batch)
        txs.extend(t.hash.hex() for t in executed.block.txs)
        if h % 10_000 == 0:
            print(f"  {h} blocks", flush=True)
    return txs


def timed(client: TestClient, url: str, n: int) -> dict[str, float]:
    client.get(url)  # warm
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
    }


def pages(client: TestClient, height: int, tx: str, n: int) -> dict[str, Any]:
    return {
        "home /": timed(client, "/", n),
        "block (latest)": timed(client, f"/blocks/{height}", n),
        "block (first 1%)": timed(client, f"/blocks/{max(1, height // 100)}", n),
        "block list": timed(client, "/blocks", n),
        "transaction": timed(client, f"/txs/{tx}", n),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        chain = BenchChain(Path(tmp))
        reader = chain.identity("org1", "reader")
        service = NodeService(
            chain.ledger, Mempool(), node_name="node1", org="org1", is_validator=True
        )
        client = TestClient(node_app(service, Path(tmp)))
        small = min(1000, args.blocks)
        t0 = time.perf_counter()
        txs = build(chain, small, reader)
        result: dict[str, Any] = {"blocks": args.blocks, "requests": args.requests}
        result[f"at {small} blocks"] = pages(client, small, txs[-1], args.requests)
        build(chain, args.blocks, reader)
        result["build_s"] = round(time.perf_counter() - t0, 1)
        result[f"at {args.blocks} blocks"] = pages(client, args.blocks, txs[-1], args.requests)
        chain.close()
    for key in (f"at {small} blocks", f"at {args.blocks} blocks"):
        print(key)
        for page, fig in result[key].items():
            print(f"  {page:18} median {fig['median_ms']:7.2f} ms   p95 {fig['p95_ms']:7.2f} ms")
    print(f"chain built in {result['build_s']} s")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
