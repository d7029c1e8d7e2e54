"""Simulated BFT time with skewed clocks, and validators restarting without signer state."""

import random

import pytest

from tianfu.testing.sim import GENESIS_TIME_MS, NetConfig, Simulation, sim_block_time


def stopped(n, index):
    """Links that cut validator `index` off from everyone: it is as good as stopped."""
    return {(index, j) for j in range(n) if j != index}


@pytest.mark.parametrize("skew_ms", [-30_000, 30_000])
@pytest.mark.parametrize("seed", range(20))
def test_skewed_validator_with_another_stopped_still_commits(skew_ms, seed):
    """One validator 30 s off and another stopped: the other 3 of 4 commit every height,
    and the block times follow the correct clocks, not the skewed one."""
    net = NetConfig(drop=0.05, max_delay_ms=50, blocked=stopped(4, 3))
    sim = Simulation(4, seed, net=net, skews={0: skew_ms}, target_height=6, max_time_ms=30_000)
    sim.run()
    assert sim.check_safety() == []
    live = [nd for nd in sim.nodes if nd.val_index != 3]
    assert all(len(nd.commits) == 6 for nd in live)
    for rec in live[0].commits.values():
        # A block's time is a correct node's clock reading (the simulated time), give or take
        # the network delays and timeouts of this run: never 30 s away.
        assert GENESIS_TIME_MS <= sim_block_time(rec.block) <= GENESIS_TIME_MS + sim.now


def test_block_time_is_a_median_the_skewed_minority_cannot_move():
    """Every validator skewed differently: times still increase, and one far-off clock
    (a minority) cannot pull the median outside the others' range."""
    skews = {0: -50_000, 1: 5, 2: -5, 3: 90_000}
    sim = Simulation(4, 3, skews=skews, target_height=8).run()
    assert sim.check_safety() == [] and sim.check_liveness() == []
    times = [sim_block_time(r.block) for _, r in sorted(sim.nodes[1].commits.items())]
    assert times == sorted(set(times))
    for t in times[1:]:
        assert GENESIS_TIME_MS - 5 <= t <= GENESIS_TIME_MS + sim.now + 5


HOUR_MS, DAY_MS = 3_600_000, 86_400_000


@pytest.mark.parametrize("who", ["all", "one, restarting"])
@pytest.mark.parametrize("seed", range(3))
def test_clocks_set_back_an_hour_then_forward_a_day_while_running(seed, who):
    """Wall clocks jump while the validators run (timers run on the monotonic clock; only a
    precommit's time reads the wall clock): every clock, or one validator's that also
    restarts without its signer state across the jumps, set back an hour, then forward a
    day, then right. No validator refuses a block, none stalls, block times never go
    back (a clock set back is clamped to the last block's time + 1 ms), and no validator
    signs two different messages for one height, round and step."""
    ids = range(4) if who == "all" else [0]
    jumps = [
        (at, {i: skew for i in ids}) for at, skew in ((1500, -HOUR_MS), (4000, DAY_MS), (6500, 0))
    ]
    restarts = {} if who == "all" else {0: 5000}
    sim = Simulation(
        4, seed, clock_jumps=jumps, restarts=restarts, target_height=150, max_time_ms=20_000
    ).run()
    assert sim.check_safety() == []  # includes: every node's block times strictly increase
    assert sim.check_double_signs() == []
    assert sim.check_liveness() == []
    marks = sim.heights_at_jumps
    assert len(marks) == 3 and all(b - a >= 10 for a, b in zip(marks, marks[1:], strict=False))
    times = [sim_block_time(r.block) for _, r in sorted(sim.honest[1].commits.items())]
    if who == "all":  # the day ahead shows in block time, and never goes back
        assert times[-1] > GENESIS_TIME_MS + DAY_MS
    else:  # a minority's clock moves no block time
        assert times[-1] <= GENESIS_TIME_MS + sim.now


def restart_scenario(seed, guard):
    rng = random.Random(seed)
    net = NetConfig(drop=rng.choice([0.0, 0.05, 0.2]), max_delay_ms=rng.choice([10, 50, 200]))
    return Simulation(
        4,
        seed,
        net=net,
        restarts={rng.randrange(4): rng.randint(10, 1500)},
        down_ms=rng.randint(0, 800),
        target_height=5,
        guard=guard,
    ).run()


def test_restart_without_signer_state_never_double_signs_100_attempts():
    """A validator that loses its signer state and WAL (damaged slot + lost WAL tail, or a
    deleted signer file) and restarts: 0 conflicting signatures in 100 seeded attempts."""
    conflicts, problems = [], []
    for seed in range(100):
        sim = restart_scenario(seed, guard=True)
        conflicts += sim.check_double_signs()
        problems += sim.check_safety() + sim.check_liveness()
    assert conflicts == [] and problems == []


def test_restart_without_the_guard_double_signs():
    """The same attempts without the guard: the checker finds conflicting signatures."""
    found = [
        seed for seed in range(100) if restart_scenario(seed, guard=False).check_double_signs()
    ]
    assert len(found) >= 5


def test_two_validators_recovering_at_once_neither_double_sign_nor_stall():
    """Two of four lose their signer state together (more than f): while they wait out
    what they may have signed the others cannot commit, but once they have, they move to
    a round they may sign in and the network goes on (before `SkipToRound` it stayed in
    round 0 for good: rounds advance only on 2f+1 precommits)."""
    conflicts, problems = [], []
    for seed in range(40):
        rng = random.Random(seed)
        a, b = rng.sample(range(4), 2)
        t = rng.randint(10, 1500)
        sim = Simulation(
            4,
            seed,
            net=NetConfig(drop=rng.choice([0.0, 0.05]), max_delay_ms=rng.choice([10, 50])),
            restarts={a: t, b: t + rng.randint(0, 100)},
            down_ms=rng.randint(0, 400),
            target_height=5,
        ).run()
        conflicts += sim.check_double_signs()
        problems += sim.check_safety() + sim.check_liveness()
    assert conflicts == [] and problems == []


def restore_scenario(seed, guard):
    """A validator crashes after storing a few blocks and comes back from a backup of its
    whole data directory (signer file, WAL and store) one or two blocks old: an intact
    signer state, older than what its key signed, that nothing local shows to be old."""
    rng = random.Random(seed)
    net = NetConfig(drop=rng.choice([0.0, 0.05, 0.2]), max_delay_ms=rng.choice([10, 50, 200]))
    return Simulation(
        4,
        seed,
        net=net,
        restarts={rng.randrange(4): rng.randint(1500, 3000)},
        down_ms=rng.randint(0, 800),
        target_height=8,
        restore=rng.choice([1, 2]),
        guard=guard,
    ).run()


def test_data_put_back_from_a_backup_never_double_signs_60_attempts():
    """The node finds from the network that its key signed past its signer state (its own
    precommit in a certificate it catches up with, its own message relayed by a peer; and it
    signs nothing new for a listening period after a start): 0 conflicting signatures.
    Before, it signed again from the backup's position: conflicts in 12 of 60 attempts."""
    conflicts, problems = [], []
    for seed in range(60):
        sim = restore_scenario(seed, guard=True)
        conflicts += sim.check_double_signs()
        problems += sim.check_safety() + sim.check_liveness()
    assert conflicts == [] and problems == []


def test_data_put_back_from_a_backup_without_the_checks_double_signs():
    """The same attempts without those checks: the checker finds conflicting signatures."""
    found = [seed for seed in range(60) if restore_scenario(seed, guard=False).check_double_signs()]
    assert len(found) >= 5


def wipe_scenario(seed, guard=True):
    """A validator crashes after storing a few blocks and its data directory is wiped and
    made again with its key kept (as `node init` makes it: an intact signer state that
    never signed, an empty WAL and store): `restore` past the chain's height puts back the
    data directory of height 0. It starts at height 1 while the network is further on."""
    rng = random.Random(seed)
    net = NetConfig(drop=rng.choice([0.0, 0.05, 0.2]), max_delay_ms=rng.choice([10, 50, 200]))
    return Simulation(
        4,
        seed,
        net=net,
        restarts={rng.randrange(4): rng.randint(1500, 3000)},
        down_ms=rng.randint(0, 800),
        target_height=8,
        restore=10_000,
        guard=guard,
    ).run()


def test_a_wiped_data_directory_never_double_signs_60_attempts():
    """The quiet start holds whatever the store holds, an empty one too: the wiped node
    listens before it signs, at height 1 and again at the heights it catches up to, and
    finds its key's signatures from the network: 0 conflicting signatures. Before, an empty
    store skipped the quiet start and the node prevoted at once at height 1 round 0, where
    it had prevoted before the wipe: conflicts in 8 of these 60 attempts."""
    conflicts, problems = [], []
    for seed in range(60):
        sim = wipe_scenario(seed)
        conflicts += sim.check_double_signs()
        problems += sim.check_safety() + sim.check_liveness()
    assert conflicts == [] and problems == []
