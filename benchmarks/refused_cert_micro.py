"""Cost of refusing a transaction whose certificate no member CA issued.

    .venv/bin/python benchmarks/refused_cert_micro.py [--txs 300] [--rounds 3]

A forger holds a certificate that names a member organisation (org1) but is signed by its
own CA; each of `--txs` transactions (distinct nonces, the same certificate) is offered to
`NodeService.admit` of a one-node chain and refused ("the CA signature on the certificate
does not verify"). Prints µs per refused transaction, the median over `--rounds`, taking
turns in one process between:

- `kept`: as a node runs: the certificate's parse and chain check kept per certificate
  (`tianfu.identity.verdicts`), so only the first transaction pays for them;
- `unkept`: the table emptied before every transaction (the cost without it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tianfu.api.service import TxRejected
from tianfu.crypto import sign_tx
from tianfu.identity import OrgCA, verdicts
from tianfu.testing.appchain import AppChain
from tianfu.types import TxBody


def _run(chain: AppChain, txs: list, clear: bool) -> float:
    verdicts.clear()
    start = time.perf_counter()
    for tx in txs:
        if clear:
            verdicts.clear()
        try:
            chain.service.admit(tx)
        except TxRejected:
            continue
        raise SystemExit("a forged certificate was admitted")
    return (time.perf_counter() - start) / len(txs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        chain = AppChain(Path(d))
        forger = OrgCA.create("org1").issue("mallory", "member")
        kp = forger.keypair
        txs = [
            sign_tx(
                kp,
                TxBody(
                    1,
                    chain.genesis.chain_id,
                    kp.scheme,
                    kp.public_key,
                    i + 1,
                    chain.ledger.height + 10,
                    "system",
                    "noop",
                    [],
                    forger.cert_der,
                ),
            )
            for i in range(args.txs)
        ]
        kept, unkept = [], []
        for _ in range(args.rounds):
            kept.append(_run(chain, txs, clear=False))
            unkept.append(_run(chain, txs, clear=True))
        chain.close()
    k, u = statistics.median(kept), statistics.median(unkept)
    print(f"kept:   {k:8.1f} µs per refused transaction")
    print(f"unkept: {u:8.1f} µs per refused transaction  ({u / k:.1f}x)")


if __name__ == "__main__":
    main()
