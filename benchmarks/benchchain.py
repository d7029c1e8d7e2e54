"""An in-process consortium ledger for benchmarks: real keys, signed txs, certified blocks.

Shared by `state_scaling.py` and `catchup.py` (run as scripts, so this directory is on
`sys.path`). Four organisations, each with its own CA, admin and one validator of power 1;
blocks are built by `Ledger.build_block` (signature checks, sandboxed execution, Merkle
update) and committed by `Ledger.commit` (one SQLite transaction) with a commit
certificate signed by a quorum (3 of 4) of the validators, exactly the objects a 4-node
network stores. No network, no mempool, no consensus rounds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tianfu.contracts.examples import example_source
from tianfu.crypto import KeyPair, sign_tx, sign_vote
from tianfu.identity import Identity, OrgCA
from tianfu.ledger import Ledger
from tianfu.ledger.ledger import ExecutedBlock
from tianfu.store import Store
from tianfu.types import (
    PRECOMMIT,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    ConsensusParams,
    Genesis,
    OrgConfig,
    Receipt,
    Transaction,
    TxBody,
    Validator,
)

ORGS = ("org1", "org2", "org3", "org4")

# The shipped asset contract plus one bulk-mint method, used only to pre-load state fast:
# `transfer` (the measured workload) is the shipped code unchanged, and the keys it writes
# ("bal:<address>") are exactly those `mint` writes, one JMT leaf and one state row each.
MINT_MANY = """

def mint_many(ctx, owners, amount):
    ctx.require(
        ctx.has_role("minter") or ctx.sender.kind == "admin", "only a minter or an admin may mint"
    )
    _positive(ctx, amount)
    for to in owners:
        _address(ctx, to)
        ctx.put("bal:" + to, ctx.get("bal:" + to, 0) + amount)
    ctx.put("supply", ctx.get("supply", 0) + amount * len(owners))
    return len(owners)
"""


def bench_asset_source() -> str:
    """The shipped `asset` contract source with `mint_many` appended."""
    return example_source("asset") + MINT_MANY


class BenchChain:
    """One node's ledger of a 4-organisation consortium, driven directly (no network)."""

    def __init__(
        self,
        directory: Path,
        params: ConsensusParams | None = None,
        genesis: Genesis | None = None,
        cas: dict[str, OrgCA] | None = None,
        validator_keys: list[KeyPair] | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        if genesis is None:
            cas = {o: OrgCA.create(o) for o in ORGS}
            nodes = [cas[o].issue(f"node{i}", "node") for i, o in enumerate(ORGS, 1)]
            validator_keys = [n.keypair for n in nodes]
            genesis = Genesis(
                version=1,
                chain_id="tianfu-bench",
                time_ms=int(time.time() * 1000),
                orgs=[OrgConfig(o, ca.cert_der) for o, ca in cas.items()],
                validators=[
                    Validator(f"node{i}", o, k.scheme, k.public_key, 1)
                    for i, (o, k) in enumerate(zip(ORGS, validator_keys, strict=True), 1)
                ],
                params=params or ConsensusParams(),
            )
        assert cas is not None and validator_keys is not None
        self.genesis = genesis
        self.cas = cas
        self.keys = validator_keys
        self.quorum = genesis.validator_set.quorum()
        self.admins = {o: ca.issue(f"{o}-admin", "admin") for o, ca in cas.items()}
        self.store = Store(self.dir / "chain.db")
        self.ledger = Ledger(self.store, genesis)
        self._nonce = 0
        self._registered: set[str] = set()

    def replica(self, directory: Path) -> BenchChain:
        """Another node of the same consortium (same genesis and keys), with an empty store."""
        return BenchChain(directory, genesis=self.genesis, cas=self.cas, validator_keys=self.keys)

    # -- transactions ---------------------------------------------------------------------
    def sign(
        self, who: Identity, contract: str, method: str, args: list[Any], expiry_ahead: int = 50
    ) -> Transaction:
        """A signed transaction of `who`, carrying its certificate until it is registered."""
        self._nonce += 1
        address = who.info.address
        cert = b"" if address in self._registered else who.cert_der
        kp = who.keypair
        body = TxBody(
            1,
            self.genesis.chain_id,
            kp.scheme,
            kp.public_key,
            self._nonce,
            self.ledger.height + expiry_ahead,
            contract,
            method,
            args,
            cert,
        )
        return sign_tx(kp, body)

    def cert(self, header: BlockHeader) -> CommitCertificate:
        """A commit certificate of `header` signed by a quorum of the validators."""
        sigs = []
        t = max(int(time.time() * 1000), header.time_ms + 1)  # precommit time (BFT time)
        for k in self.keys[: self.quorum]:
            vote = sign_vote(k, self.genesis.chain_id, header.height, 0, PRECOMMIT, header.hash, t)
            sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
        return CommitCertificate(1, self.genesis.chain_id, header.height, 0, header.hash, sigs)

    def next_time_ms(self) -> int:
        """The wall clock (the ledger makes block times increase by at least 1 ms)."""
        return int(time.time() * 1000)

    def build(self, txs: list[Transaction]) -> ExecutedBlock:
        return self.ledger.build_block(txs, self.keys[0].public_key)

    def commit(self, executed: ExecutedBlock) -> None:
        self.ledger.commit(executed, self.cert(executed.block.header))

    def produce(self, txs: list[Transaction]) -> ExecutedBlock:
        executed = self.build(txs)
        self.commit(executed)
        return executed

    def call(self, who: Identity, contract: str, method: str, *args: Any) -> Receipt:
        executed = self.produce([self.sign(who, contract, method, list(args))])
        self._registered.add(who.info.address)
        return executed.result.receipts[0]

    # -- setup ----------------------------------------------------------------------------
    def identity(self, org: str, name: str, kind: str = "member") -> Identity:
        return self.cas[org].issue(name, kind)

    def register(self, people: list[Identity]) -> None:
        """Register first-use certificates, all in one block (a harmless governance call)."""
        txs = [self.sign(p, "governance", "get_identity", [p.info.address]) for p in people]
        executed = self.produce(txs)
        bad = [r.error for r in executed.result.receipts if not r.ok]
        if bad:
            raise RuntimeError(f"registration failed: {bad[0]}")
        self._registered.update(p.info.address for p in people)

    def deploy(self, name: str, source: str) -> None:
        """Propose a contract and approve it with enough organisations' admins."""
        admins = list(self.admins.values())
        r = self.call(admins[0], "governance", "propose_contract", name, source)
        if not r.ok:
            raise RuntimeError(f"proposal of {name} failed: {r.error}")
        pid = r.result
        for admin in admins:
            r = self.call(admin, "governance", "approve", pid)
            if not r.ok:
                raise RuntimeError(f"approval of {name} failed: {r.error}")
            if r.result["status"] == "activated":
                return
        raise RuntimeError(f"contract {name} was not activated")

    def close(self) -> None:
        self.store.close()


def db_bytes(directory: Path) -> int:
    """Bytes on disk of the SQLite store (database, WAL and shared-memory files)."""
    return sum(p.stat().st_size for p in Path(directory).glob("chain.db*"))


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc/self/status."""
    vals = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, kb, _ = line.split()
            vals[key] = int(kb) / 1024
    return vals.get("VmRSS:", 0.0), vals.get("VmHWM:", 0.0)
