"""Tests of the admission memo (`tianfu.execution.admission_memo`, used by `Executor.check_tx`):
resolved callers and method tables are kept between admissions, yet a committed revocation,
role change or contract upgrade is seen by the very next admission."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tianfu.api.service import TxRejected
from tianfu.codec import encode
from tianfu.contracts import governance
from tianfu.contracts.examples import example_source
from tianfu.execution.contract_api import ContractError, state_key
from tianfu.testing.appchain import AppChain


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    c.deploy("asset", example_source("asset"))
    yield c
    c.close()


def _admit(chain: AppChain, tx: Any) -> bytes | TxRejected:
    """Admit through the node service's batch path, then empty the mempool again."""
    outcome = chain.service._admit_batch([tx])[0]
    chain.mempool.remove([tx.hash])
    chain.service.verified.discard(tx.hash)
    return outcome


def test_a_revocation_commit_is_refused_by_the_next_admission(chain: AppChain) -> None:
    admin = chain.admin("org1")
    m = chain.identity("org1", "mallory")
    o = chain.identity("org2", "olga").info.address
    assert chain.call(m, "governance", "get_identity", m.info.address).ok
    for _ in range(3):  # memoised from the first admission on
        assert isinstance(_admit(chain, chain.sign(m, "asset", "transfer", o, 1)), bytes)
    memo = chain.ledger.executor._admission
    assert (m.keypair.scheme, m.keypair.public_key) in memo.callers
    assert chain.call(admin, "governance", "revoke_cert", m.info.address).ok
    refused = _admit(chain, chain.sign(m, "asset", "transfer", o, 1))
    assert isinstance(refused, TxRejected) and "revoked" in str(refused)


def test_a_changed_governance_value_is_seen_without_a_new_height(chain: AppChain) -> None:
    """The memo is exact by itself: a value its answer read changes under the same next
    height (e.g. the ledger's cache updated while the store height had already moved on)
    and the next admission computes afresh."""
    m = chain.identity("org1", "mallory")
    o = chain.identity("org2", "olga").info.address
    assert chain.call(m, "governance", "get_identity", m.info.address).ok
    ex = chain.ledger.executor
    state: dict[bytes, bytes | None] = {}

    def read(k: bytes) -> bytes | None:
        return state[k] if k in state else chain.ledger.latest.get(k)

    tx = chain.sign(m, "asset", "transfer", o, 1)
    next_height = chain.ledger.height + 1
    now = int(time.time() * 1000)  # within the certificate's validity (checked every time)
    ex.check_tx(tx, next_height, now, read)
    ex.check_tx(tx, next_height, now, read)
    state[state_key(governance.NAME, f"revoked/{m.info.address}")] = encode({"height": 1})
    with pytest.raises(ContractError, match="revoked"):
        ex.check_tx(tx, next_height, now, read)
    del state[state_key(governance.NAME, f"revoked/{m.info.address}")]
    ex.check_tx(tx, next_height, now, read)
    # The organisation removed: refused as well.
    org_key = state_key(governance.NAME, "org/org1")
    state[org_key] = encode({"name": "org1", "ca_cert": b"", "status": "removed"})
    with pytest.raises(ContractError, match="no longer a member"):
        ex.check_tx(tx, next_height, now, read)


def test_role_changes_and_contract_upgrades_replace_the_kept_answers(chain: AppChain) -> None:
    admin = chain.admin("org1")
    m = chain.identity("org1", "mallory")
    o = chain.identity("org2", "olga").info.address
    assert chain.call(m, "governance", "get_identity", m.info.address).ok
    memo_key = (m.keypair.scheme, m.keypair.public_key)
    assert isinstance(_admit(chain, chain.sign(m, "asset", "transfer", o, 1)), bytes)
    caller = chain.ledger.executor._admission.callers[memo_key][1].caller
    assert "minter" not in caller.roles
    assert chain.call(admin, "governance", "grant_role", m.info.address, "minter").ok
    assert isinstance(_admit(chain, chain.sign(m, "asset", "transfer", o, 1)), bytes)
    caller = chain.ledger.executor._admission.callers[memo_key][1].caller
    assert "minter" in caller.roles
    # A method the deployed version lacks is refused, then admitted once an upgrade with
    # it is activated.
    refused = _admit(chain, chain.sign(m, "asset", "shiny", 1))
    assert isinstance(refused, TxRejected) and "has no method" in str(refused)
    chain.deploy("asset", example_source("asset") + "\n\ndef shiny(ctx, x):\n    return x\n")
    assert isinstance(_admit(chain, chain.sign(m, "asset", "shiny", 1)), bytes)


def test_a_batch_resolves_each_sender_once(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    senders = [chain.identity(org, f"s{i}") for org in chain.orgs for i in range(2)]
    chain.call_many([(s, "governance", "get_identity", (s.info.address,)) for s in senders])
    o = senders[0].info.address
    txs = [chain.sign(senders[i % len(senders)], "asset", "transfer", o, 1) for i in range(50)]
    calls: list[bytes] = []
    resolve = governance.resolve_caller

    def counting(read: Any, scheme: int, key: bytes, cert: bytes, time_ms: int) -> Any:
        calls.append(key)
        return resolve(read, scheme, key, cert, time_ms)

    monkeypatch.setattr(chain.ledger.executor.governance, "resolve_caller", counting)
    chain.ledger.executor._admission = type(chain.ledger.executor._admission)()
    outcomes = chain.service._admit_batch(txs)
    assert all(isinstance(x, bytes) for x in outcomes)
    assert sorted(calls) == sorted(s.keypair.public_key for s in senders)
    assert len(chain.mempool) == 50


def test_a_first_use_certificate_is_never_kept(chain: AppChain) -> None:
    """Its registration depends on the time (the certificate's validity): resolved each
    time, and the memo keeps nothing for it."""
    newbie = chain.identity("org3", "newbie")
    o = chain.identity("org2", "olga").info.address
    for _ in range(2):
        assert isinstance(_admit(chain, chain.sign(newbie, "asset", "transfer", o, 1)), bytes)
    memo = chain.ledger.executor._admission
    assert (newbie.keypair.scheme, newbie.keypair.public_key) not in memo.callers
