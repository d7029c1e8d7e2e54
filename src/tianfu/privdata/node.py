"""The node side of private data (`PrivateDataNode`): what the API routes do, what a node
keeps, and what it gives its peers — every decision from the latest committed state.

- A node acts for the organisations whose data keys it holds (normally exactly its own).
  It keeps the content of a record while one of them is granted, deletes it when none is
  (revoked, purged, or the record is gone), and fetches what it is granted but lacks from a
  peer whose organisation is granted too (`tianfu.privdata.distribution`).
- `put`: a member of the node's organisation hands the node content of a committed record
  its organisation is granted; the node checks it against the on-chain hash and size.
- `read`: a member of the node's organisation, granted, and allowed by the contract's read
  policy, gets the plaintext sealed to the request's one-time reply key. The node opens the
  content key wrapped for its organisation; no client ever holds an organisation's key.
- `wrap`: a member of a granted organisation gets the content key wrapped for another
  organisation's registered key — what a grant transaction needs; useless without one.
- `blob_for_peer`: a peer node gets the blob only if its organisation is granted now.

Stored content is checked against its hash whenever it is used; a mismatch deletes the copy,
is counted and logged, and the content is fetched again.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tianfu.privdata.access import (
    BadRequest,
    ChainReader,
    Conflict,
    Forbidden,
    Gone,
    LatestReads,
    NonceCache,
    NotFound,
    PrivateDataError,
    TooLarge,
    verify_request,
)
from tianfu.privdata.keys import KeyringError, OrgKeyring
from tianfu.privdata.messages import PUT, READ, WRAP, AccessRequest
from tianfu.privdata.record import RECORD_MARK, PrivateRecord, split_state_key
from tianfu.privdata.sealing import SealingError, decrypt, seal_to, wrap_key
from tianfu.privdata.store import PrivateStore, QuotaExceeded, Quotas, Tampered

log = logging.getLogger(__name__)
KEYS_FILE = "keys"


class Fetcher(Protocol):
    """What the node needs of the distribution layer (`Distributor`)."""

    def want(self, contract: str, content_hash: str) -> None: ...
    def forget(self, contract: str, content_hash: str) -> None: ...
    def announce(self, record: PrivateRecord) -> None: ...
    def enqueue(self, updates: dict[bytes, bytes | None]) -> None: ...


def load_quotas(home: Path) -> Quotas:
    """The `[private]` section of a node's `node.toml` (all optional)."""
    try:
        raw = tomllib.loads((Path(home) / "node.toml").read_text()).get("private", {})
    except (OSError, tomllib.TOMLDecodeError):
        raw = {}
    base = Quotas()
    quotas = Quotas(
        max_bytes_per_org=int(raw.get("max_bytes_per_org", base.max_bytes_per_org)),
        max_bytes=int(raw.get("max_bytes", base.max_bytes)),
        max_records=int(raw.get("max_records", base.max_records)),
    )
    quotas.validate()
    return quotas


class PrivateDataNode:
    def __init__(
        self,
        ledger: LatestReads,
        store: PrivateStore,
        keyring: OrgKeyring,
        *,
        query: Callable[[str, str, list[Any]], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = ChainReader(ledger, query)
        self.store = store
        self.keyring = keyring
        self.orgs = keyring.orgs
        self.clock = clock
        self.nonces = NonceCache()
        self.fetcher: Fetcher | None = None
        self._lock = threading.Lock()
        self.stats = {
            "uploaded": 0,
            "read": 0,
            "wrapped": 0,
            "refused": 0,
            "fetched": 0,
            "served": 0,
            "refused_peers": 0,
            "deleted": 0,
            "tampered": 0,
            "bad_from_peers": 0,
            "over_quota": 0,
        }

    @classmethod
    def open(
        cls,
        directory: Path,
        ledger: LatestReads,
        orgs: set[str] | frozenset[str],
        *,
        query: Callable[[str, str, list[Any]], Any] | None = None,
        quotas: Quotas | None = None,
    ) -> PrivateDataNode:
        """The node's private data under `directory` (keys made for `orgs` on first use),
        its store reconciled with the latest state (what is no longer granted is deleted)."""
        directory = Path(directory)
        keyring = OrgKeyring.open(directory / KEYS_FILE, set(orgs))
        node = cls(ledger, PrivateStore(directory, quotas), keyring, query=query)
        node.reconcile()
        return node

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- what the chain says ------------------------------------------------------------------
    def block_committed(self, executed: Any) -> None:
        """After each committed block: act on the private records it changed."""
        updates: dict[bytes, bytes | None] = executed.result.updates
        if self.fetcher is not None:
            self.fetcher.enqueue(updates)  # examined off the event loop
        else:
            self.apply_updates(updates)

    def apply_updates(self, updates: dict[bytes, bytes | None]) -> None:
        mark = RECORD_MARK  # one substring test per updated key (~0.2 µs), in a worker thread
        for key in [k for k in updates if mark in k]:
            named = split_state_key(key)
            if named is not None:
                self.refresh(*named)

    def refresh(self, contract: str, content_hash: str) -> None:
        """Keep, delete or fetch the content of one record, as the latest state says."""
        rec = self.chain.record(contract, content_hash)
        if rec is None or not rec.granted(self.orgs):
            if self.fetcher is not None:
                self.fetcher.forget(contract, content_hash)
            if self.store.delete(contract, content_hash):
                self._count("deleted")
                why = "purged" if rec is not None and rec.purged else "no longer granted"
                log.info("private content %s/%s… deleted (%s)", contract, content_hash[:16], why)
            return
        if self.store.has(contract, content_hash):
            self.store.assign(contract, content_hash, rec.org)
        elif self.fetcher is not None:
            self.fetcher.want(contract, content_hash)

    def reconcile(self) -> None:
        """Bring the store in line with the whole latest state (at start, then now and then)."""
        for contract, content_hash in self.store.entries():
            self.refresh(contract, content_hash)
        for contract in self.chain.contracts():
            for rec in self.chain.records(contract):
                if rec.granted(self.orgs) and not self.store.has(contract, rec.hash):
                    self.refresh(contract, rec.hash)

    def _load(self, contract: str, content_hash: str) -> bytes | None:
        """The stored blob, or None; a tampered copy is deleted and fetched again."""
        try:
            return self.store.load(contract, content_hash)
        except Tampered as exc:
            self._count("tampered")
            log.error("%s: deleted%s", exc, "; fetching it again" if self.fetcher else "")
            self.store.delete(contract, content_hash)
            if self.fetcher is not None:
                self.fetcher.want(contract, content_hash)
            raise Conflict(f"{exc}: this node deleted its copy and is fetching it again") from None

    def _granted_record(self, contract: str, content_hash: str, org: str) -> PrivateRecord:
        rec = self.chain.record(contract, content_hash)
        if rec is None:
            raise NotFound(f"no private record {content_hash} in contract {contract!r}")
        if rec.purged:
            raise Gone(f"private record {content_hash[:16]}… was purged (only its hash remains)")
        if not rec.grants(org):
            self._count("refused")
            log.info(
                "refused private content %s/%s… to a member of %s (not granted)",
                contract,
                content_hash[:16],
                org,
            )
            raise Forbidden(f"organisation {org} is not granted private record {content_hash}")
        return rec

    def _member(self, req: AccessRequest, action: str) -> Any:
        try:
            caller = verify_request(self.chain, self.nonces, req, action, self._now_ms())
        except PrivateDataError:
            self._count("refused")
            raise
        if caller.org not in self.orgs:
            self._count("refused")
            raise Forbidden(
                f"this node serves private data to members of {', '.join(sorted(self.orgs))} "
                f"only; a member of {caller.org} uses a node of {caller.org}"
            )
        return caller

    def _granted(self, req: AccessRequest, action: str) -> tuple[Any, str, PrivateRecord]:
        """The member making a request, the content hash (hex) and the record, which must
        grant the member's organisation."""
        caller = self._member(req, action)
        content_hash = req.body.hash.hex()
        return (
            caller,
            content_hash,
            self._granted_record(req.body.contract, content_hash, caller.org),
        )

    # -- API operations -------------------------------------------------------------------------
    def put(self, req: AccessRequest) -> dict[str, Any]:
        caller, content_hash, rec = self._granted(req, PUT)
        body = req.body
        blob = req.blob
        if len(blob) != rec.size:
            raise BadRequest(f"the content is {len(blob)} bytes; the record says {rec.size}")
        try:
            stored = self.store.save(body.contract, content_hash, rec.org, blob)
        except Tampered:
            raise BadRequest("the content does not match the record's hash") from None
        except QuotaExceeded as exc:
            self._count("over_quota")
            raise TooLarge(str(exc)) from None
        if stored:
            self._count("uploaded")
            log.info(
                "private content %s/%s… (%d bytes) received from %s of %s",
                body.contract,
                content_hash[:16],
                len(blob),
                caller.address,
                caller.org,
            )
            if self.fetcher is not None:
                self.fetcher.forget(body.contract, content_hash)
                self.fetcher.announce(rec)
        return {"contract": body.contract, "hash": content_hash, "size": rec.size, "stored": True}

    def read(self, req: AccessRequest) -> dict[str, Any]:
        caller, content_hash, rec = self._granted(req, READ)
        body = req.body
        if not self.chain.policy_allows(body.contract, content_hash, caller.address):
            self._count("refused")
            raise Forbidden(
                f"contract {body.contract!r} does not let {caller.address} read this record now "
                "(its read policy, private_can_read, says no: e.g. no access logged)"
            )
        blob = self._load(body.contract, content_hash)
        if blob is None:
            if self.fetcher is not None:
                self.fetcher.want(body.contract, content_hash)
            raise NotFound(
                f"this node has not received {content_hash[:16]}… yet (it is fetching it "
                "from a granted peer); retry shortly"
            )
        try:
            key = self.keyring.unwrap(caller.org, rec.readers[caller.org])
            plaintext = decrypt(blob, key)
        except (KeyringError, SealingError) as exc:
            raise Conflict(f"the content does not open on this node: {exc}") from None
        try:
            sealed = seal_to(body.reply_key, plaintext)
        except SealingError as exc:
            raise BadRequest(f"the request's reply key: {exc}") from None
        self._count("read")
        log.info(
            "private content %s/%s… read by %s of %s",
            body.contract,
            content_hash[:16],
            caller.address,
            caller.org,
        )
        return {
            "contract": body.contract,
            "hash": content_hash,
            "size": rec.size,
            "sealed": sealed,
        }

    def wrap(self, req: AccessRequest) -> dict[str, Any]:
        caller, content_hash, rec = self._granted(req, WRAP)
        body = req.body
        target = body.target
        if not self.chain.org_active(target):
            raise NotFound(f"{target!r} is not an active member organisation")
        public_key = self.chain.registered_key(target)
        if public_key is None:
            raise NotFound(f"organisation {target} has registered no data key (privdata)")
        try:
            wrapped = wrap_key(self.keyring.unwrap(caller.org, rec.readers[caller.org]), public_key)
        except KeyringError as exc:
            raise Conflict(str(exc)) from None
        except SealingError as exc:
            raise Conflict(f"the data key {target} registered: {exc}") from None
        self._count("wrapped")
        return {
            "contract": body.contract,
            "hash": content_hash,
            "org": target,
            "public_key": public_key,
            "wrapped": wrapped,
        }

    def keys(self) -> list[dict[str, Any]]:
        """This node's data public keys, and whether each is the one registered on chain."""
        return [
            {"org": org, "public_key": pub, "registered": self.chain.registered_key(org) == pub}
            for org, pub in self.keyring.public_keys().items()
        ]

    def describe(self, contract: str, content_hash: str) -> dict[str, Any]:
        """The record as the chain has it (reader organisations, not their keys), and
        whether this node holds its content."""
        rec = self.chain.record(contract, content_hash)
        if rec is None:
            raise NotFound(f"no private record {content_hash} in contract {contract!r}")
        return {
            "contract": contract,
            "hash": rec.hash,
            "size": rec.size,
            "owner": rec.owner,
            "org": rec.org,
            "readers": sorted(rec.readers),
            "purged": rec.purged,
            "held": self.store.has(contract, content_hash),
        }

    def status(self) -> dict[str, Any]:
        with self._lock:
            stats = dict(self.stats)
        wanted = getattr(self.fetcher, "wanted_count", None)
        return {
            "orgs": sorted(self.orgs),
            **self.store.usage(),
            "wanted": wanted() if callable(wanted) else 0,
            "stats": stats,
        }

    # -- peers ----------------------------------------------------------------------------------
    def blob_for_peer(self, org: str, contract: str, content_hash: str) -> bytes | None:
        """The blob for a peer node of `org`, only if `org` is granted now; else None."""
        rec = self.chain.record(contract, content_hash)
        if rec is None or not rec.grants(org):
            self._count("refused_peers")
            log.info(
                "refused private content %s/%s… to a node of %s (not granted)",
                contract,
                content_hash[:16],
                org,
            )
            return None
        try:
            blob = self._load(contract, content_hash)
        except Conflict:
            return None
        if blob is not None:
            self._count("served")
        return blob

    def accept_fetched(self, contract: str, content_hash: str, blob: bytes) -> PrivateRecord | None:
        """Store a blob a peer sent for our request, if still granted and it matches; the
        record if it is stored now (None if not stored, or held already)."""
        rec = self.chain.record(contract, content_hash)
        if rec is None or not rec.granted(self.orgs):
            return None
        if len(blob) != rec.size:
            self._count("bad_from_peers")
            raise Tampered(f"a peer sent {len(blob)} bytes for a record of {rec.size}")
        try:
            stored = self.store.save(contract, content_hash, rec.org, blob)
        except Tampered:
            self._count("bad_from_peers")
            raise
        except QuotaExceeded as exc:
            self._count("over_quota")
            log.warning("private content %s/%s… not kept: %s", contract, content_hash[:16], exc)
            return None
        if not stored:
            return None  # held already (its member's put came first): nothing to announce
        self._count("fetched")
        log.info("private content %s/%s… fetched from a peer", contract, content_hash[:16])
        return rec
