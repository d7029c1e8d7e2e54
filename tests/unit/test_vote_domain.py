"""ADR 0039: what a vote signs besides itself (`VoteDomain`), made from the genesis.

A version-1 genesis: the chain id (`tianfu/vote/v2`, byte for byte as before). A version-2
genesis: its hash too (`tianfu/vote/v3`). The signer signs those bytes, the node checks
votes, certificates and double-sign evidence with them, and they are the vectors'."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from tianfu.codec import CodecError, encode, hash_domain
from tianfu.consensus.privval import STEP_PRECOMMIT, FilePrivValidator
from tianfu.consensus.signing import advance_signer_from_wal
from tianfu.consensus.wal import WalVote
from tianfu.crypto import chain_suite, generate_keypair, verify, verify_vote
from tianfu.node.netinit import init_network
from tianfu.types import (
    PRECOMMIT,
    PREVOTE,
    Genesis,
    OrgConfig,
    Validator,
    ValidatorSet,
    VoteDomain,
    decode_genesis,
    vote_signing_bytes,
)
from tianfu.types.genesis import GENESIS_VERSION

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"
H1 = b"\x01" * 32


def genesis(version: int, chain_id: str = "vd") -> Genesis:
    kp = generate_keypair()
    return Genesis(version, chain_id, 1_000, [OrgConfig("o", b"ca")],
                   [Validator("v", "o", kp.scheme, kp.public_key, 1)])  # fmt: skip


def test_a_version_1_genesis_signs_the_chain_id_alone_as_before():
    g = genesis(1)
    assert g.vote_domain == VoteDomain("vd") == VoteDomain.of("vd")
    body = encode(["vd", 5, 1, PRECOMMIT, H1, 77])
    assert vote_signing_bytes(g.vote_domain, 5, 1, PRECOMMIT, H1, 77) == hash_domain(
        "tianfu/vote/v2", body
    )


def test_a_version_2_genesis_signs_its_hash_first():
    g = genesis(2)
    g.validate()
    assert g.vote_domain == VoteDomain("vd", g.hash)
    body = encode([g.hash, "vd", 5, 1, PRECOMMIT, H1, 77])
    assert vote_signing_bytes(g.vote_domain, 5, 1, PRECOMMIT, H1, 77) == hash_domain(
        "tianfu/vote/v3", body
    )
    assert vote_signing_bytes(g.vote_domain, 5, 1, PRECOMMIT, H1, 77) != vote_signing_bytes(
        "vd", 5, 1, PRECOMMIT, H1, 77
    )


def test_genesis_versions_other_than_1_and_2_are_refused():
    for v in (0, 3):
        with pytest.raises(CodecError, match="version"):
            genesis(v).validate()


def test_new_geneses_are_of_version_2(tmp_path):
    """`tianfu up` / the bench's networks (consortium and open profile) and `tianfu dev`."""
    from tianfu.node.dev import init_dev, load_genesis
    from tianfu.types import OpenProfile

    assert GENESIS_VERSION == 2
    init_network(tmp_path / "net", orgs=1)
    init_network(tmp_path / "open", orgs=1, open_profile=OpenProfile())
    assert init_dev(tmp_path / "dev")
    made = [decode_genesis((tmp_path / n / "genesis.bin").read_bytes()) for n in ("net", "open")]
    made.append(load_genesis(tmp_path / "dev"))
    assert [g.profile for g in made] == ["consortium", "open", "consortium"]
    for g in made:
        assert g.version == 2 and g.vote_domain.genesis_hash == g.hash


def test_the_signer_signs_the_version_2_bytes_and_keeps_its_resign_rule(tmp_path):
    kp = generate_keypair()
    d = genesis(2).vote_domain
    path = tmp_path / "pv.bin"
    pv = FilePrivValidator(kp, path, allow_missing=True)
    v = pv.sign_vote(d, 3, 0, PRECOMMIT, H1, 5_000)
    assert verify(kp.scheme, kp.public_key, vote_signing_bytes(d, 3, 0, PRECOMMIT, H1, 5_000),
                  v.signature)  # fmt: skip
    assert not verify(kp.scheme, kp.public_key,
                      vote_signing_bytes(d.chain_id, 3, 0, PRECOMMIT, H1, 5_000), v.signature)  # fmt: skip
    pv.close()
    # after a crash, the same precommit with another time: the stored one comes back
    again = FilePrivValidator(kp, path).sign_vote(d, 3, 0, PRECOMMIT, H1, 9_000)
    assert again == v


def test_the_signer_takes_its_newest_vote_from_the_wal_with_the_chains_bytes(tmp_path):
    """A signer whose file lost its newest copy takes the WAL's vote as its last: signing
    that precommit again (another time, after a restart) returns the WAL's signature."""
    kp = generate_keypair()
    d = genesis(2).vote_domain
    other = FilePrivValidator(kp, tmp_path / "other.bin", allow_missing=True)
    vote = other.sign_vote(d, 4, 0, PRECOMMIT, H1, 6_000)
    pv = FilePrivValidator(kp, tmp_path / "pv.bin", allow_missing=True)
    advance_signer_from_wal(pv, [WalVote(vote)], d)
    assert pv.last_hrs() == (4, 0, STEP_PRECOMMIT)
    assert pv.sign_vote(d, 4, 0, PRECOMMIT, H1, 8_000) == vote


def test_vote_checks_use_the_chains_domain():
    kp = generate_keypair()
    vals = ValidatorSet([Validator("v", "o", kp.scheme, kp.public_key, 1)])
    g2 = genesis(2)
    relaunched = msgspec.structs.replace(g2, time_ms=2_000)
    from tianfu.crypto import sign_vote

    vote = sign_vote(kp, g2.vote_domain, 2, 0, PREVOTE, H1)
    assert verify_vote(vote, vals, g2.vote_domain)
    assert not verify_vote(vote, vals, relaunched.vote_domain)  # same id and keys
    assert not verify_vote(vote, vals, VoteDomain(g2.chain_id))
    assert not verify_vote(vote, vals, VoteDomain("other", g2.hash))


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_vectors_sign_bytes_are_the_nodes(suite):
    v = json.loads((VECTORS / "genesis2.json").read_text(encoding="utf-8"))
    g = decode_genesis(bytes.fromhex(v["geneses"][suite]))
    assert g.version == 2
    votes = [x for x in v["votes"] if x["suite"] == suite]
    assert len(votes) == 3
    with chain_suite(suite).use():
        assert g.hash.hex() == v["genesis_hashes"][suite]
        for x in votes:
            assert x["genesis_hash"] == g.hash.hex() and x["chain_id"] == g.chain_id
            got = vote_signing_bytes(g.vote_domain, x["height"], x["round"], x["type"],
                                     bytes.fromhex(x["block_hash"]), x["time_ms"])  # fmt: skip
            assert got.hex() == x["sign_bytes"]
    assert Counter(c["valid"] for c in v["cases"] if c["suite"] == suite) == {True: 2, False: 4}


def test_a_light_client_of_a_bare_set_takes_the_chains_domain():
    """The SDK's light client without a genesis: given the chain's `VoteDomain` it verifies a
    version-2 chain's header; given the bare chain id (a version-1 chain's) it refuses it."""
    from tianfu.client.verify import LightClient, VerificationError
    from tianfu.crypto import sign_vote
    from tianfu.types import BlockHeader, CommitCertificate, CommitSig

    kp = generate_keypair()
    vals = ValidatorSet([Validator("v", "o", kp.scheme, kp.public_key, 1)])
    g = Genesis(2, "vd", 1_000, [OrgConfig("o", b"ca")], list(vals.validators))
    header = BlockHeader(1, "vd", 1, 1_000, g.hash, bytes(32), bytes(32), bytes(32),
                         vals.hash, kp.public_key, 0, None)  # fmt: skip
    vote = sign_vote(kp, g.vote_domain, 1, 0, PRECOMMIT, header.hash, 2_000)
    cert = CommitCertificate(1, "vd", 1, 0, header.hash,
                             [CommitSig(kp.public_key, 2_000, vote.signature)])  # fmt: skip
    LightClient(vals, g.vote_domain).verify_header(header, cert)
    LightClient.from_genesis(g).verify_header(header, cert)
    with pytest.raises(VerificationError, match="invalid signature"):
        LightClient(vals, "vd").verify_header(header, cert)
