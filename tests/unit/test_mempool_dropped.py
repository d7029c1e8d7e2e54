"""Unit tests: the node forgets a transaction's admission (its signature checked) when the
proposer drops it from the mempool, not only when it is committed or expires."""

from __future__ import annotations

from tests.unit.kvchain import KvChain


def test_signatures_known_at_admission_are_forgotten_with_a_dropped_transaction(tmp_path) -> None:
    """A proposer drops from its mempool a transaction that can never be in a block (an open
    chain's account out of quota at execution, a culprit, a window shortened by governance):
    the node forgets that its signature was checked when its block is committed, as for a
    committed or expired one; the set held every such hash for good, without a bound."""
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        service = chain.service
        txs = [chain.tx("put", f"k{n}", n) for n in range(30)]
        for tx in txs:
            service.admit(tx)
        assert len(service.verified) == 30
        chain.app.mempool.remove(t.hash for t in txs[:20])  # dropped by the proposer
        chain.commit([])
        assert service.verified == {t.hash for t in txs[20:]}
    finally:
        chain.close()
