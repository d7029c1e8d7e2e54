"""A vote may narrow `tx_expiry_window` to anything from 1 block. The SDK signed every
transaction to expire 100 blocks ahead, so with a window of 50 the node refused each one
("too far ahead") — the retry only refreshed the height — and no SDK, CLI or application
user could transact again, not even to vote the window back. Now the client caps the
expiry at the chain's window when the node says it is too far ahead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tianfu.testing.appchain import AppChain


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AppChain]:
    c = AppChain(tmp_path)
    yield c
    c.close()


def _narrow_window(chain: AppChain, window: int) -> None:
    r = chain.call(
        chain.admin("org1"), "governance", "propose_set_params", {"tx_expiry_window": window}
    )
    assert r.ok, r.error
    for org in ("org1", "org2", "org3"):
        v = chain.call(chain.admin(org), "governance", "vote", r.result, True)
    assert v.result["status"] == "activated", v.result
    for _ in range(2):  # in force from two blocks on
        chain.service.block_committed(chain.driver.produce_one([]))


@pytest.mark.parametrize("window", [50, 1])
def test_the_sdk_transacts_under_a_narrow_expiry_window(chain: AppChain, window: int) -> None:
    _narrow_window(chain, window)
    client = chain.client(chain.admin("org2"))
    result = client.invoke("governance", "list_orgs")
    assert result.ok
    # ... and can vote the window back
    pid = client.invoke("governance", "propose_set_params", {"tx_expiry_window": 1000}).result
    assert isinstance(pid, str)
