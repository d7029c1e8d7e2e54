"""Valid proof documents of a real open-profile ledger (ADR 0025, blocks.md#the-open-profile),
whose validator set changes by stake (tests/property/test_verifiers_agree.py compares the
three verifiers over them).

The chain runs the real `Executor` and `Ledger` (4 member organisations, one validator each
of power 10, `max_validators` 6; every block certified by the set of its height): three
accounts registered by proof of work bond validators that enter the set (`a-v`, `b-v`);
a third (`c-v`) displaces the least validator by stake (`b-v`) at `max_validators`; `a-v`
bonds 1 more in six blocks in a row; `a-v` unbonds; a double sign of `c-v` is proven (its
stake burnt, jailed: out of the set); governance removes `a-v` (barred from bonding); `b-v`
bonds back into the set. The documents prove records (state, history back to the genesis
state, transactions, validator sets) at heights across all of it, with sequential and
skipping validator chains.
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path
from typing import Any

from tianfu.codec import encode
from tianfu.contracts import accounts
from tianfu.contracts.staking import prove_possession
from tianfu.crypto import generate_keypair, sign_tx, sign_vote, verify_commit
from tianfu.execution.contract_api import address_of
from tianfu.identity import OrgCA
from tianfu.ledger import Ledger
from tianfu.ledger.proofs import ledger_proofs
from tianfu.proofs.build import SKIPPING
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import TrustOptions
from tianfu.store import Store
from tianfu.types import (
    PRECOMMIT,
    PREVOTE,
    CommitCertificate,
    CommitSig,
    ConsensusParams,
    OpenGenesis,
    OpenProfile,
    OrgConfig,
    StakeGrant,
    TxBody,
    Validator,
)

ORGS = ("org1", "org2", "org3", "org4")
POW_BITS = 4


class OpenLedgerChain:
    """An open-profile chain on a real ledger; blocks certified by the set of their height."""

    def __init__(self, directory: Path) -> None:
        self.cas = {o: OrgCA.create(o) for o in ORGS}
        self.admins = {o: ca.issue(f"{o}-admin", "admin") for o, ca in self.cas.items()}
        self.keys: dict[bytes, Any] = {}
        validators = []
        for o in ORGS:
            node = self.cas[o].issue(f"{o}-node", "node")
            self.keys[node.keypair.public_key] = node.keypair
            validators.append(Validator(f"{o}-v", o, node.keypair.scheme, node.keypair.public_key, 10))  # fmt: skip
        self.stakers = {n: generate_keypair() for n in ("a", "b", "c")}
        grants = [StakeGrant(address_of(k.scheme, k.public_key), 1000) for k in self.stakers.values()]  # fmt: skip
        self.genesis_time = int(time.time() * 1000) - 10_000
        self.genesis = OpenGenesis(
            1, "open-verifiers", self.genesis_time,
            [OrgConfig(o, ca.cert_der) for o, ca in self.cas.items()], validators,
            ConsensusParams(max_validators=6), open_profile=OpenProfile(
                open_contracts=["notes"], pow_bits=POW_BITS, unbonding_blocks=3, stake=grants),
        )  # fmt: skip
        self.genesis.validate()
        self.ledger = Ledger(Store(directory / "open.db"), self.genesis)
        self.nonce = 0
        self.time_ms = self.genesis.time_ms
        self.txs: dict[str, Any] = {}

    def tx(self, kp: Any, contract: str, method: str, *args: Any, cert: bytes = b"") -> Any:
        self.nonce += 1
        body = TxBody(1, self.genesis.chain_id, kp.scheme, kp.public_key, self.nonce,
                      self.ledger.height + 10, contract, method, list(args), cert)  # fmt: skip
        return sign_tx(kp, body)

    def block(self, txs: list[Any] = ()) -> list[Any]:  # type: ignore[assignment]
        self.time_ms += 1000
        executed = self.ledger.build_block(list(txs), b"\x01" * 32)
        header = executed.block.header
        valset = self.ledger.validator_set(header.height)
        sigs = []
        for v in valset.validators:
            vote = sign_vote(self.keys[v.public_key], self.genesis.chain_id, header.height, 0,
                             PRECOMMIT, header.hash, max(self.time_ms + 1000, header.time_ms + 1))  # fmt: skip
            sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
        cert = CommitCertificate(1, self.genesis.chain_id, header.height, 0, header.hash, sigs)
        verify_commit(cert, header.hash, header.height, valset, self.genesis.chain_id)
        self.ledger.commit(executed, cert)
        receipts = executed.result.receipts
        assert len(receipts) == len(txs), "a transaction was dropped"
        assert all(r.ok for r in receipts), [r.error for r in receipts]
        return receipts

    def call(self, label: str, kp: Any, contract: str, method: str, *args: Any, cert: bytes = b"") -> Any:  # fmt: skip
        tx = self.tx(kp, contract, method, *args, cert=cert)
        self.txs[label] = tx
        return self.block([tx])[0]

    def member(self, org: str, method: str, *args: Any) -> Any:
        who = self.admins[org]
        return self.call(f"{org} {method}", who.keypair, "governance", method, *args, cert=who.cert_der)  # fmt: skip

    def set_names(self, height: int) -> dict[str, int]:
        return {v.name: v.power for v in self.ledger.validator_set(height).validators}


def run(chain: OpenLedgerChain) -> dict[str, int]:
    """The stake-driven history of the module docstring; returns heights worth proving."""
    c, at = chain, {}
    c.block()  # 1
    regs = []
    for kp in c.stakers.values():
        a = address_of(kp.scheme, kp.public_key)
        regs.append(c.tx(kp, "accounts", "register", accounts.solve_pow(c.genesis.chain_id, a, POW_BITS)))  # fmt: skip
    c.block(regs)
    vkeys = {n: generate_keypair() for n in c.stakers}
    c.keys.update({k.public_key: k for k in vkeys.values()})

    def bond(n: str, amount: int) -> None:
        k = vkeys[n]
        owner = c.stakers[n]
        proof = prove_possession(k, c.genesis.chain_id, address_of(owner.scheme, owner.public_key))
        c.call(f"bond {n}", owner, "staking", "bond", f"{n}-v", k.scheme, k.public_key, amount, proof)  # fmt: skip

    bond("a", 30)
    at["a enters"] = c.ledger.height
    bond("b", 20)
    at["set full"] = c.ledger.height
    bond("c", 25)
    at["b displaced"] = c.ledger.height
    assert "b-v" not in c.set_names(c.ledger.height + 2) and "c-v" in c.set_names(c.ledger.height + 2)  # fmt: skip
    for _ in range(6):
        bond("a", 1)
    at["a bonded six times"] = c.ledger.height
    c.call("unbond a", c.stakers["a"], "staking", "unbond", "a-v", 10)
    at["a unbonded"] = c.ledger.height
    c.block()
    h = c.ledger.height
    assert "c-v" in c.set_names(h)
    votes = [encode(sign_vote(vkeys["c"], c.genesis.chain_id, h, 0, PREVOTE, bytes([i]) * 32)) for i in (1, 2)]  # fmt: skip
    r = c.call("evidence", c.stakers["b"], "staking", "submit_evidence", *votes)
    assert r.result["slashed"] is True, r.result
    at["c slashed"] = c.ledger.height
    r = c.member("org1", "propose_remove_validator", "a-v")
    for o in ("org1", "org2", "org3"):
        c.member(o, "vote", r.result, True)
    at["a barred"] = c.ledger.height
    assert "a-v" not in c.set_names(c.ledger.height + 2)
    bond("b", 15)
    at["b back"] = c.ledger.height
    c.block()
    c.block()
    assert set(c.set_names(c.ledger.height)) == {"org1-v", "org2-v", "org3-v", "org4-v", "b-v"}
    return at


@functools.cache
def open_documents() -> list[dict[str, Any]]:
    """The valid documents of the open chain, each as test_verifiers_agree's `bases` entries."""
    with tempfile.TemporaryDirectory() as tmp:
        chain = OpenLedgerChain(Path(tmp))
        try:
            at = run(chain)
            return _documents(chain, at)
        finally:
            chain.ledger.store.close()


def _documents(chain: OpenLedgerChain, at: dict[str, int]) -> list[dict[str, Any]]:
    b, g = ledger_proofs(chain.ledger), chain.genesis
    now = chain.time_ms + 60_000
    opts = TrustOptions(now_ms=now)
    top = chain.ledger.height
    a_address = address_of(chain.stakers["a"].scheme, chain.stakers["a"].public_key)
    out: list[tuple[str, str, Any]] = []
    for name, h in at.items():
        out.append((f"validators after '{name}'", "validators", b.validators_bundle(h + 2)))
        out.append((f"the set in state after '{name}'", "state",
                    b.state_bundle([("governance", "validators")], h + 2)))  # fmt: skip
    out += [
        ("validators at the top", "validators", b.validators_bundle(top)),
        ("validators at the top, skipping", "validators", b.validators_bundle(top, SKIPPING)),
        ("bonds at the top, skipping", "state", b.state_bundle(
            [("governance", "stake/bond/a-v"), ("governance", "stake/bond/c-v"),
             ("governance", "stake/barred/a-v"), ("governance", "stake/burnt")], top, SKIPPING)),
        ("the profile and params", "state", b.state_bundle(
            [("governance", "profile"), ("governance", "params"),
             ("governance", "valset_heights")], top)),
        ("history of stake/burnt", "history", b.history_bundle("governance", "stake/burnt", top)),
        ("history of a's balance", "history",
         b.history_bundle("governance", f"stake/balance/{a_address}", top)),
        ("history of the validators", "history",
         b.history_bundle("governance", "validators", top)),
        ("history of valset_heights", "history",
         b.history_bundle("governance", "valset_heights", top)),
        ("history of org1-v's bond", "history",
         b.history_bundle("governance", "stake/bond/org1-v", top)),
    ]  # fmt: skip
    out += [
        (f"{kind} at the top", kind, b.consortium_bundle(kind, top))
        for kind in ("orgs", "contracts")
    ]
    for label in ("bond c", "evidence", "unbond a"):
        out.append((f"the tx '{label}'", "tx", b.tx_bundle(chain.txs[label].hash)))
    out.append(("the tx 'bond c', skipping", "tx", b.tx_bundle(chain.txs["bond c"].hash, SKIPPING)))
    genesis = encode(g)
    return [{"suite": g.suite, "name": f"open chain: {name}", "kind": kind,
             "document": make_document(kind, bundle, g, opts), "genesis": genesis,
             "now_ms": now, "corner": True} for name, kind, bundle in out]  # fmt: skip
