"""Node configuration: one `node.toml` per node, written by `tianfu network init`.

name = "node1"
org = "org1"
validator = true
genesis = "../../genesis.bin"      # paths are relative to the node's home directory
identity = "identity"              # key.pem, cert.pem, ca.pem of the node certificate
data = "data"

[api]
host = "127.0.0.1"
port = 8701
max_body_bytes = 1048576

[p2p]
host = "127.0.0.1"
port = 9701
peers = ["127.0.0.1:9702", "127.0.0.1:9703"]

[observer]                         # open profile only (ADR 0025); absent: no observer port
port = 9801                        # where nodes without member certificates connect
peers = ["127.0.0.1:9802"]         # observer ports this node dials (an observer's upstream)

An observer node (`observer_node = true` at the top, `validator = false`, org "") has a
self-made key in `identity/key.pem` and uses the observer port only.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_FILE = "node.toml"


class ConfigError(ValueError):
    """A missing or malformed node configuration."""


@dataclass(frozen=True)
class NodeConfig:
    home: Path
    name: str
    org: str
    validator: bool
    genesis: Path
    identity: Path
    data: Path
    api_host: str = "127.0.0.1"
    api_port: int = 8701
    max_body_bytes: int = 1 << 20
    # [api] trusted_proxies: reverse proxies whose X-Forwarded-For names the client the
    # per-client limits count (addresses or networks; none by default, ADR 0008).
    trusted_proxies: tuple[str, ...] = ()
    p2p_host: str = "127.0.0.1"
    p2p_port: int = 9701
    peers: list[tuple[str, int]] = field(default_factory=list)
    observer: bool = False  # a non-validating node without a member certificate
    observer_port: int = 0  # the observer port to listen on (0: none)
    observer_peers: list[tuple[str, int]] = field(default_factory=list)
    # [observer] idle_timeout: an outsider's inbound link silent this long is closed (ADR 0025)
    observer_idle_timeout: float = 60.0
    # [consensus] pipeline: build the next block while the decided one is stored (ADR
    # 0030). A local choice: the chain is the same either way.
    pipeline: bool = True

    @classmethod
    def load(cls, home: Path) -> NodeConfig:
        home = Path(home)
        path = home / CONFIG_FILE
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"no {CONFIG_FILE} in {home} (create one with `tianfu network init`)"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        try:
            api = raw.get("api", {})
            p2p = raw.get("p2p", {})
            obs = raw.get("observer", {})
            consensus = raw.get("consensus", {})
            if not isinstance(consensus, dict):
                raise ValueError("[consensus] must be a table")
            return cls(
                home=home,
                name=str(raw["name"]),
                org=str(raw["org"]),
                validator=bool(raw.get("validator", False)),
                genesis=(home / raw.get("genesis", "genesis.bin")).resolve(),
                identity=(home / raw.get("identity", "identity")).resolve(),
                data=(home / raw.get("data", "data")).resolve(),
                api_host=str(api.get("host", "127.0.0.1")),
                api_port=int(api.get("port", 8701)),
                max_body_bytes=int(api.get("max_body_bytes", 1 << 20)),
                trusted_proxies=_trusted_proxies(api.get("trusted_proxies", [])),
                p2p_host=str(p2p.get("host", "127.0.0.1")),
                p2p_port=int(p2p.get("port", 9701)),
                peers=[parse_hostport(p) for p in p2p.get("peers", [])],
                observer=bool(raw.get("observer_node", False)),
                observer_port=int(obs.get("port", 0)),
                observer_peers=[parse_hostport(p) for p in obs.get("peers", [])],
                observer_idle_timeout=_positive(obs.get("idle_timeout", 60.0), "idle_timeout"),
                pipeline=_pipeline(consensus.get("pipeline", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: bad or missing setting: {exc}") from None

    def dump(self) -> str:
        def rel(p: Path) -> str:
            try:
                return str(p.relative_to(self.home.resolve()))
            except ValueError:
                import os

                return os.path.relpath(p, self.home.resolve())

        peers = ", ".join(f'"{h}:{p}"' for h, p in self.peers)
        obs_peers = ", ".join(f'"{h}:{p}"' for h, p in self.observer_peers)
        observer = ""
        if self.observer_port or self.observer_peers:
            observer = f"\n[observer]\nport = {self.observer_port}\npeers = [{obs_peers}]\n"
            if self.observer_idle_timeout != 60.0:
                observer += f"idle_timeout = {self.observer_idle_timeout!r}\n"
        return (
            f'name = "{self.name}"\norg = "{self.org}"\nvalidator = {str(self.validator).lower()}\n'
            + ("observer_node = true\n" if self.observer else "")
            + f'genesis = "{rel(self.genesis)}"\nidentity = "{rel(self.identity)}"\ndata = "{rel(self.data)}"\n\n'
            f'[api]\nhost = "{self.api_host}"\nport = {self.api_port}\nmax_body_bytes = {self.max_body_bytes}\n'
            + (
                "trusted_proxies = [" + ", ".join(f'"{p}"' for p in self.trusted_proxies) + "]\n"
                if self.trusted_proxies
                else ""
            )
            + "\n"
            + f'[p2p]\nhost = "{self.p2p_host}"\nport = {self.p2p_port}\npeers = [{peers}]\n'
            + observer
            + ("" if self.pipeline else "\n[consensus]\npipeline = false\n")
        )

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / CONFIG_FILE).write_text(self.dump())


def _trusted_proxies(value: object) -> tuple[str, ...]:
    """`[api] trusted_proxies`: a list of IP addresses or networks (each checked)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("[api] trusted_proxies must be a list of addresses or networks")
    from tianfu.api.limits import TrustedProxies

    TrustedProxies(value)  # ValueError naming a malformed one
    return tuple(v.strip() for v in value)


def _pipeline(value: object) -> bool:
    """`[consensus] pipeline`, unless the environment's `TIANFU_PIPELINE` (1 or 0) says
    otherwise (how a benchmark turns it on or off in the nodes it starts)."""
    env = os.environ.get("TIANFU_PIPELINE")
    if env is not None:
        if env not in ("0", "1"):
            raise ValueError(f"TIANFU_PIPELINE must be 1 or 0, not {env!r}")
        return env == "1"
    if not isinstance(value, bool):
        raise ValueError(f"consensus.pipeline must be true or false, not {value!r}")
    return value


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host:
        raise ValueError(f"peer {text!r} is not HOST:PORT")
    return host, int(port)


def _positive(value: object, name: str) -> float:
    """A number of seconds above 0 (`[observer] idle_timeout`)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        raise ValueError(f"observer.{name} must be a number of seconds above 0, not {value!r}")
    return float(value)
