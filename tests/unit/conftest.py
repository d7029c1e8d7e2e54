"""Fixtures shared by unit test modules: the block-sync tests' chain (`world`).

A module that defines its own `world` fixture uses that one instead.
"""

from __future__ import annotations

import pytest
from test_sync_support import CHAIN_LEN, Consortium

from tianfu.ledger import Ledger


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Consortium, Ledger]:
    """A 4-validator consortium and node A's ledger with 30 blocks of real transactions."""
    c = Consortium(n_validators=4)
    ledger = c.ledger(tmp_path_factory.mktemp("a"))
    c.grow(ledger, CHAIN_LEN, txs_per_block=3)
    return c, ledger
