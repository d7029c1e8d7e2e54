"""An honest simulated validator that runs the real `ConsensusDriver` on virtual time.

Everything the node does goes through the production code: `PeerGossip` checks the
frames it receives (encoded, as on the wire) and answers or relays; the driver signs with
a real `FilePrivValidator` and logs to a real `ConsensusWAL` (files in a temporary
directory, in memory where /dev/shm exists), executes and stores through `SimLedger`, and
waits on `SimTimers` of the simulation's `VirtualLoop`. Only the wall clock is simulated:
the virtual time in steps of `CLOCK_STEP_MS` (so that signed times, hence signatures,
recur across seeds and the signing caches work) plus the validator's skew.

Block sync is modelled by `sync_tick`: a node that stays at one height for a gossip
interval asks its peers for that height's commit, which their `PeerGossip` answers.

A crash stops the driver and loses every message for `down_ms`; the node comes back with
its store but without its signer state or WAL (both files deleted), so the driver's
`SignGuard` must keep it from signing twice. `Simulation(guard=False)` removes that guard
after start, and the checks that would make one later (the quiet start, this key's
signatures found in the network), to show what they prevent. With `Simulation(restore=k)` it comes back instead
from a backup of its whole data directory (signer file, WAL, store) made when it stored
the block k heights below its last: the driver must notice from the network that its key
signed beyond its signer state.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tianfu.codec import decode, encode
from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.messages import Proposal
from tianfu.consensus.peers import KIND_COMMIT, KIND_PROPOSAL, KIND_VOTE, CommitFrame
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import KeyPair
from tianfu.testing.simchain import (
    GENESIS_TIME_MS,
    SIGN_CACHE,
    CommitRecord,
    Crash,
    Net,
    SimExecuted,
    SimLedger,
    SimMempool,
    SimTimers,
)
from tianfu.types import Vote

if TYPE_CHECKING:
    from tianfu.testing.sim import Simulation

CLOCK_STEP_MS = 50


class CachedKeyPair(KeyPair):
    """A key whose signatures are memoised (the same messages recur across seeds)."""

    def sign(self, message: bytes) -> bytes:
        key = (self.public_key, message)
        sig = SIGN_CACHE.get(key)
        if sig is None:
            sig = SIGN_CACHE[key] = KeyPair.sign(self, message)
        return sig


class SimNetwork:
    """The driver's `FrameNetwork`: frames go to the simulation's seeded network."""

    def __init__(self, node: DriverNode) -> None:
        self.node = node
        self.alive = True  # False once the node crashed: a stopping driver sends nothing

    def broadcast(self, kind: int, payload: bytes) -> None:
        if self.alive:
            nd = self.node
            nd.sim.send(nd.id, nd.outgoing(kind, payload), None, (kind, payload))

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        if self.alive:
            nd = self.node
            nd.sim.send(nd.id, nd.outgoing(kind, payload), [int(peer[1:])], (kind, payload))


class DriverNode:
    """An honest validator: the real driver, its signer file, WAL and a `SimLedger`."""

    honest = True
    # True: a restart keeps the signer file and the WAL as they were (a process restart,
    # nothing lost), instead of coming back without them (or from `Simulation(restore=k)`).
    keeps_files = False

    def __init__(self, sim: Simulation, node_id: int, val_index: int, name: str) -> None:
        self.sim = sim
        self.id = node_id
        self.val_index = val_index
        self.name = name
        kp = sim.keys[val_index]
        self.key = CachedKeyPair(kp.scheme, kp.public_key, kp.private, kp._signing_key)
        self.incarnation = 0  # each restart gets new (empty) signer and WAL files
        self.ledger = SimLedger(sim.rules, self._committed, self.proposal_tag)
        self.down_until = -1
        self.done = False
        self.driver: ConsensusDriver[SimExecuted] | None = None
        self._closing: list[Any] = []
        self._network: SimNetwork | None = None
        self._synced_height = 0
        self._files: Path | None = None
        # (restore mode) backups of the signer file and WAL, by the height just stored
        self._backups: dict[int, tuple[bytes, bytes]] = {}

    # -------------------------------------------------------- what the checkers read

    @property
    def commits(self) -> dict[int, CommitRecord]:
        return self.ledger.commits

    @property
    def core(self) -> Any:
        assert self.driver is not None and self.driver.core is not None
        return self.driver.core

    @property
    def evidence(self) -> list[Any]:
        return self.driver.pending_evidence() if self.driver is not None else []

    def proposal_tag(self, height: int) -> str:
        """What this node's own block at `height` carries in its tag (nothing here)."""
        return ""

    # -------------------------------------------------------- life

    def clock(self) -> float:
        """This node's wall clock, in seconds (+ 0.5 ms, so that int(clock * 1000) is exact)."""
        now = self.sim.now - self.sim.now % CLOCK_STEP_MS
        ms = GENESIS_TIME_MS + now + self.sim.skews.get(self.val_index, 0)
        return (ms + 0.5) / 1000

    def start(self) -> None:
        """Open the signer file and WAL (made fresh if missing) and start a driver."""
        new = self.incarnation == 0
        self.incarnation += 1
        kept = not new and self.keeps_files and self._files is not None
        files = self._files if kept else None
        if files is None:  # (kept: the signer file and WAL of the last run, as they were)
            files = Path(self.sim.files) / f"{self.name}-{self.incarnation - 1}"
            files.mkdir(parents=True)
            if new:
                FilePrivValidator.initialise(self.key, files / "privval.bin")
                if self.sim.restore:
                    self._backups[0] = ((files / "privval.bin").read_bytes(), b"")
            elif self.sim.restore:
                self._restore_backup(files)
        self._files = files
        privval = FilePrivValidator(
            self.key, files / "privval.bin", allow_missing=not self.sim.restore and not kept
        )
        wal = ConsensusWAL(files / "cs.wal")
        self._closing = [privval, wal]
        self._network = SimNetwork(self)
        self.driver = ConsensusDriver(
            self.ledger,
            SimMempool(),
            privval,
            wal,
            self._network,
            params=self.sim.params,
            clock=self.clock,
            timers=SimTimers(),
            verifier=self.sim.verify,
            gossip_interval_ms=self.sim.gossip_ms,
            min_block_interval_ms=0,
        )
        asyncio.get_running_loop().create_task(self._run(self.driver, restarted=not new))
        self.sim.schedule(self.sim.gossip_ms, self.id, ("sync", self.incarnation))

    def sync_tick(self) -> None:
        """Block sync's part (`tianfu.sync` in a node): a node still at the height it was at
        a gossip interval ago asks its peers for that height's commit (a commit-frame
        request, which the peers' gossip answers from their stores)."""
        driver = self.driver
        if driver is not None and driver.core is not None:
            height = driver.core.height
            if height == self._synced_height:
                probe = CommitFrame(1, height)
                self.sim.send(self.id, probe, None, (KIND_COMMIT, encode(probe)))
            self._synced_height = height
        self.sim.schedule(self.sim.gossip_ms, self.id, ("sync", self.incarnation))

    async def _run(self, driver: ConsensusDriver[SimExecuted], restarted: bool) -> None:
        if restarted and not self.sim.guard:  # every check of a stale signer state off
            signer = driver.signer
            recover = signer.recover

            def unguarded(*args: Any, **kw: Any) -> None:
                recover(*args, **kw)
                signer.guard, signer.quiet_until = None, 0.0

            signer.recover = unguarded  # type: ignore[method-assign]
            signer.found_own = lambda *args: None  # type: ignore[method-assign]
        await driver.start()

    def _restore_backup(self, files: Path) -> None:
        """Put back the backup made `sim.restore` heights below the stored height: the
        signer file, the WAL and the store, all of that moment."""
        ledger = self.ledger
        at = max(h for h in self._backups if h <= max(0, ledger.height - self.sim.restore))
        privval, wal = self._backups[at]
        (files / "privval.bin").write_bytes(privval)
        (files / "cs.wal").write_bytes(wal)
        for h in range(at + 1, ledger.height + 1):
            del ledger.commits[h], ledger._headers[h]
        self._backups = {h: b for h, b in self._backups.items() if h <= at}
        if self.done and ledger.height < self.sim.target_height:
            self.done = False
            self.sim.done_count -= 1

    def _committed(self, height: int, record: CommitRecord) -> None:
        files = self._files
        if self.sim.restore and files is not None:
            wal = files / "cs.wal"
            self._backups[height] = (
                (files / "privval.bin").read_bytes(),
                wal.read_bytes() if wal.exists() else b"",
            )
        if height >= self.sim.target_height and not self.done:
            self.done = True
            self.sim.node_done()
            if self.driver is not None:  # as a stopped validator: it only answers laggards
                self.driver.halt("simulation", f"target height {height} reached")

    def crash(self, down_ms: int) -> None:
        """Stop the driver; lose the signer file and the WAL; restart after `down_ms`."""
        self.down_until = self.sim.now + down_ms
        driver, self.driver = self.driver, None
        if self._network is not None:
            self._network.alive = False
        if driver is not None:
            asyncio.get_running_loop().create_task(self._stop(driver, self._closing))
        self._closing = []
        self.sim.schedule(down_ms, self.id, "restart")

    async def _stop(self, driver: ConsensusDriver[SimExecuted], files: list[Any]) -> None:
        await driver.stop()
        for f in files:
            f.close()

    def close(self) -> None:
        if self._network is not None:
            self._network.alive = False
        for f in self._closing:
            f.close()
        self._closing = []

    # -------------------------------------------------------- network

    def outgoing(self, kind: int, payload: bytes) -> Any:
        """The object a frame of ours carries, for the simulation (and its double-sign record)."""
        if kind == KIND_VOTE:
            v = decode(payload, Vote)
            if v.validator == self.key.public_key:  # (not a relayed vote of another)
                msg = v.signing_bytes(self.sim.rules.domain)
                self.sim.record_signed(self.val_index, v.height, v.round, v.type, msg)
            return v
        if kind == KIND_PROPOSAL:
            p = decode(payload, Proposal)
            if p.proposer == self.key.public_key:
                self.sim.record_signed(self.val_index, p.height, p.round, -1, p.signing_bytes())
            return p
        assert kind == KIND_COMMIT
        return decode(payload, CommitFrame)

    def receive(self, item: Any) -> None:
        if isinstance(item, Crash):
            self.crash(item.down_ms)
            return
        if item == "restart":
            self.start()
            return
        if isinstance(item, tuple) and item[0] == "sync":
            if self.driver is not None and item[1] == self.incarnation:
                self.sync_tick()  # (a crashed node's ticks end; `start` begins anew)
            return
        if self.sim.now < self.down_until or self.driver is None or not isinstance(item, Net):
            return
        frame = item.frame
        if frame is None:
            payload = item.payload
            if isinstance(payload, Vote):
                frame = (KIND_VOTE, encode(payload))
            elif isinstance(payload, Proposal):
                frame = (KIND_PROPOSAL, encode(payload))
            else:
                frame = (KIND_COMMIT, encode(payload))
        self.driver.handle_frame(f"n{item.src}", *frame)
