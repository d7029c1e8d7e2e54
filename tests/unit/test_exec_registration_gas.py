"""A first-use certificate's registration is a state write (`cert/<address>` in governance,
the certificate and its facts): it pays write gas like any other (`costs.write_gas`),
whichever node executes the block, and a transaction whose gas cannot pay it registers
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tianfu.execution.contract_api import state_key
from tianfu.execution.costs import tx_gas, write_gas
from tianfu.testing.appchain import AppChain
from tianfu.types import ConsensusParams


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    yield c
    c.close()


def test_a_first_use_certificate_pays_write_gas_for_its_registration(chain: AppChain) -> None:
    who = chain.identity("org2", "first-use")
    address = who.info.address
    # The same call twice in one block, both carrying the certificate: the first registers
    # it, the second's signer is registered already (its certificate is ignored).
    first, second = chain.call_many(
        [(who, "governance", "supervisory_roles", ()), (who, "governance", "supervisory_roles", ())]
    )
    assert first.ok and second.ok, (first.error, second.error)
    key = state_key("governance", f"cert/{address}")
    raw = chain.ledger.latest.get(key)
    assert raw is not None and who.cert_der in raw
    assert first.gas_used - second.gas_used == write_gas(len(key), len(raw))


def test_a_transaction_that_cannot_pay_the_registration_registers_nothing(
    chain: AppChain,
) -> None:
    """Its gas covers its bytes and certificate (`tx_gas`) but not the registration's
    write: out of gas before the write, so the block's updates hold no registration and
    its receipt the whole limit (the same on every node: the charge precedes the write)."""
    who = chain.identity("org3", "poor")
    tx = chain.sign(who, "governance", "supervisory_roles")
    limit = tx_gas(len(tx.body.cert), len(tx.encoded())) + 200  # a write costs 100 + bytes
    params = ConsensusParams(max_gas_per_tx=limit)
    height = chain.ledger.height + 1
    result = chain.ledger.executor.execute_block(
        height,
        chain.genesis.time_ms + 1,
        [tx],
        chain.ledger.latest.get,
        lambda h: False,
        params=params,
    )
    (receipt,) = result.receipts
    assert not receipt.ok and "out of gas" in receipt.error
    assert receipt.gas_used == limit
    assert state_key("governance", f"cert/{who.info.address}") not in result.updates
