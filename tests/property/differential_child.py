"""One side of the sandbox's differential test: execute a block in a fresh process.

    python differential_child.py INPUT OUTPUT [--noise N] [--memory-limit BYTES]

INPUT (msgpack): the chain's genesis, a copy of its store directory, the block's
transactions, time and proposer. The process first decodes N unrelated msgpack messages
with dict keys (as a node's API does with transactions it then refuses: this fills
msgspec's process-wide cache of short dict keys), optionally limits its own address space,
then builds the block through the real `Ledger` and `Executor` and writes what every node
must agree on: the header, the encoded receipts, each receipt's gas and events, the state
updates, and the answers of a few queries.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
from pathlib import Path

import msgspec


def noise(n: int, seed: int) -> None:
    """Decode `n` messages with dict keys, most of them short (msgspec caches those)."""
    rng = random.Random(seed)
    enc = msgspec.msgpack.Encoder()
    dec = msgspec.msgpack.Decoder()
    words = ["key", "k", "a", "b", "amount", "to", "v", "x", "name", "id", "s", "d", "e"]
    for _ in range(n):
        doc = {rng.choice(words) + str(rng.randrange(3)): rng.randrange(100) for _ in range(6)}
        doc[rng.choice(words)] = {rng.choice(words): [1, 2]}
        dec.decode(enc.encode([1, "chain", doc, [doc, doc]]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--noise", type=int, default=0)
    ap.add_argument("--memory-limit", type=int, default=0)
    args = ap.parse_args()
    if args.memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (args.memory_limit, args.memory_limit))
    noise(args.noise, args.noise)

    from tianfu.codec import decode, encode
    from tianfu.ledger import Ledger
    from tianfu.store import Store
    from tianfu.types import Genesis
    from tianfu.types.tx import decode_tx

    job = msgspec.msgpack.decode(Path(args.input).read_bytes())
    genesis = decode(job["genesis"], Genesis)
    ledger = Ledger(Store(Path(job["store"]) / "chain.db"), genesis)
    txs = [decode_tx(raw) for raw in job["txs"]]
    built = ledger.build_block(txs, job["proposer"])
    receipts = built.result.receipts
    queries = []
    for contract, method, qargs in job["queries"]:
        try:
            queries.append(
                [
                    "ok",
                    ledger.executor.query(
                        contract, method, qargs, ledger.latest.get, ledger.height, job["time_ms"]
                    ),
                ]
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
            queries.append([type(exc).__name__, str(exc)])
    out = {
        "header": encode(built.block.header),
        "receipts": built.encoded_receipts,
        "gas": [r.gas_used for r in receipts],
        "errors": [r.error for r in receipts],
        "events": [encode(r.events) for r in receipts],
        "updates": sorted(built.result.updates.items()),
        "queries": encode(queries),
        "deferred": built.result.deferred,  # left for the next block: budgets full
        "hash_seed": sys.flags.hash_randomization,
    }
    Path(args.output).write_bytes(msgspec.msgpack.encode(out))


if __name__ == "__main__":
    main()
