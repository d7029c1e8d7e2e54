"""Certificate checks kept per certificate: a parse and an issued-by-this-CA verdict, each
computed once and answered again from a bounded table, refusals as well as acceptances.

A first-use certificate costs an X.509 parse and a chain check (a CA signature verified
with `cryptography`, ~0.4 ms) before the transaction can be refused; without a memo a
flood of transactions carrying a certificate that no member CA issued costs every node
that much per transaction, again and again. Both answers are pure functions of their
inputs, so they are kept under exactly those inputs:

* `parse(der)`: `cert_info(der)`, under the certificate's SHA-256;
* `verify_issued(der, ca_der, at_ms)`: `verify_cert(der, ca_der, at_ms)`, whose
  time-independent part (issuer, CA signature, organisation, kind) is kept under the
  SHA-256 of the certificate *and* of the CA certificate, with the validity periods of
  both; the periods are checked against `at_ms` at every use, in the order and with the
  words of `verify_cert`.

Nothing read from governance is kept here: the caller reads the organisation (its status
and CA certificate) and the revocation lists afresh for each transaction, so a changed CA
certificate is a different key, and a revocation or a removed organisation refuses the
next transaction as without the memo. The answers are the ones the uncached functions give
(same result, same error text), so a node's verdict does not depend on its history.

Each table holds at most `MAX_ENTRIES` answers (the oldest dropped first); a lock keeps
them consistent when admission runs on several threads.
"""

from __future__ import annotations

import hashlib
import threading

from tianfu.identity.certs import CertInfo, IdentityError, cert_info, verify_cert

MAX_ENTRIES = 2048  # per table; a certificate is at most 4 KiB (`MAX_CERT_SIZE`)

# An answer: the result, or the text of the IdentityError the check raised.
_Issued = tuple[CertInfo, int, int] | str  # (leaf info, CA not_before, CA not_after)

_lock = threading.Lock()
_parsed: dict[bytes, CertInfo | str] = {}
_issued: dict[bytes, _Issued] = {}


def _keep(table: dict[bytes, object], key: bytes, answer: object) -> None:
    with _lock:
        if key not in table and len(table) >= MAX_ENTRIES:
            table.pop(next(iter(table)), None)  # the oldest
        table[key] = answer


def parse(der: bytes) -> CertInfo:
    """`cert_info(der)`, answered from the table when this certificate was parsed before."""
    if not isinstance(der, bytes | bytearray):
        return cert_info(der)  # its typed refusal, not kept
    key = hashlib.sha256(der).digest()
    answer = _parsed.get(key)
    if answer is None:
        try:
            answer = cert_info(der)
        except IdentityError as exc:
            answer = str(exc)
        _keep(_parsed, key, answer)  # type: ignore[arg-type]
    if isinstance(answer, str):
        raise IdentityError(answer)
    return answer


def verify_issued(der: bytes, ca_der: bytes, at_ms: int) -> CertInfo:
    """`verify_cert(der, ca_der, at_ms)`, with the chain check answered from the table when
    this certificate was checked against this CA certificate before."""
    if not isinstance(der, bytes | bytearray) or not isinstance(ca_der, bytes | bytearray):
        return verify_cert(der, ca_der, at_ms)  # its typed refusal, not kept
    key = hashlib.sha256(der).digest() + hashlib.sha256(ca_der).digest()
    answer = _issued.get(key)
    if answer is None:
        try:
            info = verify_cert(der, ca_der)
            ca = parse(ca_der)
            answer = (info, ca.not_before_ms, ca.not_after_ms)
        except IdentityError as exc:
            answer = str(exc)
        _keep(_issued, key, answer)  # type: ignore[arg-type]
    if isinstance(answer, str):
        raise IdentityError(answer)
    info, ca_not_before, ca_not_after = answer
    if not info.not_before_ms <= at_ms <= info.not_after_ms:
        raise IdentityError("certificate is not valid at this time (not yet valid or expired)")
    if not ca_not_before <= at_ms <= ca_not_after:
        raise IdentityError("the CA certificate is not valid at this time")
    return info


def clear() -> None:
    """Forget every kept answer (tests)."""
    with _lock:
        _parsed.clear()
        _issued.clear()
