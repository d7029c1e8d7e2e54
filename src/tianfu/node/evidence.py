"""Reports the double signs the consensus driver saw to governance, as signed transactions.

Every second (by default) the `EvidenceReporter` takes the driver's pending evidence
(`ConsensusDriver.pending_evidence`), and for each `DuplicateVoteEvidence` not yet recorded
on chain (`governance.get_evidence` view) signs a `governance.submit_evidence(vote_a,
vote_b)` transaction with the node's identity and submits it through the node's service
(mempool + gossip). A submitted one is not sent again while its transaction can still
commit; if it expires unseen it is sent again, and if it commits without the evidence being
recorded (the contract refused it) the reporter gives up on it; refused at admission it
gives up too, unless the mempool had no room (`TxBusy`: a full pool, the node's own share
used up), when it is sent again at the next pass. What it remembers is bounded, and holds
at least what the driver's evidence book holds, so evidence found recorded is not looked
up again. Conflicting proposals are not evidence the contract takes, so they are skipped.
See docs/adr/0012-reviewed-admission.md.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

from tianfu.api.service import StateUnavailable, TxBusy, TxRejected
from tianfu.codec import encode
from tianfu.consensus.evidencebook import CAPACITY
from tianfu.consensus.messages import DuplicateVoteEvidence
from tianfu.crypto import sign_tx
from tianfu.execution.errors import host_read_failure
from tianfu.identity import Identity
from tianfu.types import Transaction, TxBody, Vote

log = logging.getLogger(__name__)

GOV = "governance"
EvidenceKey = tuple[bytes, int, int, int]  # (validator key, height, round, type)


class ChainService(Protocol):
    """What the reporter needs of `tianfu.node.service.NodeService`."""

    ledger: Any  # height, validator_set(h), params(h)
    chain_id: str

    async def submit(self, tx: Transaction) -> bytes: ...
    def query(self, contract: str, method: str, args: list[Any]) -> Any: ...
    def get_tx(self, tx_hash: bytes) -> Any: ...


@dataclass(eq=False)
class EvidenceReporter:
    """Submits each double sign once (see the module docstring). Run `run()` as a task."""

    identity: Identity
    service: ChainService
    pending: Callable[[], list[Any]]
    _: KW_ONLY
    interval_s: float = 1.0
    expiry_blocks: int = 20
    # What it remembers as done covers everything the driver's book can hold
    # (`EvidenceBook`, 2,048): with less, each pass forgets the oldest done evidence before
    # it reaches the newest, and asks governance again about every entry, every pass.
    max_remembered: int = CAPACITY
    stats: Counter[str] = field(default_factory=Counter, init=False)
    _done: OrderedDict[EvidenceKey, None] = field(default_factory=OrderedDict, init=False)
    # evidence submitted -> (its transaction's hash, the transaction's expiry)
    _sent: OrderedDict[EvidenceKey, tuple[bytes, int]] = field(
        default_factory=OrderedDict, init=False
    )

    async def run(self) -> None:
        """Report every `interval_s` until cancelled."""
        if self.identity.info.kind not in ("node", "admin"):
            log.warning(
                "evidence reporting is off: a %r identity may not submit evidence",
                self.identity.info.kind,
            )
            return
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.report_once()
            except Exception as exc:  # a task's top level: log, try again next time
                if not isinstance(exc, StateUnavailable) and not host_read_failure(exc):
                    log.exception("reporting double-sign evidence failed")
                    continue
                # The store cannot be read now (locked, failing, closed): the next pass.
                if self.stats["unreadable"] % 60 == 0:
                    log.warning(
                        "double-sign evidence not reported now (tried again): %s: %s",
                        type(exc).__name__,
                        exc,
                    )
                self.stats["unreadable"] += 1

    async def report_once(self) -> int:
        """One pass over the pending evidence; returns how many transactions it submitted."""
        submitted = 0
        for ev in self.pending():
            if not isinstance(ev, DuplicateVoteEvidence):
                continue
            a, b = ev.vote_a, ev.vote_b
            key: EvidenceKey = (a.validator, a.height, a.round, a.type)
            if key in self._done or a.chain_id != self.service.chain_id:
                continue
            name = self._validator_name(a)
            if name is None:  # the set of that height is not known here (yet)
                continue
            if self._recorded(name, a):
                self._remember_done(key)
                continue
            sent = self._sent.get(key)
            if sent is not None:
                tx_hash, expiry = sent
                if self.service.get_tx(tx_hash) is not None:  # committed, yet not recorded
                    log.warning("governance refused the evidence against %s at %d", name, a.height)
                    self.stats["refused"] += 1
                    self._remember_done(key)
                    continue
                if self.service.ledger.height < expiry:
                    continue  # may still commit
                del self._sent[key]  # expired unseen: send it again
            tx = self._transaction(a, b)
            try:
                await self.service.submit(tx)
            except TxBusy as exc:  # no room now (nor for the rest): the next pass tries again
                if self.stats["busy"] == 0 or self.stats["busy"] % 60 == 0:
                    log.warning(
                        "evidence against %s at %d not admitted now (sent again): %s",
                        name,
                        a.height,
                        exc,
                    )
                self.stats["busy"] += 1
                break
            except TxRejected as exc:
                log.warning("evidence against %s at %d not admitted: %s", name, a.height, exc)
                self.stats["rejected"] += 1
                self._remember_done(key)
                continue
            self._sent[key] = (tx.hash, tx.body.expiry)
            self._trim(self._sent)
            self.stats["submitted"] += 1
            submitted += 1
            log.warning(
                "submitted double-sign evidence against %s at height %d round %d",
                name,
                a.height,
                a.round,
            )
        return submitted

    # -- helpers ---------------------------------------------------------------------------
    def _validator_name(self, vote: Vote) -> str | None:
        try:
            validator = self.service.ledger.validator_set(vote.height).by_key(vote.validator)
        except ValueError:  # InvalidBlock: a height beyond what this node has committed
            return None
        return None if validator is None else str(validator.name)

    def _recorded(self, name: str, vote: Vote) -> bool:
        args = [name, vote.height, vote.round, vote.type]
        return self.service.query(GOV, "get_evidence", args) is not None

    def _transaction(self, a: Vote, b: Vote) -> Transaction:
        kp = self.identity.keypair
        address = self.identity.info.address
        registered = self.service.query(GOV, "get_identity", [address]) is not None
        ledger = self.service.ledger
        next_height = ledger.height + 1
        window = ledger.params(next_height).tx_expiry_window
        body = TxBody(
            1,
            self.service.chain_id,
            kp.scheme,
            kp.public_key,
            secrets.randbits(63),
            next_height + min(self.expiry_blocks, window),
            GOV,
            "submit_evidence",
            [encode(a), encode(b)],
            b"" if registered else self.identity.cert_der,
        )
        return sign_tx(kp, body)

    def _remember_done(self, key: EvidenceKey) -> None:
        self._sent.pop(key, None)
        self._done[key] = None
        self._trim(self._done)

    def _trim(self, remembered: OrderedDict[Any, Any]) -> None:
        while len(remembered) > self.max_remembered:
            remembered.popitem(last=False)
