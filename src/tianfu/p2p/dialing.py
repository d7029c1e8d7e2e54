"""Dialing the configured peers of `tianfu.p2p.network.TlsNetwork` (which inherits it): one
task per dial target, redialing with exponential back-off and jitter while the node runs,
waiting while a connection to the peer found there is up (either direction), and giving
up on a target that is this node itself. A dialed connection is authenticated and
registered by the transport (`_authenticate`, `_register`), as an accepted one is.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from tianfu.p2p.certclock import CertClockWarnings
from tianfu.p2p.framing import PeerRejectedError, SelfConnectionError
from tianfu.p2p.links import Address, abort
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.tls import TrustedCas

log = logging.getLogger("tianfu.p2p.network")  # what the transport does, in its log


class Dialing(ABC):
    """The dialing side of `TlsNetwork` (its attributes, set by its `__init__`). An abstract
    base: what it needs of the transport besides those attributes is the two methods
    below, which `TlsNetwork` defines; a class that lacks either cannot be made."""

    _address: str
    _trusted_cas: Callable[[], TrustedCas]
    _contexts: Any  # ContextCache | AttestedTransport
    _handshake_timeout: float
    _backoff: tuple[float, float]
    _running: bool
    _rng: random.Random
    _conns: dict[str, Any]  # peer address -> its connection (a `Link`)
    _dialers: dict[Address, asyncio.Task[None]]
    _target_peer: dict[Address, str]
    stats: dict[str, int]
    cert_clock: CertClockWarnings

    @abstractmethod
    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        cas: TrustedCas,
        *,
        server: bool,
    ) -> tuple[PeerId, int]:
        """Prove both sides of a TLS connection just made: the peer and the expiry (ms) of
        its certificate. Raises `PeerRejectedError` for a peer refused by policy."""

    @abstractmethod
    def _register(
        self,
        peer: PeerId,
        ca_der: bytes,
        not_after_ms: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        dialer: str,
    ) -> None:
        """Take an authenticated connection to `peer` into the transport's links."""

    def _start_dialer(self, target: Address) -> None:
        task = self._dialers.get(target)
        if task is None or task.done():
            self._dialers[target] = asyncio.get_running_loop().create_task(
                self._dial_loop(target), name=f"p2p-dial-{target[0]}:{target[1]}"
            )

    def _jitter(self, delay: float) -> float:
        return delay * (0.5 + 0.5 * self._rng.random())

    async def _dial_loop(self, target: Address) -> None:
        low, high = self._backoff
        delay = low
        connected_before = False
        while self._running:
            addr = self._target_peer.get(target)
            conn = self._conns.get(addr) if addr is not None else None
            if conn is not None:  # connected (either direction): wait until that ends
                await conn.closed.wait()
                await asyncio.sleep(self._jitter(low))
                continue
            try:
                await self._dial(target)
            except asyncio.CancelledError:
                raise
            except SelfConnectionError:
                log.info("dial target %s:%d is this node itself: not dialing it", *target)
                return
            except Exception as exc:  # a task's top level: any failure means retry later
                self.stats["dial_failures"] += 1
                self.cert_clock.check(exc, f"{target[0]}:{target[1]}", inbound=False)
                log.debug("dial %s:%d failed: %r", target[0], target[1], exc)
                await asyncio.sleep(self._jitter(delay))
                delay = min(delay * 2, high)
                continue
            if connected_before:
                self.stats["reconnects"] += 1
            connected_before = True
            delay = low

    async def _dial(self, target: Address) -> None:
        cas = dict(self._trusted_cas())
        ctx = self._contexts.get(cas, server=False)
        timeout = self._handshake_timeout
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target[0], target[1], ssl=ctx, server_hostname="", ssl_handshake_timeout=timeout
            ),
            timeout,
        )
        try:
            peer, not_after = await self._authenticate(reader, writer, cas, server=False)
        except (PeerRejectedError, asyncio.CancelledError):
            abort(writer)
            raise
        except BaseException:
            self.stats["handshakes_failed"] += 1
            abort(writer)
            raise
        self._target_peer[target] = peer.address
        self._register(peer, cas[peer.org], not_after, reader, writer, dialer=self._address)
