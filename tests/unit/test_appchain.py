"""The in-process application test chain works end to end, through the SDK too."""

from tianfu.contracts.examples import example_source
from tianfu.testing.appchain import AppChain


def test_appchain_deploy_call_and_sdk(tmp_path):
    chain = AppChain(tmp_path)
    try:
        chain.deploy("asset", example_source("asset"))
        admin = chain.admin("org2")
        chain.grant(admin, "minter")
        alice = chain.identity("org3", "alice")
        r = chain.call(admin, "asset", "mint", alice.info.address, 100)
        assert r.ok, r.error
        assert chain.query("asset", "balance", alice.info.address) == 100
        # Approval needs more than half of 4 organisations: 3 approvals.
        proposals = [
            e for e in chain.ledger.store.events(contract="governance", name="ProposalApproved")
        ]
        assert len(proposals) == 3
        c = chain.client(alice)
        res = c.invoke("asset", "transfer", admin.info.address, 40)
        assert res.ok and res.committed
        assert c.read_state("asset", "bal:" + alice.info.address).value == 60
        bad = c.invoke("asset", "transfer", admin.info.address, 1000, check=False)
        assert not bad.ok and "insufficient" in bad.error
    finally:
        chain.close()
