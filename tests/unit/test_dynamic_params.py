"""Unit tests: chain parameters voted through governance take effect from H + 2 — in the
executor (gas limit, expiry window) on every replica, and in the consensus driver
(timeouts, block limits, intervals)."""

import asyncio

import pytest
from test_governance_admission import Chain

from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.messages import CreateProposalBlock
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import sign_tx
from tianfu.execution.executor import TxInvalid
from tianfu.ledger import InvalidBlock
from tianfu.types import ConsensusParams, TxBody

BURN = "def burn(ctx, n):\n    x = 0\n    for i in range(n):\n        x = x + i\n    return x\n"
NEW = {
    "max_gas_per_tx": 10_000,
    "tx_expiry_window": 20,
    "timeout_propose_ms": 4321,
    "timeout_vote_ms": 1234,
    "timeout_delta_ms": 77,
    "block_interval_ms": 250,
    "empty_block_interval_ms": 0,
    "max_block_txs": 3,
    "max_block_bytes": 4096,
}


def tx_with_expiry(chain, who, expiry, method, *args, contract="governance"):
    chain.nonce += 1
    body = TxBody(
        1,
        chain.genesis.chain_id,
        who.keypair.scheme,
        who.keypair.public_key,
        chain.nonce,
        expiry,
        contract,
        method,
        list(args),
        who.cert_der,
    )
    return sign_tx(who.keypair, body)


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def deploy_burn(chain):
    pid = chain.ok(chain.admins["org1"], "propose_contract", "burn", BURN)
    for o in ("org1", "org2", "org3"):
        res = chain.ok(chain.admins[o], "approve", pid)
    assert res["status"] == "activated"


def vote_params(chain, changes):
    pid = chain.ok(chain.admins["org1"], "propose_set_params", changes)
    return chain.pass_proposal(pid)


def test_params_from_h_plus_2_on_every_replica(chain):
    deploy_burn(chain)
    genesis_params = chain.genesis.params
    assert chain.ledger.params(1) == genesis_params
    h = vote_params(chain, NEW)
    for ledger in (chain.ledger, chain.replica):
        assert ledger.params(h) == genesis_params
        assert ledger.params(h + 1) == genesis_params
        new = ledger.params(h + 2)
        for k, v in NEW.items():
            assert getattr(new, k) == v, k
        assert new.max_validators == genesis_params.max_validators  # untouched keys stay
    with pytest.raises(InvalidBlock, match="not determined"):
        chain.ledger.params(h + 3)

    user = chain.cas["org1"].issue("burner", "member")
    far = h + 1 + 21  # beyond the new window (20), inside the old one (1000)
    # Block h + 1: still the genesis parameters — the far expiry and the big loop pass.
    receipts = chain.block(
        [
            tx_with_expiry(chain, user, far, "burn", 20_000, contract="burn"),
            tx_with_expiry(chain, user, far, "list_orgs"),
        ]
    )
    assert [r.ok for r in receipts] == [True, True], [r.error for r in receipts]
    assert receipts[0].gas_used > NEW["max_gas_per_tx"]
    # Block h + 2: the new parameters, on the proposer and on the replica alike.
    assert chain.ledger.height + 1 == h + 2
    next_h = h + 2
    too_far = tx_with_expiry(chain, user, next_h + 21, "list_orgs")
    in_window = tx_with_expiry(chain, user, next_h + 20, "list_orgs")
    for ledger in (chain.ledger, chain.replica):
        with pytest.raises(TxInvalid, match="too far ahead: at most 20"):
            ledger.executor.check_tx(too_far, next_h, chain.time_ms, ledger.latest.get)
        ledger.executor.check_tx(in_window, next_h, chain.time_ms, ledger.latest.get)
        # A validator refuses a block holding it.
        with pytest.raises(TxInvalid):
            ledger.executor.execute_block(
                next_h, chain.time_ms + 1, [too_far], ledger.latest.get, ledger.store.has_tx
            )
    burn = tx_with_expiry(chain, user, next_h + 5, "burn", 20_000, contract="burn")
    chain.time_ms += 1000
    built = chain.ledger.build_block([too_far, in_window, burn], b"\x01" * 32)
    assert [t.hash for t in built.block.txs] == [in_window.hash, burn.hash]
    assert [d[0] for d in built.result.dropped] == [too_far.hash]
    gas_receipt = built.result.receipts[1]
    assert not gas_receipt.ok and "gas" in gas_receipt.error.lower()
    assert gas_receipt.gas_used <= NEW["max_gas_per_tx"]
    # The replica computes the same receipts and state root under the same parameters.
    replayed = chain.replica.execute(built.block)
    assert replayed.batch.root == built.block.header.state_root
    assert replayed.result.receipts == built.result.receipts


def test_queries_and_views_use_current_params(chain):
    vote_params(chain, {"max_gas_per_tx": 10_000})
    chain.block()
    chain.block()
    assert chain.query("get_params")["max_gas_per_tx"] == 10_000
    executor = chain.ledger.executor
    assert executor.params_for(chain.ledger.height + 1).max_gas_per_tx == 10_000
    assert executor.params.max_gas_per_tx == chain.genesis.params.max_gas_per_tx  # genesis


def make_driver(chain, tmp_path, **kw):
    from tianfu.mempool import Mempool

    return ConsensusDriver(
        chain.ledger,
        kw.pop("mempool", Mempool()),
        kw.pop("privval", None),
        ConsensusWAL(tmp_path / "cs.wal"),
        network=None,
        **kw,
    )


def test_driver_builds_core_with_params_of_each_height(chain, tmp_path):
    h = vote_params(chain, NEW)
    driver = make_driver(chain, tmp_path)
    old, new = driver.params_at(h + 1), driver.params_at(h + 2)
    assert old == chain.genesis.params and new.timeout_propose_ms == 4321
    core = driver._default_core(h + 2, chain.ledger.validator_set(h + 2))
    assert core.params == new
    assert core._timeout(core.step, 2) == 4321 + 2 * 77  # the propose timeout of round 2
    # A core that moves from h + 1 to h + 2 is switched before BlockCommitted.
    driver.core = driver._default_core(h + 1, chain.ledger.validator_set(h + 1))
    assert driver.core.params == old
    driver.use_params_of(h + 2)
    assert driver.core.params == new
    assert driver.gossip_interval == pytest.approx(1.234)
    assert driver.min_block_interval == pytest.approx(0.25)
    # Explicit parameters override the per-height ones (simulations, tests).
    fixed = ConsensusParams(timeout_propose_ms=99)
    pinned = make_driver(chain, tmp_path, params=fixed, gossip_interval_ms=10)
    assert pinned.params_at(h + 2) == fixed
    assert pinned._default_core(h + 2, chain.ledger.validator_set(h + 2)).params == fixed
    assert pinned.use_params_of(h + 2) == fixed and pinned.gossip_interval == pytest.approx(0.01)


class RecordingMempool:
    def __init__(self, txs):
        self.txs = txs
        self.taken = []

    def __len__(self):
        return len(self.txs)

    def take(self, max_txs, max_bytes):
        self.taken.append((max_txs, max_bytes))
        return self.txs[:max_txs]

    def remove(self, hashes):
        pass


def test_driver_block_limits_follow_params(chain, tmp_path):
    h = vote_params(chain, NEW)
    chain.block()  # now deciding h + 2
    assert chain.ledger.height + 1 == h + 2
    node = chain.cas["org1"].issue("org1-node", "node")
    user = chain.cas["org2"].issue("someone", "member")
    txs = [tx_with_expiry(chain, user, h + 10, "list_orgs") for _ in range(5)]
    mempool = RecordingMempool(txs)
    FilePrivValidator.initialise(node.keypair, tmp_path / "pv.json")
    privval = FilePrivValidator(node.keypair, tmp_path / "pv.json")
    driver = make_driver(chain, tmp_path, mempool=mempool, privval=privval)
    posted = []
    driver._post = posted.append  # the block comes back as an event

    async def build():
        driver._ledger_lock = asyncio.Lock()
        driver.core = driver._default_core(h + 2, chain.ledger.validator_set(h + 2))
        await driver._build(CreateProposalBlock(h + 2, 0))

    asyncio.run(build())
    assert mempool.taken == [(3, 4096)]
    assert len(posted) == 1 and posted[0].height == h + 2
    assert driver.stats["built"] == 1
