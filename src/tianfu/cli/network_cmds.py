"""CLI: `tianfu network init`, `tianfu up` (a local multi-org network) and `tianfu genesis create`."""

from __future__ import annotations

import functools
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tianfu.apps.common.readable import counted
from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    JsonOpt,
    SchemeOpt,
    UsageProblem,
    handle_errors,
    print_json,
    read_cert_file,
    scheme_of,
)
from tianfu.cli.tables import Screen


def cli_url_hint(first_url: str) -> str | None:
    """What to set so that the `tianfu` commands (and the commands the demos suggest) reach
    the network at `first_url`; None when that is already their default."""
    from tianfu.client import DEFAULT_URL

    if first_url.rstrip("/") == DEFAULT_URL.rstrip("/"):
        return None
    return f"the tianfu commands talk to {DEFAULT_URL} by default; for this network: export TIANFU_URL={first_url}"


network_app = CommandGroup("Create the files of a multi-organisation network.")
console = Screen()


def _orgs(most: int) -> Any:
    """The `--orgs` option of a command that lays out a network of at most `most`."""
    return typer.Option("--orgs", min=1, max=most, help="Number of organisations.")


def _base_port(kind: str, note: str = "") -> Any:
    """The option of the first port of a kind ("API", "p2p") that node i adds i to."""
    return typer.Option(
        f"--{kind.lower()}-base-port", help=f"Node i's {kind} port is this + i{note}."
    )


@network_app.command("init")
def network_init(
    out: Annotated[Path, typer.Option("--out", help="Directory to create.")] = Path("network"),
    orgs: Annotated[int, _orgs(64)] = 4,
    chain_id: Annotated[str, typer.Option("--chain-id", help="Chain id.")] = "tianfu-local",
    host: Annotated[str, typer.Option("--host", help="Address the nodes listen on.")] = "127.0.0.1",
    api_base: Annotated[int, _base_port("API")] = 8700,
    p2p_base: Annotated[int, _base_port("p2p")] = 9700,
    scheme: SchemeOpt = "ed25519",
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing network in OUT.")
    ] = False,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="consortium (member certificates only) or open (accounts with quotas; "
            "see docs/ops/open-network.md).",
        ),
    ] = "consortium",
    open_contracts: Annotated[
        list[str] | None,
        typer.Option("--open-contract", help="Open profile: a contract accounts may call."),
    ] = None,
    pow_bits: Annotated[
        int, typer.Option("--pow-bits", help="Open profile: registration proof of work (bits).")
    ] = 16,
    quota_gas: Annotated[
        int, typer.Option("--quota-gas", help="Open profile: an account's gas quota.")
    ] = 5_000_000,
    quota_replenish: Annotated[
        int, typer.Option("--quota-replenish", help="Open profile: quota gas added per block.")
    ] = 50_000,
    as_json: JsonOpt = False,
) -> None:
    """Create CAs, admin/user/node identities, the genesis and one config per node."""
    with handle_errors():
        from tianfu.node.netinit import init_network
        from tianfu.types import OpenProfile

        if profile not in ("consortium", "open"):
            raise UsageProblem(f"unknown profile {profile!r}; use consortium or open")
        settings = None
        if profile == "open":
            settings = OpenProfile(
                open_contracts=sorted(set(open_contracts or [])),
                pow_bits=pow_bits,
                quota_gas=quota_gas,
                quota_replenish=quota_replenish,
            )
        elif open_contracts:
            raise UsageProblem("--open-contract needs --profile open")

        layout = init_network(
            out,
            orgs,
            chain_id=chain_id,
            host=host,
            api_base_port=api_base,
            p2p_base_port=p2p_base,
            scheme=scheme_of(scheme),
            force=force,
            open_profile=settings,
        )
        rows = [
            {
                "org": c.org,
                "node": c.name,
                "home": str(c.home),
                "api": f"http://{c.api_host}:{c.api_port}",
                "p2p": f"{c.p2p_host}:{c.p2p_port}",
                "identities": str(out / c.org / "identities"),
                **({"observer_port": f"{c.p2p_host}:{c.observer_port}"} if c.observer_port else {}),
            }
            for c in layout.nodes
        ]
        if as_json:
            print_json(
                {
                    "out": str(out),
                    "genesis": str(out / "genesis.bin"),
                    "profile": profile,
                    "nodes": rows,
                }
            )
            return
        table = Table(title=f"network {chain_id} in {out}")
        for col in ("org", "node", "home", "api", "p2p"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["org"], r["node"], r["home"], r["api"], r["p2p"])
        console.print(table)
        typer.echo(
            f"genesis: {out / 'genesis.bin'} — start each node with `tianfu node start --home HOME`"
        )


def up(
    orgs: Annotated[int, _orgs(16)] = 4,
    home: Annotated[Path, typer.Option("--home", help="Where the network's files live.")] = Path(
        ".tianfu/localnet"
    ),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start a new chain (deletes the old one).")
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Create the applications' demo data.")
    ] = False,
    api_base: Annotated[int, _base_port("API", " (new networks)")] = 8700,
    p2p_base: Annotated[int, _base_port("p2p", " (new networks)")] = 9700,
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme",
            help="Keys of a new network: ed25519 (default), ecdsa-p256, or sm2 for an SM2/SM3 "
            "chain (SM2 signatures, SM3 hashes). A resumed network keeps its suite.",
        ),
    ] = None,
) -> None:
    """Run a local network: one validator process per organisation, on 127.0.0.1."""
    with handle_errors():
        from tianfu.crypto import suite_for_scheme, suite_of
        from tianfu.node.localnet import LocalNetwork

        key_scheme = scheme_of(scheme or "ed25519")
        net, created = LocalNetwork.prepare(
            home,
            orgs,
            fresh,
            api_base_port=api_base,
            p2p_base_port=p2p_base,
            scheme=key_scheme,
        )
        if scheme is not None and not created:
            have, want = suite_of(net.genesis).name, suite_for_scheme(key_scheme).name
            if have != want:
                raise UsageProblem(
                    f"the network in {home} is a {have!r} chain; --scheme {scheme} needs a new "
                    "one: add --fresh (deletes the old chain) or use another --home"
                )
        console.print(
            f"[bold]Tianfu local network[/] ({'new' if created else 'resumed'}) in {home}"
        )
        busy = net.busy_ports()
        if busy:
            raise CommandFailed(
                f"{'port' if len(busy) == 1 else 'ports'} {', '.join(map(str, busy))} "
                f"{'is' if len(busy) == 1 else 'are'} already in use — is another network "
                "running? Stop it, or start this one with --api-base-port/--p2p-base-port "
                "(with --fresh)"
            )
        stopping = False

        def on_signal(_sig: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        # A shell starts background jobs with SIGINT ignored, and children inherit that:
        # restore it before starting the nodes so Ctrl-C always stops every process.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        net.start()
        try:
            with console.status("waiting for the nodes to commit a block ..."):
                net.wait_ready(timeout=90)
            table = Table(title=f"chain {net.genesis.chain_id}")
            for col in ("node", "org", "API", "identities"):
                table.add_column(col)
            for c in net.configs:
                table.add_row(c.name, c.org, net.url(c), str(home / c.org / "identities"))
            console.print(table)
            # lines holding paths, URLs and commands are not broken: a copied line works
            say = functools.partial(console.print, soft_wrap=True, markup=False, highlight=False)
            say(f"genesis: {home / 'genesis.bin'}   logs: {home / 'logs'}")
            first = net.url(net.configs[0])
            say(f"web console: {first}/  (every node serves it; API docs: {first}/docs)")
            hint = cli_url_hint(first)
            if hint:
                say(hint)
            if demo:
                from tianfu.node.demo import create_demos

                create_demos(net, console)
            console.print("Press Ctrl-C to stop every node.")
            while not stopping:
                for name, proc in net.procs.items():
                    if proc.poll() is not None:
                        console.print(
                            f"[red]{name} exited with {proc.returncode}[/]; see {home / 'logs'}"
                        )
                        stopping = True
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            # The nodes run in sessions of their own (Ctrl-C reaches only this process): they
            # are stopped even when saying so fails (a reader that closed the pipe).
            try:
                console.print("stopping ...")
            finally:
                net.stop()
            console.print("stopped.")


genesis_app = CommandGroup("Assemble a consortium's genesis from the members' files.")


@genesis_app.command("create")
def genesis_create(
    org: Annotated[
        list[str], typer.Option("--org", help="NAME=CA_CERT_FILE, once per member organisation.")
    ],
    validator: Annotated[
        list[str],
        typer.Option(
            "--validator",
            help="NODE_CERT_FILE[:POWER], once per validator (its org is in the cert).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write genesis.bin (genesis.json beside it).")
    ] = Path("genesis.bin"),
    chain_id: Annotated[str, typer.Option("--chain-id", help="Chain id.")] = "tianfu",
    scheme: Annotated[
        str | None,
        typer.Option(
            "--scheme",
            help="The chain's crypto suite, by its keys: sm2 for an SM2/SM3 chain, ed25519 or "
            "ecdsa-p256 for the standard one. Default: the suite of the certificates' keys.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the genesis from the organisations' CA certificates and their nodes' certificates.

    The genesis records the chain's crypto suite, fixed for the chain's life: "sm2" (SM2
    signatures, SM3 hashes) or "standard" (Ed25519 / ECDSA P-256, SHA-256). Every CA and
    node certificate must hold a key of that suite.
    """
    with handle_errors():
        from tianfu.cli.common import UsageProblem
        from tianfu.crypto import CryptoError, get_suite, suite_for_scheme
        from tianfu.identity import cert_info, verify_cert
        from tianfu.node.dev import write_genesis
        from tianfu.types import Genesis, OrgConfig, Validator
        from tianfu.types.genesis import GENESIS_VERSION

        orgs: dict[str, bytes] = {}
        for spec in org:
            name, sep, file = spec.partition("=")
            if not sep:
                raise UsageProblem(f"--org {spec!r}: expected NAME=CA_CERT_FILE")
            orgs[name] = read_cert_file(Path(file))
        validators = []
        for spec in validator:
            file, _, power = spec.partition(":")
            der = read_cert_file(Path(file))

            info = cert_info(der)
            if info.org not in orgs:
                raise UsageProblem(
                    f"{file}: node of {info.org!r}, which is not among the --org entries"
                )
            info = verify_cert(der, orgs[info.org])
            if info.kind != "node":
                raise UsageProblem(f"{file}: a {info.kind} certificate, not a node certificate")
            validators.append(
                Validator(info.name, info.org, info.scheme, info.public_key, int(power or 1))
            )
        ca_schemes = {n: cert_info(der).scheme for n, der in orgs.items()}
        if scheme is not None:
            suite = suite_for_scheme(scheme_of(scheme))
        else:
            first = next(iter(ca_schemes.values()), None)
            suite = suite_for_scheme(first) if first is not None else suite_for_scheme(1)
        for n, s in ca_schemes.items():
            refused = suite.refusal(s)
            if refused is not None:
                raise UsageProblem(f"the CA of {n!r}: {refused}")
        for v in validators:
            refused = suite.refusal(v.scheme)
            if refused is not None:
                raise UsageProblem(f"validator {v.name!r}: {refused}")
            try:  # a key that can never sign would hold quorum power for the chain's life
                get_suite(v.scheme).check_public_key(v.public_key)
            except CryptoError as exc:
                raise UsageProblem(f"validator {v.name!r}: {exc}") from None
        genesis = Genesis(
            version=GENESIS_VERSION,
            chain_id=chain_id,
            time_ms=int(time.time() * 1000),
            orgs=[OrgConfig(n, der) for n, der in orgs.items()],
            validators=validators,
            suite=suite.name,
        )
        genesis.validate()
        out.parent.mkdir(parents=True, exist_ok=True)
        write_genesis(out.parent, genesis)
        if out.name != "genesis.bin":
            (out.parent / "genesis.bin").rename(out)
        if as_json:
            print_json(
                {
                    "genesis": str(out),
                    "hash": genesis.hash.hex(),
                    "chain_id": chain_id,
                    "suite": genesis.suite,
                }
            )
        else:
            typer.echo(
                f"genesis {out} (hash {genesis.hash.hex()}, suite {genesis.suite}): "
                f"{counted(len(orgs), 'organisation')}, {counted(len(validators), 'validator')}"
                " — give this file "
                "to every member"
            )
