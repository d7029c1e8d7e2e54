"""The index of recorded validator sets (`valset_heights`) stays within the largest value
state holds however many changes there are: on an open chain any staker changes the set, as
often as once a block. Once the one list passed `MAX_VALUE_BYTES` (about 52,000 heights),
no bond, unbond, slash or governance change of the set could be written again."""

from typing import Any

import pytest
from test_staking import bond_key, call, names, view
from test_staking_attacks import double_sign, staked  # noqa: F401 (fixture)

from tianfu.codec import encode
from tianfu.contracts import reviewed_admission
from tianfu.crypto import generate_keypair
from tianfu.execution.context import MAX_VALUE_BYTES
from tianfu.execution.contract_api import ContractError


class StateCtx:
    """Just enough of a contract context: state in a dict, the real size limit of a value."""

    def __init__(self, height: int) -> None:
        self.height = height
        self.state: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def put(self, key: str, value: Any) -> None:
        if len(encode(value)) > MAX_VALUE_BYTES:
            raise ContractError(f"stored value larger than {MAX_VALUE_BYTES} bytes")
        self.state[key] = value

    def emit(self, *_a: Any, **_kw: Any) -> None:
        pass


def record(power: int) -> dict[str, Any]:
    kp = generate_keypair()
    return {"name": "v", "org": "o", "scheme": kp.scheme, "public_key": kp.public_key,
            "power": power}  # fmt: skip


def test_a_history_at_the_size_limit_still_takes_changes():
    """A chain whose index of heights is just under the largest value (one height a block
    since 100,000: 5 bytes each) still records the next change, and finds the sets of old
    heights."""
    start = 100_000
    heights = list(range(start, start + 52_428))
    assert len(encode(heights)) <= MAX_VALUE_BYTES < len(encode([*heights, start + 60_000]))
    ctx = StateCtx(start + 60_000)
    ctx.state["valset_heights"] = heights
    old = [record(7)]
    ctx.state[f"valset/{start + 10}"] = old
    new = [record(9)]
    assert reviewed_admission.write_validators(ctx, new) == start + 60_002
    assert reviewed_admission.valset_at(ctx, start + 10) == old
    assert reviewed_admission.valset_at(ctx, start + 60_005) == new
    with pytest.raises(ContractError, match="no validator set"):
        reviewed_admission.valset_at(ctx, start - 1)


def test_pages_of_heights_find_every_recorded_set(monkeypatch):
    monkeypatch.setattr(reviewed_admission, "VALSET_PAGE", 3)
    ctx = StateCtx(0)
    ctx.state["valset_heights"] = [1]
    sets = {1: [record(1)]}
    ctx.state["valset/1"] = sets[1]
    for h in range(3, 60, 4):  # one change every 4 blocks: 15 changes, 5 pages of 3
        ctx.height = h
        sets[h + 2] = [record(h)]
        reviewed_admission.write_validators(ctx, sets[h + 2])
    assert ctx.state["valset_pages"] == 5 and len(ctx.state["valset_heights"]) == 1
    starts = sorted(sets)
    for height in range(1, 70):
        want = max(s for s in starts if s <= height)
        assert reviewed_admission.valset_at(ctx, height) == sets[want], height


def test_evidence_of_a_height_in_an_old_page_slashes(staked, monkeypatch):  # noqa: F811
    """Through the real executor: pages of 2 heights; a double sign at a height whose
    recorded set is in the first page is still found, and slashed."""
    monkeypatch.setattr(reviewed_admission, "VALSET_PAGE", 2)
    chain, whale, _ = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    assert bond_key(chain, whale, "whale-v", vkey, 40).ok
    chain.block()
    chain.block()
    h = chain.ledger.height
    assert names(chain.ledger.validator_set(h))["whale-v"] == 40
    evidence = double_sign(chain, vkey, h)
    other = generate_keypair()
    chain.keys[other.public_key] = other
    for _ in range(3):  # more changes of the set: the page holding h moves aside
        assert bond_key(chain, whale, "x-v", other, 1).ok
        chain.block()
    r = call(chain, whale, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    assert view(chain, "burnt") == 20
