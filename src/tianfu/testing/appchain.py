"""An in-process consortium chain for contract and application tests.

Real organisations (X.509 CAs), real signed transactions, the real executor, Merkle state,
SQLite store and REST API (through FastAPI's TestClient) — but one validator and one
block per submitted transaction, so tests run in milliseconds. The SDK works against it
unchanged: `chain.client(identity)` is a `tianfu.client.Client`.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tianfu.client import Client
from tianfu.consensus.solo import SoloDriver
from tianfu.crypto import ED25519, sign_tx, suite_for_scheme
from tianfu.execution.contract_api import state_key
from tianfu.identity import Identity, OrgCA
from tianfu.ledger import Ledger
from tianfu.mempool import Mempool
from tianfu.node.http import node_app
from tianfu.node.service import NodeService
from tianfu.privdata.node import PrivateDataNode
from tianfu.store import Store
from tianfu.types import Genesis, OrgConfig, Receipt, TxBody, Validator

DEFAULT_ORGS = ("org1", "org2", "org3", "org4")


class AppChain:
    """`scheme` chooses every key and so the chain's crypto suite (SM2: the SM2/SM3 suite;
    the process must then hash with it: `tianfu.crypto.set_chain_suite`)."""

    def __init__(
        self, directory: Path, orgs: tuple[str, ...] = DEFAULT_ORGS, scheme: int = ED25519
    ) -> None:
        self.dir = Path(directory)
        self.scheme = scheme
        self.cas = {o: OrgCA.create(o, scheme) for o in orgs}
        self.admins = {o: ca.issue(f"{o}-admin", "admin", scheme) for o, ca in self.cas.items()}
        node = self.cas[orgs[0]].issue("node0", "node", scheme)
        self.genesis = Genesis(
            version=1,
            chain_id="tianfu-apptest",
            time_ms=int(time.time() * 1000),
            orgs=[OrgConfig(o, ca.cert_der) for o, ca in self.cas.items()],
            validators=[
                Validator("node0", orgs[0], node.keypair.scheme, node.keypair.public_key, 1)
            ],
            suite=suite_for_scheme(scheme).name,
        )
        self.ledger = Ledger(Store(self.dir / "chain.db"), self.genesis)
        self.mempool = Mempool()
        self.service = NodeService(
            self.ledger, self.mempool, node_name="node0", org=orgs[0], is_validator=True
        )
        self.driver = SoloDriver(
            self.ledger,
            self.mempool,
            node.keypair,
            max_block_txs=1000,
            max_block_bytes=8 << 20,
            interval_ms=0,
            verified=self.service.signature_checked,
        )
        self.service.on_tx = self._commit_now
        # Private data: this one node acts for every organisation (holds all their data
        # keys), so every member can read what its organisation is granted through it.
        self.service.private = PrivateDataNode.open(
            self.dir / "private", self.ledger, set(orgs), query=self.service.query
        )
        self.driver.produce_one([])
        self.http = TestClient(node_app(self.service, self.dir))
        self._nonce = 0
        self._registered: set[str] = set()
        self._identities: dict[tuple[str, str], Identity] = {}

    @property
    def orgs(self) -> list[str]:
        return list(self.cas)

    # -- identities ------------------------------------------------------------------------
    def identity(self, org: str, name: str, kind: str = "member") -> Identity:
        """The identity `name` of `org`: issued on first use, the same one afterwards."""
        key = (org, name)
        if key not in self._identities:
            self._identities[key] = self.cas[org].issue(name, kind, self.scheme)
        return self._identities[key]

    def admin(self, org: str) -> Identity:
        return self.admins[org]

    def client(self, identity: Identity | None = None) -> Client:
        return Client("http://testserver", identity, genesis=self.genesis, http=self.http)

    # -- direct calls (no HTTP) -------------------------------------------------------------
    def _commit_now(self, _tx: Any) -> None:
        while len(self.mempool):  # candidates left out of a full block go in the next
            txs = self.mempool.take(10_000, 64 << 20)
            executed, done = self.driver.produce(txs)
            self.mempool.remove(done)
            self.service.block_committed(executed)

    def sign(self, who: Identity, contract: str, method: str, *args: Any) -> Any:
        self._nonce += 1
        address = who.info.address
        cert = b"" if address in self._registered else who.cert_der
        body = TxBody(
            1,
            self.genesis.chain_id,
            who.keypair.scheme,
            who.keypair.public_key,
            self._nonce,
            self.ledger.height + 10,
            contract,
            method,
            list(args),
            cert,
        )
        return sign_tx(who.keypair, body)

    def call_many(self, calls: list[tuple[Identity, str, str, tuple[Any, ...]]]) -> list[Receipt]:
        """Execute several calls in one block; return their receipts."""
        txs = [self.sign(who, c, m, *args) for who, c, m, args in calls]
        executed = self.driver.produce_one(txs)
        self.service.block_committed(executed)
        for who, *_ in calls:
            self._registered.add(who.info.address)
        return executed.result.receipts

    def call(self, who: Identity, contract: str, method: str, *args: Any) -> Receipt:
        return self.call_many([(who, contract, method, args)])[0]

    def query(self, contract: str, method: str, *args: Any) -> Any:
        return self.service.query(contract, method, list(args))

    def state_root(self) -> bytes:
        head = self.ledger.head()
        assert head is not None
        return head.state_root

    def contract_state(self, *contracts: str) -> bytes:
        """A digest of every contract's latest state (the store's latest values), or of
        the named contracts' only.

        Unlike the state root it does not move when a failed transaction commits: the
        root also covers the ledger's record of every committed transaction.
        """
        h = hashlib.sha256()
        for prefix in [state_key(c, "") for c in contracts] or [b""]:
            for key, value in self.ledger.store.iter_latest(prefix):
                h.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
        return h.digest()

    # -- governance shortcuts ---------------------------------------------------------------
    def deploy(self, name: str, source: str) -> None:
        """Propose a contract and approve it with enough organisations' admins."""
        orgs = list(self.admins)
        r = self.call(self.admins[orgs[0]], "governance", "propose_contract", name, source)
        if not r.ok:
            raise RuntimeError(f"proposal of {name} failed: {r.error}")
        pid = r.result
        for org in orgs:
            r = self.call(self.admins[org], "governance", "approve", pid)
            if not r.ok:
                raise RuntimeError(f"approval of {name} by {org} failed: {r.error}")
            if r.result["status"] == "activated":
                return
        raise RuntimeError(f"contract {name} was not activated")

    def grant(self, who: Identity, role: str) -> None:
        """Grant an on-chain role to `who`: an ordinary role by its own organisation's
        admin, a supervisory one by a governance vote that every organisation's admin
        approves in turn (registering `who`'s certificate first if it has not transacted)."""
        if who.info.address not in self._registered:
            r = self.call(who, "governance", "get_identity", who.info.address)
            if not r.ok:
                raise RuntimeError(f"registration of {who.info.name} failed: {r.error}")
        admin = self.admins[who.info.org]
        if role not in self.query("governance", "supervisory_roles"):
            r = self.call(admin, "governance", "grant_role", who.info.address, role)
            if not r.ok:
                raise RuntimeError(f"grant of {role} failed: {r.error}")
            return
        # A supervisory role: proposed by the org's admin, approved by the consortium.
        r = self.call(admin, "governance", "propose_grant_role", who.info.address, role)
        if not r.ok:
            raise RuntimeError(f"proposal to grant {role} failed: {r.error}")
        pid = r.result
        for org in self.admins:
            r = self.call(self.admins[org], "governance", "approve", pid)
            if not r.ok:
                raise RuntimeError(f"approval of the {role} grant by {org} failed: {r.error}")
            if r.result["status"] != "pending":
                break
        if r.result["status"] != "activated":
            raise RuntimeError(f"the grant of {role} was {r.result['status']}")

    def close(self) -> None:
        self.http.close()
        self.ledger.store.close()
