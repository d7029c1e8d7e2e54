"""What verifying a proof document costs the console's in-browser verifier against the SDK.

    .venv/bin/python benchmarks/console_verify_cost.py [--reps 5] [--rounds 3]

For each suite, two `state` documents of the deterministic spec chain
(docs/spec/vectors/chain.py, 4 validators, every one signing): one of block 3 (no link: 1
certificate, 4 signatures) and one of block 52 after 50 changes of the set (50 sequential
links: 51 certificates, 204 signatures). Each document is verified `--reps` times by the
SDK (`tianfu.proofs.documents.verify_document`, in this process) and by the console
(`static/js/proof.js` under Node, in one process), the best time of each kept; the two
take turns `--rounds` times and the median of the bests is printed, with the ratio
console / SDK and the console's time per signature. Node must be on PATH. Figures are for
comparing within one run (the machine is shared), not absolute.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "property"))
sys.path.insert(0, str(ROOT / "tests" / "spec_verifier"))

import msgspec  # noqa: E402
import verifiers_agree_chain as vac  # noqa: E402

from tianfu.codec import encode  # noqa: E402
from tianfu.crypto import ED25519, SM2, chain_suite  # noqa: E402
from tianfu.execution.contract_api import state_key  # noqa: E402
from tianfu.proofs.build import ProofBuilder  # noqa: E402
from tianfu.proofs.documents import make_document, verify_document  # noqa: E402
from tianfu.proofs.valchain import TrustOptions  # noqa: E402

RUNNER = r"""
import { readFileSync } from "node:fs";
const proof = await import(process.argv[2]);
const fromHex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const g = fromHex(c.genesis_hex);
  let best = Infinity;
  for (let i = 0; i < c.reps; i++) {
    const t = performance.now();
    proof.verifyStateDocument(c.doc, g, c.now_ms);
    best = Math.min(best, performance.now() - t);
  }
  return best / 1000;
});
process.stdout.write(JSON.stringify(out));
"""


def documents(suite: str) -> list[tuple[str, int, dict[str, Any], Any, int]]:
    """(name, signatures, document, genesis, now) of the two documents of `suite`."""
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"cost-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"cost-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        key = state_key("kv", "v")
        chain.commit([], {key: encode("x")})
        chain.commit()
        chain.commit()  # 3
        g = list(chain.genesis.validators)
        for i in range(4, 54):  # 4 … 53: 50 changes of the set
            chain.change_validators([msgspec.structs.replace(g[0], power=i), *g[1:]])
        chain.commit()  # 54
        chain.commit()  # 55
        now = m.T0 + 3_600_000
        b = ProofBuilder(chain)
        out = []
        for name, height in (("block 3, no link", 3), ("block 55, 50 links", 55)):
            bundle = b.state_bundle([("kv", "v")], height)
            doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
            sigs = len(bundle.blocks) * 4 + len(bundle.validators) * 4
            out.append((f"{suite}: {name}", sigs, doc, chain.genesis, now))
        return out


def sdk_best(doc_text: str, genesis: Any, now: int, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        verify_document(doc_text, genesis, kind="state", options=TrustOptions(now_ms=now))
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    docs = [d for suite in ("standard", "sm2") for d in documents(suite)]
    texts = [json.dumps(d[2]) for d in docs]
    payload = json.dumps([{"doc": t, "genesis_hex": encode(d[3]).hex(), "now_ms": d[4],
                           "reps": args.reps} for t, d in zip(texts, docs, strict=True)])  # fmt: skip
    proof_js = str(ROOT / "src" / "tianfu" / "web" / "static" / "js" / "proof.js")
    sdk: list[list[float]] = [[] for _ in docs]
    js: list[list[float]] = [[] for _ in docs]
    for _ in range(args.rounds):
        for i, (t, d) in enumerate(zip(texts, docs, strict=True)):
            sdk[i].append(sdk_best(t, d[3], d[4], args.reps))
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "runner.mjs"
            script.write_text(RUNNER, encoding="utf-8")
            res = subprocess.run([node, str(script), proof_js], input=payload,
                                 capture_output=True, text=True, check=True)  # fmt: skip
        for i, s in enumerate(json.loads(res.stdout)):
            js[i].append(s)
    print(
        f"{'document':32} {'sigs':>5} {'SDK ms':>8} {'console ms':>11} {'ratio':>6} {'ms/sig':>7}"
    )
    for i, d in enumerate(docs):
        a, b = statistics.median(sdk[i]) * 1e3, statistics.median(js[i]) * 1e3
        print(f"{d[0]:32} {d[1]:5} {a:8.1f} {b:11.1f} {b / a:6.1f} {b / d[1]:7.2f}")


if __name__ == "__main__":
    main()
