"""CPU per batch of p2p frames over a real TLS 1.3 loopback link, handed to the transport
as header and payload parts or as one buffer.

    .venv/bin/python benchmarks/p2p_tls_micro.py [--rounds 7] [--batches 3000]

Two node identities of one organisation, the p2p transport's own TLS contexts
(`tianfu.p2p.tls.make_context`), uvloop as a node runs it, both ends in this process. Each
batch is what a validator typically sends a peer at once — a gossip frame of 2,000 bytes
and two 150-byte votes, plus an empty end marker — written either as
`writer.writelines([header, payload, ...])` (every part becomes a TLS record of its own) or
as `writer.write(b"".join(...))` (one record); the receiving end reads the frames with
`tianfu.p2p.framing.read_frame`. The figure is this process's CPU time (both ends) per
batch, the two ways taking turns round by round; median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from tianfu.identity import OrgCA
from tianfu.node import loop as event_loop
from tianfu.p2p.framing import encode_header, read_frame
from tianfu.p2p.tls import make_context

END = 9  # the kind of the end marker of a batch
FRAMES = [(1, bytes(2000)), (2, bytes(150)), (2, bytes(150)), (END, b"")]


async def measure(rounds: int, batches: int) -> dict[str, list[float]]:
    org = OrgCA.create("OrgA")
    cas = {"OrgA": org.cert_der}
    done: asyncio.Queue[None] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                kind, _ = await read_frame(reader, 1 << 24)
                if kind == END:
                    done.put_nowait(None)
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    server = await asyncio.start_server(
        serve, "127.0.0.1", 0, ssl=make_context(org.issue("n1", "node"), cas, server=True)
    )
    port = server.sockets[0].getsockname()[1]
    client = make_context(org.issue("n2", "node"), cas, server=False)
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    parts = [b for kind, payload in FRAMES for b in (encode_header(kind, len(payload)), payload)]
    results: dict[str, list[float]] = {"parts": [], "one buffer": []}
    for r in range(rounds):
        order = ("parts", "one buffer") if r % 2 == 0 else ("one buffer", "parts")
        for name in order:
            start = time.process_time()
            for _ in range(batches):
                if name == "parts":
                    writer.writelines(parts)
                else:
                    writer.write(b"".join(parts))
                await writer.drain()
                await done.get()
            results[name].append((time.process_time() - start) / batches * 1e6)
    writer.close()
    server.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batches", type=int, default=3000)
    args = ap.parse_args()
    results = event_loop.run(measure(args.rounds, args.batches))
    base = statistics.median(results["parts"])
    for name, runs in results.items():
        med = statistics.median(runs)
        print(
            f"{name:10s} CPU µs per batch of {len(FRAMES)} frames (both ends): median {med:6.1f}"
            f" (×{med / base:.2f})  runs {[round(x, 1) for x in runs]}"
        )


if __name__ == "__main__":
    main()
