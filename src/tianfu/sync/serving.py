"""The threads that answer peers' block requests, apart from the event loop's default ones.

Answering a request reads up to `MAX_BLOCKS_PER_MESSAGE` blocks (`max_response_bytes`) from
the store. On the loop's default executor those reads would queue in front of the consensus
driver's worker-thread trips (signing, WAL appends, execution), and every peer — on an open
network, every anonymous observer link — may keep one request in preparation: a crowd of
them would delay this node's votes. So answers are prepared by `SERVE_THREADS` threads of
their own, and a syncer prepares at most `MAX_SERVING` answers at once (a request past that
is dropped; the asker times out and asks another peer), and each peer has at most one.
Of those, at most `MAX_SERVING_OUTSIDERS` are for outsiders (the syncer's `outsider(peer)`:
on an open network, observer-port keys that are not validators'), so that however many
identities they make, members and validators by stake that fall behind still get answers.
An answer is built from the stored canonical bytes, never decoded (`encode_response`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from tianfu.codec import encode_list
from tianfu.p2p.protocol import KIND_BLOCKS_RESPONSE, Network
from tianfu.sync import threads
from tianfu.sync.messages import BlocksRequest
from tianfu.sync.session import PeerState

log = logging.getLogger(__name__)

SERVE_THREADS = 2
MAX_SERVING = 2 * SERVE_THREADS  # answers in preparation at once, per syncer
MAX_SERVING_OUTSIDERS = MAX_SERVING // 2  # ... of which for outsiders


def pool() -> ThreadPoolExecutor:
    """The process's serving threads (shared by every syncer; started on first use)."""
    return threads.pool("sync-serve", SERVE_THREADS)


def encode_response(blocks: Iterable[tuple[bytes, bytes]], max_bytes: int) -> bytes:
    """The encoded `BlocksResponse` of stored (block, certificate) encodings, consecutive,
    stopping before `max_bytes` (but always holding the first, if any): a `BlockWithCert`
    is the array of its block and certificate, so nothing is decoded."""
    items: list[bytes] = []
    size = 0
    for block, cert in blocks:
        item = b"\x92" + block + cert
        if items and size + len(item) > max_bytes:
            break
        items.append(item)
        size += len(item)
    return b"\x91" + encode_list(items)  # BlocksResponse(items)


class RequestServer:
    """Prepares answers to peers' block requests on the serving threads and sends them:
    at most one per peer (`PeerState.serving`), `MAX_SERVING` at once and
    `MAX_SERVING_OUTSIDERS` of them for outsiders."""

    def __init__(
        self,
        network: Network,
        answer: Callable[[BlocksRequest], bytes],
        peers: dict[str, PeerState],
    ) -> None:
        self._network = network
        self._answer = answer
        self._peers = peers  # the syncer's peer table (a peer may leave it meanwhile)
        self.tasks: set[asyncio.Task[None]] = set()  # answers in preparation
        self.outsiders = 0  # ... of them for outsiders
        self.dropped_busy = 0  # requests dropped: `MAX_SERVING` answers in preparation

    def serve(self, addr: str, req: BlocksRequest, peer: PeerState, outsider: bool = False) -> None:
        """Answer `req` of the peer at `addr` (its state `peer`; `outsider`: counted in
        the outsiders' share), unless too busy."""
        if len(self.tasks) >= MAX_SERVING or (outsider and self.outsiders >= MAX_SERVING_OUTSIDERS):
            self.dropped_busy += 1
            return
        peer.serving = True
        self.outsiders += outsider
        task = asyncio.get_running_loop().create_task(self._serve(addr, req, outsider))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, addr: str, req: BlocksRequest, outsider: bool) -> None:
        try:
            loop = asyncio.get_running_loop()
            payload = await loop.run_in_executor(pool(), self._answer, req)
            self._network.send(addr, KIND_BLOCKS_RESPONSE, payload)
        except Exception:  # a task's top level: log and keep the node alive
            log.exception("answering a blocks request from %s failed", addr)
        finally:
            self.outsiders -= outsider
            p = self._peers.get(addr)
            if p is not None:
                p.serving = False

    async def drain(self) -> None:
        """Wait for the answers being prepared."""
        for task in list(self.tasks):
            with contextlib.suppress(Exception):
                await task
