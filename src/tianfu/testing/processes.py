"""Real node processes for integration tests and benchmarks: start, wait ready, kill, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tianfu.client.transport import http_get

PORT_ATTEMPTS = 5  # starts of a node on a port it chose, each on a new port if the last was taken


class PortTaken(RuntimeError):
    """The node exited because its API port was taken by another process."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProcess:
    """One `tianfu` node process (by default `tianfu dev`) with its log in `home/node.log`."""

    def __init__(self, home: Path, port: int | None = None, args: list[str] | None = None) -> None:
        self.home = Path(home)
        # A port chosen here is free now, not when the child binds it a second or more later
        # (another process may take it meanwhile): `start` then retries on a new one.
        self._own_port = port is None and args is None
        self._args = args
        self._use_port(port or free_port())
        self.proc: subprocess.Popen[bytes] | None = None

    def _use_port(self, port: int) -> None:
        self.port = port
        self.args = (
            self._args
            if self._args is not None
            else ["dev", "--home", str(self.home), "--port", str(port)]
        )
        self.log_path = self.home.parent / f"{self.home.name}-{port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> NodeProcess:
        for attempt in range(PORT_ATTEMPTS):
            self.start_process()
            try:
                self.wait_ready(timeout)
            except PortTaken:
                if not self._own_port or attempt == PORT_ATTEMPTS - 1:
                    raise
                self._use_port(free_port())
                continue
            return self
        raise AssertionError("unreachable")

    def start_process(self) -> None:
        """Start the process without waiting for it to answer."""
        self.home.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tianfu", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                log = self.log()
                error = PortTaken if "already in use" in log else RuntimeError
                raise error(f"node exited with {self.proc.returncode}:\n{log}")
            try:
                r = http_get(self.url + "/v1/status", timeout=1.0)
                if r.status_code == 200 and r.json().get("height", 0) >= 1:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"node on port {self.port} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill9(self) -> None:
        """Crash the node: SIGKILL, no clean-up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop cleanly with SIGINT (as Ctrl-C); SIGKILL if it does not stop in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode
