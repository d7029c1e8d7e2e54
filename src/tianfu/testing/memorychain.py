"""A test double of `ChainService`: real signed blocks, commit certificates and state proofs, no node.

Used by the load generator's tests (tests/unit/test_bench_load.py); the API, SDK and CLI
tests run against the real in-process chain (`tianfu.testing.appchain.AppChain`). Each
submitted transaction is executed by a small table of built-in contracts (`kv`, and a
stand-in for `governance`) and committed at once in its own block (or on
`commit_pending()` when `auto_commit=False`), certified by locally generated validator
keys over the real Merkle state tree. It is not a node: no consensus, no sandbox, no
persistence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tianfu.api.service import (
    CommittedEvent,
    NotFound,
    QueryFailed,
    StateRead,
    TxDuplicate,
    TxRecord,
    TxRejected,
)
from tianfu.codec import encode
from tianfu.crypto import KeyPair, generate_keypair, sign_vote, verify_tx
from tianfu.crypto.merkle import merkle_root
from tianfu.execution.contract_api import ContractError, state_key
from tianfu.proofs.build import ProofBuilder
from tianfu.state import InMemoryNodes, MerkleState
from tianfu.state.keys import tree_updates
from tianfu.types import (
    FAILED,
    OK,
    PRECOMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Event,
    Genesis,
    OrgConfig,
    Receipt,
    Transaction,
    Validator,
)


@dataclass
class _Exec:
    """What a built-in contract method sees: the chain's latest state and its own writes."""

    chain: MemoryChain
    contract: str
    tx: Transaction
    writes: dict[bytes, bytes | None] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        skey = state_key(self.contract, key)
        if skey in self.writes:
            raw = self.writes[skey]
            return default if raw is None else msgspec.msgpack.decode(raw)
        value = self.chain.value(self.contract, key)
        return default if value is None else value

    def put(self, key: str, value: Any) -> None:
        self.writes[state_key(self.contract, key)] = encode(value)

    def delete(self, key: str) -> None:
        self.writes[state_key(self.contract, key)] = None

    def emit(self, event: str, /, **data: Any) -> None:
        self.events.append(Event(self.contract, event, data))


Method = Callable[..., Any]


def _kv_put(ctx: _Exec, key: str, value: Any) -> None:
    ctx.put(key, value)
    ctx.emit("put", key=key)


def _kv_delete(ctx: _Exec, key: str) -> None:
    ctx.delete(key)
    ctx.emit("delete", key=key)


def _kv_fail(ctx: _Exec, message: str = "failed on purpose") -> None:
    ctx.put("never", True)
    raise ContractError(message)


def _propose(ctx: _Exec, name: str, source: str) -> str:
    n = int(ctx.get("proposal_count", 0)) + 1
    pid = f"p{n}"
    ctx.put("proposal_count", n)
    ctx.put(f"proposal/{pid}", {"name": name, "source_len": len(source), "approved": False})
    ctx.emit("contract_proposed", id=pid, name=name)
    return pid


def _approve(ctx: _Exec, pid: str) -> dict[str, Any]:
    prop = ctx.get(f"proposal/{pid}")
    if prop is None:
        raise ContractError(f"unknown proposal {pid}")
    prop = dict(prop, approved=True)
    ctx.put(f"proposal/{pid}", prop)
    ctx.put(f"contract/{prop['name']}", {"name": prop["name"], "proposal": pid})
    return {"proposal": pid, "approved": True}


def _grant(ctx: _Exec, address: str, role: str) -> None:
    ctx.put(f"role/{address}/{role}", True)


def _revoke(ctx: _Exec, address: str, role: str) -> None:
    ctx.put(f"role/{address}/{role}", False)


def _revoke_cert(ctx: _Exec, address: str) -> None:
    ctx.put(f"revoked/{address}", True)


BUILTINS: dict[tuple[str, str], Method] = {
    ("kv", "put"): _kv_put,
    ("kv", "delete"): _kv_delete,
    ("kv", "fail"): _kv_fail,
    ("governance", "propose_contract"): _propose,
    ("governance", "approve"): _approve,
    ("governance", "grant_role"): _grant,
    ("governance", "revoke_role"): _revoke,
    ("governance", "revoke_cert"): _revoke_cert,
}


class MemoryChain:
    """A `ChainService` over in-memory blocks; see the module docstring."""

    max_body_bytes = 1 << 20

    def __init__(
        self, chain_id: str = "memory", n_validators: int = 4, *, auto_commit: bool = True
    ) -> None:
        self.chain_id = chain_id
        self.auto_commit = auto_commit
        self.keys: list[KeyPair] = [generate_keypair() for _ in range(n_validators)]
        validators = [
            Validator(f"node{i}", "org1", k.scheme, k.public_key, 1)
            for i, k in enumerate(self.keys)
        ]
        self.genesis_obj = Genesis(
            1, chain_id, 1_700_000_000_000, [OrgConfig("org1", b"")], validators
        )
        self.valset = self.genesis_obj.validator_set
        self.nodes = InMemoryNodes()
        self.tree = MerkleState(self.nodes)
        self.nodes.put_batch(self.tree.apply(0, {}, base_version=-1))
        self.blocks: list[Block] = []
        self.receipts: list[list[Receipt]] = []
        self.certs: list[CommitCertificate] = []
        self.index: dict[bytes, tuple[int, int]] = {}
        self.pending: dict[bytes, Transaction] = {}
        self.certs_seen: list[bool] = []  # per committed tx: did it carry a certificate?
        self._subscribers: list[
            tuple[asyncio.AbstractEventLoop, asyncio.Queue[CommittedEvent]]
        ] = []

    # --- chain -------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return len(self.blocks)

    def value(self, contract: str, key: str, height: int | None = None) -> Any:
        raw = self.tree.get(state_key(contract, key), self.height if height is None else height)
        return None if raw is None else msgspec.msgpack.decode(raw)

    def _execute(self, tx: Transaction) -> tuple[Receipt, dict[bytes, bytes | None]]:
        body = tx.body
        method = BUILTINS.get((body.contract, body.method))
        ctx = _Exec(self, body.contract, tx)
        if method is None:
            return Receipt(FAILED, 1, None, f"unknown method {body.contract}.{body.method}"), {}
        try:
            result = method(ctx, *body.args)
        except (ContractError, TypeError) as exc:
            return Receipt(FAILED, 1, None, str(exc)), {}
        return Receipt(OK, 1, result, "", ctx.events), ctx.writes

    def commit(self, txs: list[Transaction]) -> Block:
        """Execute `txs` in a new block, certify it with every validator key, notify subscribers."""
        height = self.height + 1
        receipts: list[Receipt] = []
        writes: dict[bytes, bytes | None] = {}
        for tx in txs:
            receipt, w = self._execute(tx)
            receipts.append(receipt)
            writes.update(w)
        batch = self.tree.apply(height, tree_updates(writes, [t.hash for t in txs]))
        self.nodes.put_batch(batch)
        prev = self.blocks[-1].header.hash if self.blocks else self.genesis_obj.hash
        last_commit = self.certs[-1] if self.certs else None
        # BFT time: every key precommits at the block's time + 1 s, the next block's time.
        time_ms = last_commit.signatures[0].time_ms if last_commit else self.genesis_obj.time_ms
        header = BlockHeader(
            1,
            self.chain_id,
            height,
            time_ms,
            prev,
            merkle_root([encode(t) for t in txs]),
            batch.root,
            merkle_root([encode(r) for r in receipts]),
            self.valset.hash,
            self.keys[0].public_key,
            len(txs),
            last_commit,
        )
        vote_ms = time_ms + 1000
        sigs = [
            CommitSig(
                k.public_key,
                vote_ms,
                sign_vote(k, self.chain_id, height, 0, PRECOMMIT, header.hash, vote_ms).signature,
            )
            for k in self.keys
        ]
        block = Block(header, list(txs))
        self.blocks.append(block)
        self.receipts.append(receipts)
        self.certs.append(CommitCertificate(1, self.chain_id, height, 0, header.hash, sigs))
        for i, tx in enumerate(txs):
            self.index[tx.hash] = (height, i)
            self.pending.pop(tx.hash, None)
            self.certs_seen.append(bool(tx.body.cert))
            for ev in receipts[i].events:
                self._publish(CommittedEvent(height, i, tx.hash, ev))
        return block

    def commit_pending(self) -> Block:
        return self.commit(list(self.pending.values()))

    def _publish(self, ev: CommittedEvent) -> None:
        for loop, queue in list(self._subscribers):
            try:
                loop.call_soon_threadsafe(queue.put_nowait, ev)
            except RuntimeError:  # that loop is closed: the subscriber is gone
                self._subscribers.remove((loop, queue))

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- ChainService -------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        latest = self.blocks[-1].header if self.blocks else None
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "latest_hash": latest.hash.hex() if latest else "",
            "time_ms": latest.time_ms if latest else self.genesis_obj.time_ms,
            "node": "node0",
            "org": "org1",
            "validator": True,
            "genesis_hash": self.genesis_obj.hash.hex(),
        }

    def _check(self, tx: Transaction) -> bytes:
        if tx.body.chain_id != self.chain_id:
            raise TxRejected(f"transaction is for chain {tx.body.chain_id!r}")
        if not verify_tx(tx):
            raise TxRejected("invalid signature")
        if tx.hash in self.index or tx.hash in self.pending:
            raise TxDuplicate(f"transaction {tx.hash.hex()} is already known")
        if tx.body.expiry < self.height + 1:
            raise TxRejected(f"transaction expired at height {tx.body.expiry}")
        return tx.hash

    async def submit(self, tx: Transaction) -> bytes:
        h = self._check(tx)
        self.pending[h] = tx
        if self.auto_commit:
            self.commit([tx])
        return h

    async def submit_many(self, txs: list[Transaction]) -> list[bytes | TxRejected]:
        """`submit` for each; with `auto_commit`, the admitted ones commit in one block."""
        out: list[bytes | TxRejected] = []
        admitted: list[Transaction] = []
        for tx in txs:
            try:
                h = self._check(tx)
            except TxRejected as exc:
                out.append(exc)
                continue
            self.pending[h] = tx
            admitted.append(tx)
            out.append(h)
        if self.auto_commit and admitted:
            self.commit(admitted)
        return out

    async def wait_committed(self, tx_hash: bytes, timeout_s: float) -> TxRecord | None:
        deadline = time.monotonic() + timeout_s
        while True:
            record = self.get_tx(tx_hash)
            if record is not None or time.monotonic() >= deadline:
                return record
            await asyncio.sleep(0.01)

    async def wait_committed_many(
        self, tx_hashes: list[bytes], timeout_s: float
    ) -> list[TxRecord | None]:
        deadline = time.monotonic() + timeout_s
        while True:
            records = [self.get_tx(h) for h in tx_hashes]
            if all(r is not None for r in records) or time.monotonic() >= deadline:
                return records
            await asyncio.sleep(0.01)

    def get_tx(self, tx_hash: bytes) -> TxRecord | None:
        if tx_hash not in self.index:
            return None
        height, i = self.index[tx_hash]
        return TxRecord(self.blocks[height - 1].txs[i], self.receipts[height - 1][i], height, i)

    def get_block(self, height: int) -> Block | None:
        return self.blocks[height - 1] if 1 <= height <= self.height else None

    def get_receipts(self, height: int) -> list[Receipt] | None:
        return self.receipts[height - 1] if 1 <= height <= self.height else None

    def get_headers(self, start: int, limit: int) -> list[BlockHeader]:
        return [b.header for b in self.blocks[max(start, 1) - 1 : max(start, 1) - 1 + limit]]

    def get_certificate(self, height: int) -> CommitCertificate | None:
        return self.certs[height - 1] if 1 <= height <= self.height else None

    def read_state(self, contract: str, key: str, height: int | None, prove: bool) -> StateRead:
        h = self.height if height is None else height
        if not 1 <= h <= self.height:
            raise NotFound(f"no block at height {h}")
        skey = state_key(contract, key)
        raw = self.tree.get(skey, h)
        proof = encode(self.tree.prove(skey, h)) if prove else None
        value = None if raw is None else msgspec.msgpack.decode(raw)
        return StateRead(
            contract, key, h, value, raw, proof, self.blocks[h - 1].header, self.certs[h - 1]
        )

    def query(self, contract: str, method: str, args: list[Any]) -> Any:
        if (contract, method) != ("kv", "get"):
            raise NotFound(f"no view method {contract}.{method}")
        if len(args) != 1 or not isinstance(args[0], str):
            raise QueryFailed("kv.get takes one string key")
        return self.value("kv", args[0])

    def validators(self) -> list[dict[str, Any]]:
        return [msgspec.structs.asdict(v) for v in self.valset.validators]

    def orgs(self) -> list[dict[str, Any]]:
        return [{"name": o.name, "ca_cert": o.ca_cert} for o in self.genesis_obj.orgs]

    def contracts(self) -> list[dict[str, Any]]:
        names = {"kv", "governance"}
        for b in self.blocks:
            for tx in b.txs:
                if (tx.body.contract, tx.body.method) == ("governance", "approve"):
                    prop = self.value("governance", f"proposal/{tx.body.args[0]}")
                    if prop:
                        names.add(prop["name"])
        return [{"name": n} for n in sorted(names)]

    def genesis(self) -> bytes:
        return encode(self.genesis_obj)

    def proof_builder(self) -> ProofBuilder:
        """Proof documents over this chain (`tianfu.api.proofs`)."""
        return ProofBuilder(_Reader(self))

    async def subscribe(self) -> AsyncIterator[CommittedEvent]:  # type: ignore[override]
        queue: asyncio.Queue[CommittedEvent] = asyncio.Queue(maxsize=1000)
        entry = (asyncio.get_running_loop(), queue)
        self._subscribers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

    def metrics(self) -> bytes:
        return f"# TYPE tianfu_height gauge\ntianfu_height {self.height}\n".encode()


class _Reader:
    """`tianfu.proofs.build.ChainReader` over a `MemoryChain`."""

    def __init__(self, chain: MemoryChain) -> None:
        self.chain = chain
        self.genesis = chain.genesis_obj
        self.state = chain.tree

    def height(self) -> int:
        return self.chain.height

    def header(self, height: int) -> BlockHeader | None:
        block = self.chain.get_block(height)
        return None if block is None else block.header

    def certificate(self, height: int) -> CommitCertificate | None:
        return self.chain.get_certificate(height)

    def block(self, height: int) -> Block | None:
        return self.chain.get_block(height)

    def receipts(self, height: int) -> list[Receipt] | None:
        return self.chain.get_receipts(height)

    def tx_position(self, tx_hash: bytes) -> tuple[int, int] | None:
        return self.chain.index.get(tx_hash)
