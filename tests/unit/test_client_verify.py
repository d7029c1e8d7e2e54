"""Unit tests: light-client verification of headers, state reads and tx inclusion with hand-built data."""

import pytest

from tianfu.client.verify import (
    LightClient,
    VerificationError,
    verify_state_read,
    verify_tx_proof,
)
from tianfu.codec import encode
from tianfu.crypto import ECDSA_P256, ED25519, generate_keypair, sign_tx, sign_vote
from tianfu.crypto.merkle import merkle_proof, merkle_root
from tianfu.execution.contract_api import state_key
from tianfu.state import InMemoryNodes, MerkleState
from tianfu.types import (
    PRECOMMIT,
    PREVOTE,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Genesis,
    OrgConfig,
    TxBody,
    Validator,
)

CHAIN = "verify-test"
KEYS = [
    generate_keypair(ED25519),
    generate_keypair(ED25519),
    generate_keypair(ECDSA_P256),
    generate_keypair(),
]
GENESIS = Genesis(
    1,
    CHAIN,
    0,
    [OrgConfig("o", b"")],
    [Validator(f"v{i}", "o", k.scheme, k.public_key, 1) for i, k in enumerate(KEYS)],
)
HEIGHT = 7
STATE = {state_key("asset", "alice"): encode({"balance": 10}), state_key("asset", "bob"): encode(3)}
USER = generate_keypair()
TXS = [
    sign_tx(USER, TxBody(1, CHAIN, USER.scheme, USER.public_key, n, 100, "asset", "m", [n]))
    for n in range(5)
]


def build_state():
    nodes = InMemoryNodes()
    tree = MerkleState(nodes)
    batch = tree.apply(HEIGHT, dict(STATE), base_version=-1)
    nodes.put_batch(batch)
    return tree, batch.root


TREE, ROOT = build_state()


def header(state_root=ROOT, chain=CHAIN, height=HEIGHT, txs=TXS, valset_hash=None):
    return BlockHeader(
        1,
        chain,
        height,
        1000,
        b"\x00" * 32,
        merkle_root([encode(t) for t in txs]),
        state_root,
        b"\x01" * 32,
        valset_hash or GENESIS.validator_set.hash,
        KEYS[0].public_key,
        len(txs),
        # a header after height 1 carries the previous height's certificate (BFT time);
        # a light client checks it only through this header's own certificate
        None
        if height == 1
        else CommitCertificate(
            1, chain, height - 1, 0, b"\x00" * 32, [CommitSig(KEYS[0].public_key, 1000, b"")]
        ),
    )


def certify(h, signers=KEYS, vote_type=PRECOMMIT, round_=0, block_hash=None):
    bh = block_hash or h.hash
    t = 2_000 if vote_type == PRECOMMIT else 0  # (only a precommit of a block has a time)
    sigs = [
        CommitSig(
            k.public_key,
            2_000,
            sign_vote(k, h.chain_id, h.height, round_, vote_type, bh, t).signature,
        )
        for k in signers
    ]
    return CommitCertificate(1, h.chain_id, h.height, round_, bh, sigs)


def read(key, h=None, cert=None, value=None, use_value=True, proof_key=None):
    h = h or header()
    cert = cert or certify(h)
    skey = state_key("asset", key)
    value_bytes = (STATE.get(skey) if value is None else value) if use_value else None
    proof = TREE.prove(state_key("asset", proof_key or key), HEIGHT)
    return verify_state_read(
        GENESIS, None, "asset", key, value_bytes, encode(proof), encode(h), encode(cert)
    )


def test_valid_inclusion_and_exclusion():
    v = read("alice")
    assert v.value == {"balance": 10} and v.present and v.height == HEIGHT and v.state_root == ROOT
    assert read("bob").value == 3
    absent = read("carol")
    assert absent.value is None and not absent.present
    # Three of four equal-power validators are a quorum (3 > 2/3 * 4).
    assert read("alice", cert=certify(header(), signers=KEYS[1:])).value == {"balance": 10}


def test_tampered_value_or_key_fails():
    with pytest.raises(VerificationError, match="state proof"):
        read("alice", value=encode({"balance": 1_000_000}))
    with pytest.raises(VerificationError, match="state proof"):
        read("alice", use_value=False)  # claim a present key is absent
    with pytest.raises(VerificationError, match="state proof"):
        read(
            "bob", proof_key="alice", value=STATE[state_key("asset", "alice")]
        )  # other key's proof
    with pytest.raises(VerificationError):
        read("carol", value=encode(1))  # claim an absent key has a value


def test_tampered_header_or_root_fails():
    fake_root = b"\x09" * 32
    # The certificate signs the honest header; the header with another root is a different hash.
    with pytest.raises(VerificationError, match="different block hash"):
        read("alice", h=header(state_root=fake_root), cert=certify(header()))
    with pytest.raises(VerificationError, match="chain"):
        read("alice", h=header(chain="other"), cert=certify(header(chain="other")))
    with pytest.raises(VerificationError, match="height"):
        verify_state_read(
            GENESIS,
            None,
            "asset",
            "alice",
            STATE[state_key("asset", "alice")],
            encode(TREE.prove(state_key("asset", "alice"), HEIGHT)),
            encode(header()),
            encode(certify(header())),
            height=HEIGHT + 1,
        )
    with pytest.raises(VerificationError, match="validator set"):
        h = header(valset_hash=b"\x02" * 32)
        read("alice", h=h, cert=certify(h))
    with pytest.raises(VerificationError, match="malformed header"):
        verify_state_read(GENESIS, None, "asset", "alice", None, b"", b"\x00junk", b"")


def test_bad_certificates_fail():
    h = header()
    outsider = generate_keypair()
    with pytest.raises(VerificationError, match="outside the validator set"):
        read("alice", cert=certify(h, signers=[*KEYS[:2], outsider]))
    with pytest.raises(VerificationError, match="more than 2/3"):
        read("alice", cert=certify(h, signers=KEYS[:2]))
    with pytest.raises(VerificationError, match="twice"):
        read("alice", cert=certify(h, signers=[KEYS[0], KEYS[0], KEYS[1]]))
    with pytest.raises(VerificationError, match="invalid signature"):
        read("alice", cert=certify(h, vote_type=PREVOTE))  # prevotes are not a commit
    forged = certify(h)
    bad = CommitCertificate(
        1,
        CHAIN,
        HEIGHT,
        0,
        h.hash,
        [CommitSig(forged.signatures[0].validator, 2_000, bytes(64)), *forged.signatures[1:]],
    )
    with pytest.raises(VerificationError, match="invalid signature"):
        read("alice", cert=bad)


def test_light_client_from_valset_needs_chain_id():
    lc = LightClient(GENESIS.validator_set, CHAIN)
    lc.verify_header(header(), certify(header()))
    with pytest.raises(VerificationError, match="chain id"):
        verify_state_read(GENESIS.validator_set, None, "asset", "bob", None, b"", b"", b"")
    with pytest.raises(VerificationError, match="not 'x'"):
        verify_state_read(GENESIS, "x", "asset", "bob", None, b"", b"", b"")


def tx_check(i, tx_bytes=None, index=None, size=None, path=None, h=None, cert=None, tx_hash=None):
    items = [encode(t) for t in TXS]
    h = h or header()
    return verify_tx_proof(
        GENESIS,
        None,
        items[i] if tx_bytes is None else tx_bytes,
        i if index is None else index,
        len(items) if size is None else size,
        merkle_proof(items, i) if path is None else path,
        encode(h),
        encode(cert or certify(h)),
        tx_hash=TXS[i].hash if tx_hash is None else tx_hash,
        height=HEIGHT,
    )


def test_tx_inclusion_proofs():
    for i in range(len(TXS)):
        v = tx_check(i)
        assert v.tx == TXS[i] and v.index == i and v.height == HEIGHT
    with pytest.raises(VerificationError, match="inclusion proof"):
        tx_check(1, index=2)
    with pytest.raises(VerificationError, match="not the one asked"):
        tx_check(1, tx_hash=TXS[2].hash)
    with pytest.raises(VerificationError, match="inclusion proof"):
        tx_check(1, tx_bytes=encode(TXS[2]), tx_hash=TXS[2].hash)
    with pytest.raises(VerificationError, match="transactions"):
        tx_check(1, size=6)
    with pytest.raises(VerificationError, match="2/3"):
        tx_check(1, cert=certify(header(), signers=KEYS[:1]))
    other = [*TXS[:4], TXS[0]]  # header over another tx list, honestly certified
    with pytest.raises(VerificationError, match="inclusion proof"):
        h = header(txs=other)
        tx_check(4, h=h, cert=certify(h))
