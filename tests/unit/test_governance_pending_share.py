"""One member organisation could keep every other from proposing anything: at most 256
proposals are open at a time, first come first served, so one admin opening 256 (a few
blocks of transactions; each stays open `proposal_expiry_blocks`, 10,000 by default, or
is re-made as soon as the others vote one down) left the consortium unable to propose —
not even to remove that organisation. Now an organisation keeps at most its share of the
open proposals (256 / members)."""

import pytest
from test_governance_admission import Chain

from tianfu.contracts.governance import MAX_PENDING


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)  # 4 member organisations
    c.block()
    yield c
    c.close()


def _propose_many(chain, org, n):
    txs = [
        chain.tx(chain.admins[org], "propose_set_params", {"max_block_txs": 10 + i})
        for i in range(n)
    ]
    return chain.block(txs)


def test_one_organisation_cannot_fill_the_open_proposals(chain):
    share = MAX_PENDING // 4
    receipts = _propose_many(chain, "org4", share + 1)
    assert all(r.ok for r in receipts[:share])
    last = receipts[share]
    assert not last.ok and f"{share} open proposals" in last.error
    receipts = _propose_many(chain, "org4", MAX_PENDING - share)
    assert not any(r.ok for r in receipts)
    # The others still propose, and can vote the hostile member out.
    pid = chain.ok(chain.admins["org1"], "propose_remove_org", "org4")
    chain.pass_proposal(pid)
    assert "org4" not in [o["name"] for o in chain.query("list_orgs") if o["status"] == "active"]
