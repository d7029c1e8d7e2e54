"""The shipped applications, in one list: what the command line, `tianfu up --demo` and the
tests each go through.

An application is its contract (the sandboxed source, deployed by a vote), its SDK class, its
command table, its demo data and its end-to-end scenario. Adding one is adding an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tianfu.apps import (
    city_governance,
    evidence,
    fund_supervision,
    health,
    ip_rights,
    manufacturing,
    photo_sharing,
    supply_finance,
    traceability,
)
from tianfu.apps.city_governance import commands as city_commands
from tianfu.apps.city_governance import demo as city_demo
from tianfu.apps.city_governance import scenario as city_scenario
from tianfu.apps.city_governance.sdk import CityGovernance
from tianfu.apps.common.commands import CommandTable
from tianfu.apps.common.sdk import ContractSDK
from tianfu.apps.env import AppEnv
from tianfu.apps.evidence import commands as evidence_commands
from tianfu.apps.evidence import demo as evidence_demo
from tianfu.apps.evidence import scenario as evidence_scenario
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.fund_supervision import commands as fund_commands
from tianfu.apps.fund_supervision import demo as fund_demo
from tianfu.apps.fund_supervision import scenario as fund_scenario
from tianfu.apps.fund_supervision.sdk import FundSupervision
from tianfu.apps.health import commands as health_commands
from tianfu.apps.health import demo as health_demo
from tianfu.apps.health import scenario as health_scenario
from tianfu.apps.health.sdk import Health
from tianfu.apps.ip_rights import commands as ip_commands
from tianfu.apps.ip_rights import demo as ip_demo
from tianfu.apps.ip_rights import scenario as ip_scenario
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.apps.manufacturing import commands as mf_commands
from tianfu.apps.manufacturing import demo as mf_demo
from tianfu.apps.manufacturing import scenario as mf_scenario
from tianfu.apps.manufacturing.sdk import Manufacturing
from tianfu.apps.photo_sharing import commands as photo_commands
from tianfu.apps.photo_sharing import demo as photo_demo
from tianfu.apps.photo_sharing import scenario as photo_scenario
from tianfu.apps.photo_sharing.sdk import PhotoSharing
from tianfu.apps.supply_finance import commands as sf_commands
from tianfu.apps.supply_finance import demo as sf_demo
from tianfu.apps.supply_finance import scenario as sf_scenario
from tianfu.apps.supply_finance.sdk import SupplyFinance
from tianfu.apps.traceability import commands as trace_commands
from tianfu.apps.traceability import demo as trace_demo
from tianfu.apps.traceability import scenario as trace_scenario
from tianfu.apps.traceability.sdk import Traceability

if TYPE_CHECKING:  # the web framework is loaded by a node, not by every command
    from fastapi import APIRouter, FastAPI

    from tianfu.api.service import ChainService
    from tianfu.p2p.protocol import Network, PeerId


class PeerService(Protocol):
    """An application's part of the p2p layer: handlers for its own message kinds and a
    background task the node starts and stops."""

    kinds: tuple[int, ...]  # the message kinds it handles (tianfu.p2p.protocol lists them all)

    def handle(self, peer: PeerId, kind: int, payload: bytes) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class NodePart:
    """What an application adds to a node: routes beside the chain API, and optionally a
    p2p service (only on a node with peers)."""

    router: APIRouter
    peers: PeerService | None = None


@dataclass(frozen=True)
class Application:
    """One industry application and everything that ships with it."""

    name: str  # the contract's name and `tianfu app <name>`
    source: Callable[[], str]  # the sandboxed contract's source, as deployed
    sdk: type[ContractSDK]
    commands: CommandTable
    create_demo: Callable[[AppEnv], dict[str, Any]]  # idempotent
    describe: Callable[[dict[str, Any]], list[str]]  # readable lines about the demo
    run_scenario: Callable[[AppEnv], None]  # raises ScenarioFailed
    alias: str = ""  # also `tianfu <alias> ...`
    # What a node runs for it, given the node's data directory and its member p2p network
    # (None on a node without one): routes beside the chain API, maybe a p2p service.
    node: Callable[[ChainService, Path, Network | None], NodePart] | None = None


APPLICATIONS: tuple[Application, ...] = (
    Application(
        supply_finance.NAME,
        supply_finance.source,
        SupplyFinance,
        sf_commands.COMMANDS,
        sf_demo.create_demo,
        sf_demo.describe,
        sf_scenario.run_scenario,
    ),
    Application(
        fund_supervision.NAME,
        fund_supervision.source,
        FundSupervision,
        fund_commands.COMMANDS,
        fund_demo.create_demo,
        fund_demo.describe,
        fund_scenario.run_scenario,
    ),
    Application(
        traceability.NAME,
        traceability.source,
        Traceability,
        trace_commands.COMMANDS,
        trace_demo.create_demo,
        trace_demo.describe,
        trace_scenario.run_scenario,
    ),
    Application(
        evidence.NAME,
        evidence.source,
        Evidence,
        evidence_commands.COMMANDS,
        evidence_demo.create_demo,
        evidence_demo.describe,
        evidence_scenario.run_scenario,
        alias="evidence",
    ),
    Application(
        ip_rights.NAME,
        ip_rights.source,
        IpRights,
        ip_commands.COMMANDS,
        ip_demo.create_demo,
        ip_demo.describe,
        ip_scenario.run_scenario,
    ),
    Application(
        manufacturing.NAME,
        manufacturing.source,
        Manufacturing,
        mf_commands.COMMANDS,
        mf_demo.create_demo,
        mf_demo.describe,
        mf_scenario.run_scenario,
    ),
    Application(
        city_governance.NAME,
        city_governance.source,
        CityGovernance,
        city_commands.COMMANDS,
        city_demo.create_demo,
        city_demo.describe,
        city_scenario.run_scenario,
    ),
    Application(
        health.NAME,
        health.source,
        Health,
        health_commands.COMMANDS,
        health_demo.create_demo,
        health_demo.describe,
        health_scenario.run_scenario,
    ),
    Application(
        photo_sharing.NAME,
        photo_sharing.source,
        PhotoSharing,
        photo_commands.COMMANDS,
        photo_demo.create_demo,
        photo_demo.describe,
        photo_scenario.run_scenario,
        node=photo_sharing.node_part,
    ),
)
NAMES: tuple[str, ...] = tuple(a.name for a in APPLICATIONS)


def application(name: str) -> Application:
    """The application called `name` (KeyError if there is none)."""
    for a in APPLICATIONS:
        if a.name == name:
            return a
    raise KeyError(name)


def mount_routes(api: FastAPI, service: ChainService, data_dir: Path) -> FastAPI:
    """Add every application's own node routes to a node's API application (a node without
    a p2p network)."""
    mount_apps(api, service, data_dir, None)
    return api


def mount_apps(
    api: FastAPI, service: ChainService, data_dir: Path, network: Network | None
) -> list[PeerService]:
    """Add every application's routes to a node's API application; the applications' p2p
    services, for the node to route their message kinds to and to start and stop."""
    services: list[PeerService] = []
    for a in APPLICATIONS:
        if a.node is not None:
            part = a.node(service, data_dir, network)
            api.include_router(part.router)
            if part.peers is not None:
                services.append(part.peers)
    return services
