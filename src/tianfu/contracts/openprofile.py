"""What an open-profile chain adds to the executor (ADR 0025): the native `accounts` and
`staking` contracts and the account admission rule. The ledger hands this module to the
executor, which sees it as `tianfu.execution.system.OpenProfileModule`."""

from __future__ import annotations

from tianfu.contracts import accounts, staking
from tianfu.contracts.accounts import admit, bucket_key

__all__ = ["admit", "bucket_key", "natives"]


def natives() -> dict[str, object]:
    """New native contract objects by name: `accounts` and `staking`."""
    return {accounts.NAME: accounts.Accounts(), staking.NAME: staking.Staking()}
