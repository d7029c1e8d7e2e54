"""CPU per byte of a transaction's own bytes, in gas of a plain loop measured in the same run.

Backs `TX_GAS_PER_BYTE` in `tianfu.execution.costs`: a block of one transaction whose
argument is a long string, many small nested values, or a map, against a contract loop
(`while i < n: i += 1`) of ~800,000 gas. Prints each shape's thread CPU per byte of
`decode_tx` and of the whole block, as plain-loop gas, and the gas it is charged per byte.

    .venv/bin/python benchmarks/tx_bytes_gas.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit"))

from test_open_accounts import POW_BITS, OpenChain  # noqa: E402

from tianfu.crypto import generate_keypair  # noqa: E402
from tianfu.types import OpenProfile  # noqa: E402
from tianfu.types.tx import decode_tx  # noqa: E402

SOURCE = (
    "def take(ctx, blob):\n    return 1\n\n"
    "def spin(ctx, n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
)
SHAPES: list[tuple[str, Any]] = [
    ("long string", "x" * 200_000),
    ("many small values", [[i % 7] for i in range(40_000)]),
    ("map of lists", {f"k{i}": [1, 2] for i in range(20_000)}),
]


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="tx-bytes-gas-"))
    chain = OpenChain(directory, OpenProfile(open_contracts=["bench"], pow_bits=POW_BITS))
    try:
        chain.block()
        chain.deploy("bench", SOURCE)
        kp = generate_keypair()
        chain.register(kp)
        per_gas = float("inf")
        for _ in range(5):
            tx = chain.account_tx(kp, "bench", "spin", 200_000)
            start = time.thread_time()
            [r] = chain.block([tx])
            per_gas = min(per_gas, (time.thread_time() - start) / r.gas_used)
        print(f"plain loop: {per_gas * 1e6:.4f} us of CPU per gas (block included)")
        for name, arg in SHAPES:
            payer = generate_keypair()  # a full bucket for each shape
            chain.register(payer)
            tx = chain.account_tx(payer, "bench", "take", arg)
            raw = tx.encoded()
            decode = float("inf")
            for _ in range(5):
                start = time.thread_time()
                decode_tx(raw)
                decode = min(decode, time.thread_time() - start)
            start = time.thread_time()
            [r] = chain.block([tx])
            block = time.thread_time() - start
            n = len(raw)
            print(
                f"{name}: {n} bytes; decode_tx {decode / n / per_gas:.2f} gas/B, block "
                f"{block / n / per_gas:.2f} gas/B of CPU; charged {r.gas_used / n:.2f} gas/B "
                f"({'ok' if r.ok else r.error})"
            )
    finally:
        chain.close()


if __name__ == "__main__":
    main()
