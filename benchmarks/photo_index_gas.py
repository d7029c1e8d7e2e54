"""Worst-case gas of a photo_sharing registration: every bucket of the near-duplicate index
that it reads is full of distinct photos.

Two floods are measured on an in-process chain (`tianfu.testing.appchain`): "far" fills
each probed bucket with photos that share only that slice with the target (each is read
once and is not near), "near" with photos that differ by one bit in that slice and two in
every other (each is read once and is near: distance 8 or 9, under the threshold 10). The
gas is a deterministic count, the same on every machine; the wall time is printed only
to say how long the flood took. Run: `python benchmarks/photo_index_gas.py`.
"""

from __future__ import annotations

import random
import secrets
import tempfile
import time
from pathlib import Path

from tianfu.apps import photo_sharing
from tianfu.testing.appchain import AppChain

LIC = {"kind": "cc-by", "terms": ""}
BASE = 0x5A5A_A5A5_3C3C_C3C3
SEGMENTS = [(13 * i, 13 if i < 4 else 12) for i in range(5)]  # THRESHOLD 10: 5 slices
MAX_BUCKET = 32


def flood_hashes(near: bool, rng: random.Random) -> list[int]:
    out = []
    for i, (shift, width) in enumerate(SEGMENTS):
        for probe in range(width + 1):
            for _ in range(MAX_BUCKET):
                h = BASE ^ ((1 << (shift + probe - 1)) if probe else 0)
                for j, (sh, wd) in enumerate(SEGMENTS):
                    if j == i:
                        continue
                    if near:
                        a, b = rng.sample(range(wd), 2)
                        h ^= (1 << (sh + a)) | (1 << (sh + b))
                    else:
                        mask = ((1 << wd) - 1) << sh
                        h = (h & ~mask) | (rng.getrandbits(wd) << sh)
                out.append(h)
    return out


def measure(near: bool) -> tuple[int, int, float]:
    chain = AppChain(Path(tempfile.mkdtemp(prefix="photo-gas-")))
    try:
        chain.deploy(photo_sharing.NAME, photo_sharing.source())
        # One flooder per organisation: a bucket holds at most MAX_BUCKET_ORG (8) photos of
        # one organisation, so it takes the four to fill it (MAX_BUCKET, 32).
        who = [chain.identity(f"org{n}", "flooder") for n in range(1, 5)]
        calls = [
            (
                who[k % 4],
                photo_sharing.NAME,
                "register",
                (secrets.token_hex(32), 100, f"{h:016x}", secrets.token_hex(32), 100, "f", LIC),
            )
            for k, h in enumerate(flood_hashes(near, random.Random(1)))
        ]
        start = time.perf_counter()
        for at in range(0, len(calls), 10):
            receipts = chain.call_many(calls[at : at + 10])
            assert len(receipts) == len(calls[at : at + 10]) and all(r.ok for r in receipts)
        took = time.perf_counter() - start
        target = chain.identity("org1", "target")
        r = chain.call(
            target,
            photo_sharing.NAME,
            "register",
            "d" * 64,
            100,
            f"{BASE:016x}",
            "e" * 64,
            100,
            "target",
            LIC,
        )
        assert r.ok, r.error
        return len(calls), r.gas_used, took
    finally:
        chain.close()


def main() -> None:
    print("flood  photos  target gas  (max_gas_per_tx 1,000,000)  flood time")
    for near in (False, True):
        n, gas, took = measure(near)
        print(f"{'near' if near else 'far':5}  {n:6}  {gas:10,}  {'':27}  {took:.1f} s")


if __name__ == "__main__":
    main()
