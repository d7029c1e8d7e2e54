"""Hashing hot paths, per chain suite, and (optionally) the same code of another checkout.

    .venv/bin/python benchmarks/hash_micro.py [--rounds 5] [--against PATH/src]

Measures, in fresh child processes taking turns (so that machine load hits every variant
alike), the median over `--rounds` of:

- `hash_domain`: ns per call of `hash_domain("tianfu/tx/v1", 200 bytes)`;
- `block`: ms to hash one block's worth of data: 1,000 transaction hashes of 200-byte
  bodies, the transaction and receipt Merkle roots over 1,000 items, and the header;
- `state`: ms to apply 1,000 updates (32-byte values) to a Merkle state tree holding
  10,000 keys and compute its root (in memory).

Variants: this checkout with SHA-256 (the standard suite; the process never enters a
scope, as a node of that suite), this checkout with SM3 (process default set as an SM2
node does), and with `--against` another checkout's `src` (e.g. the commit before the
SM2 suite, unpacked with `git archive`): the same figures for SHA-256 there. The ratio of
the first to the last is the cost of choosing the hash for the standard suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, os, sys, time
suite = sys.argv[1]
if suite == "sm3":
    from tianfu.crypto import SM2_SUITE, set_chain_suite
    set_chain_suite(SM2_SUITE)
from tianfu.codec import hash_domain
from tianfu.crypto.merkle import merkle_root
from tianfu.state import InMemoryNodes, MerkleState

def best(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n

part = os.urandom(200)
hd = best(lambda: hash_domain("tianfu/tx/v1", part), 200_000) * 1e9
bodies = [os.urandom(200) for _ in range(1000)]
header = os.urandom(300)
def block():
    hashes = [hash_domain("tianfu/tx/v1", b) for b in bodies]
    merkle_root(bodies)
    merkle_root(bodies)
    hash_domain("tianfu/header/v1", header)
    return hashes
blk = best(block, 30) * 1e3
nodes = InMemoryNodes()
state = MerkleState(nodes)
batch = state.apply(1, {os.urandom(16): os.urandom(32) for _ in range(10_000)})
nodes.put_batch(batch)
state.committed(batch)
updates = {os.urandom(16): os.urandom(32) for _ in range(1000)}
st = best(lambda: state.apply(2, updates), 10) * 1e3
print(json.dumps({"hash_domain_ns": hd, "block_ms": blk, "state_ms": st}))
"""


def run(src: Path, suite: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, suite],
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--against", type=Path, help="another checkout's src directory")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    here = Path(__file__).resolve().parent.parent / "src"
    variants = {"sha256 (this)": (here, "sha256"), "sm3 (this)": (here, "sm3")}
    if args.against is not None:
        variants["sha256 (against)"] = (args.against.resolve(), "sha256")
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, (src, suite) in variants.items():
            samples[name].append(run(src, suite))
    result = {
        name: {k: statistics.median(s[k] for s in runs) for k in runs[0]}
        for name, runs in samples.items()
    }
    print(f"{'variant':18s} {'hash_domain ns':>15s} {'block ms':>10s} {'state ms':>10s}")
    for name, r in result.items():
        print(f"{name:18s} {r['hash_domain_ns']:15.0f} {r['block_ms']:10.2f} {r['state_ms']:10.2f}")
    base = result["sha256 (this)"]
    for name, r in result.items():
        ratios = ", ".join(f"{k} x{r[k] / base[k]:.3f}" for k in base)
        print(f"{name:18s} relative to sha256 (this): {ratios}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
