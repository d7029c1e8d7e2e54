"""SDK helpers for fund supervision: one method per contract operation and query."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, following, view
from tianfu.apps.fund_supervision import NAME

POOL = ""  # the source account meaning "the fund's own pool"


def beneficiary_hash(identity_number: str, salt: str) -> str:
    """The salted SHA-256 (hex) under which a beneficiary is registered. The salt is a secret
    kept by the registering office; only the hash goes on chain."""
    if not salt:
        raise ValueError("a non-empty salt is required: an unsalted ID number hash is guessable")
    return hashlib.sha256(f"tianfu/beneficiary/v1|{salt}|{identity_number}".encode()).hexdigest()


def doc_hash(data: bytes | str) -> str:
    """The SHA-256 (hex) of a supporting document."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


LEVELS = ("province", "city", "county", "township", "village")
REFUSAL_PAGE = 80  # refusals a `refusal_page` returns at most (the contract's MAX_REFUSAL_PAGE)
PAGE_TRIES = 5  # how often `paged_report` reads the pages again when money moved meanwhile


def paged_report(
    query: Callable[..., Any],
    fund_id: str,
    idle_ms: int | None = None,
    limit: int = 200,
    most_pages: int | None = None,
) -> dict[str, Any]:
    """The report of `report` (the same fields) read a page at a time with `report_page`
    (`query(method, *args)` asks the node), however many accounts received from the fund
    (ValueError past `most_pages` pages, if given). The pages are read again while the
    fund's movements changed between its first and last page, so the figures are those of
    one moment (ValueError after PAGE_TRIES)."""
    for _ in range(PAGE_TRIES):
        pages: list[dict[str, Any]] = []
        start: int | None = 1
        while start is not None:
            if most_pages is not None and len(pages) == most_pages:
                raise ValueError(f"fund {fund_id} has more than {most_pages} report pages")
            page = query("report_page", fund_id, idle_ms, start, limit)
            pages.append(page)
            start = following(page, start)
        if len({p["head"]["moves"] for p in pages}) == 1:
            refused = (query("refusals", fund_id), query("refusal_count", fund_id))
            return _combined(fund_id, pages, *refused)
    raise ValueError(f"fund {fund_id} kept moving while its report was read; try again")


def _combined(
    fund_id: str, pages: list[dict[str, Any]], refusals: Any, refusal_count: Any
) -> dict[str, Any]:
    head = pages[-1]["head"]
    levels: dict[str, dict[str, Any]] = {}
    for p in pages:
        for lv in p["levels"]:
            into = levels.setdefault(lv["level"], {k: 0 for k in lv} | {"level": lv["level"]})
            for k, v in lv.items():
                if k != "level":
                    into[k] += v
    held = sum(p["held"] for p in pages)
    conserved = (
        all(p["conserved"] for p in pages)
        and head["pool"] + head["allocated"] == head["total"]
        and head["pool"] + held + head["disbursed"] == head["total"]
    )
    pool_idle = pages[-1]["pool_idle"]
    return {
        "fund": fund_id,
        "purpose": head["purpose"],
        "total": head["total"],
        "pool": head["pool"],
        "disbursed": head["disbursed"],
        "held_in_accounts": held,
        "conserved": conserved,
        "now_ms": head["now_ms"],
        "period_ended": head["period_ended"],
        "levels": [levels[lv] for lv in LEVELS if lv in levels],
        "accounts": [a for p in pages for a in p["accounts"]],
        "idle": ([pool_idle] if pool_idle else []) + [i for p in pages for i in p["idle"]],
        "refusals": list(refusals or []),
        "refusal_count": refusal_count,
    }


class FundSupervision(ContractSDK):
    """Calls the `fund_supervision` contract; a refused call raises
    `tianfu.client.errors.TxFailed`, except the `attempt_*` calls, which record a refusal and
    return {"ok": False, "code", "reason", "refusal"}."""

    CONTRACT = NAME

    # -- operations ------------------------------------------------------------------------
    def enrol(self, display_name: str) -> dict[str, Any]:
        return dict(self._invoke("enrol", display_name))

    def register_account(
        self, account_id: str, name: str, level: str, parent_id: str, manager: str
    ) -> dict[str, Any]:
        return dict(self._invoke("register_account", account_id, name, level, parent_id, manager))

    def replace_manager(self, account_id: str, manager: str, reason: str) -> dict[str, Any]:
        """Hand an account to a new manager (a fund authority; for a sub-account also the
        manager of its parent account): the handover recorded, the books unchanged."""
        return dict(self._invoke("replace_manager", account_id, manager, reason))

    def register_beneficiary(
        self, account_id: str, id_hash: str, purposes: list[str]
    ) -> dict[str, Any]:
        return dict(self._invoke("register_beneficiary", account_id, id_hash, list(purposes)))

    def create_fund(
        self, fund_id: str, purpose: str, total: int, start_ms: int, end_ms: int
    ) -> dict[str, Any]:
        return dict(self._invoke("create_fund", fund_id, purpose, total, start_ms, end_ms))

    def allocate(
        self, fund_id: str, from_id: str, to_id: str, amount: int, memo: str = ""
    ) -> dict[str, Any]:
        return dict(self._invoke("allocate", fund_id, from_id, to_id, amount, memo))

    def attempt_allocate(
        self, fund_id: str, from_id: str, to_id: str, amount: int, memo: str = ""
    ) -> dict[str, Any]:
        return dict(self._invoke("attempt_allocate", fund_id, from_id, to_id, amount, memo))

    def disburse(
        self, fund_id: str, account_id: str, id_hash: str, amount: int, purpose: str, doc: str
    ) -> dict[str, Any]:
        """Pay a beneficiary (once per fund, or its next planned instalment) for `purpose`,
        with the SHA-256 `doc` of the supporting document."""
        return dict(self._invoke("disburse", fund_id, account_id, id_hash, amount, purpose, doc))

    def attempt_disburse(self, *args: Any) -> dict[str, Any]:
        """`disburse(...)`, but a refusal is recorded on chain and returned, not raised."""
        return dict(self._invoke("attempt_disburse", *args))

    def plan_instalments(
        self, fund_id: str, account_id: str, id_hash: str, instalments: list[int]
    ) -> dict[str, Any]:
        """Allow paying a beneficiary from a fund in these instalments (in order, each of its
        amount) instead of once; only before its first payment from that fund."""
        args = (fund_id, account_id, id_hash, list(instalments))
        return dict(self._invoke("plan_instalments", *args))

    # -- queries ---------------------------------------------------------------------------
    def party(self, address: str) -> dict[str, Any] | None:
        result = self._query("party", address)
        return None if result is None else dict(result)

    account = view("account_id", returns=dict)
    accounts = view(returns=list)
    account_count = view(returns=int)
    accounts_page = view(returns=dict, start=1, limit=200)
    children_page = view("account_id", returns=dict, start=1, limit=200)
    handovers = view("account_id", returns=list)
    handover_page = view("account_id", returns=dict, start=1, limit=100)
    fund = view("fund_id", returns=dict)
    funds = view(returns=list)
    balance = view("fund_id", "account_id", returns=dict)

    def beneficiary(self, id_hash: str, org: str) -> dict[str, Any] | None:
        """The beneficiary `id_hash` registered by organisation `org` (None: none)."""
        result = self._query("beneficiary", id_hash, org)
        return None if result is None else dict(result)

    def payments(self, fund_id: str, id_hash: str, org: str) -> dict[str, Any]:
        """The plan (None: one payment) and the amounts paid from a fund of the beneficiary
        `id_hash` registered by organisation `org`."""
        return dict(self._query("payments", fund_id, id_hash, org))

    def payee(self, fund_id: str, id_hash: str) -> dict[str, Any] | None:
        """The organisation that pays the household `id_hash` from a fund (its account and
        first movement), or None before any payment; no other organisation pays it."""
        result = self._query("payee", fund_id, id_hash)
        return None if result is None else dict(result)

    movements = view("fund_id", returns=list, start=1, limit=200)
    trace = view("fund_id", "id_hash", "org", returns=dict)
    allocations_into = view("fund_id", "account_id", returns=list, start=1, limit=200)
    refusals = view("fund_id", returns=list)
    refusal_count = view("fund_id", returns=int)
    refusal_page = view("fund_id", returns=list, start=1, limit=REFUSAL_PAGE)
    report = view("fund_id", returns=dict, idle_ms=None)
    report_page = view("fund_id", returns=dict, idle_ms=None, start=1, limit=200)

    def all_accounts(self, limit: int = 200) -> list[Any]:
        """Every registered account, read a page (`accounts_page`) at a time."""
        out: list[Any] = []
        start: int | None = 1
        while start is not None:
            page = self.accounts_page(start=start, limit=limit)
            out += list(page["accounts"])
            start = following(page, start)
        return out

    def all_children(self, account_id: str, limit: int = 200) -> list[str]:
        """Every sub-account of an account (ids, in the order registered), read a page
        (`children_page`) at a time; ValueError when a page's "next" does not advance."""
        out: list[str] = []
        start: int | None = 1
        while start is not None:
            page = self.children_page(account_id, start=start, limit=limit)
            out += list(page["children"])
            start = following(page, start)
        return out

    def all_refusals(self, fund_id: str, limit: int = REFUSAL_PAGE) -> list[Any]:
        """Every refusal recorded for a fund, oldest first, read a page (`refusal_page`) at a
        time up to the `refusal_count` read first (refusals are only added at the end)."""
        n = self.refusal_count(fund_id)
        out: list[Any] = []
        while len(out) < n:
            page = self.refusal_page(fund_id, start=len(out) + 1, limit=limit)
            if not page:
                break
            out += list(page)
        return out

    def full_report(self, fund_id: str, idle_ms: int | None = None) -> dict[str, Any]:
        """`report`, read a page at a time (any number of accounts): `paged_report`."""
        return paged_report(self._query, fund_id, idle_ms)


__all__ = [
    "POOL",
    "REFUSAL_PAGE",
    "FundSupervision",
    "beneficiary_hash",
    "doc_hash",
    "paged_report",
]
