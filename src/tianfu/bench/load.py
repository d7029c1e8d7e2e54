"""Load-generator processes of `tianfu bench`: each signs its transactions ahead, then
submits them over the public API (`POST /v1/txs?wait=commit`, or with `batch` > 1
`POST /v1/txs/batch?wait=commit` with that many per request) and records every
transaction's answer.

A worker runs in its own process (multiprocessing, spawn), so that signing, HTTP and JSON
parsing on the client side never share an interpreter with a node. It signs its whole
expected load before the run starts; if the run outlasts that stock, or the chain moves
so far that the stock would expire (`TxBody.expiry` must stay within the chain's expiry
window), it signs a fresh batch during the run and counts those (`signed_in_run`).

An application workload (`tianfu.bench.workloads`, e.g. `supply_finance`) cannot be
signed ahead: each call of a flow names what the one before created. Its worker runs one
flow per connection (`loadgen.post_sessions`) and signs each call when the answer to the
previous one arrives; all of them count as signed during the run.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import secrets
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import msgspec

from tianfu.bench.loadgen import (
    StreamStats,
    Target,
    batch_answers,
    batched,
    post_sessions,
    post_until,
)
from tianfu.bench.workloads import FLOW_CONTRACTS, Call, Flows, FlowSession, lanes_of
from tianfu.codec import encode

EXPIRY_BLOCKS = 900  # a signed transaction stays valid this many blocks (window: 1000)
EXPIRY_MARGIN = 150  # a batch is re-signed once the chain is this close to its expiry
BATCH = 1000  # transactions signed at a time during the run
WAIT_TIMEOUT_S = 20.0  # how long the node holds a `wait=commit` request


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a load-generator process needs (picklable)."""

    index: int
    targets: list[Target]  # every node's API (host, port); connections are spread over them
    chain_id: str
    identity_dirs: list[str]  # the members this worker signs for
    recipients: list[str]  # addresses that `asset` transfers go to
    contract: str  # "asset" or "kv"
    presign: int  # transactions to sign before the run
    concurrency: int  # closed loop: connections; open loop: requests in flight at most
    rate: float | None  # open loop: this worker's requests per second; None: closed loop
    run_s: float  # warm-up + measured duration
    status_url: str  # where the SDK reads the chain height for expiry
    batch: int = 1  # transactions per request (1: `POST /v1/txs`, else `/v1/txs/batch`)
    random_recipients: bool = False  # `asset`: a random recipient per transfer (seeded)


@dataclass
class WorkerResult:
    """Every transaction's answer (parallel arrays; a batch request gives one entry per
    transaction, all with the request's send and answer times) and what the worker had to
    do besides sending."""

    index: int
    t_start: array[float] = field(default_factory=lambda: array("d"))  # time.time() s
    t_end: array[float] = field(default_factory=lambda: array("d"))
    status: array[int] = field(default_factory=lambda: array("H"))  # HTTP status; 0 = no answer
    ok: array[int] = field(default_factory=lambda: array("b"))  # committed, receipt ok
    presigned: int = 0
    presign_s: float = 0.0
    signed_in_run: int = 0
    late: int = 0
    unfinished: int = 0
    conn_errors: int = 0
    error: str = ""


class TxStock:
    """Signed transactions in batches; each batch remembers the height it expires at."""

    def __init__(self, spec: WorkerSpec) -> None:
        from tianfu.client import Client
        from tianfu.identity import Identity

        self.spec = spec
        self.clients = []
        self.by_address: dict[str, Client] = {}  # the clients by their signer's address
        for d in spec.identity_dirs:
            ident = Identity.load(Path(d))
            c = Client(spec.status_url, ident, timeout=10)
            c._chain_id = spec.chain_id  # noqa: SLF001 (known: no need to ask the node)
            c._cert_registered = True  # noqa: SLF001 (the runner registered every member)
            self.clients.append(c)
            self.by_address[ident.info.address] = c
        self.batches: deque[tuple[int, deque[bytes]]] = deque()
        self.height = 0  # latest committed height seen in an answer
        self.counter = 0
        self.signed = 0
        self._pick = random.Random(spec.index)  # the recipients of random_recipients

    def _args(self, n: int, sender: int) -> tuple[str, list[Any]]:
        if self.spec.contract == "kv":
            return "put", [f"w{self.spec.index}-{n}", n]
        recipients = self.spec.recipients
        if self.spec.random_recipients:
            to = recipients[self._pick.randrange(len(recipients))]
        else:
            to = recipients[(n + sender + 1) % len(recipients)]
        return "transfer", [to, 1]

    def sign(self, count: int) -> None:
        txs: deque[bytes] = deque()
        expiry = 0
        for _ in range(count):
            k = self.counter % len(self.clients)
            method, args = self._args(self.counter, k + self.spec.index)
            tx = self.clients[k].build_tx(
                self.spec.contract, method, *args, expiry_blocks=EXPIRY_BLOCKS
            )
            expiry = tx.body.expiry if expiry == 0 else min(expiry, tx.body.expiry)
            txs.append(encode(tx))
            self.counter += 1
        self.signed += count
        self.batches.append((expiry, txs))

    def next(self) -> bytes | None:
        while self.batches:
            expiry, txs = self.batches[0]
            if txs and expiry - self.height > EXPIRY_MARGIN:
                return txs.popleft()
            self.batches.popleft()
        self.sign(BATCH)
        return self.batches[0][1].popleft()

    def sign_call(self, contract: str, call: Call) -> bytes:
        """Sign one call of a flow now, as the party it names."""
        client = self.by_address[call.signer]
        if self.height:
            client._height = (self.height, time.monotonic())  # noqa: SLF001 (seen in answers)
        tx = client.build_tx(contract, call.method, *call.args, expiry_blocks=EXPIRY_BLOCKS)
        self.signed += 1
        return encode(tx)

    def close(self) -> None:
        for c in self.clients:
            c.close()


def run_worker(
    spec: WorkerSpec,
    results: mp.Queue,  # type: ignore[type-arg]
    go: Any,  # multiprocessing Event
    start_at: Synchronized,  # type: ignore[type-arg]
    committed: Synchronized,  # type: ignore[type-arg]
) -> None:
    """Process entry point: sign, report ready, wait for the start, send, report results."""
    out = WorkerResult(spec.index)
    stock: TxStock | None = None
    try:
        stock = TxStock(spec)
        t0 = time.perf_counter()
        if spec.contract not in FLOW_CONTRACTS:  # a flow's calls depend on answers
            stock.sign(spec.presign)
        out.presign_s = time.perf_counter() - t0
        out.presigned = stock.signed
        results.put(("ready", spec.index, out.presigned, out.presign_s))
        if not go.wait(600):
            raise TimeoutError("the runner never gave the start signal")
        begin = float(start_at.value)
        stats = asyncio.run(_send(spec, stock, out, begin, committed))
        out.late, out.unfinished, out.conn_errors = stats.late, stats.unfinished, stats.conn_errors
        out.signed_in_run = stock.signed - out.presigned
    except Exception as exc:  # noqa: BLE001 (top level of a process: report, never hang)
        out.error = f"{type(exc).__name__}: {exc}"
    finally:
        if stock is not None:
            stock.close()
    results.put(("done", spec.index, out))


async def _send(
    spec: WorkerSpec,
    stock: TxStock,
    out: WorkerResult,
    begin: float,
    committed: Synchronized,  # type: ignore[type-arg]
) -> StreamStats:
    decoder = msgspec.json.Decoder()

    def record(t0: float, t1: float, status: int, ok: int) -> None:
        out.t_start.append(t0)
        out.t_end.append(t1)
        out.status.append(min(status, 65535))
        out.ok.append(ok)

    def on_done(t0: float, t1: float, status: int, body: bytes) -> None:
        ok = 0
        if status == 200:
            try:
                doc = decoder.decode(body)
                ok = 1 if doc["receipt"]["ok"] else 0
                stock.height = max(stock.height, int(doc["height"]))
            except (msgspec.DecodeError, KeyError, TypeError, ValueError):
                ok = 0
        record(t0, t1, status, ok)
        if ok:
            committed.value += 1

    def on_batch_done(t0: float, t1: float, status: int, body: bytes) -> None:
        n_ok = 0
        for answer in batch_answers(status, body, spec.batch):
            record(t0, t1, answer.status, 1 if answer.ok else 0)
            if answer.ok:
                n_ok += 1
            if answer.height > stock.height:
                stock.height = answer.height
        if n_ok:
            committed.value += n_ok

    query = f"?wait=commit&timeout={WAIT_TIMEOUT_S:g}"
    if spec.contract in FLOW_CONTRACTS:
        flows = Flows(
            lanes_of(list(stock.by_address)),
            f"{secrets.token_hex(4)}-{spec.index}",
        )
        return await post_sessions(
            spec.targets,
            "/v1/txs" + query,
            lambda: FlowSession(flows.new(), lambda call: stock.sign_call(spec.contract, call)),
            begin + spec.run_s,
            on_done,
            concurrency=spec.concurrency,
            start_at=begin,
            grace=WAIT_TIMEOUT_S + 2,
        )
    single = spec.batch <= 1
    return await post_until(
        spec.targets,
        ("/v1/txs" if single else "/v1/txs/batch") + query,
        stock.next if single else batched(stock.next, spec.batch),
        begin + spec.run_s,
        on_done if single else on_batch_done,
        concurrency=spec.concurrency,
        rate=spec.rate if spec.rate is None or single else spec.rate / spec.batch,
        start_at=begin,
        grace=WAIT_TIMEOUT_S + 2,
    )
