"""Application workloads of the bench: supply-chain finance receivables through their whole
life (issue, accept, split, transfer, pledge, finance, repay), as chains of calls where each
call may use the result of the one before.

A *lane* is one cast of the application: a core enterprise, a tier-1 and a tier-2 supplier
and a bank, all enrolled, with their on-chain roles. A *flow* is one receivable's life on a
lane; it is a generator of `Call`s that is sent each call's result. Many flows run at once
(one per connection of the load generator), each one call at a time, so every call of a
flow finds the state its predecessors left and succeeds. The mix per flow: 1 issue, 1
accept, 1 split, 1 transfer, 3 pledge calls (apply, approve, disburse), 1 repay.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import msgspec

from tianfu.apps.common.scenario import Member, enrolled
from tianfu.apps.env import AppEnv
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.demo import DAY_MS, Party

ROLES = ("core", "tier1", "tier2", "bank")  # the parties of a lane, in this order
FLOW_CONTRACTS = (NAME,)  # contracts whose bench load is flows rather than single calls
CALLS_PER_FLOW = 8
MATURITY_MS = 365 * DAY_MS  # far beyond any run, so no receivable matures during one


@dataclass(frozen=True)
class Call:
    """One transaction of a flow: which party of the lane signs it, and what it calls."""

    signer: str  # the address of the lane's party that signs it
    method: str
    args: tuple[Any, ...]


Lane = dict[str, str]  # role -> address
Flow = Generator[Call, Any, None]


def lane_members(lane: int) -> list[Member]:
    """The cast of lane `lane`, spread over the organisations (the bank with the core
    enterprise's neighbour, as banks and enterprises are different members)."""
    return [
        Member("core", lane, f"bench-core{lane}", ("core_enterprise",), f"Core enterprise {lane}"),
        Member("tier1", lane + 1, f"bench-tier1-{lane}", (), f"Tier-1 supplier {lane}"),
        Member("tier2", lane + 2, f"bench-tier2-{lane}", (), f"Tier-2 supplier {lane}"),
        Member("bank", lane + 3, f"bench-bank{lane}", ("bank",), f"Bank {lane}"),
    ]


def lanes_of(addresses: list[str]) -> list[Lane]:
    """Lanes from their parties' addresses listed lane after lane, in the order of ROLES."""
    n = len(ROLES)
    if not addresses or len(addresses) % n:
        raise ValueError(f"a lane has {n} parties: {', '.join(ROLES)}")
    return [
        dict(zip(ROLES, addresses[i : i + n], strict=True)) for i in range(0, len(addresses), n)
    ]


def lanes_for(senders: int) -> int:
    """Lanes for a number of signing identities (four per lane, at least one lane)."""
    return max(1, math.ceil(senders / len(ROLES)))


def setup_lanes(env: AppEnv, lanes: int, prefix: str = "") -> list[dict[str, Party]]:
    """Deploy the contract through governance if needed, then cast, register, grant and
    enrol every lane's parties (idempotent: a second run finds them)."""
    return [enrolled(env, lane_members(i), Party, (NAME, source), prefix) for i in range(lanes)]


def doc_hash(tag: str, k: int) -> str:
    """The stand-in SHA-256 of flow k's purchase order (`tag` keeps runs apart)."""
    return hashlib.sha256(f"bench purchase order {tag}/{k}".encode()).hexdigest()


def receivable_flow(lane: Lane, tag: str, k: int, now_ms: int) -> Flow:
    """One receivable's life on `lane`: the core enterprise issues it to the tier-1
    supplier, who accepts it, splits it 60/40 and passes the larger part to the tier-2
    supplier, who pledges that part to the bank; the bank approves 90 % and disburses;
    at the end the core enterprise repays the whole receivable (the financed part to the
    bank, the rest to the tier-1 supplier)."""
    amount = 1_000_000 + 100 * (k % 1000)  # fen
    big = amount * 3 // 5
    core, tier1, tier2, bank = (lane[r] for r in ROLES)
    maturity = now_ms + MATURITY_MS
    rid = yield Call(core, "issue", (tier1, amount, maturity, doc_hash(tag, k)))
    yield Call(tier1, "accept", (rid,))
    part, _rest = yield Call(tier1, "split", (rid, [big, amount - big]))
    yield Call(tier1, "transfer", (part, tier2))
    yield Call(tier2, "apply_pledge", (part, bank))
    yield Call(bank, "approve_pledge", (part, big * 9 // 10, 450))
    yield Call(bank, "disburse", (part, f"LOAN-{tag}-{k}"))
    yield Call(core, "repay", (rid, f"WIRE-{tag}-{k}"))


class Flows:
    """Starts flows round-robin over the lanes, numbered from 0 (`tag` must differ between
    generators that share a chain: it keeps their purchase orders apart)."""

    def __init__(self, lanes: list[Lane], tag: str) -> None:
        if not lanes:
            raise ValueError("at least one lane")
        self.lanes = lanes
        self.tag = tag
        self.k = 0

    def new(self, now_ms: int | None = None) -> Flow:
        k = self.k
        self.k += 1
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return receivable_flow(self.lanes[k % len(self.lanes)], self.tag, k, now)


class FlowSession:
    """One flow as a load-generator session (`tianfu.bench.loadgen.Session`): the next
    request is the signed next call; a failed or unreadable answer ends the flow."""

    def __init__(self, flow: Flow, sign: Callable[[Call], bytes]) -> None:
        self.flow = flow
        self.sign = sign
        self.call: Call | None = next(flow)

    def next(self) -> bytes | None:
        return None if self.call is None else self.sign(self.call)

    def answered(self, status: int, body: bytes) -> None:
        result, ok = _receipt_result(status, body)
        if not ok:
            self.call = None
            self.flow.close()
            return
        try:
            self.call = self.flow.send(result)
        except StopIteration:
            self.call = None


def _receipt_result(status: int, body: bytes) -> tuple[Any, bool]:
    """The receipt's result of a committed transaction's answer, and whether it is ok."""
    if status != 200:
        return None, False
    try:
        receipt = msgspec.json.decode(body)["receipt"]
        return receipt["result"], bool(receipt["ok"])
    except (msgspec.DecodeError, KeyError, TypeError):
        return None, False
