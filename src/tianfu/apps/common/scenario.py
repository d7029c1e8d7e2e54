"""The scenario runner every application's end-to-end flow uses: deployment, the cast of
participants with their roles, checks, and forbidden actions that must be refused with a
clear error and change nothing.

The same scenario runs on the in-process `AppChain` and on a real local network (both are
an `AppEnv`). "Nothing changed" is checked on the application's own views (the snapshot a
scenario watches) and, where the environment can show it (`AppChain.contract_state`), on
every entry of the application's contracts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from tianfu.apps.common.sdk import ContractSDK
from tianfu.apps.env import AppEnv
from tianfu.client import Client, TxFailed
from tianfu.identity import Identity


class ScenarioFailed(AssertionError):
    """A business-flow expectation did not hold."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


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


@dataclass(frozen=True)
class Member:
    """One participant of a cast: its key, which organisation (an index into the
    environment's organisations, wrapping around), its certificate name and its roles."""

    key: str
    org: int
    name: str
    roles: tuple[str, ...] = ()
    display: str = ""  # the company or office it plays, for applications that enrol


def cast(
    env: AppEnv, members: Sequence[Member], prefix: str = "", suffix: str = ""
) -> dict[str, Identity]:
    """Issue (or find) each member's identity, register it and grant its roles."""
    people = {}
    for m in members:
        org = env.orgs[m.org % len(env.orgs)]
        people[m.key] = enrol(env, env.identity(org, prefix + m.name + suffix), *m.roles)
    return people


S = TypeVar("S", bound=ContractSDK)


def handles(env: AppEnv, people: dict[str, Identity], sdk: type[S]) -> dict[str, S]:
    """Each participant's SDK handle, signing as that participant."""
    return {key: sdk(env.client(who)) for key, who in people.items()}


@dataclass(frozen=True)
class Participant(Generic[S]):
    """A member enrolled in an application: its identity, its SDK handle and who it plays.
    Subclasses name the application's SDK class (`SDK`)."""

    SDK: ClassVar[type[ContractSDK]]
    identity: Identity
    app: S
    display_name: str

    @property
    def address(self) -> str:
        return self.identity.info.address


P = TypeVar("P", bound=Participant[Any])


def enrolled(
    env: AppEnv,
    members: Sequence[Member],
    participant: type[P],
    contract: tuple[str, Callable[[], str]],
    prefix: str = "",
) -> dict[str, P]:
    """Deploy the contract if needed, cast the members, and enrol each in the application
    (its `enrol(display_name)` operation) unless its `party(address)` record is there."""
    people = cast(env, members, prefix)
    first = env.client(next(iter(people.values())))
    ensure_deployed(env, first, contract[0], contract[1]())
    out = {}
    for m in members:
        who = people[m.key]
        p = participant(who, participant.SDK(env.client(who)), m.display)
        app: Any = p.app
        if app.party(p.address) is None:
            app.enrol(m.display)
        out[m.key] = p
    return out


class Scenario:
    """One run of an application's flow: enrols its cast, deploys its contracts (unless the
    same sources are active; with no cast, the caller has deployed them), and tries
    forbidden actions.

    `refused(action, *needles)` runs `action`, which must fail with a receipt error naming
    every needle, and checks the watched snapshot and the contracts' state are unchanged.
    """

    def __init__(
        self,
        env: AppEnv,
        contracts: Sequence[tuple[str, Callable[[], str]]],
        members: Sequence[Member] = (),
        *,
        prefix: str = "",
        suffix: str = "",
    ) -> None:
        self.env = env
        self.contracts = tuple(name for name, _ in contracts)
        self.people = cast(env, members, prefix, suffix)
        for who in list(self.people.values())[:1]:  # a member's client reads what is active
            for name, source in contracts:
                ensure_deployed(env, env.client(who), name, source())
        self._snapshot: Callable[[], Any] = lambda: None

    def watch(self, snapshot: Callable[[], Any]) -> None:
        """What `refused` compares before and after (the application's views)."""
        self._snapshot = snapshot

    def state(self, snapshot: Callable[[], Any] | None = None) -> Any:
        views = (snapshot or self._snapshot)()
        contract_state = getattr(self.env, "contract_state", None)
        return views, (contract_state(*self.contracts) if contract_state else None)

    def refused(
        self,
        action: Callable[[], Any],
        *needles: str,
        snapshot: Callable[[], Any] | None = None,
    ) -> str:
        """Run a forbidden `action`: it must be refused naming every needle, changing nothing.
        Returns the refusal's message."""
        before = self.state(snapshot)
        try:
            action()
        except TxFailed as exc:
            error = exc.error
        else:
            raise ScenarioFailed(f"a forbidden action was accepted (expected a refusal {needles})")
        for needle in needles:
            if needle.lower() not in error.lower():
                raise ScenarioFailed(f"refusal {error!r} does not mention {needle!r}")
        after = self.state(snapshot)
        if after != before:
            raise ScenarioFailed(f"a refused call ({error}) changed the state")
        return error

    check = staticmethod(check)


def once_due(due_ms: int, action: Callable[[], Any], not_yet: str, timeout: float = 30.0) -> Any:
    """Run `action` once a block's time is past `due_ms`: wait until the clock is past it,
    then try again while the refusal says `not_yet` (the next block's time is the agreed
    one, not this machine's), up to `timeout` seconds."""
    time.sleep(max(0.0, (due_ms + 300) / 1000 - time.time()))
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except TxFailed as exc:
            if not_yet not in exc.error or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
