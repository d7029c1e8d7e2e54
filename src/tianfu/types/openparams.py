"""The open profile's governed consensus parameters: names, bounds and their checks."""

from __future__ import annotations

import re
from typing import Any

OPEN_CONTRACT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")  # the whole name (fullmatch)
MAX_OPEN_CONTRACTS = 64

# Inclusive bounds of the integer parameters of the open profile.
OPEN_PARAM_BOUNDS: dict[str, tuple[int, int]] = {
    "pow_bits": (0, 40),
    "quota_gas": (10_000, 10**12),
    "quota_replenish": (0, 10**12),
    "unbonding_blocks": (1, 10_000_000),
    "slash_fraction_bps": (0, 10_000),
    # Set by governance only (not genesis fields; `tianfu.contracts.accounts` has defaults):
    "sponsor_interval": (0, 10_000_000),
    "member_sponsors_per_block": (0, 10_000),
    # The eighth field of `OpenProfile`; a genesis of seven (`OpenProfileV1`) has none until
    # governance sets it (`tianfu.contracts.staking.possession_required`):
    "possession_height": (0, 10**12),
}
OPEN_LIST_PARAMS = frozenset({"open_contracts"})
OPEN_PARAM_KEYS = frozenset(OPEN_PARAM_BOUNDS) | OPEN_LIST_PARAMS


def check_open_param(key: str, value: Any) -> Any:
    """One open-profile parameter checked and normalised. Raises ValueError."""
    if key == "open_contracts":
        if not isinstance(value, list) or len(value) > MAX_OPEN_CONTRACTS:
            raise ValueError(f"open_contracts must be a list of at most {MAX_OPEN_CONTRACTS} names")
        for name in value:
            if not isinstance(name, str) or not OPEN_CONTRACT_NAME.fullmatch(name):
                raise ValueError("an open contract name must match [a-z][a-z0-9_]{0,63}")
        if "governance" in value:
            raise ValueError("the governance contract cannot be open")
        return sorted(set(value))
    if key not in OPEN_PARAM_BOUNDS:
        raise ValueError(f"unknown open-profile parameter {key!r}")
    lo, hi = OPEN_PARAM_BOUNDS[key]
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"parameter {key} must be an integer between {lo} and {hi}")
    return value


def check_open_params(params: dict[str, Any]) -> None:
    for key, value in params.items():
        check_open_param(key, value)
