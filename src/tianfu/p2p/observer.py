"""The observer port of an open-profile network: TLS links to nodes without member certificates.

On an open-profile chain (ADR 0025) anyone may run an observer: a full node that syncs every
block, checks every commit certificate, re-executes every transaction and serves the read
API, but never votes or proposes. Observers hold no member certificate, so they cannot use
the members' mutual-TLS port (ADR 0011). Validators (and observers) therefore listen on a
second port, handled here:

- TLS 1.3 with a transport key and a self-signed certificate made at start (encryption;
  OpenSSL checks no chain on either side), then the handshake of
  `tianfu.p2p.observer_handshake` proves each side's key (an observer's self-made key, a
  validator's node key); the peer's `PeerId` is the address of that key (org "").
- Nothing an observer says is trusted: blocks are checked against commit certificates by
  whoever receives them (`tianfu.sync`). Only the kinds in `inbound_kinds` are accepted
  from a peer on this port (sync and transaction gossip); any other kind, a malformed or
  oversize frame, a failed handshake, or a frame of gossiped transactions with bad signatures
  (`forged`, told by the gossip's verdict) is a strike. A peer (by key address and by IP)
  with `max_strikes` strikes is banned for `ban_s` seconds and disconnected, and so is one
  banned by the operator (`ban`); strikes and bans are kept in bounded tables
  (`tianfu.p2p.strikes`), an IPv6 peer counted by its /64. Each link has a token bucket
  (frames beyond it are dropped), the number of inbound links is capped (`max_links`, and
  `max_links_per_host` from one IP for keys that are not validators'; when full, a key in
  the validator set takes the place of the newest link of a key that is not, so that free
  identities cannot lock validators by stake out, and an outsider from a host holding two
  links fewer than the host holding the most takes the place of that host's idlest link),
  handshakes hold slots taken by host before any byte is read (`HandshakeSlots`) and end
  — TLS, HELLO and proof — within `handshake_timeout`, an outsider's inbound link that
  sends no frame for `idle_timeout` is closed (a validator's never; these rules of place
  are `tianfu.p2p.observer_room`), and outbound frames go through bounded queues: 64 MiB a
  link, and `outbound_bytes` (256 MiB) for all the links together — over it, the oldest
  frames of the biggest queue are dropped, so links that stop reading cannot hold 64 MiB
  each.
- Only the kinds in `outbound_kinds` are ever sent on this port: consensus messages never
  reach an observer, and an observer's consensus messages never reach consensus. The one
  exception is a link whose key is in the validator set (`is_validator_key`): a validator
  by stake, without a member certificate, exchanges `consensus_kinds` over this port.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tianfu.codec import CodecError, decode, encode
from tianfu.crypto import KeyPair, get_suite
from tianfu.execution.contract_api import address_of
from tianfu.p2p.attested import _context, _transport_certificate
from tianfu.p2p.combined import (  # noqa: F401 - the member and observer links as one Network
    FORGED_LOG_EVERY_S,
    MAX_MEMBERS_TRACKED,
    CombinedNetwork,
)
from tianfu.p2p.framing import (
    FrameTooLargeError,
    MalformedFrameError,
    PeerRejectedError,
    SelfConnectionError,
    check_kind,
    encode_frame,
    read_frame,
)
from tianfu.p2p.inbound import BODY_MIN_S, INBOUND_BYTES, InboundBudget, read_counted_frame
from tianfu.p2p.links import Address, abort, accept_forever, listen_socket, spawn
from tianfu.p2p.observer_conduct import Conduct
from tianfu.p2p.observer_handshake import (  # noqa: F401 - the handshake messages
    KIND_OBSERVER_HELLO,
    KIND_OBSERVER_PROOF,
    MAX_HANDSHAKE_FRAME,
    OBSERVER_VERSION,
    PROOF_TAG,
    ROLES,
    ObserverHello,
    ObserverProof,
    _Handshake,
    proof_message,
)
from tianfu.p2p.observer_room import Credits, _Link, idle_links, room_for
from tianfu.p2p.protocol import Handler, PeerId
from tianfu.p2p.queues import (
    HandshakeSlot,
    HandshakeSlots,
    OutboundBudget,
    OutboundQueue,
    TokenBucket,
)
from tianfu.p2p.strikes import StrikeBook, host_of

log = logging.getLogger(__name__)

# Inbound handshakes running at once, and from one host (IPv4 address, IPv6 /64): slots are
# taken before the peer's key is known (`HandshakeSlots`), so fresh keys cannot hold them all.
MAX_HANDSHAKES = 16
MAX_HANDSHAKES_PER_HOST = 4
OBSERVER_SHARE = "observer-port"  # the gossip share group of keys that are not validators'
# An outsider's inbound link that sends no frame this long is closed (an honest node's syncer
# sends its status every second).
IDLE_TIMEOUT_S = 60.0


class ObserverTransport(Conduct):
    """The observer port: implements `tianfu.p2p.protocol.Network` for its links."""

    def __init__(
        self,
        keypair: KeyPair,
        chain_id: str,
        handler: Handler,
        *,
        role: str,
        listen: Address | None,
        peers: list[Address],
        inbound_kinds: frozenset[int],
        outbound_kinds: frozenset[int],
        max_frame: int = 16 << 20,
        max_links: int = 64,
        max_links_per_host: int = 16,
        outbound_bytes: int = 256 << 20,
        inbound_bytes: int = INBOUND_BYTES,
        body_min_s: float = BODY_MIN_S,
        rate_limit: tuple[float, float] = (200.0, 400.0),
        max_strikes: int = 3,
        ban_s: float = 600.0,
        handshake_timeout: float = 5.0,
        idle_timeout: float = IDLE_TIMEOUT_S,
        max_handshakes: int = MAX_HANDSHAKES,
        max_handshakes_per_host: int = MAX_HANDSHAKES_PER_HOST,
        dial_backoff: tuple[float, float] = (0.2, 5.0),
        on_peer: Callable[[PeerId, bool], None] | None = None,
        consensus_kinds: frozenset[int] = frozenset(),
        is_validator_key: Callable[[bytes], bool] | None = None,
        listener: socket.socket | None = None,  # bound already (`listen` is its address)
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self._keypair = keypair
        self._chain_id = chain_id
        self._handler = handler
        self._role = role
        self._listen = listen
        self._targets = list(dict.fromkeys(peers))
        self._inbound = inbound_kinds
        self._outbound = outbound_kinds
        self._max_frame = max_frame
        self._max_links = max_links
        self._max_per_host = max_links_per_host
        self._budget = OutboundBudget(outbound_bytes)  # all links' outbound queues together
        if max_frame > inbound_bytes:
            raise ValueError("max_frame must not exceed inbound_bytes")
        # Outsiders' large frames being read: all together, and a quarter (one frame) a host.
        self._inbound_budget = InboundBudget(inbound_bytes, max(max_frame, inbound_bytes // 4))
        self._body_min_s = body_min_s
        self._rate = rate_limit
        self._max_strikes = max_strikes
        self._ban_s = ban_s
        self._timeout = handshake_timeout
        if not idle_timeout > 0:
            raise ValueError("idle_timeout must be positive")
        self._idle_timeout = idle_timeout
        self._backoff = dial_backoff
        self._on_peer = on_peer
        # Consensus kinds travel only to and from links whose key is a validator's (staked
        # validators of an open chain); never to or from an observer.
        self._consensus = consensus_kinds if is_validator_key is not None else frozenset()
        self._is_validator_key = is_validator_key or (lambda _key: False)
        self.address = address_of(keypair.scheme, keypair.public_key)
        key, self._cert = _transport_certificate()
        self._server_ctx = _context(key, self._cert, server=True)
        self._client_ctx = _context(key, self._cert, server=False)
        self._links: dict[str, _Link] = {}
        self._book = StrikeBook(ban_s)  # strikes and bans by key address and host, bounded
        self._credits = Credits()  # keys and hosts that served something valid, bounded
        self._listener = listener  # bound already, or made from `listen` at start
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        # Inbound handshakes in progress, bounded in all and per host before any key is known.
        self._slots = HandshakeSlots(max_handshakes, max_handshakes_per_host)
        self.stats: dict[str, int] = dict.fromkeys(
            ("frames_in", "frames_out", "dropped_rate", "dropped_kind", "refused_banned",
             "handshakes_failed", "bans", "links_refused_full", "forged_txs", "refused_dup",
             "handshakes_refused", "handshakes_evicted", "links_evicted", "links_idle_closed",
             "idle_sweeps", "served_txs"),
            0,
        )  # fmt: skip

    # ---- lifecycle ----------------------------------------------------------------
    @property
    def listen_address(self) -> Address | None:
        if self._listener is None:
            return self._listen
        host, port = self._listener.getsockname()[:2]
        return host, port

    def pending_handshakes(self) -> int:
        """Inbound handshakes in progress (each holds one of the port's handshake slots)."""
        return len(self._slots)

    async def start(self) -> None:
        self._running = True
        if self._listener is None and self._listen is not None:
            self._listener = listen_socket(*self._listen)
        if self._listener is not None:
            self._listener.setblocking(False)
            self._spawn(accept_forever(self._listener, self._accept), "observer-accept")
            self._spawn(self._close_idle(), "observer-idle")
        for target in self._targets:
            self._spawn(self._dial_loop(target), f"observer-dial-{target[0]}:{target[1]}")

    async def stop(self) -> None:
        self._running = False
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for link in list(self._links.values()):
            self._close(link)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- the Network interface ----------------------------------------------------
    def _may_carry(self, link: _Link, kind: int) -> bool:
        if kind in self._outbound:
            return True
        return kind in self._consensus and self._is_validator_key(link.peer.public_key)

    def broadcast(self, kind: int, payload: bytes) -> None:
        if kind not in self._outbound and kind not in self._consensus:
            return
        for link in self._links.values():
            if self._may_carry(link, kind):
                self._enqueue(link, kind, payload)

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        link = self._links.get(peer)
        if link is not None and self._may_carry(link, kind):
            self._enqueue(link, kind, payload)

    def peers(self) -> list[PeerId]:
        return [link.peer for link in self._links.values()]

    def roles(self) -> dict[str, str]:
        """Peer address -> the role it proved ("observer" or "validator")."""
        return {a: link.role for a, link in self._links.items()}

    def gossip_share(self, peer: PeerId) -> tuple[str, str]:
        """The (group, sub) with which `peer`'s received transactions share the gossip inbox
        (`tianfu.mempool.gossip`): a key in the validator set is a group of its own (its
        stake bounds how many there are); every other key on this port — anyone can make
        them — is in the one group `OBSERVER_SHARE`, subdivided by the IP it connects from."""
        link = self._links.get(peer.address)
        if link is None or self._is_validator_key(peer.public_key):
            return peer.address, peer.address
        return OBSERVER_SHARE, link.host

    def is_outsider(self, peer: PeerId) -> bool:
        """Whether `peer` is a link of this port whose key is not in the validator set: one
        of the keys anyone can make, which share what this node gives them (gossip inbox,
        block answers) as one group."""
        return self.gossip_share(peer)[0] == OBSERVER_SHARE

    # ---- handshake ----------------------------------------------------------------
    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        kind: int,
        ours: _Handshake,
        out_of_turn: str,
    ) -> _Handshake:
        """Send our handshake message of `kind` and read the peer's, which must be of the
        same kind (else `MalformedFrameError(out_of_turn)`), within the handshake timeout."""
        writer.write(encode_frame(kind, encode(ours)))
        await writer.drain()
        got, payload = await asyncio.wait_for(
            read_frame(reader, MAX_HANDSHAKE_FRAME), self._timeout
        )
        if got != kind:
            raise MalformedFrameError(out_of_turn)
        return decode(payload, type(ours), max_size=MAX_HANDSHAKE_FRAME)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server_cert: bytes
    ) -> tuple[PeerId, str]:
        nonce = secrets.token_bytes(32)
        hello = ObserverHello(OBSERVER_VERSION, self._chain_id, nonce)
        theirs = await self._exchange(
            reader, writer, KIND_OBSERVER_HELLO, hello, "the first frame is not an observer HELLO"
        )
        if theirs.chain_id != self._chain_id:
            raise PeerRejectedError(f"peer is on chain {theirs.chain_id!r}")
        kp = self._keypair
        msg = proof_message(self._chain_id, server_cert, theirs.nonce, nonce, self._role)
        proof = ObserverProof(kp.scheme, kp.public_key, self._role, kp.sign(msg))
        p = await self._exchange(
            reader, writer, KIND_OBSERVER_PROOF, proof, "the second frame is not an observer proof"
        )
        expected = proof_message(self._chain_id, server_cert, nonce, theirs.nonce, p.role)
        try:
            ok = get_suite(p.scheme).verify(p.public_key, expected, p.signature)
        except Exception:  # an unknown scheme: a refusal like any bad proof
            ok = False
        if not ok:
            raise PeerRejectedError("the peer's proof of its key does not verify")
        address = address_of(p.scheme, p.public_key)
        if address == self.address:
            raise SelfConnectionError("connected to ourselves")
        return PeerId(address, "", f"{p.role}-{address[:8]}", p.public_key), p.role

    def _accept(self, sock: socket.socket, ip: str) -> None:
        """A TCP connection came in (`links.accept_forever`): refuse a banned host, else take
        a handshake slot for it before reading any byte (`HandshakeSlots`: per host, in all,
        a full table's oldest past its grace aborted) and run its handshake, or refuse it."""
        host = host_of(ip)
        if self.is_banned(host):
            self.stats["refused_banned"] += 1
            sock.close()
            return
        credited = self._credits.__contains__
        slot = self._slots.take(host, time.monotonic(), credited) if self._running else None
        if slot is None:
            self.stats["handshakes_refused"] += 1
            sock.close()
            return
        self.stats["handshakes_evicted"] = self._slots.evicted
        slot.abort = self._spawn(self._on_inbound(sock, slot), "observer-inbound").cancel

    async def _inbound_handshake(
        self, sock: socket.socket, tls_done: list[bool]
    ) -> tuple[PeerId, str, asyncio.StreamReader, asyncio.StreamWriter]:
        """TLS as the server, then the observer handshake (the caller bounds the whole);
        `tls_done` gets True once TLS is through."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport, _ = await loop.connect_accepted_socket(
            lambda: protocol, sock, ssl=self._server_ctx, ssl_handshake_timeout=self._timeout
        )
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        tls_done.append(True)
        try:
            peer, role = await self._handshake(reader, writer, self._cert)
        except BaseException:
            abort(writer)
            raise
        return peer, role, reader, writer

    async def _on_inbound(self, sock: socket.socket, slot: HandshakeSlot) -> None:
        """One inbound connection: its whole handshake within `handshake_timeout`, holding
        `slot` until it ends; then a link, if the port has room for the peer's key."""
        host = slot.host
        tls_done: list[bool] = []
        try:
            sock.setblocking(False)
            async with asyncio.timeout(self._timeout):  # in this task: a cancel reaches it
                peer, role, reader, writer = await self._inbound_handshake(sock, tls_done)
        except Exception as exc:  # untrusted input: close, count, strike the IP
            sock.close()
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # evicted or stopped as it failed
                return
            self.stats["handshakes_failed"] += 1
            log.debug("observer handshake from %s failed: %r", host, exc)
            # A connection that never got through TLS (a port probe, a lost link) is not
            # struck; a failed or late observer handshake over TLS is.
            if tls_done and not isinstance(exc, SelfConnectionError):
                self.strike(host, None, f"failed handshake: {exc!r}")
            return
        except BaseException:  # cancelled by stop(), or its slot was taken (`HandshakeSlots`)
            sock.close()
            raise
        finally:
            self._slots.release(slot)
        if peer.address in self._links or self.is_banned(peer.address):
            # Refused before making room: it must not close another link on its way out.
            self.stats["refused_banned" if self.is_banned(peer.address) else "refused_dup"] += 1
            writer.close()
            return
        if self._make_room(peer, host):
            self._register(peer, role, host, reader, writer, inbound=True)
        else:
            self.stats["links_refused_full"] += 1
            writer.close()

    def _make_room(self, peer: PeerId, host: str) -> bool:
        """Whether an inbound link of `peer` from `host` fits (`observer_room.room_for`),
        closing the link it takes the place of, if any."""
        fits, victim = room_for(
            list(self._links.values()), peer, host, self._max_links, self._max_per_host,
            self._is_validator_key, self._credits.__contains__,
        )  # fmt: skip
        if victim is not None:
            log.info("observer port full: %s (host %s) makes room for %s (host %s)",
                     victim.peer.address, victim.host, peer.address, host)  # fmt: skip
            self.stats["links_evicted"] += 1
            self._close(victim)
        return fits

    async def _close_idle(self) -> None:
        """Every quarter of `idle_timeout`, close each inbound link of a key not in the
        validator set that has received no frame for `idle_timeout` and is not in the middle
        of a large frame (whose body has its own pace, `read_counted_frame`): a silent link
        held one of the port's links, and a host's place, for as long as it liked. Links
        this node dialed and validators' links are never closed for it."""
        loop = asyncio.get_running_loop()
        while self._running:
            await asyncio.sleep(self._idle_timeout / 4)
            now = loop.time()
            for link in idle_links(
                list(self._links.values()), now, self._idle_timeout, self._is_validator_key
            ):
                log.info("observer port: %s (host %s) sent nothing for %.0f s: closed",
                         link.peer.address, link.host, now - link.last_in)  # fmt: skip
                self.stats["links_idle_closed"] += 1
                self._close(link)
            self.stats["idle_sweeps"] += 1

    async def _dial_loop(self, target: Address) -> None:
        delay = self._backoff[0]
        while self._running:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        target[0], target[1], ssl=self._client_ctx, server_hostname="",
                        ssl_handshake_timeout=self._timeout,
                    ),
                    self._timeout,
                )  # fmt: skip
                ssl_object = writer.get_extra_info("ssl_object")
                server_cert = ssl_object.getpeercert(binary_form=True) if ssl_object else None
                if not server_cert:
                    writer.close()
                    raise ConnectionResetError("the server showed no certificate")
                peer, role = await self._handshake(reader, writer, server_cert)
            except asyncio.CancelledError:
                raise
            except SelfConnectionError:
                return
            except Exception as exc:  # a task's top level: retry later
                log.debug("observer dial %s:%d failed: %r", target[0], target[1], exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            link = self._register(peer, role, target[0], reader, writer)
            if link is not None:
                await link.closed.wait()
            await asyncio.sleep(self._backoff[0])

    # ---- links --------------------------------------------------------------------
    def _register(
        self, peer: PeerId, role: str, host: str, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter, *, inbound: bool = False,
    ) -> _Link | None:  # fmt: skip
        if not self._running or self.is_banned(peer.address) or peer.address in self._links:
            if self.is_banned(peer.address):
                self.stats["refused_banned"] += 1
            writer.close()
            return None
        loop = asyncio.get_running_loop()
        link = _Link(
            peer,
            reader,
            writer,
            OutboundQueue(10_000, min(64 << 20, self._budget.max_bytes), self._budget),
            TokenBucket(*self._rate, now=loop.time()),
            role=role,
            host=host,
            inbound=inbound,
            last_in=loop.time(),
        )
        self._links[peer.address] = link
        self._book.seen(peer.address, host)
        link.tasks.append(self._spawn(self._read_loop(link), f"observer-read-{peer.name}"))
        link.tasks.append(
            self._spawn(
                link.write_until_closed(self._wrote, self._close, "observer"),
                f"observer-write-{peer.name}",
            )
        )
        log.info("observer port: connected to %s (%s)", peer.address, role)
        if self._on_peer is not None:
            self._on_peer(peer, True)
        return link

    def _enqueue(self, link: _Link, kind: int, payload: bytes) -> None:
        check_kind(kind)
        link.push(kind, payload)

    def _wrote(self, frames: int, _size: int) -> None:
        self.stats["frames_out"] += frames

    async def _read_loop(self, link: _Link) -> None:
        peer = link.peer
        loop = asyncio.get_running_loop()
        budget, held = self._inbound_budget, 0
        try:
            while True:
                if link.inbound and not self._is_validator_key(peer.public_key):
                    kind, payload, held = await read_counted_frame(
                        link.reader, self._max_frame, budget, self._body_min_s,
                        owner=link.host, large=link.frame_begun,
                    )  # fmt: skip
                else:
                    kind, payload = await read_frame(link.reader, self._max_frame)
                try:
                    self._take(link, kind, payload, loop.time())
                finally:
                    budget.release(held, link.host)
                    held = 0
                if link.closed.is_set():
                    return
        except FrameTooLargeError as exc:
            self.strike(peer.address, link.host, str(exc))
        except TimeoutError:
            self.strike(peer.address, link.host, "a frame's body came too slowly")
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError, CodecError):
            pass
        except Exception:  # a task's top level
            log.exception("observer reader of %s failed", peer.address)
        finally:
            self._close(link)

    def _take(self, link: _Link, kind: int, payload: bytes, now: float) -> None:
        """Hand one frame read from `link` on (or strike a kind it may not send)."""
        peer = link.peer
        self.stats["frames_in"] += 1
        link.last_in, link.in_frame = now, False
        if kind not in self._inbound and not (
            kind in self._consensus and self._is_validator_key(peer.public_key)
        ):
            self.stats["dropped_kind"] += 1
            self.strike(peer.address, link.host, f"sent a frame of kind {kind}")
        elif not link.bucket.take(now):
            self.stats["dropped_rate"] += 1
        else:
            try:
                self._handler(peer, kind, payload)
            except Exception:  # the handler's bug must not kill the link
                log.exception("observer handler failed on kind %d from %s", kind, peer.address)

    def _close(self, link: _Link) -> None:
        if not link.shut():
            return
        link.queue.close()  # its frames are not sent: their bytes go back to the budget
        if self._links.get(link.peer.address) is link:
            del self._links[link.peer.address]
            log.info("observer port: disconnected from %s", link.peer.address)
            if self._on_peer is not None:
                self._on_peer(link.peer, False)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return spawn(self._tasks, coro, name)
