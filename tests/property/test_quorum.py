"""Property tests of the quorum arithmetic and of VoteSet counting against a simple model."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.consensus.votes import MAX_VALUES_PER_VALIDATOR, AddStatus, VoteSet, one_third_plus
from tianfu.crypto import ED25519
from tianfu.types import PRECOMMIT, PREVOTE, Validator, ValidatorSet, Vote

powers_st = st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=12)


def valset(powers):
    return ValidatorSet(
        [Validator(f"v{i}", "o", ED25519, bytes([i]) * 32, p) for i, p in enumerate(powers)]
    )


@settings(max_examples=300, deadline=None)
@given(powers_st, st.data())
def test_any_two_quorums_intersect_in_more_than_one_third(powers, data):
    vs = valset(powers)
    total, q = vs.total_power, vs.quorum()
    assert 3 * q > 2 * total and 3 * (q - 1) <= 2 * total  # smallest power above 2/3
    idx = range(len(powers))
    a = set(data.draw(st.lists(st.sampled_from(idx), unique=True)))
    b = set(data.draw(st.lists(st.sampled_from(idx), unique=True)))
    pa, pb = sum(powers[i] for i in a), sum(powers[i] for i in b)
    if pa >= q and pb >= q:
        inter = sum(powers[i] for i in a & b)
        assert 3 * inter > total
        assert inter >= one_third_plus(total)


@settings(max_examples=300, deadline=None)
@given(powers_st, st.data())
def test_f_plus_one_contains_an_honest_validator(powers, data):
    total = sum(powers)
    idx = list(range(len(powers)))
    byz = set(data.draw(st.lists(st.sampled_from(idx), unique=True)))
    if 3 * sum(powers[i] for i in byz) >= total:
        return  # more than the tolerated Byzantine power: no guarantee
    group = set(data.draw(st.lists(st.sampled_from(idx), unique=True)))
    if sum(powers[i] for i in group) >= one_third_plus(total):
        assert group - byz


votes_st = st.lists(
    st.tuples(
        st.integers(0, 11), st.sampled_from([b"", b"a" * 32, b"b" * 32, b"c" * 32, b"d" * 32])
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(powers_st, votes_st, st.sampled_from([PREVOTE, PRECOMMIT]))
def test_voteset_matches_model(powers, votes, type):
    vs_ = valset(powers)
    s = VoteSet("c", 1, 0, type, vs_)
    model: dict[int, list[bytes]] = {}
    conflicted: set[int] = set()
    for i, h in votes:
        if i >= len(powers):
            continue
        v = Vote(1, "c", 1, 0, type, h, 0, bytes([i]) * 32, b"s" * 64)
        res = s.add(v)
        seen = model.setdefault(i, [])
        if h in seen:
            assert res.status is AddStatus.DUPLICATE
        elif not seen:
            assert res.status is AddStatus.ADDED
            seen.append(h)
        else:
            assert res.status is AddStatus.CONFLICTING
            assert (res.evidence is not None) == (i not in conflicted)
            conflicted.add(i)
            if len(seen) < MAX_VALUES_PER_VALIDATOR:
                seen.append(h)
    total = sum(powers)
    q = vs_.quorum()
    any_power = sum(powers[i] for i in model)
    assert s.power_any() == any_power
    assert s.has_two_thirds_any() == (any_power >= q)
    assert s.has_one_third_any() == (3 * any_power > total)
    for h in [b"", b"a" * 32, b"b" * 32, b"c" * 32, b"d" * 32]:
        p = sum(powers[i] for i, hs in model.items() if h in hs)
        assert s.power_for(h) == p
        assert s.has_two_thirds_for(h) == (p >= q)
    honest_hashes = {hs[0] for hs in model.values()}
    with_quorum = [h for h in honest_hashes if s.has_two_thirds_for(h)]
    assert len(with_quorum) <= 1 or len(s.conflicting()) > 0
    assert s.conflicting() == {bytes([i]) * 32 for i in conflicted}
    if type == PRECOMMIT:
        for h in with_quorum:
            if h:
                cert = s.make_certificate(h)
                assert sum(powers[c.validator[0]] for c in cert.signatures) >= q
