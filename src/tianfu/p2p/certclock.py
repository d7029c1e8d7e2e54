"""Warnings for handshakes that fail because a peer's certificate is outside its validity
period by this node's clock.

A node whose clock is hours off sees every peer's certificate as "not yet valid" (clock
behind: a node certificate's notBefore is only `identity.certs.CLOCK_SKEW` before its
issue) or "expired" (clock ahead), and so connects to no one. Other handshake failures are
logged at DEBUG (a scanner or a stale peer is not news); these are logged as a WARNING that
names the peer, this node's UTC clock and the likely causes, at most once per
`every_s` seconds per peer (the first failure always).

Recognised failures: OpenSSL's `SSLCertVerificationError` with verify code 9
(X509_V_ERR_CERT_NOT_YET_VALID) or 10 (X509_V_ERR_CERT_HAS_EXPIRED), and the
`CertificateTimeError` of `tls.verify_peer` (the check an SM2 chain's attested handshake
relies on).
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
import time
from collections.abc import Callable

from tianfu.p2p.framing import CertificateTimeError

log = logging.getLogger(__name__)

CERT_NOT_YET_VALID = 9  # X509_V_ERR_CERT_NOT_YET_VALID
CERT_HAS_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED

_CAUSES = {
    "not yet valid": "this machine's clock is behind, or the peer's certificate was issued "
    "by a machine whose clock is ahead",
    "expired": "this machine's clock is ahead, or the peer's certificate has expired and "
    "must be renewed",
}


def time_problem(exc: BaseException) -> str | None:
    """ "not yet valid" or "expired" if `exc` is a handshake failure caused by a certificate
    outside its validity period by this node's clock, else None."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code == CERT_NOT_YET_VALID:
            return "not yet valid"
        if exc.verify_code == CERT_HAS_EXPIRED:
            return "expired"
        return None
    if isinstance(exc, CertificateTimeError):
        return exc.problem
    return None


class CertClockWarnings:
    """Logs certificate validity-period failures, rate-limited per peer, and counts each
    in `stats["cert_time_failures"]`.

    At most `max_tracked` peers are remembered (inbound connections come from anyone):
    when full, peers last warned about over `every_s` ago are forgotten, then the oldest.
    """

    def __init__(
        self,
        stats: dict[str, int],
        every_s: float = 60.0,
        *,
        max_tracked: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every_s < 0 or max_tracked < 1:
            raise ValueError("need every_s >= 0 and max_tracked >= 1")
        self.stats, self.every_s, self.max_tracked = stats, every_s, max_tracked
        self._clock = clock
        self._last: dict[str, float] = {}  # peer key -> when last warned (insertion = age)

    def __len__(self) -> int:
        return len(self._last)

    def check(self, exc: BaseException, key: str, peer: object = None, *, inbound: bool) -> bool:
        """Whether `exc` is a certificate validity-period failure; if it is, count it and
        log a WARNING unless one was logged for `key` less than `every_s` ago. `key` is what
        the limit is per (the dial target, or the remote host); `peer`, a (host, port) or a
        name, names the peer in the message (`key` if not given)."""
        problem = time_problem(exc)
        if problem is None:
            return False
        self.stats["cert_time_failures"] = self.stats.get("cert_time_failures", 0) + 1
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            return True
        self._last.pop(key, None)
        if len(self._last) >= self.max_tracked:
            self._forget(now)
        self._last[key] = now
        utc = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        log.warning(
            "%s handshake with %s failed: the peer's certificate is %s by this node's clock "
            "(now %s): %s (%s)",
            "inbound" if inbound else "outbound",
            _name(peer) or key,
            problem,
            utc,
            _CAUSES[problem],
            exc,
        )
        return True

    def _forget(self, now: float) -> None:
        for k in [k for k, t in self._last.items() if now - t >= self.every_s]:
            del self._last[k]
        while len(self._last) >= self.max_tracked:
            del self._last[next(iter(self._last))]


def _name(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "" if peer is None else str(peer)
