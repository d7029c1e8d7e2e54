"""Deterministic simulation: safety always, liveness after healing, with up to f Byzantine."""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from tianfu.consensus.messages import ConflictingProposalEvidence, DuplicateVoteEvidence
from tianfu.testing.byzantine import byzantine_simulation, random_scenario
from tianfu.testing.sim import CommitRecord, NetConfig, Simulation

SEEDS = 1000


def _failures(n, seeds):
    failures = []
    for seed in seeds:
        sim = random_scenario(n, seed).run()
        problems = sim.check_safety() + sim.check_liveness()
        if problems:
            failures.append((seed, problems[:3]))
    return failures


def run_seeds(n, seeds):
    """Every seed's failures, the seeds shared out over the machine's cores (each seed
    is a deterministic run on its own: the split changes nothing but the wall time)."""
    seeds = list(seeds)
    workers = min(os.cpu_count() or 1, 4)
    if workers == 1:
        return _failures(n, seeds)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        parts = pool.map(_failures, [n] * workers, [seeds[i::workers] for i in range(workers)])
        return sorted(f for part in parts for f in part)


def test_fault_free_network_commits_quickly():
    sim = Simulation(4, 0).run()
    assert sim.check_safety() == [] and sim.check_liveness() == []
    for nd in sim.nodes:
        assert sorted(nd.commits) == [1, 2, 3]
        assert all(rec.certificate.round == 0 for rec in nd.commits.values())


@pytest.mark.timeout(1200)  # 1,000 scenarios: ~110 s of CPU for n = 7, 278 s alone at load 10
@pytest.mark.parametrize("n", [4, 7])
def test_safety_and_liveness_1000_seeds(n):
    assert run_seeds(n, range(SEEDS)) == []


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 10,000 scenarios of 10 nodes: minutes, more on a shared machine
@pytest.mark.parametrize("n", [4, 7, 10])
def test_safety_and_liveness_many_seeds(n):
    assert run_seeds(n, range(SEEDS, SEEDS + 10_000)) == []


def test_byzantine_behaviour_is_observed():
    """The wrappers really misbehave: honest nodes collect evidence of both kinds."""
    kinds = set()
    for seed in range(40):
        sim = random_scenario(4, seed).run()
        for nd in sim.honest:
            kinds.update(type(e) for e in nd.evidence)
    assert {DuplicateVoteEvidence, ConflictingProposalEvidence} <= kinds


def test_long_partition_then_heal_is_live():
    net = NetConfig(drop=0.1, max_delay_ms=50, partition=[[0, 1], [2, 3]], heal_at_ms=20_000)
    sim = Simulation(4, 7, net=net).run()
    assert sim.check_safety() == [] and sim.check_liveness() == []
    assert all(len(nd.commits) == 3 for nd in sim.nodes)
    assert min(nd.commits[1].certificate.round for nd in sim.nodes) > 0  # no quorum before heal


def fork_scenario(seed):
    """n=4 with two Twins pairs (Byzantine power 2/4 >= 1/3), split for good."""
    sim = byzantine_simulation(
        4, seed, {2: "twins", 3: "twins"}, NetConfig(drop=0.1, max_delay_ms=40), max_time_ms=20_000
    )
    names = {nd.name: nd.id for nd in sim.nodes}
    sim.net.blocked = set()
    sim.net.partition = [
        [names["v0"], names["v2a"], names["v3a"]],
        [names["v1"], names["v2b"], names["v3b"]],
    ]
    sim.net.heal_at_ms = 10**9
    return sim.run()


def test_checker_detects_fork_when_byzantine_power_reaches_one_third():
    for seed in range(50):
        sim = fork_scenario(seed)
        problems = sim.check_safety()
        if any(p.startswith("fork") for p in problems):
            break
    else:
        pytest.fail("no seed produced a fork with 2 of 4 validators Byzantine")
    v0, v1 = (nd for nd in sim.honest)
    forked = [
        h
        for h in v0.commits
        if h in v1.commits and v0.commits[h].block_hash != v1.commits[h].block_hash
    ]
    assert forked
    # both sides hold certificates that verify: the fork is real, not a checker artefact
    assert not any("bad certificate" in p for p in problems)


def test_checker_detects_bad_certificate_and_gaps():
    sim = Simulation(4, 3).run()
    assert sim.check_safety() == []
    nd = sim.honest[0]
    rec = nd.commits[2]
    cert = rec.certificate
    weak = type(cert)(
        1, cert.chain_id, cert.height, cert.round, cert.block_hash, cert.signatures[:2]
    )
    nd.commits[2] = CommitRecord(rec.block_hash, rec.block, weak)
    assert any("bad certificate" in p for p in sim.check_safety())
    nd.commits[2] = rec
    del sim.honest[1].commits[2]
    assert any("non-contiguous" in p for p in sim.check_safety())
    assert any("v1" in p for p in sim.check_liveness())


def test_same_seed_same_run():
    a = random_scenario(7, 123).run()
    b = random_scenario(7, 123).run()
    assert a.now == b.now and a.delivered == b.delivered
    assert [nd.commits for nd in a.nodes] == [nd.commits for nd in b.nodes]


def test_a_version_2_chain_with_a_double_voter_is_safe_and_its_votes_bind_the_genesis():
    """ADR 0039: a simulated chain of a version-2 genesis (votes sign its hash) commits with
    a Byzantine double voter; every certificate and every double-sign evidence verifies with
    the chain's own vote bytes and with none of a chain of the same id without that hash."""
    from tianfu.crypto import verify_commit, verify_vote
    from tianfu.types import VoteDomain

    found = []
    for seed in range(6):
        sim = byzantine_simulation(4, seed, {3: "double_vote"}, genesis_version=2).run()
        assert sim.check_safety() == [] and sim.check_liveness() == []
        domain = sim.rules.domain
        assert domain.genesis_hash == sim.rules.genesis.hash
        v1 = VoteDomain(domain.chain_id)
        vals = sim.validators
        for nd in sim.honest:
            for rec in nd.commits.values():
                cert = rec.certificate
                verify_commit(cert, rec.block_hash, cert.height, vals, domain)
                with pytest.raises(ValueError, match="invalid signature"):
                    verify_commit(cert, rec.block_hash, cert.height, vals, v1)
            for e in nd.evidence:
                if isinstance(e, DuplicateVoteEvidence):
                    assert verify_vote(e.vote_a, vals, domain)
                    assert verify_vote(e.vote_b, vals, domain)
                    assert not verify_vote(e.vote_a, vals, v1)
                    found.append(e)
    assert found  # the double voter was caught
