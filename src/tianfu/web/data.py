"""What the console reads from a node: chain data through its `ChainService`, nothing else.

`ConsoleData` wraps the service the API serves (read methods only) and adds what pages need
beside the raw objects: the names of enrolled identities and validators instead of hex,
the validator set that signed a block, transactions per second over recent blocks. Reads
that cost a contract execution (governance views) are few per page; names are read one
enrolment record per address a page shows (`Names`), so no page scans the identities but
the organisations page, which counts them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from tianfu.api.service import ChainService, NotFound, QueryFailed
from tianfu.apps.evidence import certificate
from tianfu.codec import decode
from tianfu.execution.contract_api import address_of
from tianfu.proofs.build import ProofUnavailable
from tianfu.proofs.documents import make_document, merge_single_blocks
from tianfu.proofs.errors import VerificationError
from tianfu.types import Block, BlockHeader, CommitCertificate, Receipt
from tianfu.types.genesis import Genesis

log = logging.getLogger(__name__)

RECENT_BLOCKS = 10
RATE_WINDOW = 50  # blocks over which transactions per second are measured
MAX_SCAN = 1000  # records listed on one page
PAGE_SIZE = 50  # records of one kind per page of a paged list
MAX_CURSOR = 200  # characters of a page cursor (`before=`)
# Enrolments counted on the organisations page: one scan of them is one read of the node's
# read budget, and no read may hold a slot long (100,000 took seconds on a loaded machine).
MAX_IDENTITIES = 5_000
_ADDRESS = re.compile(r"[0-9a-f]{40}")
_TX_HASH = re.compile(r"[0-9a-f]{64}")
HEIGHT_CURSOR = re.compile(r"[0-9]{1,18}(-[0-9]{1,9})?")  # a cursor of `created_page`
# The cursors of `scan_page` lists, each the end of a record's key after the list's prefix:
# a trace step's number (`ev:<code>:<8 digits>`), a work's history entry's
# (`hist:<work>:<6 digits>`), a fund's payments record's `[<org>:]<identity hash>`.
TRACE_STEP_CURSOR = re.compile(r"[0-9]{8,18}")
HISTORY_CURSOR = re.compile(r"[0-9]{6,18}")
PAYMENTS_CURSOR = re.compile(r"(?:[^\x00-\x1f\x7f-\x9f]{1,128}:)?[0-9a-f]{64}")


class IdentityCounts(NamedTuple):
    """Enrolled identities per organisation; when not `complete` more than `limit` are
    enrolled and each count is at least the number given."""

    per_org: dict[str, int]
    complete: bool
    limit: int


@dataclass(frozen=True)
class Name:
    """An enrolled identity: organisation, name and kind (admin, member, node)."""

    org: str
    name: str
    kind: str


@dataclass(frozen=True)
class Paged:
    """One page of a list, newest first: its rows and the cursor of the next (older) page
    (None: this is the last page). `first` is True on the list's first page."""

    rows: list[Any]
    older: str | None
    first: bool


@dataclass(frozen=True)
class Signer:
    """One precommit of a commit certificate, with the validator it belongs to."""

    public_key: str
    name: str
    org: str
    power: int
    time_ms: int


class Names:
    """Enrolled identities by address (`cert/<address>` of governance), read one record at
    a time as a page asks for them and kept for the page: what a page costs does not grow
    with the number of identities."""

    def __init__(self, data: ConsoleData) -> None:
        self._data = data
        self._read: dict[str, Name | None] = {}

    def get(self, address: Any, default: Name | None = None) -> Name | None:
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            return default
        if address not in self._read:
            rec = self._data.record("governance", f"cert/{address}")
            self._read[address] = (
                Name(str(rec.get("org", "")), str(rec.get("name", "")), str(rec.get("kind", "")))
                if isinstance(rec, dict)
                else None
            )
        found = self._read[address]
        return default if found is None else found

    def __contains__(self, address: object) -> bool:
        return self.get(address) is not None


class ConsoleData:
    """The console's reads over `service` (see the module docstring)."""

    def __init__(self, service: ChainService) -> None:
        self.service = service

    # -- chain -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return self.service.status()

    def height(self) -> int:
        return int(self.status().get("height", 0))

    def headers(self, start: int, limit: int) -> list[BlockHeader]:
        if start < 1 or limit < 1:
            return []
        return self.service.get_headers(start, limit)

    def recent_headers(self, top: int, limit: int = RECENT_BLOCKS) -> list[BlockHeader]:
        """Up to `limit` headers ending at `top`, newest first."""
        start = max(1, top - limit + 1)
        return list(reversed(self.headers(start, top - start + 1)))

    def tx_rate(self, top: int) -> float:
        """Committed transactions per second over the last `RATE_WINDOW` blocks."""
        if top < 2:
            return 0.0
        hs = self.headers(max(1, top - RATE_WINDOW), RATE_WINDOW + 1)
        if len(hs) < 2:
            return 0.0
        span = hs[-1].time_ms - hs[0].time_ms
        txs = sum(h.tx_count for h in hs[1:])
        return txs * 1000.0 / span if span > 0 else 0.0

    def block(self, height: int) -> Block | None:
        return self.service.get_block(height) if height >= 1 else None

    def receipts(self, height: int) -> list[Receipt]:
        return self.service.get_receipts(height) or []

    def certificate(self, height: int) -> CommitCertificate | None:
        return self.service.get_certificate(height) if height >= 1 else None

    def signers(self, cert: CommitCertificate | None) -> list[Signer]:
        """The certificate's precommits with their validators' names and organisations."""
        if cert is None:
            return []
        by_key = {v["public_key"]: v for v in self.validators_at(cert.height)}
        out = []
        for cs in cert.signatures:
            key = cs.validator.hex()
            v = by_key.get(key, {})
            out.append(
                Signer(
                    key,
                    str(v.get("name", "")),
                    str(v.get("org", "")),
                    int(v.get("power", 0)),
                    cs.time_ms,
                )
            )
        return out

    def validators_at(self, height: int) -> list[dict[str, Any]]:
        at = getattr(self.service, "validators_at", None)
        return list(at(height)) if at is not None else self.service.validators()

    def validator_of(self, height: int, public_key: bytes) -> dict[str, Any] | None:
        """The validator of the set signing `height` with that key (None: not a member)."""
        key = public_key.hex()
        return next((v for v in self.validators_at(height) if v["public_key"] == key), None)

    def proposers(self, headers: list[BlockHeader]) -> dict[bytes, dict[str, Any]]:
        """The validators that proposed `headers` by public key (from the sets signing the
        first and last of them: a list page spans few validator-set changes, and a key
        not found is shown as hex)."""
        if not headers:
            return {}
        heights = {headers[0].height, headers[-1].height}
        return {bytes.fromhex(v["public_key"]): v for h in heights for v in self.validators_at(h)}

    def deployed(self, contract: str) -> bool:
        """Whether `contract` is deployed on this chain (an application's contract)."""
        return isinstance(self.view("governance", "get_contract", contract), dict)

    def native_contracts(self) -> frozenset[str]:
        """The contracts the node runs natively (governance, ...): not deployed, no source."""
        natives = getattr(self.service, "native_contracts", None)
        return frozenset(natives()) if natives is not None else frozenset({"governance"})

    def block_by_hash(self, block_hash: bytes) -> int | None:
        """The height of the block with that header hash, at any height (one index lookup)."""
        return self.service.get_block_height(block_hash)

    def tx(self, tx_hash: bytes) -> Any:
        return self.service.get_tx(tx_hash)

    def validators(self) -> list[dict[str, Any]]:
        return self.service.validators()

    # -- governance and application state ----------------------------------------------
    def view(self, contract: str, method: str, *args: Any) -> Any:
        """A contract view's answer, or None if the contract or record does not exist."""
        try:
            return self.service.query(contract, method, list(args))
        except (NotFound, QueryFailed):
            return None

    def scan(self, contract: str, prefix: str, limit: int = MAX_SCAN) -> list[tuple[str, Any]]:
        """Latest records of `contract` under a key prefix (the node's `scan_state`)."""
        scan = getattr(self.service, "scan_state", None)
        return list(scan(contract, prefix, limit)) if scan is not None else []

    def scan_page(
        self, contract: str, prefix: str, before: str | None, limit: int = PAGE_SIZE
    ) -> Paged:
        """One page of `contract`'s records under `prefix` in descending key order (newest
        first where the keys end in a sequence number): (key after the prefix, value) rows
        below the cursor `before`; a key range read of `limit` + 1 entries (the node's
        `scan_state_before`), whatever the number of records."""
        read = getattr(self.service, "scan_state_before", None)
        if read is None:
            return Paged([], None, True)
        rows = [(k[len(prefix) :], v) for k, v in read(contract, prefix, before, limit + 1)]
        older = rows[limit - 1][0] if len(rows) > limit else None
        return Paged(rows[:limit], older, before is None)

    def created_page(
        self,
        contract: str,
        creations: dict[str, str],
        prefix: str,
        before: str | None,
        limit: int = PAGE_SIZE,
    ) -> Paged:
        """One page of `contract`'s records at `prefix` + id, newest first by creation: the
        ids are those of the events that create them (`creations`: event name -> the field
        holding the new id, or a list of new ids), found through the store's event index
        (the node's `events_before`), one block at a time and at most `limit` + 1 blocks
        per page, so a page decodes only the blocks it shows (one block holding more than
        `limit` such events fills a page alone): (id, record) rows. The cursor is `H`
        (blocks below height H) or `H-K` (block H after its K newest such events, then the
        blocks below it): `HEIGHT_CURSOR`."""
        read = getattr(self.service, "events_before", None)
        if read is None:
            return Paged([], None, True)
        top, skip_height, skip = None, 0, 0
        if before is not None:
            height, _, done = before.partition("-")
            skip_height, skip = int(height), int(done or 0)
            top = skip_height + 1 if skip else skip_height
        rows: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for _block in range(limit + 1):
            events = read(contract, tuple(creations), top, 1)
            if not events:
                return Paged(rows, None, before is None)
            top = events[0][0]
            for position, (height, _index, event) in enumerate(events, 1):
                if height == skip_height and position <= skip:
                    continue
                if len(rows) >= limit:
                    older = f"{height}-{position - 1}" if position > 1 else str(height + 1)
                    return Paged(rows, older, before is None)
                made = event.data.get(creations[event.name])
                for rid in made if isinstance(made, list) else [made]:
                    if isinstance(rid, str) and rid not in seen:
                        seen.add(rid)
                        rows.append((rid, self.record(contract, prefix + rid)))
        return Paged(rows, str(top), before is None)

    def counted_page(
        self, contract: str, prefix: str, count: int, before: str | None, limit: int = PAGE_SIZE
    ) -> Paged:
        """One page, newest first, of a log kept as `prefix` + 1 ... `prefix` + `count`
        (unpadded numbers): (number, value) rows below the cursor `before` (a number)."""
        top = count if before is None else min(count, int(before) - 1)
        numbers = range(top, max(0, top - limit), -1)
        rows = [(str(n), self.record(contract, f"{prefix}{n}")) for n in numbers]
        low = top - limit + 1
        return Paged(rows, str(low) if low > 1 else None, before is None)

    @staticmethod
    def list_page(items: list[Any], before: str | None, limit: int = PAGE_SIZE) -> Paged:
        """One page, newest first, of an append-only list (a record's list of ids): items
        whose position is below the cursor `before` (a position)."""
        top = len(items) if before is None else min(len(items), int(before))
        low = max(0, top - limit)
        return Paged(list(reversed(items[low:top])), str(low) if low > 0 else None, before is None)

    def record(self, contract: str, key: str) -> Any:
        try:
            return self.service.read_state(contract, key, None, False).value
        except (NotFound, QueryFailed, ValueError):
            return None

    def record_at(self, contract: str, key: str, height: int) -> Any:
        """A record as block `height` left it (None: absent, or no such height)."""
        try:
            return self.service.read_state(contract, key, height, False).value
        except (NotFound, QueryFailed, ValueError):
            return None

    def reader_at(self, height: int) -> Callable[[str, str], Any]:
        """`record` as a transaction of block `height` saw the contracts: a contract's
        deployment record (`governance` `contract/<name>`) as it was before and after that
        block, None when the block changed it (an upgrade: which source the transaction ran
        is not known here); any other record (a source, by its hash) the latest."""

        def read(contract: str, key: str) -> Any:
            if contract != "governance" or not key.startswith("contract/"):
                return self.record(contract, key)
            after = self.record_at(contract, key, height)
            before = self.record_at(contract, key, height - 1) if height > 1 else None
            return None if before is not None and before != after else after

        return read

    def orgs(self) -> list[dict[str, Any]]:
        return list(self.view("governance", "list_orgs") or [])

    def contracts(self) -> list[dict[str, Any]]:
        return [c for c in self.view("governance", "list_contracts") or [] if isinstance(c, dict)]

    def proposals_page(self, before: str | None) -> Paged:
        """One page of the governance proposals (open and decided), newest first, each as
        the governance view shows it when it is open (its status then accounts for expiry)."""
        made = {"ProposalMade": "id", "ContractProposed": "id"}
        p = self.created_page("governance", made, "proposal/", before)
        shown = {q.get("id"): q for q in self.open_proposals()}
        rows = [shown.get(v.get("id"), v) for _, v in p.rows if isinstance(v, dict)]
        return Paged(rows, p.older, p.first)

    def open_proposals(self) -> list[dict[str, Any]]:
        return [p for p in self.view("governance", "list_proposals") or [] if isinstance(p, dict)]

    # -- proofs --------------------------------------------------------------------------
    def evidence_certificate(self, deposit_id: str) -> dict[str, Any] | None:
        """The evidence certificate of a deposit, from the node's proof builder (None: no
        such deposit, or a service without proofs)."""
        key = certificate.deposit_key(deposit_id)
        return self.record_certificate(certificate.KIND, certificate.CONTRACT, key)

    def record_certificate(self, kind: str, contract: str, key: str) -> dict[str, Any] | None:
        """The certificate of kind `kind` of the record at `key` of `contract` (an evidence
        deposit, a photograph's authorship): the proofs of the transaction that wrote it
        (its "tx") and of the record, from the node's proof builder (None: no such record,
        or a service without proofs)."""
        builder_of = getattr(self.service, "proof_builder", None)
        record = self.record(contract, key)
        if builder_of is None or not isinstance(record, dict):
            return None
        tx = record.get("tx")
        if not isinstance(tx, str) or not _TX_HASH.fullmatch(tx):
            return None
        builder = builder_of()
        try:
            tx_doc = builder.tx_document(bytes.fromhex(tx))
            state_doc = builder.state_document([(contract, key)], tx_doc["height"])
            bundle = merge_single_blocks([tx_doc, state_doc])
            genesis = decode(self.service.genesis(), Genesis)
            return make_document(kind, bundle, genesis)
        except (ProofUnavailable, ValueError, VerificationError) as exc:
            log.warning("no %s certificate for %s/%s: %s", kind, contract, key, exc)
            return None

    # -- names -----------------------------------------------------------------------------
    def names(self) -> Names:
        """Enrolled identities by address, each read when a page asks for it."""
        return Names(self)

    def name_of(self, address: Any) -> Name | None:
        return self.names().get(address)

    def identity_counts(self, limit: int | None = None) -> IdentityCounts:
        """Enrolled identities per organisation, the organisations page's counts: a scan of
        at most `limit` (default MAX_IDENTITIES) + 1 enrolments. The governance contract
        keeps no count, so past `limit` the counts are those of the first `limit`
        enrolments in address order, marked incomplete."""
        cap = MAX_IDENTITIES if limit is None else limit
        rows = self.scan("governance", "cert/", cap + 1)
        counts: dict[str, int] = {}
        for _key, rec in rows[:cap]:
            if isinstance(rec, dict):
                org = str(rec.get("org", ""))
                counts[org] = counts.get(org, 0) + 1
        return IdentityCounts(counts, len(rows) <= cap, cap)

    @staticmethod
    def address(scheme: int, public_key: bytes) -> str:
        return address_of(scheme, public_key)
