"""Tests of the per-block memo of resolved callers and compiled contracts (`BlockGov` in
`tianfu.execution.executor`): a block executes to exactly the receipts and state it gives
without the memo, with registrations, role grants and revocations inside the block
honoured by the very next transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tianfu.contracts.examples import example_source
from tianfu.execution import executor
from tianfu.testing.appchain import AppChain


class _NoMemo(dict):  # type: ignore[type-arg]
    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _Forgetful(executor.BlockGov):
    """The memo switched off: every transaction resolves its caller and contract afresh."""

    def __init__(self, gov: Any) -> None:
        super().__init__(gov)
        self.callers = _NoMemo()
        self.contracts = _NoMemo()


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    c.deploy("asset", example_source("asset"))
    yield c
    c.close()


def test_a_block_executes_the_same_with_and_without_the_memo(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = chain.admin("org1")
    m = chain.identity("org1", "mallory")
    other = chain.identity("org2", "olga")
    a, o = m.info.address, other.info.address
    steps = [
        (m, "governance", "get_identity", (a,)),  # registers m's certificate
        (m, "asset", "transfer", (o, 1)),  # no balance
        (m, "asset", "mint", (a, 100)),  # no minter role yet
        (admin, "governance", "grant_role", (a, "minter")),
        (m, "asset", "mint", (a, 100)),  # the role granted just before counts
        (m, "asset", "transfer", (o, 10)),
        (other, "asset", "transfer", (a, 1)),  # a second signer, registered here, paid above
        (admin, "governance", "revoke_role", (a, "minter")),
        (m, "asset", "mint", (a, 5)),  # the role revoked just before counts
        (admin, "governance", "revoke_cert", (a,)),
        (m, "asset", "transfer", (o, 10)),  # revoked within the block: refused
        (other, "asset", "transfer", (a, 1)),
    ]
    txs = [chain.sign(who, c, meth, *args) for who, c, meth, args in steps]
    proposer = chain.genesis.validators[0].public_key

    memo = chain.ledger.build_block(txs, proposer)
    monkeypatch.setattr(executor, "BlockGov", _Forgetful)
    plain = chain.ledger.build_block(txs, proposer)

    assert memo.result.receipts == plain.result.receipts
    assert memo.result.updates == plain.result.updates
    assert memo.block.header == plain.block.header
    oks = [r.ok for r in memo.result.receipts]
    assert oks == [True, False, False, True, True, True, True, True, False, True, False, True]
    errors = [r.error for r in memo.result.receipts]
    assert "minter" in errors[2] and "minter" in errors[8]
    assert "revoked" in errors[10]
    assert "insufficient" in errors[1]


def test_the_memo_is_per_block(chain: AppChain) -> None:
    """A revocation committed in one block is seen by the next block's transactions."""
    admin = chain.admin("org1")
    m = chain.identity("org1", "mallory")
    assert chain.call(m, "governance", "get_identity", m.info.address).ok
    assert chain.call(admin, "governance", "revoke_cert", m.info.address).ok
    r = chain.call(m, "governance", "get_identity", m.info.address)
    assert not r.ok and "revoked" in r.error
