"""A reader that closes the pipe early (`tianfu invoke ... | head -1`, `tianfu up | less`).

The command prints no error line for it, but it never exits 0 as if it had done its work:
it stopped where it was writing. A failed transaction still exits 1 (its output breaking
the pipe made the command exit 0: the failure was hidden from `set -o pipefail` and `&&`);
otherwise the exit code is 141, what a shell reports for git, ls or grep killed by SIGPIPE
in the same place. `tianfu up` stops its nodes even when saying so breaks the pipe (the
nodes, in sessions of their own, were left running on their ports)."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.unit.kvchain import KvChain
from typer.testing import CliRunner

from tianfu.api.app import create_app
from tianfu.api.server import make_server
from tianfu.cli import common, network_cmds
from tianfu.cli.main import app
from tianfu.testing.threadserver import ServerThread


def _into_closed_pipe(*args: str) -> tuple[int, str]:
    """Run `tianfu args` with stdout a pipe whose reader is gone: its exit code and stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tianfu", *args],
            stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    return done.returncode, done.stderr.decode()


def test_a_failed_transaction_piped_to_a_closed_reader_still_exits_1(tmp_path: Path) -> None:
    chain = KvChain(tmp_path / "chain")
    chain.app.admin("org1").save(tmp_path / "admin")
    served = ServerThread(make_server(create_app(chain.service), "127.0.0.1", 0)).start(60)
    try:
        node = ["--url", served.url, "--identity", str(tmp_path / "admin")]
        for extra in ([], ["--json"]):
            code, err = _into_closed_pipe("invoke", "kv", "fail", "boom", *node, *extra)
            assert code == 1, (extra, code, err)
            assert "Traceback" not in err and "Exception ignored" not in err, err
        assert chain.app.query("kv", "get", "k") is None
        code, err = _into_closed_pipe("invoke", "kv", "put", "k", "v", *node)
        assert (code, err) == (common.PIPE_CLOSED_EXIT, ""), (code, err)
        assert chain.app.query("kv", "get", "k") == "v"  # sent: the reader only stopped early
    finally:
        served.stop()


class _Reader:
    """A stdout whose reader closes the pipe when `gone` is set."""

    def __init__(self) -> None:
        self.gone, self.text = False, ""

    def write(self, text: str) -> int:
        if self.gone:
            raise BrokenPipeError(32, "Broken pipe")
        self.text += text
        return len(text)

    def flush(self) -> None:
        if self.gone:
            raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_up_stops_its_nodes_when_its_reader_is_gone(tmp_path: Path, monkeypatch) -> None:
    """`tianfu up | head -5`, then Ctrl-C (which reaches only `up`): its first line after the
    reader left was 'stopping ...', on which Rich exited 1 before the nodes were stopped."""
    from tianfu.cli.tables import Screen
    from tianfu.node import localnet

    reader, done = _Reader(), []

    def interrupted() -> None:  # the reader has gone; then Ctrl-C
        reader.gone = True
        raise KeyboardInterrupt

    net = SimpleNamespace(
        genesis=SimpleNamespace(chain_id="c"),
        configs=[SimpleNamespace(name="node1", org="org1")],
        procs={"node1": SimpleNamespace(poll=interrupted)},
        busy_ports=lambda: [],
        start=lambda: done.append("start"),
        wait_ready=lambda timeout: done.append("ready"),
        stop=lambda: done.append("stop"),
        url=lambda c: "http://127.0.0.1:8701",
    )
    monkeypatch.setattr(localnet.LocalNetwork, "prepare", lambda *a, **k: (net, True))
    monkeypatch.setattr(network_cmds, "console", Screen(file=reader))  # type: ignore[arg-type]
    r = CliRunner().invoke(app, ["up", "--home", str(tmp_path / "net")])
    assert "Press Ctrl-C" in reader.text and done == ["start", "ready", "stop"], (done, r.output)
    assert r.exit_code == common.PIPE_CLOSED_EXIT, (r.exit_code, r.output)
    assert "stopped." not in reader.text
