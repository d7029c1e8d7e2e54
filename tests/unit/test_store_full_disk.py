"""A store opened on a full disk is not a damaged store.

Opening a WAL database sizes its shared-memory index (`chain.db-shm`); on a full disk that
fails with SQLITE_IOERR_SHMSIZE, an I/O error, and every I/O error at open was taken as
damage: `tianfu node start` then refused with "cannot open it: disk I/O error — rebuild
it from the peers with `tianfu node repair`" (which moves the healthy store aside), and
`tianfu dev` named moving its data aside for a new chain. An I/O error of a write, a
sync or the shared-memory index is now a `StoreWriteError` naming the fix (free disk
space), and the store is opened as it was once there is room."""

from __future__ import annotations

import sqlite3

import pytest

from tianfu.node.dev import init_dev, load_genesis
from tianfu.node.runner import open_ledger
from tianfu.node.storeguard import StoreRefused
from tianfu.store import Store, StoreBusy, StoreDamaged, StoreWriteError
from tianfu.store import connection as store_connection
from tianfu.testing.storefaults import SmallDisk

WHY_NOT = SmallDisk.available()


def io_error(extended: int, name: str) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = extended  # type: ignore[attr-defined]
    exc.sqlite_errorname = name  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("extended", "name", "damage"),
    [
        (4874, "SQLITE_IOERR_SHMSIZE", False),
        (4618, "SQLITE_IOERR_SHMOPEN", False),
        (778, "SQLITE_IOERR_WRITE", False),
        (266, "SQLITE_IOERR_READ", True),
        (10, "SQLITE_IOERR", True),
    ],
)
def test_an_io_error_at_open_is_damage_only_when_reading_failed(
    tmp_path, monkeypatch, extended, name, damage
):
    path = tmp_path / "chain.db"
    Store(path).close()

    def refused(_path):
        raise io_error(extended, name)

    monkeypatch.setattr(store_connection, "connect", refused)
    with pytest.raises(StoreDamaged if damage else StoreWriteError) as err:
        Store(path)
    if not damage:
        assert "free disk space" in str(err.value) and "not damaged" in str(err.value)
        assert name in str(err.value)


@pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))
def test_a_dev_chain_on_a_full_disk_says_so_and_opens_once_there_is_room(tmp_path):
    home = tmp_path / "dev"
    init_dev(home)
    genesis = load_genesis(home)
    open_ledger(home / "data", genesis).store.close()
    disk = SmallDisk(home / "data", 4).mount()
    try:
        filler = disk.fill()
        with pytest.raises(StoreRefused) as err:
            open_ledger(home / "data", genesis)
        msg = str(err.value)
        assert "free disk space" in msg and "SQLITE_IOERR_SHMSIZE" in msg, msg
        assert "aside" not in msg and "repair" not in msg  # the store is not damaged
        filler.unlink()
        ledger = open_ledger(home / "data", genesis)
        assert ledger.height == 0
        ledger.store.close()
    finally:
        disk.unmount()


@pytest.mark.parametrize(
    "refusal",
    [
        lambda: io_error(4874, "SQLITE_IOERR_SHMSIZE"),  # a full disk: StoreWriteError
        lambda: sqlite3.OperationalError("database is locked"),  # (an unknown code: StoreError)
    ],
    ids=["full disk", "locked"],
)
def test_repair_never_moves_aside_a_store_it_cannot_open_for_the_hosts_fault(
    tmp_path, monkeypatch, refusal
):
    """`tianfu node repair` on a full disk: the store's open failed with a StoreWriteError
    ('the store is not damaged'), which repair took for damage like any StoreError: it
    moved the healthy store aside into damaged-<time>/ and then failed to begin a new one
    with a traceback. It now refuses in one line and leaves the store where it is."""
    from tianfu.node.repair import RepairFailed, _open_or_begin

    path = tmp_path / "chain.db"
    Store(path).close()

    def refused(_path):
        exc = refusal()
        if "locked" in str(exc):
            exc.sqlite_errorcode = 5  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(store_connection, "connect", refused)
    with pytest.raises(RepairFailed) as err:
        _open_or_begin(tmp_path, None, False)  # type: ignore[arg-type]
    assert "not damaged and was not moved aside" in str(err.value)
    assert path.exists() and not list(tmp_path.glob("damaged-*"))


@pytest.mark.parametrize(
    "fault",
    [
        lambda: StoreWriteError("write failed: database or disk is full"),
        lambda: StoreBusy("read failed: database is locked"),
    ],
    ids=["full disk", "locked"],
)
def test_a_store_check_the_host_fails_names_no_repair(tmp_path, monkeypatch, fault):
    """The store's quick check at start met the host's failure (a write refused while the
    ledger records its state format, the file locked): the start was refused with the
    damage's advice, 'rebuild it from the peers with `tianfu node repair`' (which moves
    the store aside). The store is not damaged: the refusal says what failed, nothing
    more."""
    from tianfu.node import storeguard

    home = tmp_path / "dev"
    init_dev(home)
    genesis = load_genesis(home)
    open_ledger(home / "data", genesis).store.close()

    def failing(*args, **kw):
        raise fault()

    monkeypatch.setattr(storeguard, "check_store", failing)
    with pytest.raises(StoreRefused) as err:
        storeguard.open_checked_ledger(home, home / "data", genesis)
    msg = str(err.value)
    assert "repair" not in msg and "aside" not in msg, msg
    assert str(fault()) in msg
