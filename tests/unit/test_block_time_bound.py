"""BFT time: a block's time is the median of the precommit times of the certificate it
carries; no proposer (or skewed clock) can date a block otherwise."""

import threading
import time
from types import SimpleNamespace
from unittest import mock

import msgspec
import pytest

from tianfu.codec import CodecError, decode, encode
from tianfu.consensus.ledgerwork import LedgerWork
from tianfu.crypto import sign_vote
from tianfu.identity import OrgCA
from tianfu.ledger import Ledger
from tianfu.ledger.ledger import InvalidBlock
from tianfu.mempool import Mempool
from tianfu.store import Store
from tianfu.types import (
    PRECOMMIT,
    Block,
    CommitCertificate,
    CommitSig,
    Genesis,
    OrgConfig,
    Validator,
    ValidatorSet,
)
from tianfu.types.block import median_time


@pytest.fixture
def chain(tmp_path):
    ca = OrgCA.create("org1")
    nodes = [ca.issue(f"node{i}", "node") for i in range(3)]
    genesis = Genesis(
        version=1,
        chain_id="clock",
        time_ms=int(time.time() * 1000),
        orgs=[OrgConfig("org1", ca.cert_der)],
        validators=[
            Validator(f"node{i}", "org1", n.keypair.scheme, n.keypair.public_key, 1)
            for i, n in enumerate(nodes)
        ],
    )
    return SimpleNamespace(genesis=genesis, keys=[n.keypair for n in nodes], path=tmp_path)


def certify(block, keys, times):
    h = block.header
    sigs = []
    for k, t in zip(keys, times, strict=True):
        vote = sign_vote(k, h.chain_id, h.height, 0, PRECOMMIT, h.hash, t)
        sigs.append(CommitSig(k.public_key, t, vote.signature))
    return CommitCertificate(1, h.chain_id, h.height, 0, h.hash, sigs)


def two_blocks(chain, times_of_first):
    """Block 1 committed with precommits at `times_of_first` (times after genesis), on a
    proposer and a replica, and block 2 built on it."""
    ledger = Ledger(Store(chain.path / "a.db"), chain.genesis)
    first = ledger.build_block([], chain.keys[0].public_key)
    t0 = chain.genesis.time_ms
    cert = certify(first.block, chain.keys, [t0 + t for t in times_of_first])
    ledger.commit(first, cert)
    replica = Ledger(Store(chain.path / "b.db"), chain.genesis)
    replica.commit(replica.execute(first.block), cert)
    second = ledger.build_block([], chain.keys[1].public_key).block
    return first.block, cert, second, replica


def test_block_one_is_dated_at_genesis_and_the_next_at_the_median(chain):
    t0 = chain.genesis.time_ms
    first, cert, second, replica = two_blocks(chain, [10, 30_000, 20])  # one 30 s ahead
    assert first.header.time_ms == t0 and first.header.last_commit is None
    assert second.header.last_commit == cert
    assert second.header.time_ms == t0 + 20  # the median, not the skewed 30 s
    # Every node checks it from the block alone.
    assert replica.execute(decode(encode(second), Block)).block.hash == second.hash


def test_a_block_dated_otherwise_is_invalid(chain):
    t0 = chain.genesis.time_ms
    first, cert, good, replica = two_blocks(chain, [5, 6, 7])
    future = msgspec.structs.replace(good.header, time_ms=good.header.time_ms + 60_000)
    with pytest.raises(InvalidBlock, match="not the BFT time"):
        replica.execute(Block(future, good.txs))
    # Times rewritten in the certificate break its signatures.
    forged = msgspec.structs.replace(
        cert, signatures=[msgspec.structs.replace(s, time_ms=t0 + 60_000) for s in cert.signatures]
    )
    moved = msgspec.structs.replace(good.header, last_commit=forged, time_ms=t0 + 60_000)
    with pytest.raises(InvalidBlock, match="last commit"):
        replica.execute(Block(moved, good.txs))
    # A certificate of too little power cannot date a block.
    thin = msgspec.structs.replace(cert, signatures=cert.signatures[:1])
    short = msgspec.structs.replace(good.header, last_commit=thin, time_ms=t0 + 5)
    with pytest.raises(InvalidBlock, match="last commit"):
        replica.execute(Block(short, good.txs))
    # Block 1 must be dated at the genesis time.
    other = Ledger(Store(chain.path / "c.db"), chain.genesis)
    early = msgspec.structs.replace(first.header, time_ms=t0 + 1)
    with pytest.raises(InvalidBlock, match="not the BFT time"):
        other.execute(Block(early, []))


def test_header_decoder_is_strict_about_the_last_commit(chain):
    first, cert, good, _ = two_blocks(chain, [5, 6, 7])
    missing = msgspec.structs.replace(good.header, last_commit=None)
    with pytest.raises(CodecError, match="carries no commit"):
        decode(encode(Block(missing, [])), Block)
    wrong_prev = msgspec.structs.replace(good.header, prev_hash=b"\x01" * 32)
    with pytest.raises(CodecError, match="prev_hash"):
        decode(encode(Block(wrong_prev, [])), Block)
    zero = msgspec.structs.replace(
        cert, signatures=[msgspec.structs.replace(cert.signatures[0], time_ms=0)]
    )
    with pytest.raises(CodecError, match="time"):
        decode(encode(Block(msgspec.structs.replace(good.header, last_commit=zero), [])), Block)
    with_commit = msgspec.structs.replace(first.header, last_commit=cert)
    with pytest.raises(CodecError, match="block 1"):
        decode(encode(Block(with_commit, [])), Block)


def test_median_is_weighted_by_voting_power(chain):
    powers = [5, 1, 1]
    heavy = ValidatorSet(
        [
            msgspec.structs.replace(v, power=p)
            for v, p in zip(chain.genesis.validators, powers, strict=True)
        ]
    )
    sigs = [
        CommitSig(k.public_key, t, b"") for k, t in zip(chain.keys, [900, 100, 200], strict=True)
    ]
    cert = CommitCertificate(1, "clock", 1, 0, b"\x00" * 32, sigs)
    assert median_time(cert, heavy) == 900  # 5 of 7: the heavy validator's time
    assert median_time(cert, ValidatorSet(chain.genesis.validators)) == 200


def test_voting_does_not_consult_the_clock(chain):
    """A validator whose clock is 30 s off executes (and so prevotes for) a valid block:
    before BFT time it refused a block dated more than 10 s ahead of its clock."""
    ledger = Ledger(Store(chain.path / "a.db"), chain.genesis)
    block = ledger.build_block([], chain.keys[0].public_key).block
    real_time = time.time
    for skew in (-30.0, 30.0):
        replica = Ledger(Store(chain.path / f"r{skew}.db"), chain.genesis)
        work = LedgerWork(replica, Mempool(), None, threading.Lock(), None)  # type: ignore[arg-type]
        # The driver's execution path, with this host's clock 30 s off.
        with mock.patch.object(time, "time", lambda s=skew: real_time() + s):
            executed = work.execute(encode(block), block.hash)
        assert executed.block.hash == block.hash
