"""The threads that answer peers' block requests, apart from the event loop's default ones.

Answering a request reads up to `MAX_BLOCKS_PER_MESSAGE` blocks (`max_response_bytes`) from
the store. On the loop's default executor those reads would queue in front of the consensus
driver's worker-thread trips (signing, WAL appends, execution), and every peer — on an open
network, every anonymous observer link — may keep one request in preparation: a crowd of
them would delay this node's votes. So answers are prepared by `SERVE_THREADS` threads of
their own, and a syncer prepares at most `MAX_SERVING` answers at once (a request past that
is dropped; the asker times out and asks another peer). Of those, at most
`MAX_SERVING_OUTSIDERS` are for outsiders (the syncer's `outsider(peer)`: on an open
network, observer-port keys that are not validators'), so that however many identities
they make, members and validators by stake that fall behind still get answers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tianfu.sync import threads

SERVE_THREADS = 2
MAX_SERVING = 2 * SERVE_THREADS  # answers in preparation at once, per syncer
MAX_SERVING_OUTSIDERS = MAX_SERVING // 2  # ... of which for outsiders


def pool() -> ThreadPoolExecutor:
    """The process's serving threads (shared by every syncer; started on first use)."""
    return threads.pool("sync-serve", SERVE_THREADS)
