"""The mempool's share for outsiders (open profile, ADR 0025): accounts and applicants for
one — however many keys they make — hold at most half of the pool's transactions and
bytes together, so members' transactions are still admitted when outsiders flood it."""

import pytest
from test_open_accounts import PROFILE, OpenChain

from tianfu.api.service import TxBusy
from tianfu.crypto import generate_keypair
from tianfu.mempool import Mempool
from tianfu.node.service import NodeService

POOL = 100


@pytest.fixture
def chain(tmp_path):
    c = OpenChain(tmp_path, PROFILE)
    c.block()
    yield c
    c.close()


def test_outsiders_flooding_the_pool_leave_room_for_members(chain):
    service = NodeService(
        chain.ledger, Mempool(max_txs=POOL), node_name="n", org="org1", is_validator=True
    )
    accounts = [generate_keypair() for _ in range(3)]
    for kp in accounts:
        chain.register(kp)
    admitted, busy = 0, 0
    for kp in accounts:  # each account alone is well within its quota and its own share
        for _ in range(POOL // 2):
            try:
                service.admit(chain.account_tx(kp, "accounts", "sponsor", "0" * 40))
                admitted += 1
            except TxBusy:
                busy += 1
    assert admitted == POOL // 2 and busy == len(accounts) * POOL // 2 - POOL // 2
    # A member's transactions still find room: the other half is not the outsiders'.
    for i in range(POOL // 2):
        service.admit(chain.tx(chain.admins["org1"], "vote", i + 1, True))
    assert len(service.mempool) == POOL
    # Outsiders' transactions leave the pool (committed, expired): room for outsiders again.
    pool = service.mempool
    gone = [t.hash for t in pool.take(POOL, 1 << 30) if t.body.cert == b""][:10]
    pool.remove(gone)
    service.admit(chain.account_tx(accounts[0], "accounts", "sponsor", "0" * 40))


def test_the_outsiders_share_counts_bytes_too():
    from test_gossip_txpath import body

    from tianfu.crypto import sign_tx
    from tianfu.mempool.pool import OutsidersFull

    pool = Mempool(max_txs=10, max_bytes=1000)
    kp = generate_keypair()

    big = sign_tx(kp, body("x" * 300, key=kp))
    assert pool.add(big, outsider=True)
    with pytest.raises(OutsidersFull):
        pool.add(sign_tx(kp, body("y" * 300, key=kp)), outsider=True)
    assert pool.add(sign_tx(kp, body("z" * 300, key=kp)))  # a member's: the other half
    pool.remove([big.hash])
    assert pool.add(sign_tx(kp, body("y" * 300, key=kp)), outsider=True)
