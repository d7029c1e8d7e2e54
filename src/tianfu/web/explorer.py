"""The explorer's pages: overview, blocks, transactions, contracts, organisations,
validators, governance proposals, accounts and search.

Read-only: every page reads through `ConsoleData` (the node's `ChainService`); no route
here accepts anything but GET. Lists are paged, newest first, with a cursor in the link
(`?before=`: a height, or the key of the last record shown), so a page reads a bounded number
of rows however long the chain; a path or query parameter that is not well formed is a 400 page, an unknown
object a 404 page, both in the request's language.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tianfu.execution.contract_api import address_of
from tianfu.web.data import HEIGHT_CURSOR, ConsoleData
from tianfu.web.i18n import N_
from tianfu.web.orders import MANUFACTURING, ORDER
from tianfu.web.params import named_args
from tianfu.web.render import Ids, bad_request, cursor, lookup, not_found, page
from tianfu.web.route import PageRoute
from tianfu.web.words import CONTRACT_FIELDS, HEALTH_REASONS

PAGE = 20  # blocks per page of the block list
TX_PAGE = 100  # transactions per page of a block's transaction list
MAX_QUERY = 200
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ADDRESS = re.compile(r"[0-9a-f]{40}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
ACCOUNTS = Ids(
    _ADDRESS,
    N_("Not an address: %(value)s"),
    N_("No identity is enrolled with address %(address)s"),
)
CONTRACTS = Ids(_NAME, N_("Not a contract name: %(value)s"), N_("No contract named %(name)s"))
PROPOSALS = Ids(_ID, N_("Not a proposal id: %(value)s"), N_("No proposal %(id)s"))

# Business ids the search box finds: (contract, state key prefix, console page of the record)
BUSINESS_IDS = (
    ("traceability", "batch:", "/trace/{id}"),
    ("evidence", "dep:", "/evidence/{id}"),
    ("ip_rights", "work:", "/works/{id}"),
    ("supply_finance", "r:", "/receivables/{id}"),
    ("fund_supervision", "fund:", "/funds/{id}"),
    ("city_governance", "case:", "/cases/{id}"),
    ("health", "rec:", "/medical/records/{id}"),
    ("health", "rx:", "/medical/prescriptions/{id}"),
    ("photo_sharing", "photo:", "/photos/{id}"),
)


def _height(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def explorer_router(data: ConsoleData) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=PageRoute)

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        status = data.status()
        top = int(status.get("height", 0))
        return page(
            request,
            "overview.html",
            status=status,
            health_reasons=[
                HEALTH_REASONS.get(code, HEALTH_REASONS["other"])
                if isinstance(code, str)
                else HEALTH_REASONS["other"]
                for code in status.get("health_reasons") or []
            ],
            blocks=data.recent_headers(top),
            rate=data.tx_rate(top),
            validators=data.validators(),
            proposals=data.open_proposals(),
            names=data.names(),
            data=data,
        )

    @router.get("/blocks", response_class=HTMLResponse)
    def blocks(request: Request, before: str | None = None) -> HTMLResponse:
        top = data.height()
        if before is not None:
            b = _height(before)
            if b is None:
                return bad_request(request, N_("Not a block height: %(value)s"), value=before[:40])
            top = min(top, b - 1)
        headers = data.recent_headers(top, PAGE) if top >= 1 else []
        older = headers[-1].height if headers and headers[-1].height > 1 else None
        newer = top + PAGE + 1 if top < data.height() else None
        return page(
            request,
            "blocks.html",
            blocks=headers,
            older=older,
            newer=newer,
            proposers=data.proposers(headers),
            below=max(top, 0) + 1 if before is not None else None,
        )

    @router.get("/blocks/{height}", response_class=HTMLResponse)
    def block(request: Request, height: str) -> HTMLResponse:
        h = _height(height)
        if h is None:
            return bad_request(request, N_("Not a block height: %(value)s"), value=height[:40])
        first = cursor(request, "txs", numeric=True)
        if isinstance(first, HTMLResponse):
            return first
        blk = data.block(h)
        if blk is None:
            return not_found(request, N_("No block at height %(height)s"), height=h)
        cert = data.certificate(h)
        receipts = data.receipts(h)
        start = min(int(first or 0), len(blk.txs))
        rows = [
            (
                i,
                t,
                receipts[i] if i < len(receipts) else None,
                address_of(t.body.scheme, t.body.signer),
            )
            for i, t in enumerate(blk.txs[start : start + TX_PAGE], start)
        ]
        more = start + TX_PAGE if start + TX_PAGE < len(blk.txs) else None
        return page(
            request,
            "block.html",
            block=blk,
            header=blk.header,
            rows=rows,
            tx_start=start,
            tx_more=more,
            cert=cert,
            signers=data.signers(cert),
            proposer=data.validator_of(h, blk.header.proposer),
            names=data.names(),
            top=data.height(),
        )

    @router.get("/txs/{tx_hash}", response_class=HTMLResponse)
    def tx(request: Request, tx_hash: str) -> HTMLResponse:
        if not _HEX64.fullmatch(tx_hash):
            return bad_request(request, N_("Not a transaction hash: %(value)s"), value=tx_hash[:80])
        rec = data.tx(bytes.fromhex(tx_hash))
        if rec is None:
            return not_found(request, N_("No committed transaction %(hash)s"), hash=tx_hash)
        sender = address_of(rec.tx.body.scheme, rec.tx.body.signer)
        return page(
            request,
            "tx.html",
            rec=rec,
            body=rec.tx.body,
            sender=sender,
            who=data.name_of(sender),
            names=data.names(),
            tx_hash=tx_hash,
            args=named_args(
                rec.tx.body.contract,
                rec.tx.body.method,
                rec.tx.body.args,
                data.reader_at(rec.height),
            ),
            block_time=_block_time(data, rec.height),
        )

    @router.get("/accounts/{address}", response_class=HTMLResponse)
    def account(request: Request, address: str) -> HTMLResponse:
        cert = lookup(
            request,
            ACCOUNTS,
            address,
            lambda a: data.record("governance", f"cert/{a}"),
            address=address,
        )
        if isinstance(cert, HTMLResponse):
            return cert
        return page(
            request,
            "account.html",
            address=address,
            cert=cert,
            revoked=data.record("governance", f"revoked/{address}"),
            org=data.record("governance", f"org/{cert.get('org')}"),
            roles=data.record("governance", f"roles/{address}") or [],
        )

    @router.get("/contracts", response_class=HTMLResponse)
    def contracts(request: Request) -> HTMLResponse:
        return page(request, "contracts.html", contracts=data.contracts(), names=data.names())

    @router.get("/contracts/{name}", response_class=HTMLResponse)
    def contract(request: Request, name: str) -> HTMLResponse:
        record = lookup(
            request,
            CONTRACTS,
            name,
            lambda n: (
                data.view("governance", "get_contract", n)
                or ({"name": n} if n in data.native_contracts() else None)
            ),
            name=name,
        )
        if isinstance(record, HTMLResponse):
            return record
        native = "source_hash" not in record
        source = None if native else data.view("governance", "get_source", name)
        return page(
            request,
            "contract.html",
            name=name,
            record=record,
            fields=CONTRACT_FIELDS,
            source=source,
            names=data.names(),
        )

    @router.get("/orgs", response_class=HTMLResponse)
    def orgs(request: Request) -> HTMLResponse:
        return page(
            request,
            "orgs.html",
            orgs=data.orgs(),
            validators=data.validators(),
            identities=data.identity_counts(),
        )

    @router.get("/validators", response_class=HTMLResponse)
    def validators(request: Request) -> HTMLResponse:
        vals = data.validators()
        total = sum(int(v.get("power", 0)) for v in vals)
        return page(
            request,
            "validators.html",
            validators=vals,
            total=total,
            since=data.view("governance", "validators_from"),
        )

    @router.get("/proposals", response_class=HTMLResponse)
    def proposals(request: Request) -> HTMLResponse:
        before = cursor(request, "before", pattern=HEIGHT_CURSOR)
        if isinstance(before, HTMLResponse):
            return before
        p = data.proposals_page(before)
        return page(request, "proposals.html", proposals=p.rows, paged=p, names=data.names())

    @router.get("/proposals/{pid}", response_class=HTMLResponse)
    def proposal(request: Request, pid: str) -> HTMLResponse:
        p = lookup(
            request, PROPOSALS, pid, lambda i: data.view("governance", "get_proposal", i), id=pid
        )
        if isinstance(p, HTMLResponse):
            return p
        return page(request, "proposal.html", p=p, names=data.names())

    @router.get("/search", response_class=HTMLResponse, response_model=None)
    def search(request: Request, q: str = "") -> HTMLResponse | RedirectResponse:
        text = q.strip()[:MAX_QUERY]
        target = find(data, text) if text else None
        if target is not None:
            return RedirectResponse(target, status_code=303)
        return page(request, "search.html", q=text, http_status=404 if text else 200)

    return router


def _block_time(data: ConsoleData, height: int) -> int | None:
    hs = data.headers(height, 1)
    return hs[0].time_ms if hs else None


def find(data: ConsoleData, text: str) -> str | None:
    """The console page `text` names: a height, a transaction or block hash, an address,
    a business id of an application; None when nothing matches."""
    h = _height(text)
    if h is not None and 1 <= h <= data.height():
        return f"/blocks/{h}"
    low = text.lower().removeprefix("0x")
    if _HEX64.fullmatch(low):
        if data.tx(bytes.fromhex(low)) is not None:
            return f"/txs/{low}"
        found = data.block_by_hash(bytes.fromhex(low))
        if found is not None:
            return f"/blocks/{found}"
    if _ADDRESS.fullmatch(low) and isinstance(data.record("governance", f"cert/{low}"), dict):
        return f"/accounts/{low}"
    if ORDER.pattern.fullmatch(text) and data.record(MANUFACTURING, "order:" + text) is not None:
        return "/orders/" + quote(text)
    if _ID.fullmatch(text):
        for contract, prefix, url in BUSINESS_IDS:
            if data.record(contract, prefix + text) is not None:
                return url.format(id=text)
    return None
