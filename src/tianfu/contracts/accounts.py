"""Open accounts (open profile): registration by proof of work or by a sponsor, each account's
gas quota, and which contracts a signer without a member certificate may call.

On an open-profile chain (ADR 0025) a signer that has no member certificate is an *account*
once registered: by a transaction `accounts.register(nonce)` whose proof of work meets the
`pow_bits` parameter, or by a member's or a proof-of-work account's `accounts.sponsor(address)`
(an account's bucket pays the new account's starting gas).
An account may call the contracts listed in the `open_contracts` parameter (and `accounts`,
`staking`); every other contract still requires a member certificate. Each account has a
gas bucket: it holds at most `quota_gas`, gains `quota_replenish` per block, and pays the gas
of every transaction the account sends; a transaction from an account whose bucket holds less
than a transaction's base cost is refused (`QuotaExceeded`) at admission and can never be in
a block. Every figure is read from chain state: a pure function of the chain.

State (under the contract name `accounts`):
  acct/<address>    {"address", "height", "via": "pow" | "sponsor", "sponsor": address | ""}
  quota/<address>   {"gas", "height"}: the bucket after the account's last transaction (or
                    its registration), at that height
  sponsored/<address>   {"height", "n"}: an account's last sponsorship (height, n = 1)
  sponsored_org/<org>   {"height", "n"}: a member organisation's sponsorships in block height

Sponsorship is bounded by governed parameters: an account sponsors at most once per
`sponsor_interval` blocks (default 100; it also pays the grant from its bucket), a member
organisation at most `member_sponsors_per_block` accounts per block (default 16), whichever
of its identities signs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from tianfu.codec import decode_value, hash_domain
from tianfu.execution.contract_api import (
    Caller,
    Context,
    ContractError,
    address_of,
    state_key,
    view,
)
from tianfu.execution.costs import tx_gas
from tianfu.execution.refusals import AccessRefused, QuotaExceeded
from tianfu.types import TxBody

NAME = "accounts"
STAKING = "staking"
ACCOUNT_KIND = "account"
APPLICANT_KIND = "applicant"
ALWAYS_OPEN = frozenset({NAME, STAKING})  # what every account may call
POW_TAG = "tianfu/account-pow/v1"
ADDRESS_RE = re.compile(r"^[0-9a-f]{40}\Z")
MAX_NONCE = (1 << 63) - 1
SPONSOR_RESERVE = 10_000  # gas a sponsor keeps beside the grant, for the sponsorship itself
# Defaults of the governed parameters bounding sponsorship (absent from `params` until a
# `set_params` vote sets them; `tianfu.types.openparams` bounds them):
SPONSOR_INTERVAL = 100  # sponsor_interval: blocks between two sponsorships of one account
MEMBER_SPONSORS_PER_BLOCK = 16  # member_sponsors_per_block: of one member organisation


# -- proof of work ---------------------------------------------------------------------------
def pow_digest(chain_id: str, address: str, nonce: int) -> bytes:
    """The hash a registration's proof of work is judged by (the chain's hash)."""
    return hash_domain(POW_TAG, chain_id.encode(), address.encode(), nonce.to_bytes(8, "big"))


def leading_zero_bits(digest: bytes) -> int:
    n = int.from_bytes(digest, "big")
    return len(digest) * 8 - n.bit_length()


def pow_ok(chain_id: str, address: str, nonce: Any, bits: int) -> bool:
    if not isinstance(nonce, int) or isinstance(nonce, bool) or not 0 <= nonce <= MAX_NONCE:
        return False
    return leading_zero_bits(pow_digest(chain_id, address, nonce)) >= bits


def solve_pow(chain_id: str, address: str, bits: int, start: int = 0) -> int:
    """The first nonce from `start` whose proof of work meets `bits` (about 2**bits hashes)."""
    nonce = start
    while not pow_ok(chain_id, address, nonce, bits):
        nonce += 1
    return nonce


# -- quota -----------------------------------------------------------------------------------
def available(bucket: Any, height: int, quota: int, replenish: int) -> int:
    """Gas in an account's bucket at `height` (a full bucket when it has none yet)."""
    if not isinstance(bucket, dict):
        return quota
    grown = bucket["gas"] + max(0, height - bucket["height"]) * replenish
    return min(quota, grown)


def bucket_key(address: str) -> bytes:
    return state_key(NAME, f"quota/{address}")


class OpenAdmission(NamedTuple):
    caller: Caller
    charged: str | None  # the account whose bucket pays, None for a registration
    available: int  # gas in that bucket before the transaction


def _value(read: Callable[[bytes], bytes | None], key: bytes) -> Any:
    raw = read(key)
    return None if raw is None else decode_value(raw)


def admit(
    gov: Callable[[str], Any],
    read: Callable[[bytes], bytes | None],
    body: TxBody,
    height: int,
    chain_id: str,
    tx_bytes: int = 0,
) -> OpenAdmission | None:
    """The open-profile answer for a transaction at `height`: None for a member's (it has a
    certificate, sent or registered: the consortium rules apply), else the account caller
    and its bucket. Raises `AccessRefused` (or `QuotaExceeded`) for a transaction that may
    not be in block `height`. `tx_bytes`: the whole transaction's encoded length, whose
    bytes past `TX_FREE_BYTES` the bucket must also cover (`tx_gas`)."""
    address = address_of(body.scheme, body.signer)
    if body.cert or gov(f"cert/{address}") is not None:
        return None
    params = gov("params") or {}
    record = _value(read, state_key(NAME, f"acct/{address}"))
    if record is None:
        if body.contract != NAME or body.method != "register":
            raise AccessRefused(
                f"unknown signer {address}: register an account first (tianfu account "
                "register: a proof of work or a sponsor) or sign with a member certificate"
            )
        bits = int(params.get("pow_bits", 0))
        nonce = body.args[0] if len(body.args) == 1 else None
        if not pow_ok(chain_id, address, nonce, bits):
            raise AccessRefused(
                f"account registration of {address}: the nonce is not a proof of work of "
                f"{bits} bits (tianfu account register computes one)"
            )
        return OpenAdmission(Caller(address, "", address, APPLICANT_KIND), None, 0)
    open_contracts = params.get("open_contracts") or []
    if body.contract not in ALWAYS_OPEN and body.contract not in open_contracts:
        raise AccessRefused(
            f"contract {body.contract!r} is not open to accounts: it requires a member "
            f"certificate (open contracts: {', '.join(open_contracts) or 'none'})"
        )
    quota, replenish = int(params["quota_gas"]), int(params["quota_replenish"])
    gas = available(_value(read, bucket_key(address)), height, quota, replenish)
    need = tx_gas(0, tx_bytes)
    if gas < need:
        blocks = -(-(need - gas) // replenish) if replenish > 0 else -1
        when = f"in {blocks} block(s)" if blocks > 0 else "never (replenishment is 0)"
        raise QuotaExceeded(
            f"quota exceeded: account {address} has {gas} gas left of its quota of {quota} "
            f"(a transaction needs at least {need}); it gains {replenish} gas per block, "
            f"enough again {when}",
            available=gas,
            needed_blocks=blocks,
        )
    caller = Caller(address, "", address, ACCOUNT_KIND, frozenset({ACCOUNT_KIND}))
    return OpenAdmission(caller, address, gas)


def _check_address(address: Any) -> str:
    if not isinstance(address, str) or not ADDRESS_RE.match(address):
        raise ContractError("an address is 40 lowercase hex characters")
    return address


def _params(ctx: Context) -> dict[str, Any]:
    return ctx.read("governance", "params") or {}


def sponsor_grant(quota: int) -> int:
    """The gas a sponsored account starts with, paid from its sponsor's bucket."""
    return quota // 2


def _create(ctx: Context, address: str, via: str, sponsor: str, gas: int) -> dict[str, Any]:
    record = {"address": address, "height": ctx.height, "via": via, "sponsor": sponsor}
    ctx.put(f"acct/{address}", record)
    ctx.put(f"quota/{address}", {"gas": gas, "height": ctx.height})
    ctx.emit("AccountRegistered", address=address, via=via, sponsor=sponsor)
    return record


def _pay_grant(ctx: Context, grant: int) -> None:
    """Take `grant` from the sponsoring account's bucket (the executor then takes the
    transaction's gas from what is left). Refused for a sponsored account, or a bucket
    holding less than the grant and `SPONSOR_RESERVE` for the transaction itself."""
    me = ctx.sender.address
    record = ctx.get(f"acct/{me}")
    if record is None or record["via"] != "pow":
        raise ContractError(
            f"{me} was sponsored: only members and accounts registered by proof of work may sponsor"
        )
    p = _params(ctx)
    quota, replenish = int(p.get("quota_gas", 0)), int(p.get("quota_replenish", 0))
    gas = available(ctx.get(f"quota/{me}"), ctx.height, quota, replenish)
    if gas < grant + SPONSOR_RESERVE:
        raise ContractError(
            f"a sponsorship pays the new account's {grant} gas from the sponsor's bucket: "
            f"{me} has {gas}, it needs {grant + SPONSOR_RESERVE}"
        )
    ctx.put(f"quota/{me}", {"gas": gas - grant, "height": ctx.height})


def _count_sponsorship(ctx: Context, key: str) -> None:
    """Count a sponsorship under `key` (`sponsored/<account>` or `sponsored_org/<org>`),
    refused past the governed bound: an account's one per `sponsor_interval` blocks, a
    member organisation's `member_sponsors_per_block` per block."""
    p = _params(ctx)
    last = ctx.get(key)
    if key.startswith("sponsored/"):
        interval = int(p.get("sponsor_interval", SPONSOR_INTERVAL))
        if last is not None and ctx.height < last["height"] + interval:
            raise ContractError(
                f"an account sponsors at most once per {interval} blocks (sponsor_interval): "
                f"next at height {last['height'] + interval}"
            )
        ctx.put(key, {"height": ctx.height, "n": 1})
        return
    limit = int(p.get("member_sponsors_per_block", MEMBER_SPONSORS_PER_BLOCK))
    n = last["n"] if last is not None and last["height"] == ctx.height else 0
    if n >= limit:
        raise ContractError(
            f"organisation {ctx.sender.org} sponsored {n} accounts in this block, the most "
            "one member organisation may (member_sponsors_per_block)"
        )
    ctx.put(key, {"height": ctx.height, "n": n + 1})


class Accounts:
    """Native contract of the open profile; every method is `method(ctx, *args)`."""

    name = NAME

    def register(self, ctx: Context, nonce: int) -> dict[str, Any]:
        """Register the signer's own key as an account, with a proof of work (`nonce`)."""
        if ctx.sender.kind != APPLICANT_KIND:
            raise ContractError(f"{ctx.sender.address} is already an account or a member")
        chain_id = str(ctx.read("governance", "chain_id"))
        bits = int(_params(ctx).get("pow_bits", 0))
        if not pow_ok(chain_id, ctx.sender.address, nonce, bits):  # checked at admission too
            raise ContractError(f"the nonce is not a proof of work of {bits} bits")
        return _create(ctx, ctx.sender.address, "pow", "", int(_params(ctx).get("quota_gas", 0)))

    def sponsor(self, ctx: Context, address: str) -> dict[str, Any]:
        """Register another key's address as an account, vouched for by the signer: a member,
        or an account registered by proof of work whose bucket pays the new account's
        starting gas (`sponsor_grant`: half a full bucket). A sponsored account cannot
        sponsor; an account sponsors at most once per `sponsor_interval` blocks, a member
        organisation `member_sponsors_per_block` accounts per block."""
        address = _check_address(address)
        if ctx.has(f"acct/{address}"):
            raise ContractError(f"{address} is already an account")
        if ctx.read("governance", f"cert/{address}") is not None:
            raise ContractError(f"{address} is a member identity")
        grant = sponsor_grant(int(_params(ctx).get("quota_gas", 0)))
        if ctx.sender.kind == ACCOUNT_KIND:
            _pay_grant(ctx, grant)
            _count_sponsorship(ctx, f"sponsored/{ctx.sender.address}")
        else:
            _count_sponsorship(ctx, f"sponsored_org/{ctx.sender.org}")
        return _create(ctx, address, "sponsor", ctx.sender.address, grant)

    @view
    def get_account(self, ctx: Context, address: str) -> dict[str, Any] | None:
        """An account's record and the gas in its bucket at this height (None if unknown)."""
        record = ctx.get(f"acct/{_check_address(address)}")
        if record is None:
            return None
        p = _params(ctx)
        quota, replenish = int(p.get("quota_gas", 0)), int(p.get("quota_replenish", 0))
        gas = available(ctx.get(f"quota/{address}"), ctx.height, quota, replenish)
        return {**record, "quota_gas": quota, "quota_replenish": replenish, "available": gas}
