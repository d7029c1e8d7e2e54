"""`BlockCommitter.offer`: a peer's bytes for a decided block are taken only while that
block's bytes are wanted, and only if they are the decided hash's block (any peer can send
a commit frame of our height with any bytes: nothing else is held, one byte string)."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace

from tianfu.consensus.committer import BlockCommitter

H = b"\x01" * 32


def _committer() -> BlockCommitter:
    good = b"the block"
    work = SimpleNamespace(bytes_check=lambda h, data: h == H and data == good)
    tools = SimpleNamespace(timers=None, stats=Counter(), run_blocking=None, mark=None)
    return BlockCommitter(None, None, work, None, tools, jump_to=lambda h: None)  # type: ignore[arg-type]


def test_bytes_are_taken_only_when_wanted_and_only_the_blocks():
    async def scenario() -> None:
        c = _committer()
        c.offer(5, H, b"the block")  # nothing wanted: a frame of our height, ignored
        assert c.fetched is None and not c.store_moved.is_set()
        c.wanted = (5, H)
        c.offer(5, H, b"other bytes")  # not the block of H
        c.offer(6, H, b"the block")  # another height
        c.offer(5, b"\x02" * 32, b"the block")  # another hash
        c.offer(5, H, b"")
        assert c.fetched is None and not c.store_moved.is_set()
        assert c.stats["decided_bytes_wrong"] == 1
        c.offer(5, H, b"the block")
        assert c.fetched == b"the block" and c.store_moved.is_set()

    asyncio.run(scenario())
