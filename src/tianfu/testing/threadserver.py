"""A Uvicorn server run in a thread of the test process, on a socket bound before it starts."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


class ServerThread:
    """Runs `server` in a daemon thread on a loopback socket bound here, so its port is held
    from the moment it is known: a port chosen with bind(0), released, then bound by the
    server later could be taken meanwhile by another process, and the server's thread then
    exited and the test waited for it in vain. The server's own host and port are unused."""

    def __init__(self, server: uvicorn.Server, host: str = "127.0.0.1") -> None:
        self.server = server
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 60.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the server's thread ended before it started serving")
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start within {timeout:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()
