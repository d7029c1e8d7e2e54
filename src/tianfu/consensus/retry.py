"""Retrying a write the driver cannot do now (a decided block, the signer state): the waits
between attempts and which failures are logged.

`Retry.wait()` is 0.5 s, then doubles up to 5 s; `Retry.failed(exc)` logs the first
failure and every 12th after it at WARNING ("still cannot <what> (n attempts): <error>"),
so an outage of hours writes a line a minute, not one an attempt.
"""

from __future__ import annotations

import logging

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log

RETRY_S = (0.5, 5.0)  # first and longest wait between attempts
LOG_EVERY = 12  # after the first failure, every 12th is logged (once a minute at 5 s)


class Retry:
    """The backoff and failure count of one retry loop for `what` ("store decided block
    7", "write signer state ...")."""

    def __init__(
        self, what: str, waits: tuple[float, float] = RETRY_S, logger: logging.Logger = log
    ) -> None:
        self.what, self.log = what, logger
        self._next, self._longest = waits
        self.failures = 0

    def wait(self) -> float:
        """Seconds to wait before the next attempt (doubling up to the longest)."""
        delay = self._next
        self._next = min(delay * 2, self._longest)
        return delay

    def failed(self, exc: BaseException) -> None:
        """An attempt failed: count it, and log it if it is the first or a 12th."""
        self.failures += 1
        if self.failures == 1 or self.failures % LOG_EVERY == 0:
            self.log.warning("still cannot %s (%d attempts): %s", self.what, self.failures, exc)
