"""Pre-loaded state for the benchmark: N asset balances in the genesis state of a network.

Loading millions of keys through transactions takes far too long for a benchmark (94 s per
million through execution), so a network measured against a large state starts from a
store whose genesis state (version 0) already holds them: `bal:<address>` -> `BALANCE` for
N addresses of the `asset` contract, and `supply` -> N × `BALANCE`, beside the genesis's
own governance entries. Each is a real `state` row and a real leaf of the specified state
tree; the tree is the one `MerkleState.apply` builds for that batch (one sorted batch, built
bottom-up by nibble, not N single inserts), written by `Ledger` itself
(`Ledger(store, genesis, initial_state=...)`), so its root is computed by the chain's code.

The store is built once, in the first node's data directory before any node starts, and
copied byte for byte to the others: every node starts at height 0 with the same state and
root. The addresses are a pure function of their index (`preload_address`), so the load
generator picks recipients among them without holding the list.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tianfu.apps.common.readable import counted
from tianfu.codec import encode
from tianfu.crypto import suite_of
from tianfu.execution.contract_api import state_key
from tianfu.ledger import Ledger
from tianfu.node.localnet import LocalNetwork
from tianfu.store import Store
from tianfu.types import Genesis

CONTRACT = "asset"
BALANCE = 1_000_000  # every pre-loaded account's balance
STORE_FILE = "chain.db"  # a node's store in its data directory (`tianfu.node.storeguard`)
_ADDRESS_TAG = b"tianfu/bench/preload/v1"


@dataclass(frozen=True)
class PreloadReport:
    """How a pre-loaded store was made: its keys, root, size and the time it took."""

    keys: int  # pre-loaded balances (the supply entry besides)
    root: str  # hex state root of version 0 (genesis entries and the pre-loaded ones)
    build_s: float  # building the store (keys, tree, SQLite) once
    copy_s: float  # copying it to the other nodes' data directories
    store_mb: float  # one node's store file


def preload_address(i: int) -> str:
    """The address (40 hex characters) of pre-loaded account `i`."""
    return hashlib.sha256(_ADDRESS_TAG + i.to_bytes(8, "big")).hexdigest()[:40]


def preload_state(keys: int) -> dict[bytes, bytes]:
    """The asset contract's entries of `keys` pre-loaded accounts: each balance, and the
    total supply that minting them would have recorded."""
    if keys < 0:
        raise ValueError("the number of pre-loaded keys cannot be negative")
    value = encode(BALANCE)
    prefix = state_key(CONTRACT, "bal:")
    out = {prefix + preload_address(i).encode(): value for i in range(keys)}
    out[state_key(CONTRACT, "supply")] = encode(keys * BALANCE)
    return out


def recipients(keys: int, count: int, seed: int = 0) -> list[str]:
    """`count` distinct pre-loaded addresses (all of them if there are fewer), drawn at
    random with `seed`: transfers to them read and write leaves all over the tree."""
    picks = random.Random(seed).sample(range(keys), min(keys, count))
    return [preload_address(i) for i in picks]


def build_store(path: Path, genesis: Genesis, keys: int) -> PreloadReport:
    """A new store at `path` whose genesis state holds `keys` pre-loaded accounts."""
    if path.exists():
        raise FileExistsError(f"{path} exists: the pre-loaded store must be a new one")
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    store = Store(path)
    try:
        with suite_of(genesis).use():  # the chain's hash (SM3 on an SM2 chain)
            root = Ledger(store, genesis, initial_state=preload_state(keys)).state.root(0)
    finally:
        store.close()
    return PreloadReport(
        keys=keys,
        root=root.hex(),
        build_s=time.monotonic() - started,
        copy_s=0.0,
        store_mb=path.stat().st_size / 1e6,
    )


def seed_network(net: LocalNetwork, keys: int, say: Callable[[str], None] = print) -> PreloadReport:
    """Give every node of a prepared, not yet started network the same pre-loaded store."""
    first, *others = [c.data / STORE_FILE for c in net.configs]
    say(f"pre-loading {keys:,} accounts into the genesis state ...")
    # In a process of its own: the build holds every new tree node in memory at once (about
    # 1.2 GB per million keys), which the benchmark's own process then need not keep.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        report = pool.submit(build_store, first, net.genesis, keys).result()
    say(
        f"pre-loaded store built in {report.build_s:.1f} s ({report.store_mb:,.0f} MB); "
        f"copying it to {counted(len(others), 'other node')} ..."
    )
    started = time.monotonic()
    for path in others:
        if path.exists():
            raise FileExistsError(f"{path} exists: the pre-loaded store must be a new one")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first, path)
    return PreloadReport(
        keys=report.keys,
        root=report.root,
        build_s=report.build_s,
        copy_s=time.monotonic() - started,
        store_mb=report.store_mb,
    )


def data_mb(data: Path) -> float:
    """What a node's data directory takes on disk (its store, WAL and the rest), in MB."""
    total = sum(p.stat().st_blocks * 512 for p in data.rglob("*") if p.is_file())
    return total / 1e6
