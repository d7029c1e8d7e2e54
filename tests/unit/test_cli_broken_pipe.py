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


class _GoneReader:
    """A stdout whose reader closed the pipe."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_up_stops_its_nodes_when_its_reader_is_gone(tmp_path: Path, monkeypatch) -> None:
    from rich.console import Console

    from tianfu.node import localnet

    done: list[str] = []
    net = SimpleNamespace(
        genesis=SimpleNamespace(chain_id="c"),
        configs=[],
        procs={},
        busy_ports=lambda: [],
        start=lambda: done.append("start"),
        wait_ready=lambda timeout: done.append("ready"),
        stop=lambda: done.append("stop"),
        url=lambda c: "",
    )
    monkeypatch.setattr(localnet.LocalNetwork, "prepare", lambda *a, **k: (net, True))
    printed: list[str] = []

    class Screen(Console):
        """Takes the banner, then its reader closes the pipe."""

        def print(self, *objects, **kwargs) -> None:  # type: ignore[no-untyped-def]
            if "start" in done:
                raise BrokenPipeError(32, "Broken pipe")
            printed.append(str(objects))

    monkeypatch.setattr(network_cmds, "console", Screen(file=_GoneReader()))
    r = CliRunner().invoke(app, ["up", "--home", str(tmp_path / "net")])
    assert printed and done == ["start", "ready", "stop"], (done, r.output)
    assert r.exit_code == common.PIPE_CLOSED_EXIT, r.output
