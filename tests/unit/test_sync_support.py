"""Helpers for the block-sync tests: a consortium with real keys, signed chains, a fake network.

Imported by test_sync*.py (pytest puts this directory on sys.path); the few tests here
check the helpers themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from tianfu.codec import encode
from tianfu.crypto import KeyPair, generate_keypair, sign_tx, sign_vote
from tianfu.identity import OrgCA
from tianfu.ledger import Ledger
from tianfu.ledger.ledger import ExecutedBlock
from tianfu.p2p.protocol import PeerId
from tianfu.store import Store
from tianfu.types import (
    PRECOMMIT,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    ConsensusParams,
    Genesis,
    OrgConfig,
    Transaction,
    TxBody,
    Validator,
)

ORG = "org1"
CHAIN = "sync-test"
CHAIN_LEN = 30  # blocks of the `world` chain (tests/unit/conftest.py)


class Consortium:
    """One organisation, `n_validators` validators of power 1, an admin and a user."""

    def __init__(self, n_validators: int = 4, max_block_bytes: int = 256 << 10) -> None:
        self.ca = OrgCA.create(ORG)
        self.admin = self.ca.issue("admin", "admin")
        self.user = self.ca.issue("user", "member")
        self.keys = [generate_keypair() for _ in range(n_validators)]
        self.genesis = Genesis(
            version=1,
            chain_id=CHAIN,
            # Block 1 is dated at the genesis time (BFT time): after the certificates'
            # not-before (issued now, back-dated 5 minutes).
            time_ms=int(time.time() * 1000) - 60_000,
            orgs=[OrgConfig(ORG, self.ca.cert_der)],
            validators=[
                Validator(f"v{i}", ORG, k.scheme, k.public_key, 1) for i, k in enumerate(self.keys)
            ],
            params=ConsensusParams(max_block_bytes=max_block_bytes),
        )
        self.quorum = self.genesis.validator_set.quorum()
        self._nonce = 0

    def ledger(self, path: Path) -> Ledger:
        path.mkdir(parents=True, exist_ok=True)
        return Ledger(Store(path / "chain.db"), self.genesis)

    def _tx(self, who, contract: str, method: str, args: list, height: int) -> Transaction:
        self._nonce += 1
        kp = who.keypair
        body = TxBody(
            1, CHAIN, kp.scheme, kp.public_key, self._nonce, height + 50, contract, method,
            args, who.cert_der,
        )  # fmt: skip
        return sign_tx(kp, body)

    def txs(self, height: int, n: int) -> list[Transaction]:
        """`n` transactions for block `height`: the user registers, the admin grants roles."""
        out = [self._tx(self.user, "governance", "list_orgs", [], height)]
        out += [
            self._tx(
                self.admin,
                "governance",
                "grant_role",
                [self.user.info.address, f"r{height}x{i}"],
                height,
            )  # fmt: skip
            for i in range(n - 1)
        ]
        return out[:n]

    def cert(
        self, header: BlockHeader, signers: list[KeyPair] | None = None, round: int = 0
    ) -> CommitCertificate:
        """A commit certificate of `header` signed by `signers` (default: a quorum)."""
        signers = self.keys[: self.quorum] if signers is None else signers
        sigs = []
        for k in signers:
            t = max(int(time.time() * 1000), header.time_ms + 1)  # a node's precommit time
            vote = sign_vote(k, CHAIN, header.height, round, PRECOMMIT, header.hash, t)
            sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
        return CommitCertificate(1, CHAIN, header.height, round, header.hash, sigs)

    def produce(self, ledger: Ledger, txs: list[Transaction]) -> ExecutedBlock:
        executed = ledger.build_block(txs, self.keys[0].public_key)
        ledger.commit(executed, self.cert(executed.block.header))
        return executed

    def grow(self, ledger: Ledger, n_blocks: int, txs_per_block: int = 3) -> None:
        for _ in range(n_blocks):
            h = ledger.height + 1
            self.produce(ledger, self.txs(h, txs_per_block))


def peer_id(name: str) -> PeerId:
    kp = generate_keypair()
    return PeerId(address=f"addr-{name}", org=ORG, name=name, public_key=kp.public_key)


Handler = Callable[[PeerId, int, bytes], None]


class Hub:
    """Routes frames between in-process nodes through the event loop (one hop = one callback)."""

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[PeerId, Handler]] = {}
        self.links: set[frozenset[str]] = set()
        self.sent: list[tuple[str, str, int, int]] = []  # (from, to, kind, payload size)

    def attach(self, peer: PeerId, handler: Handler) -> FakeNetwork:
        self.handlers[peer.address] = (peer, handler)
        return FakeNetwork(self, peer)

    def connect(self, a: PeerId, b: PeerId) -> None:
        self.links.add(frozenset((a.address, b.address)))

    def disconnect(self, a: PeerId, b: PeerId) -> None:
        self.links.discard(frozenset((a.address, b.address)))

    def deliver(self, src: PeerId, dst: str, kind: int, payload: bytes) -> None:
        if frozenset((src.address, dst)) not in self.links or dst not in self.handlers:
            return
        self.sent.append((src.address, dst, kind, len(payload)))
        _, handler = self.handlers[dst]
        asyncio.get_running_loop().call_soon(handler, src, kind, payload)


class FakeNetwork:
    """The `tianfu.p2p.protocol.Network` of one node on a `Hub`."""

    def __init__(self, hub: Hub, me: PeerId) -> None:
        self.hub = hub
        self.me = me

    def broadcast(self, kind: int, payload: bytes) -> None:
        for p in self.peers():
            self.hub.deliver(self.me, p.address, kind, payload)

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        self.hub.deliver(self.me, peer, kind, payload)

    def peers(self) -> list[PeerId]:
        out = []
        for addr, (pid, _) in self.hub.handlers.items():
            if addr != self.me.address and frozenset((addr, self.me.address)) in self.hub.links:
                out.append(pid)
        return out


def chain_hashes(ledger: Ledger) -> list[tuple[bytes, bytes]]:
    """(header hash, state root) of every stored block, in height order."""
    out = []
    for h in range(1, ledger.height + 1):
        header = ledger.store.load_header(h)
        assert header is not None
        out.append((header.hash, header.state_root))
    return out


# -- tests of the helpers -------------------------------------------------------------------


def test_consortium_chain_has_transactions_and_changing_state(tmp_path: Path) -> None:
    c = Consortium()
    ledger = c.ledger(tmp_path / "a")
    c.grow(ledger, 3, txs_per_block=3)
    assert ledger.height == 3
    roots = {ledger.store.load_header(h).state_root for h in range(1, 4)}
    assert len(roots) == 3  # every block changes state
    receipts = ledger.store.load_receipts(2)
    assert receipts is not None and len(receipts) == 3 and all(r.ok for r in receipts)


def test_fake_network_routes_only_over_links() -> None:
    hub = Hub()
    got: list[tuple[str, int, bytes]] = []
    a, b, c = peer_id("a"), peer_id("b"), peer_id("c")
    na = hub.attach(a, lambda p, k, d: got.append(("a", k, d)))
    hub.attach(b, lambda p, k, d: got.append((p.name, k, d)))
    hub.attach(c, lambda p, k, d: got.append(("c", k, d)))
    hub.connect(a, b)

    async def main() -> None:
        na.broadcast(4, encode(1))
        na.send(c.address, 4, b"x")  # not linked: dropped
        await asyncio.sleep(0)

    asyncio.run(main())
    assert got == [("a", 4, encode(1))]
    assert [p.name for p in na.peers()] == ["b"]
