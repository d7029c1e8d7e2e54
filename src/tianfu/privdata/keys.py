"""An organisation's X25519 data keys, as its node keeps them (`OrgKeyring`).

The private half never leaves the organisation's nodes: it is a file in the node's data
directory (`data/private/keys`, mode 0600), created at the node's first start. Its public
half is what the organisation's admin registers on chain (the `privdata` contract) and what
writers wrap content keys for. Every node of one organisation must hold the same keys
(copy the file to the others). A rotated key is appended: old keys stay, so content
wrapped for them still opens; the newest is the one to register.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import msgspec

from tianfu.codec import CodecError, check_version, decode, encode
from tianfu.durable import replace_durably
from tianfu.privdata.sealing import SealingError, new_private_key, public_key_of, unwrap_key

KEYS_FILE = "keys"
MAX_KEYS = 64


class KeyringError(ValueError):
    """A keyring that cannot be read or written, or an organisation this node has no key of."""


class OrgKey(msgspec.Struct, array_like=True, frozen=True):
    org: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    private_key: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    created_ms: int


class KeyringFile(msgspec.Struct, array_like=True, frozen=True):
    version: int
    keys: Annotated[list[OrgKey], msgspec.Meta(max_length=MAX_KEYS)]

    def validate(self) -> None:
        check_version(self)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` atomically and durably, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_durably(path, data)


class OrgKeyring:
    """The data keys this node holds, per organisation (normally just its own), newest last."""

    def __init__(self, keys: list[OrgKey]) -> None:
        self._keys: dict[str, list[bytes]] = {}
        for k in keys:
            self._keys.setdefault(k.org, []).append(k.private_key)
        self._entries = list(keys)

    @property
    def orgs(self) -> frozenset[str]:
        return frozenset(self._keys)

    def public_key(self, org: str) -> bytes:
        """The newest public key of `org` (the one to register on chain)."""
        keys = self._keys.get(org)
        if not keys:
            raise KeyringError(f"this node holds no data key of organisation {org!r}")
        return public_key_of(keys[-1])

    def public_keys(self) -> dict[str, bytes]:
        return {org: public_key_of(keys[-1]) for org, keys in sorted(self._keys.items())}

    def holds(self, org: str, public_key: bytes) -> bool:
        """Whether one of `org`'s keys here has this public key."""
        return any(public_key_of(k) == public_key for k in self._keys.get(org, ()))

    def unwrap(self, org: str, wrapped: bytes) -> bytes:
        """The content key wrapped for `org`, opened with one of its keys (newest first)."""
        for private_key in reversed(self._keys.get(org, ())):
            try:
                return unwrap_key(wrapped, private_key)
            except SealingError:
                continue
        raise KeyringError(
            f"no data key of {org!r} on this node opens the key wrapped for it (is the "
            "organisation's registered data key the one in this node's keyring?)"
        )

    def private_key(self, org: str) -> bytes:
        """The newest private key of `org` (for tests and key export)."""
        keys = self._keys.get(org)
        if not keys:
            raise KeyringError(f"this node holds no data key of organisation {org!r}")
        return keys[-1]

    def rotate(self, org: str) -> bytes:
        """Add a new key for `org`; returns its public key (register it on chain)."""
        if len(self._entries) >= MAX_KEYS:
            raise KeyringError(f"a keyring holds at most {MAX_KEYS} keys")
        key = OrgKey(org, new_private_key(), int(time.time() * 1000))
        self._entries.append(key)
        self._keys.setdefault(org, []).append(key.private_key)
        return public_key_of(key.private_key)

    # -- files ---------------------------------------------------------------------------
    def encode(self) -> bytes:
        return encode(KeyringFile(1, self._entries))

    def save(self, path: Path) -> None:
        write_private(path, self.encode())

    @classmethod
    def load(cls, path: Path) -> OrgKeyring:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise KeyringError(f"no data keyring at {path}") from None
        except OSError as exc:
            raise KeyringError(f"cannot read the data keyring {path}: {exc}") from None
        try:
            return cls(decode(raw, KeyringFile).keys)
        except CodecError as exc:
            raise KeyringError(f"{path} is not a data keyring: {exc}") from None

    @classmethod
    def open(cls, path: Path, orgs: frozenset[str] | set[str]) -> OrgKeyring:
        """The keyring at `path`, with a new key made (and saved) for each org lacking one."""
        ring = cls.load(path) if path.exists() else cls([])
        missing = sorted(set(orgs) - ring.orgs)
        for org in missing:
            ring.rotate(org)
        if missing:
            ring.save(path)
        return ring
