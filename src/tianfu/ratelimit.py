"""Token-bucket rate limiting of what peers send or ask: the p2p transports', consensus gossip's,
block sync serving and the pull services'."""

from __future__ import annotations


class TokenBucket:
    """`rate` tokens per second up to `burst`; one token per inbound frame."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = now

    def ready(self, now: float) -> bool:
        """Whether a token is available at time `now` (`take` would spend it)."""
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
        return self._tokens >= 1

    def take(self, now: float) -> bool:
        """Spend a token if one is available at time `now` (seconds, monotonic)."""
        if self.ready(now):
            self._tokens -= 1
            return True
        return False

    def is_full(self, now: float) -> bool:
        """Whether the bucket is back to its burst at time `now` (a new bucket would be the
        same: forgetting this one loses nothing)."""
        return self._tokens + max(0.0, now - self._last) * self.rate >= self.burst
