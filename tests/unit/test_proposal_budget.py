"""A proposer's block shrinks when rounds fail: a block the network cannot move and execute
within a round's timeouts (8 MB of 500 KB transactions on a loaded machine) failed round
after round, as each new round's proposer built another full block. Now the transaction
bytes of a proposal are halved for each failed round of the height (down to 1 MiB, a
larger transaction goes alone), and a node's budget for round 0 follows the rounds its
recent heights were decided in."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace

from tianfu.consensus.blockmaker import MIN_BUDGET_BYTES, BlockMaker
from tianfu.consensus.ledgerwork import DriverTools
from tianfu.consensus.messages import CreateProposalBlock
from tianfu.types import ConsensusParams

PARAMS = ConsensusParams()  # max_block_bytes 8 MiB
SIZE = 500_000


class Tx:
    def __init__(self, i: int, size: int = SIZE) -> None:
        self.hash, self.size = i.to_bytes(32, "big"), size

    def encoded(self) -> bytes:
        return b"\0" * self.size


class Pool:
    """`Mempool.take` semantics: the oldest transactions within the limits."""

    def __init__(self, txs: list[Tx]) -> None:
        self.txs = txs

    def __len__(self) -> int:
        return len(self.txs)

    def take(self, max_txs: int, max_bytes: int) -> list[Tx]:
        out, total = [], 0
        for tx in self.txs:
            if len(out) >= max_txs or total + tx.size > max_bytes:
                break
            out.append(tx)
            total += tx.size
        return out

    def remove(self, hashes) -> None:
        pass


class Work:
    def __init__(self) -> None:
        self.built: list[list[Tx]] = []

    def build(self, txs, proposer):
        self.built.append(txs)
        executed = SimpleNamespace(
            result=SimpleNamespace(dropped=[]), block=SimpleNamespace(hash=b"\x01" * 32)
        )
        return executed, b"block", None, None


def maker(txs: list[Tx]) -> tuple[BlockMaker, Work]:
    async def run_blocking(fn, *args):
        return fn(*args)

    work = Work()
    tools = DriverTools(SimpleNamespace(now=lambda: 0.0), Counter(), run_blocking, lambda _: None)
    return BlockMaker(Pool(txs), work, tools), work  # type: ignore[arg-type]


def built_bytes(bm: BlockMaker, work: Work, round: int) -> int:
    async def go():
        return await bm.build(
            CreateProposalBlock(5, round),
            PARAMS,
            b"\x02" * 32,
            asyncio.Lock(),
            lambda: 5,
            idle_until=0.0,
            stopping=lambda: False,
        )

    assert asyncio.run(go()) is not None
    return sum(tx.size for tx in work.built[-1])


def test_each_failed_round_halves_the_proposal_down_to_a_floor():
    bm, work = maker([Tx(i) for i in range(40)])
    got = [built_bytes(bm, work, r) for r in range(6)]
    assert got == [16 * SIZE, 8 * SIZE, 4 * SIZE, 2 * SIZE, 2 * SIZE, 2 * SIZE]
    assert MIN_BUDGET_BYTES == 1 << 20


def test_a_transaction_larger_than_the_limit_goes_alone():
    bm, work = maker([Tx(0, 3 << 20), Tx(1)])
    assert built_bytes(bm, work, 4) == 3 << 20


def test_the_round_0_budget_follows_the_rounds_heights_were_decided_in():
    bm, work = maker([Tx(i) for i in range(40)])
    bm.decided(PARAMS, 2)  # two failed rounds: a quarter
    assert built_bytes(bm, work, 0) == 4 * SIZE
    assert built_bytes(bm, work, 1) == 2 * SIZE
    bm.decided(PARAMS, 0)  # decided at once: doubled
    assert built_bytes(bm, work, 0) == 8 * SIZE
    for _ in range(5):
        bm.decided(PARAMS, 0)
    assert built_bytes(bm, work, 0) == 16 * SIZE  # never over max_block_bytes
    for _ in range(10):
        bm.decided(PARAMS, 3)
    assert built_bytes(bm, work, 0) == 2 * SIZE  # never under the floor
    assert bm.limit(ConsensusParams(max_block_bytes=4096), 5) == 4096
