"""A validator whose signer refuses, its state ahead of the node, says so in its health.

A store behind what the key signed (put back from an older copy, blocks lost from it) or a
later signer file put in place: the signer refuses every signature below its last one, and
the node's health said "ok" while it voted nothing (the log said "signer refused"). Now it
reads "degraded: signing held: its signer refuses: ..." (reason code `signing_held`) while
the node is below the signer's position, and "ok" again once it is past it.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from test_dynamic_params import make_driver
from test_governance_admission import chain  # noqa: F401  (the fixture)

from tianfu.consensus.messages import SignVote
from tianfu.consensus.privval import FilePrivValidator
from tianfu.node.health import NodeHealth, wire_health
from tianfu.types import PRECOMMIT, PREVOTE


def _health(driver):
    health = NodeHealth()
    idle = SimpleNamespace(store_error=None, fatal=None, stats={}, peers=list)
    wire_health(health, store=idle, driver=driver, syncer=idle, transport=idle, guard=idle)
    return health


def _gauge(health, name):
    return next(m.samples[0].value for m in health.collect() if m.name == name)


def test_a_signer_ahead_of_the_node_is_degraded_until_the_node_is_past_it(
    chain,  # noqa: F811
    tmp_path,
):
    key = next(iter(chain.keys.values()))  # a validator's key
    h = chain.ledger.height + 1
    path = tmp_path / "privval.bin"
    FilePrivValidator.initialise(key, path)
    pv = FilePrivValidator(key, path)
    pv.sign_vote(chain.genesis.chain_id, h, 3, PRECOMMIT, b"\x22" * 32, 1)  # signed later on
    driver = make_driver(chain, tmp_path, privval=pv)
    driver.core = driver._default_core(h, chain.ledger.validator_set(h))
    health = _health(driver)
    assert health.state() == ("ok", [])  # nothing refused yet
    refused = asyncio.run(driver._sign(SignVote(h, 0, PREVOTE, b"\x33" * 32)))
    assert refused is None and driver.stats["sign_refused"] == 1
    text, codes = health.state()
    assert codes == ["signing_held"], text
    assert text.startswith("degraded: signing held: its signer refuses: "), text
    assert f"at height {h} round 3, past this node's height {h} round " in text, text
    assert _gauge(health, "tianfu_signing_held") == 1.0
    assert _gauge(health, "tianfu_health_ok") == 0.0
    assert _gauge(health, "tianfu_signing_halted") == 0.0  # held, not halted
    # The node moves past the signer's position: it can sign, and says "ok" by itself.
    driver.core = driver._default_core(h + 1, chain.ledger.validator_set(h + 1))
    assert health.state() == ("ok", [])
    assert _gauge(health, "tianfu_signing_held") == 0.0
    signed = asyncio.run(driver._sign(SignVote(h + 1, 0, PREVOTE, b"\x33" * 32)))
    assert signed is not None and driver.signer.refused is None
    assert health.state() == ("ok", [])
