"""Independent verifier, the open profile (blocks.md#the-open-profile): the ninth field of an
open chain's genesis, its rules, and the genesis-state entries it adds. Written from the
specification only; imports nothing from `tianfu`."""

from __future__ import annotations

import re
from typing import Any

from specwire import Invalid, address, arr, listof, num, text

OPEN_CONTRACT_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
ADDRESS_RE = re.compile(r"[0-9a-f]{40}")
# OpenProfile's integer fields, in order, with their inclusive bounds.
OPEN_INTS = (("pow_bits", 0, 40), ("quota_gas", 10_000, 10**12),
             ("quota_replenish", 0, 10**12), ("unbonding_blocks", 1, 10_000_000),
             ("slash_fraction_bps", 0, 10_000))  # fmt: skip
MAX_OPEN_CONTRACTS = 64
MAX_GRANT = 10**15


def parse_open_profile(p: Any) -> dict[str, Any]:
    """The settings of `OpenProfile` (7 fields, or 8 with `possession_height`), checked;
    rejects what blocks.md rejects."""
    p = arr(p, 8 if type(p) is list and len(p) == 8 else 7, "OpenProfile")
    names = [text(n) for n in listof(p[0], 1 << 20)]
    if any(not OPEN_CONTRACT_RE.fullmatch(n) for n in names):
        raise Invalid("an open contract name")
    distinct = sorted(set(names), key=str.encode)
    if len(distinct) > MAX_OPEN_CONTRACTS or "governance" in distinct:
        raise Invalid("open contracts")
    out: dict[str, Any] = {"open_contracts": distinct}
    for (name, lo, hi), v in zip(OPEN_INTS, p[1:6], strict=True):
        try:
            out[name] = num(v, lo, hi)
        except Invalid:
            raise Invalid(f"open profile: {name}") from None
    grants = []
    for g in listof(p[6], 1 << 20):
        g = arr(g, 2, "StakeGrant")
        if not ADDRESS_RE.fullmatch(text(g[0])):
            raise Invalid("a stake grant's address")
        grants.append((g[0], num(g[1], 1, MAX_GRANT)))
    if len({a for a, _ in grants}) != len(grants):
        raise Invalid("a stake grant's address repeated")
    if len(p) == 8:
        try:
            out["possession_height"] = num(p[7], 0, 10**12)
        except Invalid:
            raise Invalid("open profile: possession_height") from None
    return {"params": out, "stake": grants}


def open_entries(open_profile: dict[str, Any], validators: list[Any]) -> dict[str, Any]:
    """The governance entries an open genesis adds to (or changes in) the genesis state."""
    entries: dict[str, Any] = {"profile": "open", "stake/burnt": 0}
    for a, amount in open_profile["stake"]:
        entries[f"stake/balance/{a}"] = amount
    for v in validators:
        entries[f"stake/bond/{v.name}"] = {
            "name": v.name, "owner": address(v.scheme, v.key), "scheme": v.scheme,
            "public_key": v.key, "amount": v.power, "jailed": False,
        }  # fmt: skip
    return entries
