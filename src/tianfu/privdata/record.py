"""The on-chain record of one piece of private content, as a contract keeps it.

A contract that keeps private content writes, in its own state, under `pd:<hash>`:

    {"hash": "<64 hex>",        the SHA-256 of the stored blob (`sealing`)
     "size": <int>,             the blob's length in bytes
     "owner": "<address>",      who grants and revokes readers (the contract decides)
     "org": "<organisation>",   the writer's organisation (quota accounting)
     "readers": {org: bytes},   the content key wrapped for each reader organisation
     "purged": <bool>,          true: the content is deleted everywhere, readers is {}
     ...}                       any further fields of the application (ignored here)

These are ordinary contract values: no sandbox or ledger support is needed. Nodes read them
from the latest committed state and act on them: an organisation is *granted* exactly while
the record is not purged and names it among the readers. A value under `pd:` that is not of
this shape grants nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tianfu.privdata.sealing import MAX_BLOB_BYTES, WRAPPED_KEY_BYTES

RECORD_PREFIX = "pd:"
HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")
CONTRACT_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
MAX_READERS = 64
RECORD_MARK = b"/" + RECORD_PREFIX.encode()  # in every full state key of a record


def record_key(content_hash: str) -> str:
    """The state key (within its contract) of the record of `content_hash`."""
    return RECORD_PREFIX + content_hash


@dataclass(frozen=True)
class PrivateRecord:
    contract: str
    hash: str
    size: int
    owner: str
    org: str
    readers: dict[str, bytes]
    purged: bool

    def grants(self, org: str) -> bool:
        """Whether `org` may hold and read the content now."""
        return not self.purged and org in self.readers

    def granted(self, orgs: frozenset[str]) -> bool:
        return not self.purged and any(o in self.readers for o in orgs)


def parse_record(contract: str, content_hash: str, value: Any) -> PrivateRecord | None:
    """The record stored under `pd:<content_hash>` of `contract`, or None when there is none
    or it is malformed (a malformed record grants nobody)."""
    if not isinstance(value, dict):
        return None
    h, size, owner, org = value.get("hash"), value.get("size"), value.get("owner"), value.get("org")
    readers, purged = value.get("readers"), value.get("purged")
    if h != content_hash or not isinstance(h, str) or not HASH_RE.match(h):
        return None
    if type(size) is not int or not 0 < size <= MAX_BLOB_BYTES:
        return None
    if not isinstance(owner, str) or not isinstance(org, str) or type(purged) is not bool:
        return None
    if not isinstance(readers, dict) or len(readers) > MAX_READERS:
        return None
    for reader, wrapped in readers.items():
        if not isinstance(reader, str) or not isinstance(wrapped, bytes):
            return None
        if len(wrapped) != WRAPPED_KEY_BYTES:
            return None
    if purged and readers:
        return None
    return PrivateRecord(contract, h, size, owner, org, dict(readers), purged)


def split_state_key(key: bytes) -> tuple[str, str] | None:
    """(contract, hash) of a full state key `<contract>/pd:<hash>`, else None."""
    at = key.find(RECORD_MARK)
    if at <= 0:
        return None
    try:
        contract = key[:at].decode("ascii")
        content_hash = key[at + len(RECORD_MARK) :].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not CONTRACT_RE.match(contract) or not HASH_RE.match(content_hash):
        return None
    return contract, content_hash
