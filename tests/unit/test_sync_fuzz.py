"""Property: however a peer corrupts an honest response, a syncing node applies only the
real chain (a prefix of it, possibly empty) and never crashes."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sync_support import Consortium, Hub, chain_hashes, peer_id

from tianfu.codec import decode, encode
from tianfu.crypto import verify_commit
from tianfu.ledger import Ledger
from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST, KIND_BLOCKS_RESPONSE, KIND_STATUS, PeerId
from tianfu.sync import BlocksRequest, BlockSyncer, Status
from tianfu.sync.syncer import SyncConfig

CHAIN_LEN = 6


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Consortium, Ledger, BlockSyncer]:
    c = Consortium(n_validators=4)
    ledger = c.ledger(tmp_path_factory.mktemp("a"))
    c.grow(ledger, CHAIN_LEN, txs_per_block=2)
    server = BlockSyncer(ledger, Hub().attach(peer_id("a"), lambda *a: None), on_commit=print)
    return c, ledger, server


mutations = st.lists(
    st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=40, deadline=None)
@given(mutations=mutations, truncate=st.integers(min_value=0, max_value=8))
def test_corrupted_response_never_applies_a_wrong_block(world, mutations, truncate) -> None:
    c, a_ledger, server = world
    honest = chain_hashes(a_ledger)
    with tempfile.TemporaryDirectory() as tmp:
        b_ledger = c.ledger(Path(tmp) / "b")
        hub = Hub()
        b_id, liar_id = peer_id("b"), peer_id("liar")
        committed: list[int] = []
        b = BlockSyncer(
            b_ledger,
            hub.attach(b_id, lambda p, k, d: b.handle(p, k, d)),
            on_commit=lambda e: committed.append(e.block.header.height),
            max_batch=3,
            request_timeout_s=1.0,
            config=SyncConfig(max_response_bytes=64 << 10),
        )
        sent: list[bytes] = []

        def liar(peer: PeerId, kind: int, payload: bytes) -> None:
            if kind != KIND_BLOCKS_REQUEST:
                return
            data = bytearray(server.response_for(decode(payload, BlocksRequest)))
            for pos, value in mutations:
                data[pos % len(data)] = value
            if truncate:
                del data[-truncate:]
            sent.append(bytes(data))
            liar_net.send(peer.address, KIND_BLOCKS_RESPONSE, bytes(data))

        liar_net = hub.attach(liar_id, liar)
        hub.connect(b_id, liar_id)

        async def main() -> None:
            liar_net.send(b_id.address, KIND_STATUS, encode(Status(CHAIN_LEN, b"\x01" * 32)))
            await asyncio.sleep(0)
            await b.sync_from_peers_once()

        asyncio.run(main())
        got = chain_hashes(b_ledger)
        assert got == honest[: len(got)]
        assert committed == list(range(1, len(got) + 1))
        for h in range(1, len(got) + 1):  # every stored certificate proves its block
            cert = b_ledger.store.load_cert(h)
            assert cert is not None
            verify_commit(cert, got[h - 1][0], h, c.genesis.validator_set, c.genesis.chain_id)
        assert sent
        b_ledger.store.close()
