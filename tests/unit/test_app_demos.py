"""Every application's demo is idempotent (a second run writes nothing and describes the same
data) and has a readable description for `tianfu up --demo`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tianfu.apps.registry import NAMES, application
from tianfu.testing.appchain import AppChain

# The id each description must mention, by the summary key that holds it.
KEY_IDS = {
    "supply_finance": "receivable",
    "fund_supervision": "fund",
    "traceability": "contract",
    "evidence": "deposit_id",
    "ip_rights": "work_id",
    "manufacturing": "order",
    "city_governance": "contract",
    "health": "record",
    "photo_sharing": "photo_id",
}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("demos"))
    yield c
    c.close()


@pytest.mark.parametrize("app", NAMES)
def test_demo_runs_twice_and_writes_nothing_the_second_time(chain: AppChain, app: str) -> None:
    demo = application(app)
    first = demo.create_demo(chain)
    height, root = chain.ledger.height, chain.state_root()
    again = demo.create_demo(chain)
    assert again == first
    assert chain.ledger.height == height, "a second demo run wrote transactions"
    assert chain.state_root() == root

    lines = demo.describe(first)
    assert lines and all(isinstance(x, str) and x for x in lines)
    text = "\n".join(lines)
    assert str(first[KEY_IDS[app]]) in text
    assert "try: tianfu " in text, "the description should say what to run next"


def test_supply_finance_demo_rebuilds_its_parts_from_the_chain(chain: AppChain) -> None:
    from tianfu.apps.supply_finance.demo import create_demo, yuan

    s = create_demo(chain)
    rid = s["receivable"]
    assert sorted(s["parts"]) == sorted([f"{rid}.2", f"{rid}.1.1", f"{rid}.1.2"])
    assert yuan(100_000_000) == "1,000,000.00" and yuan(5) == "0.05"
