"""Peak memory of the worst memory transactions, each in a fresh process, against the cap.

    .venv/bin/python benchmarks/memory_peak.py [--gas 1000000000] [--json]

Each case is a contract that keeps as much as it can (big strings, long chains of small
containers, dict entries, decoded state values, text built from shared references) until
the meter stops it — by gas, or by the tracked-memory cap (`costs.MAX_TX_MEMORY`, 64 MiB)
when `--gas` is larger than a transaction's default budget. Each runs in a fresh process;
the figure is the growth of the process's peak resident set (`ru_maxrss`) during the call,
next to the bytes the meter tracked. Nothing the host allocates may exceed the cap by much:
the model (`costs`) is an upper bound of CPython's sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_SETUP_300 = "".join(f"v{i} = {i}\n" for i in range(300))  # 300 local names
_TUPLE_300 = "(" + ", ".join(f"v{i}" for i in range(300)) + ")"
_KW_300 = ", ".join(f"a{i}=v{i}" for i in range(300))
CASES = {
    "big strings kept": "keep = []\nwhile True:\n    keep.append('x' * 900_000 + str(len(keep)))",
    "list of small ints": "keep = []\nwhile True:\n    keep.append(len(keep) * 1000)",
    "chain of tuples": "t = ()\nwhile True:\n    t = (t, t, t, t, t, t, t, t, t, t)",
    "list comprehension": "keep = []\nwhile True:\n    keep.append([i * 1000 for i in range(1000)])",
    "dict entries": "d = {}\ni = 0\nwhile True:\n    d[str(i)] = i\n    i += 1",
    "nested empty lists": "keep = []\nwhile True:\n    keep.append([[], [], [], []])",
    "genexp chain": "g = (x for x in ())\nwhile True:\n    g = (x for x in g)",
    "lambda closures": "f = None\nwhile True:\n    f = (lambda g: (lambda: g))(f)",
    "caught exceptions": "keep = []\nd = {}\nwhile True:\n    try:\n        d['k' * 100]\n    except KeyError as e:\n        keep.append(e)",
    "state reads kept": (
        "ctx.put('v', [[] for _ in range(20_000)])\nkeep = []\nwhile True:\n"
        "    keep.append(ctx.get('v'))"
    ),
    "text of shared refs": "s = 'x' * 999_000\nL = [s] * 1000\nwhile True:\n    x = str(L)",
    "error message": "s = 'x' * 999_000\nraise ContractError([s] * 1400)",
    "wide text": "keep = []\nwhile True:\n    keep.append('\\U0001f600' * 200_000 + str(len(keep)))",
    "big ints kept": "keep = []\nx = (1 << 4000) - 1\nwhile True:\n    keep.append(x * 3 + len(keep))",
    "methods kept": "keep = []\nd = {}\nwhile True:\n    keep.append([d.pop for _ in range(100)])",
    "defs of many defaults": (
        f"{_SETUP_300}keep = []\nwhile True:\n    def h(*, {_KW_300}):\n        return 0\n"
        "    keep.append(h)"
    ),
    "zips of many views": (
        "d = {1: 2}\nLL = [d.items()] * 1000\nkeep = []\nwhile True:\n    keep.append(zip(*LL))"
    ),
    "generators of many names": (
        f"{_SETUP_300}keep = []\nM = [1]\nwhile True:\n"
        f"    keep.append((x, {_TUPLE_300}) for x in M)"
    ),
}

CHILD = """
import gc, resource, sys
from tianfu.execution.sandbox import compile_contract
from tianfu.execution.context import CallContext
from tianfu.execution.meter import Meter
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.codec import encode
src = sys.argv[1]
gas = int(sys.argv[2])
compiled = compile_contract(src)
store = {}
def run(limit):
    meter = Meter(limit)
    ctx = CallContext(contract="m", sender=Caller("c" * 40, "o", "n", "member"), height=1,
                      time_ms=1, tx_hash="00", reader=store.get, gas=meter)
    try:
        compiled.call(ctx, "f", [], meter)
        outcome = "ok"
    except ContractError as exc:
        outcome = str(exc)[:60]
    return outcome, meter
run(10_000)  # warm the code paths (not the data)
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome, meter = run(gas)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{(after - before) * 1024} {(64 << 20) - meter.mem} {meter.used} {outcome}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gas", type=int, default=10**9)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default=None, help="cases whose name contains this")
    args = ap.parse_args()
    rows = []
    for name, code in CASES.items():
        if args.only is not None and args.only not in name:
            continue
        source = "def f(ctx):\n" + "\n".join("    " + ln for ln in code.splitlines()) + "\n"
        out = subprocess.run(
            [sys.executable, "-c", CHILD, source, str(args.gas)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode:
            rows.append({"name": name, "error": out.stderr.strip().splitlines()[-1:]})
            continue
        peak, tracked, used, outcome = out.stdout.split(" ", 3)
        rows.append(
            {
                "name": name,
                "peak_rss_mib": int(peak) / 2**20,
                "tracked_mib": int(tracked) / 2**20,
                "gas": int(used),
                "outcome": outcome.strip(),
            }
        )
        if not args.json:
            r = rows[-1]
            print(
                f"{name:22} peak RSS +{r['peak_rss_mib']:7.1f} MiB  tracked {r['tracked_mib']:6.1f} MiB"
                f"  gas {r['gas']:>11}  {r['outcome']}",
                flush=True,
            )
    worst = max((r for r in rows if "peak_rss_mib" in r), key=lambda r: r["peak_rss_mib"])
    if args.json:
        print(json.dumps({"rows": rows, "worst": worst}))
    else:
        print(f"\nworst: {worst['name']} at +{worst['peak_rss_mib']:.1f} MiB (cap 64 MiB tracked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
