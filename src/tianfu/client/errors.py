"""Errors raised by the SDK: connection, HTTP, failed and timed-out transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tianfu.client.client import Result


class ClientError(Exception):
    """Base of every SDK error."""


class InvalidUrl(ClientError, ValueError):
    """A node URL that is not an http:// or https:// URL with a host (and a valid port)."""


class ConnectionFailed(ClientError):
    """The node could not be reached (refused, DNS, timeout)."""


class ApiError(ClientError):
    """The node answered with an HTTP error; `status` and the node's `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class TxFailed(ClientError):
    """A committed transaction whose receipt says it failed (its writes were reverted)."""

    def __init__(self, result: Result) -> None:
        super().__init__(f"transaction {result.tx_hash} failed: {result.error}")
        self.result = result
        self.error = result.error


class TxTimeout(ClientError):
    """The transaction was accepted but not committed within the wait timeout."""

    def __init__(self, tx_hash: str, timeout: float) -> None:
        super().__init__(f"transaction {tx_hash} not committed within {timeout:g}s (still pending)")
        self.tx_hash = tx_hash
