"""A real in-process chain (`AppChain`: `NodeService`, executor, sandbox, store) with a
small key-value test contract deployed, for the API, SDK and CLI tests.

The contract `kv` keeps each value under its own key (so `/v1/state/kv/<key>` reads it),
emits an event per write and has a method that always fails, so the tests see real
receipts, events, failures and proofs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.crypto import sign_tx
from tianfu.identity import Identity
from tianfu.node.service import NodeService
from tianfu.testing.appchain import AppChain
from tianfu.types import Genesis, Transaction, TxBody

KV_SOURCE = '''
"""A key-value store for tests: put/delete emit events, fail always fails."""


def put(ctx, key, value):
    ctx.put(key, value)
    ctx.emit("put", key=key)


def delete(ctx, key):
    ctx.delete(key)
    ctx.emit("delete", key=key)


def fail(ctx, message="failed on purpose"):
    ctx.put("never", True)
    raise ContractError(message)


@view
def get(ctx, key):
    ctx.require(isinstance(key, str), "kv.get takes one string key")
    return ctx.get(key)
'''


class KvChain:
    """`AppChain` with `kv` deployed. With `auto_commit` (the default) every admitted
    transaction commits at once in its own block, as `AppChain` does; without it, admitted
    transactions wait in the mempool until `commit_pending()`.

    The block producer's clock stands still at the genesis time, so blocks are dated 1 ms
    apart and no empty block is ever slipped in for a late one: the same calls give the
    same heights however busy the machine is.
    """

    def __init__(self, directory: Path, *, auto_commit: bool = True) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.app = AppChain(Path(directory))
        genesis_s = self.app.genesis.time_ms / 1000
        self.app.driver.clock = lambda: genesis_s
        self.app.deploy("kv", KV_SOURCE)
        self.service: NodeService = self.app.service
        self.genesis: Genesis = self.app.genesis
        self.chain_id = self.genesis.chain_id
        self.user = self.app.identity("org1", "user")
        self.admin = self.app.admin("org1")
        self._commit_now = self.service.on_tx
        self.auto_commit = auto_commit
        self._nonce = 0

    @property
    def auto_commit(self) -> bool:
        return self.service.on_tx is not None

    @auto_commit.setter
    def auto_commit(self, on: bool) -> None:
        self.service.on_tx = self._commit_now if on else None

    @property
    def height(self) -> int:
        return self.app.ledger.height

    @property
    def subscriber_count(self) -> int:
        """Event subscribers the service holds (the WebSocket tests wait for theirs)."""
        return len(self.service._subscribers)

    def tx(
        self,
        method: str,
        *args: Any,
        contract: str = "kv",
        who: Identity | None = None,
        nonce: int | None = None,
        expiry: int | None = None,
        chain_id: str | None = None,
    ) -> Transaction:
        """A signed transaction (by `user` unless `who`), carrying its signer's certificate;
        for this chain unless `chain_id` names another."""
        who = who or self.user
        if nonce is None:
            self._nonce += 1
            nonce = 1_000_000 + self._nonce
        body = TxBody(
            1,
            self.chain_id if chain_id is None else chain_id,
            who.keypair.scheme,
            who.keypair.public_key,
            nonce,
            self.height + 1000 if expiry is None else expiry,
            contract,
            method,
            list(args),
            who.cert_der,
        )
        return sign_tx(who.keypair, body)

    def commit(self, txs: list[Transaction]) -> int:
        """Commit `txs` (unchecked by admission) in one new block; its height."""
        executed = self.app.driver.produce_one(txs)
        self.service.block_committed(executed)
        return int(executed.block.header.height)

    def commit_pending(self) -> None:
        """Commit what the mempool holds, as the node's producer would."""
        self._commit_now(None)  # type: ignore[misc]

    def close(self) -> None:
        self.app.close()
