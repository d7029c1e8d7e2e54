"""Property: for any sequence of votes by any organisations, a governance proposal is
activated iff the approvals of member organisations exceed the policy's threshold, and at
most once; it is rejected iff approval can no longer reach the threshold."""

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.codec import decode_value
from tianfu.contracts import governance
from tianfu.crypto import generate_keypair, sign_tx
from tianfu.execution.contract_api import state_key
from tianfu.execution.executor import Executor
from tianfu.identity import OrgCA
from tianfu.types import Genesis, OrgConfig, Policies, TxBody, Validator

N_ORGS = 6
CAS = [OrgCA.create(f"o{i}") for i in range(N_ORGS)]
ADMINS = [ca.issue(f"o{i}-admin", "admin") for i, ca in enumerate(CAS)]
VKEY = generate_keypair()


def make_genesis(policy):
    return Genesis(
        1,
        "tianfu-gov-prop",
        int(time.time() * 1000) - 10_000,
        [OrgConfig(ca.org, ca.cert_der) for ca in CAS],
        [Validator("v0", "o0", VKEY.scheme, VKEY.public_key, 1)],
        policies=Policies(governance=policy),
    )


GENESES = {p: make_genesis(p) for p in ("majority", "two_thirds", "all")}


class Run:
    def __init__(self, genesis):
        self.executor = Executor(genesis, governance)
        self.state = dict(self.executor.genesis_updates())
        self.genesis = genesis
        self.height = 0
        self.nonce = 0

    def block(self, calls):
        self.height += 1
        txs = []
        for who, method, args in calls:
            self.nonce += 1
            body = TxBody(
                1, self.genesis.chain_id, who.keypair.scheme, who.keypair.public_key,
                self.nonce, self.height + 5, "governance", method, list(args), who.cert_der,
            )  # fmt: skip
            txs.append(sign_tx(who.keypair, body))
        result = self.executor.execute_block(
            self.height, self.genesis.time_ms + self.height, txs, self.state.get, lambda h: False
        )
        for k, v in result.updates.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        return result.receipts

    def get(self, key):
        raw = self.state.get(state_key("governance", key))
        return None if raw is None else decode_value(raw)


def passes(policy, yes, members):
    return {
        "majority": yes * 2 > members,
        "two_thirds": yes * 3 > members * 2,
        "all": yes == members,
    }[policy]


@settings(deadline=None, max_examples=40)
@given(
    policy=st.sampled_from(sorted(GENESES)),
    votes=st.lists(st.tuples(st.integers(0, N_ORGS - 1), st.booleans()), max_size=14),
    per_block=st.integers(1, 3),
)
def test_activation_iff_threshold(policy, votes, per_block):
    run = Run(GENESES[policy])
    (r,) = run.block([(ADMINS[0], "propose_set_params", [{"max_block_txs": 123}])])
    assert r.ok, r.error
    pid = r.result
    approvals, rejections, status = set(), set(), "pending"
    activations = 0
    for i in range(0, len(votes), per_block):
        chunk = votes[i : i + per_block]
        receipts = run.block([(ADMINS[o], "vote", [pid, yes]) for o, yes in chunk])
        for (o, yes), rec in zip(chunk, receipts, strict=True):
            model_ok = status == "pending" and o not in approvals | rejections
            assert rec.ok == model_ok, (rec.error, status, o)
            if not model_ok:
                continue
            (approvals if yes else rejections).add(o)
            if passes(policy, len(approvals), N_ORGS):
                status = "activated"
            elif not passes(policy, N_ORGS - len(rejections), N_ORGS):
                status = "rejected"
            assert rec.result["status"] == status
            activations += sum(1 for e in rec.events if e.name == "ProposalActivated")
        proposal = run.get(f"proposal/{pid}")
        assert proposal["status"] == status
        assert sorted(proposal["approvals"]) == sorted(f"o{i}" for i in approvals)
        assert (run.get("params")["max_block_txs"] == 123) == (status == "activated")
    assert activations == (1 if status == "activated" else 0)
    assert (pid in run.get("pending")) == (status == "pending")
