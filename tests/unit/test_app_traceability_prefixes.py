"""Traceability code prefixes: a prefix the regulator granted to an organisation is that
organisation's alone, so no other member can register a product or a batch under it."""

from __future__ import annotations

import pytest

from tianfu.apps import traceability
from tianfu.apps.traceability.demo import cast
from tianfu.apps.traceability.sdk import Traceability
from tianfu.client import TxFailed
from tianfu.testing.appchain import AppChain


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = AppChain(tmp_path_factory.mktemp("trace-prefix"))
    c.deploy(traceability.NAME, traceability.source())
    yield c
    c.close()


@pytest.fixture(scope="module")
def people(chain):
    return cast(chain, "-p")


def _sdk(chain, who):
    return Traceability(chain.client(who))


def test_a_granted_prefix_cannot_be_squatted_by_another_organisation(chain, people):
    farm = _sdk(chain, people["producer"])  # organisation 0
    factory = _sdk(chain, people["processor"])  # organisation 1
    regulator = _sdk(chain, people["regulator"])
    farm_org = people["producer"].info.org
    regulator.grant_prefix("FARM", farm_org)
    assert regulator.code_prefix("farm")["org"] == farm_org
    # the product ids and batch codes under FARM (any case, any separator) are the farm's
    for pid in ("FARM-tea", "farm.tea", "Farm_tea", "FARM"):
        with pytest.raises(TxFailed, match="granted to " + farm_org):
            factory.register_product(pid, "squatted", "tea", "g")
    factory.register_product("squat-tea", "tea", "tea", "g")
    with pytest.raises(TxFailed, match="granted to " + farm_org):
        factory.merge_batches("FARM-MIX", ["x", "y"], "squat-tea")
    # the farm itself registers under its prefix
    farm.register_product("FARM-tea", "tea", "tea", "g")
    farm.create_batch("FARM-T1", "FARM-tea", 100, "plot 1")
    # a prefix that only starts like the granted one is another prefix
    factory.register_product("FARMER-tea", "tea", "tea", "g")


def test_batch_codes_under_a_granted_prefix_are_refused_to_others(chain, people):
    farm = _sdk(chain, people["producer"])
    retailer = _sdk(chain, people["retailer"])  # organisation 2
    regulator = _sdk(chain, people["regulator"])
    regulator.grant_prefix("RICE", people["producer"].info.org)
    farm.register_product("rice-g", "rice", "grain", "g")
    farm.create_batch("RICE-1", "rice-g", 100, "field")
    farm.transfer_batch("RICE-1", people["retailer"].info.address)
    with pytest.raises(TxFailed, match="granted to"):
        retailer.split_batch("RICE-1", [("RICE-1a", 50), ("SHOP-1b", 50)])
    assert retailer.split_batch("RICE-1", [("SHOP-1a", 50), ("SHOP-1b", 50)]) == [
        "SHOP-1a",
        "SHOP-1b",
    ]


def test_only_a_regulator_grants_and_revokes_and_a_grant_is_not_taken_over(chain, people):
    farm = _sdk(chain, people["producer"])
    factory = _sdk(chain, people["processor"])
    regulator = _sdk(chain, people["regulator"])
    with pytest.raises(TxFailed, match="regulator"):
        farm.grant_prefix("MINE", people["producer"].info.org)
    with pytest.raises(TxFailed, match="not a member"):
        regulator.grant_prefix("GHOST", "no-such-org")
    for bad in ("", "A-B", "x" * 33, 7, "a.b"):
        with pytest.raises(TxFailed, match="prefix"):
            regulator.grant_prefix(bad, people["producer"].info.org)
    regulator.grant_prefix("TEAX", people["producer"].info.org)
    with pytest.raises(TxFailed, match="already granted"):
        regulator.grant_prefix("teax", people["processor"].info.org)
    with pytest.raises(TxFailed, match="regulator"):
        farm.revoke_prefix("TEAX")
    regulator.revoke_prefix("TEAX")
    assert regulator.code_prefix("TEAX") is None
    factory.register_product("TEAX-1", "tea", "tea", "g")
    with pytest.raises(TxFailed, match="not granted"):
        regulator.revoke_prefix("TEAX")
