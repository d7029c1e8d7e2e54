"""The executor's compiled-contract cache is shared by the API threads (admission, views)
and the consensus worker: concurrent lookups with evictions between them never fail."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from tianfu.contracts.examples import example_source
from tianfu.testing.appchain import AppChain


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    c.deploy("asset", example_source("asset"))
    c.deploy("kv", example_source("kv"))
    yield c
    c.close()


class _SlowLookups(OrderedDict[bytes, Any]):
    """The cache with a thread switch after every lookup: the window between a lookup and
    the move to the end, which a real switch falls into only rarely, comes every time."""

    def get(self, key: bytes, default: Any = None) -> Any:
        value = super().get(key, default)
        time.sleep(0.0002)
        return value


def test_concurrent_lookups_with_evictions_never_raise(chain: AppChain) -> None:
    """A cache of one entry and two contracts looked up by four threads: every miss evicts
    the other contract's module, so without a guard a thread that found its module is
    interrupted, another evicts it, and the move to the end raises KeyError inside the
    first thread's admission or execution."""
    ex = chain.ledger.executor
    ex._cache_size = 1
    read = chain.ledger.latest.get
    expected = {name: ex._compiled_contract(name, read).methods for name in ("asset", "kv")}
    ex._compiled = _SlowLookups(ex._compiled)
    errors: list[BaseException] = []

    def lookups(names: tuple[str, ...]) -> None:
        try:
            for _ in range(25):
                for name in names:
                    assert ex._compiled_contract(name, read).methods == expected[name]
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=lookups, args=(order,))
        for order in (("asset", "kv"), ("kv", "asset"), ("asset", "asset"), ("kv", "kv"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(ex._compiled) == 1
