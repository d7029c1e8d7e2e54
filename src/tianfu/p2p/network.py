"""TlsNetwork: the node's p2p transport — asyncio TCP with mutual TLS 1.3 and framed messages.

Connections (see ADR 0011):
- Both ends present node certificates of member organisations and require one from the
  other; a peer's `PeerId` is read from its certificate (`tls.verify_peer`), never from
  anything it says. The trusted CAs are read from `trusted_cas()` at every handshake, so
  organisations admitted later are accepted without a restart.
- After TLS, each end checks the other's certificate and only then sends HELLO (`handshake`); a
  connection counts once both HELLOs crossed (under TLS 1.3 the client finishes its
  handshake before the server has checked the client certificate).
- A node of an SM2 chain runs TLS with a transport key that its SM2 node certificate
  vouches for, and both ends prove their node keys in the HELLO exchange
  (`tianfu.p2p.attested`, ADR 0022); the checks of the node certificates are the same.
- One connection per pair of nodes (`queues.keep_new_connection`). The connection that
  loses the tie-break is retired, not dropped: nothing more is sent on it (its queued
  frames move to the kept one), but frames the peer still sends on it are delivered until
  the peer closes it or `retire_linger` seconds pass. The two ends do not switch at the
  same moment, and a frame in flight on the retired connection must not be lost.
- Outbound: one bounded queue per peer (drop oldest on overflow) drained by a writer task.
  Inbound: frames over `max_frame` close the connection; a token bucket per peer drops
  excess frames (the peer's, shared by its connections and kept while it reconnects, so
  redialing does not refill it); a revoked peer's frames are ignored and its connection closed.
- Configured peers are redialed with exponential back-off and jitter (`tianfu.p2p.dialing`).

All methods are meant to be called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import KW_ONLY, dataclass
from typing import Any

from tianfu.crypto import SM2
from tianfu.identity import Identity
from tianfu.p2p import queues
from tianfu.p2p.attested import AttestedTransport
from tianfu.p2p.certclock import CertClockWarnings
from tianfu.p2p.dialing import Dialing
from tianfu.p2p.framing import (
    KIND_HELLO,
    FrameTooLargeError,
    PeerRejectedError,
    check_kind,
    read_frame,
)
from tianfu.p2p.handshake import authenticate
from tianfu.p2p.links import Address, Link, abort, accept_forever, listen_socket, spawn
from tianfu.p2p.protocol import Handler, PeerId
from tianfu.p2p.queues import (
    HandshakeSlot,
    HandshakeSlots,
    OutboundQueue,
    PeerBuckets,
    keep_new_connection,
)
from tianfu.p2p.strikes import host_of
from tianfu.p2p.tls import ContextCache, TrustedCas, no_longer_admitted

log = logging.getLogger(__name__)


STAT_KEYS = (
    "frames_in",  # frames read from authenticated peers
    "frames_out",  # frames written to peers
    "bytes_in",
    "bytes_out",
    "dropped_overflow",  # outbound frames dropped because a peer's queue was full
    "dropped_no_peer",  # `send` to a peer that is not connected
    "dropped_oversize",  # inbound frames over max_frame (the connection was closed)
    "dropped_revoked",  # inbound frames from a peer found revoked (the connection was closed)
    "dropped_malformed",  # inbound frames breaking the protocol (the connection was closed)
    "dropped_rate",  # inbound frames over the peer's rate limit
    "handler_errors",  # exceptions raised by the handler
    "handshakes_failed",  # TLS or HELLO failures: untrusted CA, garbage, timeouts
    "handshakes_evicted",  # inbound handshakes past their grace aborted for a newer one
    "cert_time_failures",  # handshakes failed on a certificate outside its validity period
    "peers_rejected",  # valid TLS but refused: not a node certificate, revoked, non-member
    "peers_evicted",  # connected peers dropped by the periodic check (revoked, org removed)
    "duplicates_closed",  # connections retired to keep one per pair
    "dial_failures",
    "reconnects",  # successful dials to a target that had been connected before
)


@dataclass(eq=False)
class _Connection(Link):
    """One authenticated connection to a member node and its tasks."""

    _: KW_ONLY
    ca_der: bytes  # the CA certificate of the peer's organisation
    not_after_ms: int  # when the peer's certificate expires
    dialer: str  # address of the side that dialed


class TlsNetwork(Dialing):
    """The p2p transport: implements `tianfu.p2p.protocol.Network`."""

    def __init__(
        self,
        identity: Identity,
        trusted_cas: Callable[[], TrustedCas],
        is_revoked: Callable[[str], bool],
        handler: Handler,
        listen: Address,
        peers: list[Address],
        *,
        max_frame: int = 4 << 20,
        queue_frames: int = 10_000,
        queue_bytes: int = 64 << 20,
        outbound_bytes: int = 512 << 20,
        dial_backoff: tuple[float, float] = (0.2, 5.0),
        on_peer: Callable[[PeerId, bool], None] | None = None,
        rate_limit: tuple[float, float] = (10_000.0, 20_000.0),
        handshake_timeout: float = 5.0,
        check_interval: float = 1.0,
        max_pending_handshakes: int = 64,
        max_pending_per_host: int = 16,
        max_peers_per_org: int = 64,
        listener: socket.socket | None = None,  # bound already (`listen` is then its address)
        retire_linger: float = 10.0,
    ) -> None:
        if max_peers_per_org < 1:
            raise ValueError("max_peers_per_org must be >= 1")
        if not 1 <= max_frame <= queue_bytes <= outbound_bytes:
            raise ValueError("need 1 <= max_frame <= queue_bytes <= outbound_bytes")
        if retire_linger < 0:
            raise ValueError("retire_linger must be >= 0")
        if not 0 < dial_backoff[0] <= dial_backoff[1]:
            raise ValueError("dial_backoff must be (initial, maximum) with 0 < initial <= maximum")
        OutboundQueue(queue_frames, queue_bytes)  # validates the bounds
        self._budget = queues.OutboundBudget(outbound_bytes)  # all peers' queues together
        self._identity = identity
        self._address = identity.info.address
        self._trusted_cas = trusted_cas
        self._is_revoked = is_revoked
        self._handler = handler
        self._listen = listen
        self._targets: list[Address] = list(dict.fromkeys(peers))
        self._max_frame = max_frame
        self._queue_frames = queue_frames
        self._queue_bytes = queue_bytes
        self._backoff = dial_backoff
        self._on_peer = on_peer
        self._handshake_timeout = handshake_timeout
        self._check_interval = check_interval
        self._slots = HandshakeSlots(max_pending_handshakes, max_pending_per_host)
        self._max_per_org = max_peers_per_org
        self._linger = retire_linger
        self.stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self.cert_clock = CertClockWarnings(self.stats)  # not-yet-valid/expired certificates
        # An SM2 node identity cannot be a TLS key: its TLS key is attested by it instead.
        self._contexts: ContextCache | AttestedTransport = (
            AttestedTransport(identity)
            if identity.keypair.scheme == SM2
            else ContextCache(identity)
        )
        self._conns: dict[str, _Connection] = {}
        # Peer address -> a connection that lost the one-per-pair tie-break and is still
        # read until the peer closes it or `retire_linger` passes (at most one per peer).
        self._retired: dict[str, _Connection] = {}
        self._buckets = PeerBuckets(*rate_limit)  # inbound, by peer address
        self._dialers: dict[Address, asyncio.Task[None]] = {}
        self._target_peer: dict[Address, str] = {}  # dial target -> peer address found there
        self._tasks: set[asyncio.Task[None]] = set()  # handshakes, readers, writers, monitor
        self._listener: socket.socket | None = listener
        self._started_at = 0.0
        # Seconds from `start()` until a peer was connected for every configured address
        # (None until then): how long a (re)started node takes to reach the network.
        self.mesh_after_s: float | None = None
        self._running = False
        self._rng = random.Random()

    # ---- lifecycle ----------------------------------------------------------------

    @property
    def address(self) -> str:
        """This node's address (from its certificate)."""
        return self._address

    @property
    def listen_address(self) -> Address:
        """The address the server is bound to (the real port when started with port 0)."""
        if self._listener is None:
            return self._listen
        host, port = self._listener.getsockname()[:2]
        return host, port

    async def start(self) -> None:
        if self._running:
            return
        if self._listener is None:
            self._listener = listen_socket(*self._listen)
        self._listener.setblocking(False)
        self._running = True
        self._started_at = time.monotonic()
        self._spawn(accept_forever(self._listener, self._accept), "p2p-accept")
        for target in self._targets:
            self._start_dialer(target)
        self._spawn(self._monitor(), "p2p-monitor")

    async def stop(self) -> None:
        self._running = False
        for task in self._dialers.values():
            task.cancel()
        conns = [*self._conns.values(), *self._retired.values()]
        for conn in conns:
            self._close(conn)
            abort(conn.writer)
        tasks = [*self._dialers.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dialers.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def set_peers(self, peers: list[Address]) -> None:
        """Replace the list of addresses to dial (existing connections stay)."""
        new = list(dict.fromkeys(peers))
        for target in set(self._targets) - set(new):
            task = self._dialers.pop(target, None)
            if task is not None:
                task.cancel()
        self._targets = new
        if self._running:
            for target in new:
                self._start_dialer(target)

    # ---- the Network interface ----------------------------------------------------

    def broadcast(self, kind: int, payload: bytes) -> None:
        self._check_out(kind, payload)
        for conn in self._conns.values():
            self._enqueue(conn, kind, payload)

    def send(self, peer_address: str, kind: int, payload: bytes) -> None:
        self._check_out(kind, payload)
        conn = self._conns.get(peer_address)
        if conn is None:
            self.stats["dropped_no_peer"] += 1
            return
        self._enqueue(conn, kind, payload)

    def peers(self) -> list[PeerId]:
        return [conn.peer for conn in self._conns.values()]

    def connections(self) -> dict[str, str]:
        """Peer address -> address of the side that dialed that connection."""
        return {addr: conn.dialer for addr, conn in self._conns.items()}

    def queued(self, peer_address: str) -> tuple[int, int]:
        """(frames, bytes) waiting in the outbound queue of a peer."""
        conn = self._conns.get(peer_address)
        return (0, 0) if conn is None else (len(conn.queue), conn.queue.nbytes)

    def check_peers(self) -> None:
        """Disconnect peers that are now revoked, whose organisation is no longer trusted
        (or whose CA changed), or whose certificate expired. Runs every `check_interval`."""
        cas = self._trusted_cas()
        now_ms = int(time.time() * 1000)
        for conn in [*self._conns.values(), *self._retired.values()]:
            peer = conn.peer
            reason = no_longer_admitted(
                peer, conn.ca_der, conn.not_after_ms, cas, self._is_revoked, now_ms
            )
            if reason is None:
                continue
            if self._conns.get(peer.address) is not conn:
                self._close(conn)  # a retired connection: no peer to report
            else:
                self.stats["peers_evicted"] += 1
                log.warning(
                    "disconnecting peer %s (%s/%s): %s", peer.address, peer.org, peer.name, reason
                )
                self._close(conn)

    # ---- internals: outbound --------------------------------------------------------

    def _check_out(self, kind: int, payload: bytes) -> None:
        check_kind(kind)
        if len(payload) > self._max_frame:
            raise FrameTooLargeError(
                f"payload of {len(payload)} bytes exceeds the frame limit of {self._max_frame}"
            )

    def _enqueue(self, conn: _Connection, kind: int, payload: bytes) -> None:
        dropped = conn.push(kind, payload)
        if dropped:
            self.stats["dropped_overflow"] += dropped

    def _wrote(self, frames: int, size: int) -> None:
        self.stats["frames_out"] += frames
        self.stats["bytes_out"] += size

    # ---- internals: inbound ---------------------------------------------------------

    async def _read_loop(self, conn: _Connection) -> None:
        peer = conn.peer
        loop = asyncio.get_running_loop()
        try:
            while True:
                kind, payload = await read_frame(conn.reader, self._max_frame)
                self.stats["frames_in"] += 1
                self.stats["bytes_in"] += len(payload)
                if self._is_revoked(peer.address):
                    self.stats["dropped_revoked"] += 1
                    log.warning("peer %s is revoked: disconnecting", peer.address)
                    return
                if kind == KIND_HELLO:
                    self.stats["dropped_malformed"] += 1
                    log.warning("peer %s sent a second HELLO: disconnecting", peer.address)
                    return
                if not conn.bucket.take(loop.time()):
                    self.stats["dropped_rate"] += 1
                    continue
                try:
                    self._handler(peer, kind, payload)
                except Exception:  # the handler's bug must not kill the connection
                    self.stats["handler_errors"] += 1
                    log.exception(
                        "handler failed on a frame of kind %d from %s", kind, peer.address
                    )
        except FrameTooLargeError as exc:
            self.stats["dropped_oversize"] += 1
            log.warning("peer %s: %s: disconnecting", peer.address, exc)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError) as exc:
            log.debug("connection to %s ended: %r", peer.address, exc)
        except Exception:  # a task's top level: log, never crash the node
            log.exception("reader of peer %s failed", peer.address)
        finally:
            self._close(conn)

    def _accept(self, sock: socket.socket, host: str) -> None:
        """A TCP connection came in (`links.accept_forever`): start its TLS handshake, or
        refuse it (`HandshakeSlots`). The socket is given untouched to
        `loop.connect_accepted_socket` with the TLS context of the moment, so the TLS layer
        is the first and only reader of the connection: no byte of the client's first
        flight can reach anything else (ADR 0011). An IPv6 host is its /64 (`host_of`)."""
        slot = self._slots.take(host_of(host), time.monotonic()) if self._running else None
        if slot is None:
            self.stats["handshakes_failed"] += 1
            sock.close()
            return
        self.stats["handshakes_evicted"] = self._slots.evicted
        slot.abort = self._spawn(self._on_inbound(sock, slot), "p2p-inbound").cancel

    async def _on_inbound(self, sock: socket.socket, slot: HandshakeSlot) -> None:
        """TLS as the server, then authentication; the TLS trust is read anew each time."""
        loop = asyncio.get_running_loop()
        peername = None
        writer: asyncio.StreamWriter | None = None
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                peername = sock.getpeername()
            cas = dict(self._trusted_cas())
            ctx = self._contexts.get(cas, server=True)
            timeout = self._handshake_timeout
            reader = asyncio.StreamReader()
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await asyncio.wait_for(
                loop.connect_accepted_socket(
                    lambda: protocol, sock, ssl=ctx, ssl_handshake_timeout=timeout
                ),
                timeout,
            )
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            peer, not_after = await self._authenticate(reader, writer, cas, server=True)
        except Exception as exc:  # untrusted input: whatever it did, close and count
            if not isinstance(exc, PeerRejectedError):
                self.stats["handshakes_failed"] += 1
            self.cert_clock.check(exc, slot.host, peername, inbound=True)
            log.debug("inbound handshake from %s failed: %r", peername, exc)
            if writer is not None:
                abort(writer)
            sock.close()
            return
        except BaseException:  # cancelled by stop(), or its slot was taken (`HandshakeSlots`)
            if writer is not None:
                abort(writer)
            sock.close()
            raise
        finally:
            self._slots.release(slot)
        self._register(peer, cas[peer.org], not_after, reader, writer, dialer=peer.address)

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        cas: TrustedCas,
        *,
        server: bool,
    ) -> tuple[PeerId, int]:
        """Check the peer's certificate, then exchange HELLOs. (peer, cert not_after ms)."""
        try:
            return await authenticate(
                reader,
                writer,
                cas,
                self._contexts,
                self._is_revoked,
                self._address,
                server=server,
                timeout=self._handshake_timeout,
            )
        except PeerRejectedError as exc:
            self.stats["peers_rejected"] += 1
            log.info("refused a peer: %s", exc)
            raise

    # ---- internals: connection table --------------------------------------------------

    def _register(
        self,
        peer: PeerId,
        ca_der: bytes,
        not_after_ms: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        dialer: str,
    ) -> None:
        if not self._running:
            abort(writer)
            return
        if peer.address not in self._conns and self._org_full(peer.org):
            self.stats["peers_rejected"] += 1
            log.info("refused peer %s: %s has its maximum of peers", peer.address, peer.org)
            abort(writer)
            return
        loop = asyncio.get_running_loop()
        conn = _Connection(
            peer,
            reader,
            writer,
            OutboundQueue(self._queue_frames, self._queue_bytes, self._budget),
            self._buckets.get(peer.address, loop.time(), self._conns.keys() | self._retired),
            ca_der=ca_der,
            not_after_ms=not_after_ms,
            dialer=dialer,
        )
        old = self._conns.get(peer.address)
        conn.tasks.append(self._spawn(self._read_loop(conn), f"p2p-read-{peer.name}"))
        if old is not None:
            self.stats["duplicates_closed"] += 1
            if not keep_new_connection(self._address, peer.address, old.dialer, dialer):
                log.debug("retiring a new duplicate connection to %s", peer.address)
                self._retire(conn)
                return
            for kind, payload in old.queue.take_all():
                conn.queue.push(kind, payload)
            self._conns[peer.address] = conn  # first, so retiring `old` keeps the peer listed
            log.debug("retiring the older duplicate connection to %s", peer.address)
            self._retire(old)
        else:
            self._conns[peer.address] = conn
        conn.tasks.append(
            self._spawn(
                conn.write_until_closed(self._wrote, self._close, "p2p"), f"p2p-write-{peer.name}"
            )
        )
        if len(conn.queue):
            conn.wake.set()
        if old is None:
            log.info("connected to peer %s (%s/%s)", peer.address, peer.org, peer.name)
            self._notify(peer, True)
            self._check_mesh()

    def _org_full(self, org: str) -> bool:
        """Whether `org` has `max_peers_per_org` peers connected (an organisation issues its
        own node certificates, and each peer costs up to `queue_bytes` of outbound queue)."""
        return sum(1 for c in self._conns.values() if c.peer.org == org) >= self._max_per_org

    def _check_mesh(self) -> None:
        """Log, once, when this node first has as many peers as it has dial targets."""
        if self.mesh_after_s is not None or not self._targets:
            return
        if len(self._conns) >= len(self._targets):
            self.mesh_after_s = time.monotonic() - self._started_at
            log.info(
                "connected to all %d configured peers %.3f s after start",
                len(self._targets),
                self.mesh_after_s,
            )

    def _retire(self, conn: _Connection) -> None:
        """Keep reading a connection that lost the one-per-pair tie-break (it is out of the
        table, so nothing is queued on it any more) until the peer closes it or
        `retire_linger` passes; a peer's earlier retired connection is closed now."""
        previous = self._retired.get(conn.peer.address)
        self._retired[conn.peer.address] = conn
        if previous is not None:
            self._close(previous)
        asyncio.get_running_loop().call_later(self._linger, self._close, conn)

    def _close(self, conn: _Connection) -> None:
        """Close a connection (idempotent); forget the peer unless a newer one replaced it."""
        if not conn.shut():
            return
        conn.queue.close()  # its frames are not sent: their bytes go back to the budget
        if self._retired.get(conn.peer.address) is conn:
            del self._retired[conn.peer.address]
        if self._conns.get(conn.peer.address) is conn:
            del self._conns[conn.peer.address]
            log.info(
                "disconnected from peer %s (%s/%s)",
                conn.peer.address,
                conn.peer.org,
                conn.peer.name,
            )
            self._notify(conn.peer, False)

    def _notify(self, peer: PeerId, connected: bool) -> None:
        if self._on_peer is None:
            return
        try:
            self._on_peer(peer, connected)
        except Exception:  # the callback's bug must not break the transport
            log.exception("on_peer callback failed")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return spawn(self._tasks, coro, name)

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval)
            try:
                self.check_peers()
            except Exception:  # a task's top level
                log.exception("periodic peer check failed")
