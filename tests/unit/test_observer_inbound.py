"""The observer port's inbound budget for outsiders' large frames (`tianfu.p2p.inbound`,
ADR 0025): a link holds its share only while it sends the frame. A deadline on the whole
body let a link that sent a 16 MiB frame's header and nothing more hold 16 MiB of the
budget for 64 s (four of them: all of it, for nothing); now each chunk must arrive on
time, so one that stops sending gives the budget back when its next chunk is due."""

import asyncio

import pytest

from tianfu.p2p.framing import encode_header
from tianfu.p2p.inbound import BODY_MIN_RATE, InboundBudget, read_counted_frame
from tianfu.p2p.protocol import KIND_TXS

MAX_FRAME = 16 << 20


def test_a_link_that_stops_sending_gives_the_budget_back_at_once():
    """A 16 MiB frame's header and 64 KiB of its body, then nothing: with a 0.3 s minimum,
    the read fails (and holds nothing) well before the whole body's 64 s at 256 KiB/s."""

    async def run():
        budget = InboundBudget(64 << 20)
        reader = asyncio.StreamReader()
        reader.feed_data(encode_header(KIND_TXS, MAX_FRAME) + b"\x00" * (64 << 10))
        read = asyncio.create_task(read_counted_frame(reader, MAX_FRAME, budget, min_s=0.3))
        deadline = asyncio.get_running_loop().time() + 30.0  # ~0.5 s expected; main: 64 s
        while not read.done() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        if not read.done():  # still holding 16 MiB of the budget for a header
            held = budget.used
            read.cancel()
            await asyncio.gather(read, return_exceptions=True)
            raise AssertionError(f"the stalled body still holds {held} bytes after 30 s")
        assert isinstance(read.exception(), TimeoutError)
        assert budget.used == 0

    asyncio.run(run())


def test_a_body_that_keeps_coming_at_the_minimum_rate_is_read_whole():
    """An honest slow link: 1 MiB in 64 KiB pieces at about five times the minimum rate,
    with a 2 s start, is read whole and holds its length until it is handled."""

    async def run():
        budget = InboundBudget(64 << 20)
        reader = asyncio.StreamReader()
        body = bytes(range(256)) * (4 << 10)  # 1 MiB
        reader.feed_data(encode_header(KIND_TXS, len(body)))
        read = asyncio.create_task(read_counted_frame(reader, MAX_FRAME, budget, min_s=2.0))
        piece = 64 << 10
        for i in range(0, len(body), piece):
            reader.feed_data(body[i : i + piece])
            await asyncio.sleep(piece / BODY_MIN_RATE / 5)
        kind, payload, held = await asyncio.wait_for(read, 30)
        assert (kind, payload, held) == (KIND_TXS, body, len(body))
        assert budget.used == len(body)
        budget.release(held)

    asyncio.run(run())


def test_a_body_that_falls_behind_midway_is_cut_at_its_chunk_deadline():
    """Half of a 2 MiB body at once, then nothing: the next chunk is due at 1 MiB + 64 KiB
    at 256 KiB/s (4.25 s from the start), not when the whole body is (8 s)."""

    async def run():
        budget = InboundBudget(64 << 20)
        reader = asyncio.StreamReader()
        reader.feed_data(encode_header(KIND_TXS, 2 << 20) + b"\x00" * (1 << 20))
        loop = asyncio.get_running_loop()
        start = loop.time()
        read = asyncio.create_task(read_counted_frame(reader, MAX_FRAME, budget, min_s=0.1))
        done, _ = await asyncio.wait([read], timeout=30)
        assert done and isinstance(read.exception(), TimeoutError)
        assert 4.0 <= loop.time() - start < 8.0
        assert budget.used == 0

    asyncio.run(run())


def test_a_host_holding_nothing_goes_before_a_queue_of_another_hosts_frames():
    """Host a holds the budget with two frames and has two more waiting; host b's frame,
    queued after them, is served at the next release (it waited behind all of a's)."""

    async def run():
        budget = InboundBudget(16)
        await budget.acquire(8, "a")
        await budget.acquire(8, "a")
        a3 = asyncio.create_task(budget.acquire(8, "a"))
        a4 = asyncio.create_task(budget.acquire(8, "a"))
        await asyncio.sleep(0)
        b1 = asyncio.create_task(budget.acquire(8, "b"))
        await asyncio.sleep(0)
        budget.release(8, "a")
        await asyncio.wait_for(b1, 5)
        assert not a3.done() and not a4.done()
        assert budget.held == {"a": 8, "b": 8} and budget.used == 16
        budget.release(8, "a")  # then a's, in their order
        await asyncio.wait_for(a3, 5)
        assert not a4.done()
        budget.release(8, "b")
        await asyncio.wait_for(a4, 5)
        budget.release(8, "a")
        budget.release(8, "a")
        assert budget.used == 0 and budget.held == {} and not budget._waiting

    asyncio.run(run())


def test_a_cancelled_head_of_the_queue_lets_the_others_in():
    """A large waiter at the head is cancelled (its link closed): the smaller one behind it
    that fits is granted at once, not at the next release."""

    async def run():
        budget = InboundBudget(10)
        await budget.acquire(6, "a")
        big = asyncio.create_task(budget.acquire(8, "b"))
        await asyncio.sleep(0)
        small = asyncio.create_task(budget.acquire(4, "c"))
        await asyncio.sleep(0)
        assert not small.done()
        big.cancel()
        await asyncio.gather(big, return_exceptions=True)
        await asyncio.wait_for(small, 5)
        assert budget.used == 10 and budget.held == {"a": 6, "c": 4}

    asyncio.run(run())


def test_an_owner_at_its_share_waits_for_its_own_frames_not_holding_up_others():
    """Owner a holds its share (a quarter); its next frame waits for one of its own to be
    released, and b's frame queued after it is granted at once (a's waiter does not stand
    at the head of the queue), though the budget has room for both."""

    async def run():
        budget = InboundBudget(16, per_owner=4)
        await budget.acquire(4, "a")
        a2 = asyncio.create_task(budget.acquire(4, "a"))
        await asyncio.sleep(0)
        b1 = asyncio.create_task(budget.acquire(4, "b"))
        await asyncio.wait_for(b1, 5)
        assert not a2.done() and budget.held == {"a": 4, "b": 4}
        budget.release(4, "b")
        await asyncio.sleep(0)
        assert not a2.done()  # b's release frees nothing of a's share
        budget.release(4, "a")
        await asyncio.wait_for(a2, 5)
        assert budget.held == {"a": 4} and budget.used == 4 and not budget._waiting
        with pytest.raises(ValueError):
            await budget.acquire(5, "c")  # over one owner's share: it could never be granted

    asyncio.run(run())
