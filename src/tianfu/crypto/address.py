"""Account addresses: 40 hex characters derived from a public key with its suite's hash."""

from __future__ import annotations

from tianfu.codec import hash_domain_with
from tianfu.types.suites import hash_for_scheme

ADDRESS_TAG = "tianfu/address/v1"
_ADDRESSES: dict[tuple[int, bytes], str] = {}
_ADDRESSES_MAX = 65_536


def address_of(scheme: int, public_key: bytes) -> str:
    """An account address: 40 hex characters derived from the signer's public key, with the
    hash of the key's crypto suite (SM3 for an SM2 key, else SHA-256), so an address is the
    same on every node and in every client. Memoised (a pure function; every admission and
    execution of a transaction asks)."""
    key = (scheme, public_key)
    address = _ADDRESSES.get(key)
    if address is None:
        digest = hash_domain_with(hash_for_scheme(scheme), ADDRESS_TAG, bytes([scheme]), public_key)
        address = digest[:20].hex()
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
        _ADDRESSES[key] = address
    return address
