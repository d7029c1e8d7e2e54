"""The node's watch over its store: checked before start, re-checked on damage, and its health.

- `open_checked_ledger` opens `data/chain.db`, runs the quick store check (ADR 0006,
  "Checks") and refuses a damaged store with one line naming the repair command
  (`StoreRefused`), never a traceback.
- `DataLock` keeps a second process (another `node start`, or `node repair`) off a data
  directory that a node is using: two signers with one key is how double signing happens.
- `StoreGuard` hears of damage found while running (a read SQLite calls malformed, bytes
  that do not decode): the validator stops signing at once, the store is checked in a
  worker thread, and either signing resumes (the check passed) or the node stops with
  the same one-line refusal it would give at its next start.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tianfu.crypto import verify_commit
from tianfu.ledger import Ledger
from tianfu.store import Store, StoreDamaged, StoreError
from tianfu.store.check import CheckReport, check_store
from tianfu.types import CommitCertificate, Genesis

log = logging.getLogger(__name__)

STORE_FILE = "chain.db"
LOCK_FILE = "node.lock"


class StoreRefused(Exception):
    """The node does not run on this store; the message is one line and names the remedy."""


class _CheckStopped(Exception):
    """A store check ended early: the node is stopping (`StoreGuard.stop`)."""


def repair_hint(home: Path) -> str:
    return f"rebuild it from the peers with `tianfu node repair --home {home}`"


def dev_hint(home: Path) -> str:
    """What to do about a dev chain's damaged store (one validator: no peer to rebuild from)."""
    data = home / "data"
    return (
        f"a dev chain has no peers to rebuild it from: move {data} aside (kept for "
        f"inspection) and run `tianfu dev --home {home}` again for a new chain, or put back "
        f"a copy of {data} from a backup"
    )


def refusal(
    home: Path, exc: BaseException | str, hint: Callable[[Path], str] = repair_hint
) -> StoreRefused:
    text = " ".join(str(exc).split())  # one line, whatever SQLite said
    return StoreRefused(f"{text} — {hint(home)}")


class DataLock:
    """An exclusive `flock` on `data/node.lock`, held while a node (or repair) uses `data/`."""

    def __init__(self, data: Path, what: str) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.path = data / LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            holder = self._holder()
            raise StoreRefused(
                f"{data} is in use by another process{holder}: stop it before {what}"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def _holder(self) -> str:
        try:
            pid = self.path.read_text().strip()
        except OSError:
            return ""
        return f" (pid {pid})" if pid else ""

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def certificate_check(ledger: Ledger) -> Callable[[int, CommitCertificate], None]:
    """Verify a stored certificate against the validator set of its height."""

    def verify(height: int, cert: CommitCertificate) -> None:
        verify_commit(
            cert, cert.block_hash, height, ledger.validator_set(height), ledger.vote_domain
        )

    return verify


def open_checked_ledger(
    home: Path, data: Path, genesis: Genesis, hint: Callable[[Path], str] = repair_hint
) -> tuple[Ledger, CheckReport]:
    """The node's ledger on `data/chain.db`, after the quick check; `StoreRefused` if not
    (naming the fix `hint` gives: a network node's repair from its peers by default)."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / STORE_FILE
    try:
        store = Store(path)
    except StoreDamaged as exc:
        raise refusal(home, exc, hint) from None
    except StoreError as exc:  # not damage: a newer schema, no permission, ...
        raise StoreRefused(" ".join(str(exc).split())) from None
    try:
        ledger = Ledger(store, genesis)
        report = check_store(store, genesis.hash, verify_certificate=certificate_check(ledger))
    except StoreDamaged as exc:
        store.close()
        raise refusal(home, exc, hint) from None
    except (StoreError, ValueError) as exc:  # a different genesis, undecodable state, ...
        store.close()
        if getattr(exc, "not_a_tx_fault", False) is True:  # a write refused, locked: not damage
            raise StoreRefused(f"store {path}: " + " ".join(str(exc).split())) from None
        raise refusal(home, f"store {path}: {exc}", hint) from None
    except BaseException:  # anything else (an OS error, Ctrl-C during the check): closed too
        store.close()
        raise
    log.info(
        "store checked (%s): height %d, %.1f MB, %d headers, %d certificates, %.2f s",
        report.level,
        report.height,
        report.file_bytes / 1e6,
        report.headers,
        report.certificates,
        report.seconds,
    )
    return ledger, report


@dataclass(eq=False)
class StoreGuard:
    """Damage found while running: stop signing, check the store, resume or stop the node.
    `halt`/`resume` stop and restart the driver's signing, `stop_node` stops the node."""

    home: Path
    ledger: Ledger
    commit_lock: threading.Lock
    halt: Callable[[str, str], None]
    resume: Callable[[str], None]
    stop_node: Callable[[], None]
    fatal: StoreRefused | None = field(default=None, init=False)  # the node must stop on it
    checks: int = field(default=0, init=False)
    last_check: CheckReport | None = field(default=None, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _checking: bool = field(default=False, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)  # check after a read error
    _stopping: bool = field(default=False, init=False)  # `stop` called: no check starts or runs

    def attach(self) -> None:
        """Listen to the store (call on the event loop, before serving)."""
        self._loop = asyncio.get_running_loop()
        self.ledger.store.on_damage = self._on_damage

    async def stop(self) -> None:
        """(before the store closes) Start no more checks and end the one running: it stops
        at its next progress step and is waited for, so no check reads a closed store, no
        task outlives the node, and signing is not resumed on the way out."""
        self._stopping = True
        self.ledger.store.on_damage = None
        task, self._task = self._task, None
        if task is not None:
            await asyncio.wait([task])  # the check's thread cannot be interrupted: wait

    def _stop_point(self, *_: object) -> None:  # (check progress, worker thread)
        if self._stopping:
            raise _CheckStopped

    def check(self) -> CheckReport:
        """(worker thread) The quick check with no block being stored meanwhile; on damage
        the node is stopped (and `StoreDamaged` raised to the caller)."""
        with self.commit_lock:
            try:
                report = check_store(
                    self.ledger.store,
                    self.ledger.genesis.hash,
                    verify_certificate=certificate_check(self.ledger),
                    progress=self._stop_point,
                )
            except StoreDamaged as exc:
                self._fail(exc)
                raise
        self.checks += 1
        self.last_check = report
        return report

    def _on_damage(self, exc: StoreDamaged) -> None:  # any thread
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._start_check, str(exc))

    def _start_check(self, reason: str) -> None:
        if self._checking or self.fatal is not None or self._stopping:
            return
        self._checking = True
        self.halt("store-read", f"store read error: {' '.join(reason.split())}")
        self._task = asyncio.get_running_loop().create_task(self._check_after_error(reason))

    async def _check_after_error(self, reason: str) -> None:
        try:
            report = await asyncio.to_thread(self.check)
        except (StoreDamaged, _CheckStopped):
            return  # `_fail` stopped the node, or the node is stopping
        except Exception:  # a task's top level: keep not signing, log
            if self._stopping:  # (the store closed under it) nothing to report
                return
            log.exception("checking the store after a read error failed")
            self._checking = False
            return
        log.warning(
            "a store read failed (%s) but the store checks out (%.2f s): signing again",
            " ".join(reason.split()),
            report.seconds,
        )
        self._checking = False
        if not self._stopping:
            self.resume("store-read")

    def _fail(self, exc: StoreDamaged) -> None:  # any thread
        if self.fatal is not None:
            return
        self.fatal = refusal(self.home, exc)
        log.error("stopping: %s", self.fatal)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.stop_node)
