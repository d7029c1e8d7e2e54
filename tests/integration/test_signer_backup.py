"""Real node processes: a validator whose data comes back older than what its key signed.

Its whole data directory put back from a backup (signer file, WAL and store of one
moment), or its key started from another data directory: the signer state is intact, so
nothing at start shows that the key signed past it. The node finds out from the network
(its own precommits in the certificates it catches up with, its own messages relayed by
its peers; after a start it signs nothing new for a listening period) and signs again only
past what it may have signed. Another validator is stopped meanwhile, so that every
certificate needs the restored one and the network waits for it where it was.

    .venv/bin/python -m pytest tests/integration/test_signer_backup.py -m slow
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from tests.integration.test_signer_and_clock import collect, make_net, ready, top, urls

from tianfu.bench.netcheck import assert_identical, wait_height
from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
from tianfu.identity import Identity
from tianfu.testing.signcheck import SignatureLog

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def snapshot(pid: int, data: Path, to: Path) -> None:
    """A backup of a running node's data directory as a filesystem snapshot takes it:
    the process stopped (SIGSTOP) while its files are copied."""
    os.kill(pid, signal.SIGSTOP)
    try:
        shutil.copytree(data, to, ignore=shutil.ignore_patterns("node.lock"))
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("how", ["backup", "other data"])
def test_data_older_than_what_the_key_signed_never_double_signs(tmp_path, how):
    net = make_net(tmp_path)
    log = SignatureLog()
    try:
        every = urls(net)
        victim, stopped = net.configs[0], net.configs[3]
        wait_height(every, 3, timeout=120)
        backup = tmp_path / "backup"
        snapshot(net.procs[victim.name].pid, victim.data, backup)
        wait_height(every, top(every) + 4, timeout=120)  # the key signs on past the backup
        net.stop_node(stopped.name)  # from here every certificate needs the victim
        net.procs.pop(stopped.name, None)
        wait_height(every[:3], top(every[:3]) + 2, timeout=120)
        net.stop_node(victim.name, signal.SIGKILL)
        log.add_wal(victim.data / "consensus.wal")  # what it signed before it went back
        stuck = top(every[1:3])
        shutil.rmtree(victim.data)
        if how == "backup":
            shutil.copytree(backup, victim.data)
        else:  # the key started from a new data directory: nothing signed, an empty store
            victim.data.mkdir()
            ident = Identity.load(victim.identity)
            FilePrivValidator.initialise(ident.keypair, victim.data / SIGNER_FILE)
        net.log_path(victim).unlink(missing_ok=True)
        started = time.monotonic()
        net.start_node(victim)
        ready(net)
        # It may not sign in the round the two others are stuck in, nor the next, and they
        # cannot leave it without a third validator (rounds move on 2f+1 votes): the
        # stopped one comes back once the victim has found that it signed past its state.
        text = ""
        deadline = time.monotonic() + 120
        while "older than what the key signed" not in text and time.monotonic() < deadline:
            time.sleep(0.5)
            text = net.log_path(victim).read_text(errors="replace")
        found_s = time.monotonic() - started
        net.start_node(stopped)
        ready(net)
        wait_height(every, stuck + 3, timeout=180)
        back_s = time.monotonic() - started
        collect(log, net, every)
        assert log.count > 50
        assert log.conflicts() == []
        text = net.log_path(victim).read_text(errors="replace")
        assert "older than what the key signed" in text
        assert "Traceback" not in text
        assert_identical(every)
        print(f"{how}: found in {found_s:.1f} s, all past height {stuck} + 3 in {back_s:.1f} s")
    finally:
        net.stop()
