"""CLI: `tianfu network init`, `tianfu node start` and `tianfu up` (a local multi-org network)."""

from __future__ import annotations

import functools
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tianfu.apps.common.readable import counted
from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    JsonOpt,
    SchemeOpt,
    UsageProblem,
    handle_errors,
    node_files,
    print_json,
    read_cert_file,
    scheme_of,
)
from tianfu.types.genesis import decode_genesis


def cli_url_hint(first_url: str) -> str | None:
    """What to set so that the `tianfu` commands (and the commands the demos suggest) reach
    the network at `first_url`; None when that is already their default."""
    from tianfu.client import DEFAULT_URL

    if first_url.rstrip("/") == DEFAULT_URL.rstrip("/"):
        return None
    return f"the tianfu commands talk to {DEFAULT_URL} by default; for this network: export TIANFU_URL={first_url}"


network_app = CommandGroup("Create the files of a multi-organisation network.")
node_app = CommandGroup("Run a node.")
console = Console()

NodeHomeOpt = Annotated[Path, typer.Option("--home", help="The node's directory (with node.toml).")]


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
        console.print(
            f"genesis: {out / 'genesis.bin'} — start each node with `tianfu node start --home HOME`"
        )


@node_app.command("start")
def node_start(
    home: NodeHomeOpt,
    new_signer_state: Annotated[
        bool,
        typer.Option(
            "--new-signer-state",
            help="Start although the signer file (data/privval.json) is missing: a new one is made, and "
            "the node signs only once the network has moved past what it may have signed before. "
            "Use it too after restoring data/ from a backup (the file may be older than what the "
            "key signed): the node then checks the network the same way first.",
        ),
    ] = False,
    observer: Annotated[
        bool,
        typer.Option(
            "--observer",
            help="Run an observer (open profile): a non-validating full node with its own "
            "self-made key, made by `tianfu node init-observer`.",
        ),
    ] = False,
) -> None:
    """Run one node (validator or non-voting full node) until interrupted.

    The node checks its store first (SQLite's quick_check, the chain's hash links, recent
    certificates, the latest state root) and refuses a damaged one with one line naming
    `tianfu node repair`; it stops the same way if it finds damage while running.
    """
    with handle_errors():
        from tianfu.consensus.privval import PrivValStateError
        from tianfu.consensus.wal import WALError
        from tianfu.node.config import NodeConfig
        from tianfu.node.netnode import run_network_node
        from tianfu.node.storeguard import StoreRefused

        cfg = NodeConfig.load(home)
        if observer and not cfg.observer:
            raise UsageProblem(
                f"{home} is a member node's: --observer needs `tianfu node init-observer`"
            )
        if cfg.observer and not cfg.validator and not observer:
            raise UsageProblem(f"{home} is an observer's: start it with --observer")
        try:
            if cfg.observer:  # an observer, or a validator by stake (its own key)
                from tianfu.node.observer_node import run_observer_node

                run_observer_node(cfg, new_signer_state=new_signer_state)
            else:
                run_network_node(home, new_signer_state=new_signer_state)
        except (StoreRefused, PrivValStateError) as exc:
            raise CommandFailed(str(exc)) from None
        except WALError as exc:
            raise CommandFailed(
                f"{exc}; make it a readable and writable file of the data directory and start "
                "again (the node logs its votes there before it sends them)"
            ) from None


@node_app.command("check")
def node_check(
    home: NodeHomeOpt,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Also SQLite's integrity_check, every certificate, every block's transaction "
            "and receipt roots, the tx index and the whole state tree (slow on long chains).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a stopped node's store: what `node start` checks, or (--full) everything.

    Exit code 0 if the store checks out, 1 (with one line saying what is wrong and the
    repair command) if not.
    """
    with handle_errors():
        from tianfu.crypto import suite_of
        from tianfu.ledger import Ledger
        from tianfu.node.config import NodeConfig
        from tianfu.node.storeguard import DataLock, StoreRefused, certificate_check, refusal
        from tianfu.store import Store, StoreError
        from tianfu.store.check import check_store

        cfg = NodeConfig.load(home)
        genesis = decode_genesis(cfg.genesis.read_bytes())
        path = cfg.data / "chain.db"
        if not path.exists():
            raise CommandFailed(f"{path} does not exist (the node has not run yet)")
        try:
            lock = DataLock(cfg.data, "checking its store")
        except StoreRefused as exc:
            raise CommandFailed(str(exc)) from None
        try:
            store = Store(path)
            try:
                with suite_of(genesis).use():
                    ledger = Ledger(store, genesis)
                    report = check_store(
                        store,
                        genesis.hash,
                        full=full,
                        verify_certificate=certificate_check(ledger),
                    )
            finally:
                store.close()
        except (StoreError, ValueError) as exc:
            raise CommandFailed(str(refusal(home, exc))) from None
        finally:
            lock.release()
        doc = {
            "ok": True,
            "level": report.level,
            "height": report.height,
            "file_bytes": report.file_bytes,
            "headers": report.headers,
            "certificates": report.certificates,
            "bodies": report.bodies,
            "state_rows": report.state_rows,
            "seconds": round(report.seconds, 3),
        }
        if as_json:
            print_json(doc)
        else:
            console.print(
                f"store {path} checks out ({report.level}): height {report.height}, "
                f"{report.file_bytes / 1e6:.1f} MB, {counted(report.headers, 'header')} linked, "
                f"{counted(report.certificates, 'certificate')} verified, "
                f"{counted(report.bodies, 'block body', 'block bodies')}, "
                f"{counted(report.state_rows, 'state row')}, {report.seconds:.2f} s"
            )


@node_app.command("repair")
def node_repair(
    home: NodeHomeOpt,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Set the store aside even if it checks out, and rebuild."),
    ] = False,
    connect_timeout: Annotated[
        float, typer.Option("--connect-timeout", min=1, help="Seconds to wait for a first peer.")
    ] = 60.0,
    stall_timeout: Annotated[
        float,
        typer.Option("--stall-timeout", min=1, help="Give up if no block arrives for this long."),
    ] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a stopped node's store from its peers, keeping its signer state.

    A store that fails the check is moved aside into data/damaged-<time>/ (kept, not
    deleted) and a new one is synced from the configured peers, every block checked
    (quorum certificate of its height, re-executed to its roots). privval.json and
    consensus.wal are not touched. Run it again to resume an interrupted repair.
    """
    with handle_errors():
        from tianfu.node.repair import RepairFailed, RepairProgress, run_repair
        from tianfu.node.storeguard import StoreRefused

        def show(p: RepairProgress) -> None:
            target = p.target if p.target else "?"
            typer.echo(
                f"repair: height {p.height} of {target}, {counted(p.peers, 'peer')}, "
                f"{p.rate:.0f} blocks/s, {p.elapsed_s:.0f} s",
                err=as_json,
            )

        try:
            result = run_repair(
                home,
                fresh=fresh,
                connect_timeout_s=connect_timeout,
                stall_timeout_s=stall_timeout,
                progress=show,
            )
        except (RepairFailed, StoreRefused) as exc:
            raise CommandFailed(f"repair failed: {exc}") from None
        doc = {
            "height": result.height,
            "blocks_fetched": result.blocks_fetched,
            "seconds": round(result.seconds, 1),
            "moved_aside": result.moved_aside,
            "reason": result.reason,
        }
        if as_json:
            print_json(doc)
            return
        if result.moved_aside:
            console.print(f"the old store ({result.reason}) is in {result.moved_aside}")
        console.print(
            f"store rebuilt from peers: height {result.height} "
            f"({counted(result.blocks_fetched, 'block')} fetched and checked in {result.seconds:.0f} s); signer state untouched. "
            f"Start the node with `tianfu node start --home {home}`"
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
            console.print("stopping ...")
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
            version=1,
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
            console.print(
                f"genesis {out} (hash {genesis.hash.hex()}, suite {genesis.suite}): "
                f"{counted(len(orgs), 'organisation')}, {counted(len(validators), 'validator')}"
                " — give this file "
                "to every member"
            )


@node_app.command("init")
def node_init(
    home: Annotated[Path, typer.Option("--home", help="The node's directory to create.")],
    identity: Annotated[
        Path, typer.Option("--identity", help="The node's identity directory (kind node).")
    ],
    genesis: Annotated[Path, typer.Option("--genesis", help="The consortium's genesis.bin.")],
    api: Annotated[str, typer.Option("--api", help="API listen HOST:PORT.")] = "127.0.0.1:8701",
    p2p: Annotated[str, typer.Option("--p2p", help="P2P listen HOST:PORT.")] = "0.0.0.0:9701",
    peer: Annotated[
        list[str], typer.Option("--peer", help="HOST:PORT of another node; repeatable.")
    ] = [],  # noqa: B006
    validator: Annotated[
        bool, typer.Option("--validator/--full-node", help="Vote if in the validator set.")
    ] = True,
) -> None:
    """Write a node's node.toml (copying its identity and the genesis into HOME)."""
    with handle_errors():
        import shutil

        from tianfu.identity import Identity
        from tianfu.node.config import NodeConfig, parse_hostport

        ident = Identity.load(identity)
        if ident.info.kind != "node":
            from tianfu.cli.common import UsageProblem

            raise UsageProblem(
                f"{identity} holds a {ident.info.kind} certificate; a node needs kind node"
            )
        home.mkdir(parents=True, exist_ok=True)
        ident.save(home / "identity")
        shutil.copyfile(genesis, home / "genesis.bin")
        api_host, api_port = parse_hostport(api)
        p2p_host, p2p_port = parse_hostport(p2p)
        cfg = NodeConfig(
            **node_files(home),
            name=ident.info.name,
            org=ident.info.org,
            validator=validator,
            api_host=api_host,
            api_port=api_port,
            p2p_host=p2p_host,
            p2p_port=p2p_port,
            peers=[parse_hostport(p) for p in peer],
        )
        cfg.save()
        if validator:
            from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator

            FilePrivValidator.initialise(ident.keypair, cfg.data / SIGNER_FILE)
        console.print(
            f"node {cfg.name} of {cfg.org} configured in {home}: start it with "
            f"`tianfu node start --home {home}`"
        )
