"""`tianfu up`: a local network of N organisations, each validator its own OS process.

Node i's API listens on 127.0.0.1:(8700+i), its p2p port on 127.0.0.1:(9700+i); all data
is under `.tianfu/localnet/` (see `tianfu.node.netinit` for the layout). Running it again
resumes the same chain; `--fresh` starts a new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tianfu.client import Client
from tianfu.client.governance import grant_role
from tianfu.client.transport import http_get
from tianfu.identity import Identity, OrgCA
from tianfu.node.config import NodeConfig
from tianfu.node.dev import load_genesis, port_in_use
from tianfu.node.netinit import init_network
from tianfu.types import Genesis

DEFAULT_HOME = Path(".tianfu/localnet")


@dataclass
class LocalNetwork:
    """The processes of a local network and how to reach them."""

    home: Path
    configs: list[NodeConfig]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls, home: Path, orgs: int, fresh: bool, **init_kw: Any
    ) -> tuple[LocalNetwork, bool]:
        home = Path(home)
        created = False
        if fresh or not (home / "genesis.bin").exists():
            init_network(home, orgs, force=True, **init_kw)
            created = True
        configs = sorted(
            (NodeConfig.load(p.parent) for p in home.glob("org*/node*/node.toml")),
            key=lambda c: c.api_port,
        )
        if not configs:
            raise FileNotFoundError(f"no node configuration under {home}")
        return cls(home, configs), created

    @property
    def genesis(self) -> Genesis:
        return load_genesis(self.home)

    def busy_ports(self) -> list[int]:
        """The API and p2p ports of this network that something else already listens on."""
        return [
            port
            for cfg in self.configs
            for host, port in ((cfg.api_host, cfg.api_port), (cfg.p2p_host, cfg.p2p_port))
            if port_in_use(host, port)
        ]

    def url(self, cfg: NodeConfig) -> str:
        return f"http://{cfg.api_host}:{cfg.api_port}"

    def log_path(self, cfg: NodeConfig) -> Path:
        return self.home / "logs" / f"{cfg.name}.log"

    def start_node(self, cfg: NodeConfig) -> None:
        self.log_path(cfg).parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(cfg), "ab") as log:
            self.procs[cfg.name] = subprocess.Popen(
                [sys.executable, "-m", "tianfu", "node", "start", "--home", str(cfg.home)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )

    def start(self) -> None:
        for cfg in self.configs:
            self.start_node(cfg)

    def wait_ready(
        self,
        timeout: float = 60.0,
        min_height: int = 1,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        deadline = time.monotonic() + timeout
        pending = {c.name: c for c in self.configs if c.name in self.procs}
        while pending and time.monotonic() < deadline:
            for name, cfg in list(pending.items()):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.log_path(cfg)}"
                    )
                try:
                    r = http_get(self.url(cfg) + "/v1/status", timeout=1.0)
                    if r.status_code == 200 and r.json().get("height", 0) >= min_height:
                        del pending[name]
                        if progress:
                            progress(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            raise TimeoutError(f"nodes not ready after {timeout}s: {', '.join(pending)}")

    def stop_node(self, name: str, sig: int = signal.SIGINT, timeout: float = 15.0) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for name in list(self.procs):
            self.stop_node(name)


class _AllNodesClient(Client):
    """A client whose committed writes are visible on every node before `send` returns, so a
    scenario may write through one organisation's node and read through another's."""

    def __init__(self, *args: Any, others: list[str], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._others = others

    def send(self, tx: Any, *, wait: bool = True, check: bool = True) -> Any:
        result = super().send(tx, wait=wait, check=False)
        if result.committed and result.height is not None:
            deadline = time.monotonic() + 30
            for url in self._others:
                while time.monotonic() < deadline:
                    try:
                        if (
                            http_get(url + "/v1/status", timeout=2).json()["height"]
                            >= result.height
                        ):
                            break
                    except (httpx.HTTPError, KeyError, ValueError):
                        pass
                    time.sleep(0.02)
        if check and result.committed and not result.ok:
            from tianfu.client.errors import TxFailed

            raise TxFailed(result)
        return result


class LocalnetEnv:
    """`tianfu.apps.env.AppEnv` over a local network: org N's members talk to node N."""

    def __init__(self, net: LocalNetwork) -> None:
        self.net = net
        self.genesis = net.genesis
        self.orgs = [o.name for o in self.genesis.orgs]
        self._by_org = {c.org: c for c in net.configs}

    def identity(self, org: str, name: str, kind: str = "member") -> Identity:
        path = self.net.home / org / "identities" / name
        if (path / "cert.pem").exists():
            return Identity.load(path)
        ident = OrgCA.load(self.net.home / org / "ca").issue(name, kind)
        ident.save(path)
        return ident

    def client(self, identity: Identity) -> Client:
        cfg = self._by_org.get(identity.info.org, self.net.configs[0])
        others = [self.net.url(c) for c in self.net.configs if c is not cfg]
        return _AllNodesClient(self.net.url(cfg), identity, genesis=self.genesis, others=others)

    def admin(self, org: str) -> Client:
        return self.client(Identity.load(self.net.home / org / "identities" / "admin"))

    def deploy(self, name: str, source: str) -> None:
        if any(c["name"] == name for c in self.admin(self.orgs[0]).contracts()):
            return
        pid = self.admin(self.orgs[0]).propose_contract(name, source)
        for org in self.orgs:
            r = self.admin(org).approve_contract(pid)
            if r.result["status"] == "activated":
                return
        raise RuntimeError(f"contract {name} was not activated")

    def grant(self, identity: Identity, role: str) -> None:
        """Grant a role by the identity's own org admin, registering the identity first."""
        admin = self.admin(identity.info.org)
        if admin.query("governance", "get_identity", identity.info.address) is None:
            self.client(identity).invoke("governance", "get_identity", identity.info.address)
        admins = [admin] + [self.admin(o) for o in self.orgs if o != identity.info.org]
        grant_role(admins, identity.info.address, role)  # supervisory: by a vote of all
