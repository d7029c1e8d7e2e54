"""Helpers shared by the traceability demo and scenario: deployment check and refusal checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tianfu.apps.env import AppEnv
from tianfu.client import Client, TxFailed
from tianfu.identity import Identity


class ScenarioFailed(AssertionError):
    """A business-flow expectation did not hold."""


def ensure_deployed(env: AppEnv, client: Client, name: str, source: str) -> None:
    """Deploy `source` as `name` unless exactly this source is already active."""
    if client.query("governance", "get_source", name) != source:
        env.deploy(name, source)


def enrol(env: AppEnv, who: Identity, *roles: str) -> Identity:
    """Register `who` on chain (its first transaction carries its certificate) and grant
    the roles it does not hold yet. Idempotent, so demos and scenarios can run again."""
    client = env.client(who)
    record = client.query("governance", "get_identity", who.info.address)
    if record is None:  # not on chain yet: the first transaction registers the certificate
        record = client.invoke("governance", "get_identity", who.info.address).result
    for role in roles:
        if role not in (record or {}).get("roles", []):
            env.grant(who, role)
    return who


def expect_refused(action: Callable[[], Any], snapshot: Callable[[], Any], *needles: str) -> str:
    """Run `action`, which must fail with a receipt error containing every needle,
    and leave `snapshot()` unchanged. Returns the error message."""
    before = snapshot()
    try:
        action()
    except TxFailed as exc:
        error = exc.error
    else:
        raise ScenarioFailed(f"expected a refusal containing {needles}, but the call succeeded")
    for needle in needles:
        if needle.lower() not in error.lower():
            raise ScenarioFailed(f"refusal {error!r} does not mention {needle!r}")
    after = snapshot()
    if after != before:
        raise ScenarioFailed(f"a refused call changed the state: {before!r} -> {after!r}")
    return error


def check(condition: object, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)
