"""`tianfu bench` on a network whose genesis sets `block_interval_ms` (measurement only).

    BENCH_INTERVAL_MS=200 .venv/bin/python benchmarks/bench_interval.py bench \
        --validators 4 --duration 20 --rate 50 --json out.json

The bench creates its network with `LocalNetwork.prepare`; this wrapper gives that call
the default consensus parameters with `block_interval_ms` replaced, then runs the CLI
with the remaining arguments. Used to measure the CPU of a block directly: the same rate
with half as many blocks (docs/performance.md, "Twelfth session").
"""

from __future__ import annotations

import os
import sys
from typing import Any

if __name__ == "__main__":  # the load generators are spawned: they import this module
    import msgspec

    from tianfu.node import localnet
    from tianfu.types.genesis import ConsensusParams

    interval_ms = int(os.environ["BENCH_INTERVAL_MS"])
    prepare = localnet.LocalNetwork.prepare.__func__  # type: ignore[attr-defined]

    def with_interval(cls: Any, *args: Any, params: Any = None, **kw: Any) -> Any:
        params = msgspec.structs.replace(params or ConsensusParams(), block_interval_ms=interval_ms)
        return prepare(cls, *args, params=params, **kw)

    localnet.LocalNetwork.prepare = classmethod(with_interval)  # type: ignore[method-assign,assignment]
    from tianfu.cli.main import app

    sys.argv = ["tianfu", *sys.argv[1:]]
    app()
