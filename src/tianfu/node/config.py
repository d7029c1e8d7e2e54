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
"""

from __future__ import annotations

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
    p2p_host: str = "127.0.0.1"
    p2p_port: int = 9701
    peers: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def load(cls, home: Path) -> NodeConfig:
        home = Path(home)
        path = home / CONFIG_FILE
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no {CONFIG_FILE} in {home} (create one with `tianfu network init`)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        try:
            api = raw.get("api", {})
            p2p = raw.get("p2p", {})
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
                p2p_host=str(p2p.get("host", "127.0.0.1")),
                p2p_port=int(p2p.get("port", 9701)),
                peers=[parse_hostport(p) for p in p2p.get("peers", [])],
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
        return (
            f'name = "{self.name}"\norg = "{self.org}"\nvalidator = {str(self.validator).lower()}\n'
            f'genesis = "{rel(self.genesis)}"\nidentity = "{rel(self.identity)}"\ndata = "{rel(self.data)}"\n\n'
            f'[api]\nhost = "{self.api_host}"\nport = {self.api_port}\nmax_body_bytes = {self.max_body_bytes}\n\n'
            f'[p2p]\nhost = "{self.p2p_host}"\nport = {self.p2p_port}\npeers = [{peers}]\n'
        )

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / CONFIG_FILE).write_text(self.dump())


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host:
        raise ValueError(f"peer {text!r} is not HOST:PORT")
    return host, int(port)
