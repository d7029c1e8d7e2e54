"""A transaction's own bytes pay gas (`tianfu.execution.costs.tx_gas`): every node decodes,
checks, hashes, gossips and stores them, so a block's gas budget must bound its bytes.

Before, a transaction paid its base and its certificate's bytes only: a 500 KB argument
cost 8,827 gas against 1,014 for a tiny one, so one account's 5,000,000-gas bucket bought
~280 MB of blocks, and blocks of 8 MB of such transactions stalled a 4-validator network."""

from __future__ import annotations

import pytest
from test_open_accounts import POW_BITS, OpenChain

from tianfu.crypto import ED25519, generate_keypair
from tianfu.execution.costs import (
    CERT_FREE_BYTES,
    GAS_BASE,
    TX_FREE_BYTES,
    TX_GAS_PER_BYTE,
    tx_gas,
)
from tianfu.execution.executor import Executor, TxInvalid
from tianfu.execution.refusals import QuotaExceeded
from tianfu.types import ConsensusParams, OpenProfile, Transaction, TxBody
from tianfu.types.tx import MAX_CERT

ECHO = "def size(ctx, blob):\n    return 1\n"


def test_tx_gas_charges_the_bytes_past_the_free_allowance_and_not_the_certificate() -> None:
    assert tx_gas(0) == GAS_BASE
    assert tx_gas(0, TX_FREE_BYTES) == GAS_BASE  # a usual transaction pays as before
    assert tx_gas(0, TX_FREE_BYTES + 1) == GAS_BASE + TX_GAS_PER_BYTE
    assert tx_gas(500, 500 + TX_FREE_BYTES) == GAS_BASE + 500  # its certificate pays 1 a byte
    assert tx_gas(500, 500 + TX_FREE_BYTES + 10) == GAS_BASE + 500 + 10 * TX_GAS_PER_BYTE


def test_certificate_bytes_past_a_real_certificates_size_pay_as_transaction_bytes() -> None:
    """A certificate is parsed only on its signer's first use; a registered signer's is
    ignored. Its bytes paid 1 gas each, up to `MAX_CERT` (4,096): a block's gas budget
    bought ~4x more bytes of such a field than of arguments (~2.5 MB in a 3,000,000-gas
    block of 4 KB junk certificates against ~750 KB). Past `CERT_FREE_BYTES` (1,024; a
    member certificate is ~460-700 bytes) they are transaction bytes like any other."""
    assert CERT_FREE_BYTES == TX_FREE_BYTES
    assert tx_gas(1_024, 1_024 + TX_FREE_BYTES) == GAS_BASE + 1_024  # as before
    junk = tx_gas(MAX_CERT, MAX_CERT + 200)
    assert junk == GAS_BASE + MAX_CERT + TX_GAS_PER_BYTE * (
        MAX_CERT - CERT_FREE_BYTES + 200 - TX_FREE_BYTES
    )
    assert junk >= 3 * (MAX_CERT + 200)  # past the free bytes, ~4 gas a byte

    body = TxBody(1, "c", ED25519, bytes(32), 0, 10, "kv", "put", ["k"], b"\x30" * MAX_CERT)
    tx = Transaction(body, bytes(64))
    params = ConsensusParams(max_gas_per_tx=10_000, max_block_gas=10_000)
    # never in a block (`check_size`: a proposer drops it, a validator refuses the block)
    with pytest.raises(TxInvalid, match="before its call"):
        Executor.check_size(tx, params)


@pytest.fixture
def chain(tmp_path):
    c = OpenChain(tmp_path, OpenProfile(open_contracts=["echo"], pow_bits=POW_BITS))
    c.block()
    c.deploy("echo", ECHO)
    yield c
    c.close()


def test_a_large_argument_pays_for_its_bytes(chain) -> None:
    kp = generate_keypair()
    chain.register(kp)
    small = chain.account_tx(kp, "echo", "size", "x")
    big = chain.account_tx(kp, "echo", "size", "x" * 20_000)
    r_small, r_big = chain.block([small, big])
    assert r_small.ok and r_big.ok, (r_small.error, r_big.error)
    extra = len(big.encoded()) - TX_FREE_BYTES
    # the same call, so the difference is the bytes' (both have no certificate)
    assert r_big.gas_used - r_small.gas_used >= TX_GAS_PER_BYTE * extra - 64


def test_a_transaction_whose_bytes_alone_exceed_the_limit_is_refused_at_admission(chain) -> None:
    kp = generate_keypair()
    chain.register(kp)
    limit = chain.genesis.params.max_gas_per_tx
    n = (limit - GAS_BASE) // TX_GAS_PER_BYTE + TX_FREE_BYTES  # past the limit with its framing
    tx = chain.account_tx(kp, "echo", "size", "x" * n)
    with pytest.raises(TxInvalid, match=r"needs \d+ gas before its call.*limit per transaction"):
        chain.admit(tx)
    # one that fits is admitted
    chain.admit(chain.account_tx(kp, "echo", "size", "x" * 50_000))


def test_an_account_bucket_must_cover_the_bytes_of_its_transaction(tmp_path) -> None:
    c = OpenChain(
        tmp_path,
        OpenProfile(
            open_contracts=["echo"], pow_bits=POW_BITS, quota_gas=60_000, quota_replenish=500
        ),
    )
    try:
        c.block()
        c.deploy("echo", ECHO)
        kp = generate_keypair()
        c.register(kp)
        c.admit(c.account_tx(kp, "echo", "size", "x" * 1_000))  # a small one fits the bucket
        with pytest.raises(QuotaExceeded, match="quota exceeded"):
            c.admit(c.account_tx(kp, "echo", "size", "x" * 30_000))  # 120,000 gas of bytes
    finally:
        c.close()
