"""CLI: `tianfu bench` (one measured run on a fresh local network) and `tianfu bench sweep`
(latency against throughput over several rates, or throughput per validator count)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tianfu.cli.common import CommandFailed, UsageProblem, handle_errors, scheme_of

bench_app = typer.Typer(
    help="Measure a fresh local network: finalized tx/s, latency, CPU, against this "
    "machine's signature-verify ceiling (Ed25519, or SM2 with --scheme sm2) measured in the "
    "same run.",
    invoke_without_command=True,
    no_args_is_help=False,
)
console = Console(stderr=True)
out = Console()

ValidatorsOpt = Annotated[
    int, typer.Option("--validators", min=1, max=16, help="Validators (one process each).")
]
DurationOpt = Annotated[
    float, typer.Option("--duration", min=1, help="Measured seconds (after the warm-up).")
]
WarmupOpt = Annotated[
    float, typer.Option("--warmup", min=0, help="Seconds of load discarded first.")
]
ContractOpt = Annotated[
    str, typer.Option("--contract", help="Load: asset (transfers) or kv (puts).")
]
ClientsOpt = Annotated[
    int, typer.Option("--clients", min=1, max=32, help="Load-generator processes.")
]
ConcurrencyOpt = Annotated[
    Optional[int],  # noqa: UP045 (typer needs Optional on 3.11)
    typer.Option(
        "--concurrency",
        min=1,
        help="Closed loop: connections in all (default 512). Open loop: requests in flight at "
        "most (default: 2 s worth of the rate).",
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch",
        min=1,
        max=1000,
        help="Transactions per request: 1 (default) sends each alone (POST /v1/txs); N > 1 "
        "sends N per request (POST /v1/txs/batch). Latency is still per transaction, from "
        "submitting it to receiving its receipt. Closed loop with N > 1: default "
        "connections keep about 2,048 transactions in flight.",
    ),
]
SendersOpt = Annotated[
    int, typer.Option("--senders", min=1, max=256, help="Member identities signing the load.")
]
JsonFileOpt = Annotated[
    Path | None, typer.Option("--json", help="Write the figures to this JSON file.")
]  # noqa: UP045
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", help="Write a PNG plot to this file.")]  # noqa: UP045
BenchSchemeOpt = Annotated[
    str,
    typer.Option(
        "--scheme",
        help="The network's keys: ed25519 (default; the standard suite) or sm2 (an SM2/SM3 "
        "chain). The ceiling is that scheme's verifies per second.",
    ),
]


def _config(**kw: Any) -> Any:
    from tianfu.bench.runner import BenchConfig

    cfg = BenchConfig(**kw)
    try:
        cfg.validate()
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    return cfg


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[Any], None]]:
    """A Rich progress bar fed by the runner's `Progress` reports."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("load", total=1.0, info="")

        def update(p: Any) -> None:
            info = f"{p.committed:,} committed, {p.recent_tps:,.0f} tx/s now" if p.committed else ""
            bar.update(
                task, description=p.phase, completed=p.elapsed, total=max(p.total, 1e-9), info=info
            )

        yield update


def _say(msg: str) -> None:
    console.print(f"[dim]{msg}[/]")


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    validators: ValidatorsOpt = 4,
    duration: DurationOpt = 30.0,
    warmup: WarmupOpt = 5.0,
    rate: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--rate", min=0.1, help="Open loop at this many tx/s; default: closed loop."),
    ] = None,
    contract: ContractOpt = "asset",
    clients: ClientsOpt = 2,
    concurrency: ConcurrencyOpt = None,
    batch: BatchOpt = 1,
    senders: SendersOpt = 8,
    scheme: BenchSchemeOpt = "ed25519",
    json_file: JsonFileOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Start a fresh network of N validators, load it from separate client processes, and
    report finalized tx/s, submit-to-commit latency, blocks, CPU and memory per node."""
    if ctx.invoked_subcommand is not None:
        return
    with handle_errors():
        from tianfu.bench.report import bench_table, plot_run
        from tianfu.bench.runner import BenchError, run_bench

        cfg = _config(
            validators=validators,
            duration=duration,
            warmup=warmup,
            rate=rate,
            contract=contract,
            clients=clients,
            concurrency=concurrency,
            batch=batch,
            senders=senders,
            scheme=scheme_of(scheme),
        )
        try:
            with _progress_bar() as update:
                fig = run_bench(cfg, _say, update)
        except BenchError as exc:
            raise _failed(str(exc)) from None
        out.print(bench_table(fig))
        _write(fig, json_file, plot, plot_run)
        _verdict(fig["identical_chains"])
        if not fig["identical_chains"]["ok"] or fig["tps"] <= 0:
            raise typer.Exit(1)


def _write(
    doc: dict[str, Any],
    json_file: Path | None,
    plot: Path | None,
    plotter: Callable[[Path, dict[str, Any]], None],
) -> None:
    """Write the figures to `json_file` and draw them into `plot` (each when given)."""
    from tianfu.bench.report import write_json

    if json_file:
        write_json(json_file, doc)
        console.print(f"figures written to {json_file}")
    if plot:
        plotter(plot, doc)
        console.print(f"plot written to {plot}")


def _failed(msg: str) -> Exception:
    return CommandFailed(f"benchmark failed: {msg}")


def _verdict(ident: dict[str, Any]) -> None:
    if ident["ok"]:
        console.print(f"[green]✓ {ident['message']}[/]")
    else:
        console.print(f"[red]✗ the nodes disagree: {ident['message']}[/]")


def _numbers(text: str | None, kind: type) -> list[Any] | None:
    if text is None:
        return None
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageProblem(f"not a comma-separated list of numbers: {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise UsageProblem(f"give positive numbers: {text!r}")
    return values


@bench_app.command("sweep")
def sweep(
    validators: ValidatorsOpt = 4,
    duration: DurationOpt = 15.0,
    warmup: WarmupOpt = 3.0,
    rates: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--rates",
            help="Open-loop rates, e.g. 200,400,800. Default: a closed-loop run finds the "
            "maximum, then 25/50/75/100/125 % of it.",
        ),
    ] = None,
    validators_sweep: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--validators-sweep",
            help="Instead of rates: one closed-loop run per validator count, e.g. 1,4,7.",
        ),
    ] = None,
    state_sizes: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--state-sizes",
            help="Instead of rates: one closed-loop run per state size, e.g. "
            "10000,1000000,10000000, on a fresh network whose genesis state holds that many "
            "asset balances (transfers go to random ones); reports RSS and disk per node.",
        ),
    ] = None,
    rounds: Annotated[
        int,
        typer.Option("--rounds", min=1, help="With --state-sizes: rounds, the sizes alternating."),
    ] = 1,
    contract: ContractOpt = "asset",
    clients: ClientsOpt = 2,
    concurrency: ConcurrencyOpt = None,
    batch: BatchOpt = 1,
    senders: SendersOpt = 8,
    scheme: BenchSchemeOpt = "ed25519",
    json_file: JsonFileOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Latency against throughput over several open-loop rates on one network, or (with
    --validators-sweep) throughput per validator count on a fresh network each, or (with
    --state-sizes) throughput per size of the pre-loaded state."""
    with handle_errors():
        from tianfu.bench.report import (
            plot_latency_vs_throughput,
            plot_validators,
            sweep_table,
            write_json,
        )
        from tianfu.bench.runner import BenchError
        from tianfu.bench.sweep import run_rate_sweep, run_validator_sweep

        rate_list = _numbers(rates, float)
        counts = _numbers(validators_sweep, int)
        if rate_list and counts:
            raise UsageProblem("give --rates or --validators-sweep, not both")
        if state_sizes is not None:
            if rate_list or counts:
                raise UsageProblem(
                    "give --state-sizes alone, without --rates or --validators-sweep"
                )
            _state_sweep(state_sizes, rounds, json_file, plot, validators=validators, duration=duration,
                         warmup=warmup, contract=contract, clients=clients,
                         concurrency=concurrency, batch=batch, senders=senders,
                         scheme=scheme_of(scheme))  # fmt: skip
            return
        cfg = _config(
            validators=validators,
            duration=duration,
            warmup=warmup,
            contract=contract,
            clients=clients,
            concurrency=concurrency,
            batch=batch,
            senders=senders,
            scheme=scheme_of(scheme),
        )
        try:
            with _progress_bar() as update:
                if counts:
                    doc = run_validator_sweep(cfg, counts, _say, update)
                else:
                    doc = run_rate_sweep(cfg, rate_list, _say, update)
        except BenchError as exc:
            raise _failed(str(exc)) from None
        per = f", {batch} txs per request" if batch > 1 else ""
        if counts:
            out.print(
                sweep_table(f"tianfu bench sweep — validators {validators_sweep}{per}", doc["runs"])
            )
        else:
            out.print(
                sweep_table(
                    f"tianfu bench sweep — {validators} validator(s), rates{per}", doc["runs"]
                )
            )
            half = doc["at_half_load"]
            if half:
                out.print(
                    f"at about half of the maximum ({doc['max_tps']:,.0f} tx/s): offered "
                    f"{half['rate']:,.0f} tx/s, achieved {half['tps']:,.0f} tx/s, "
                    f"p99 {half['p99_ms']} ms"
                )
        if json_file:
            write_json(json_file, doc)
            console.print(f"figures written to {json_file}")
        if plot:
            (plot_validators if counts else plot_latency_vs_throughput)(plot, doc["runs"])
            console.print(f"plot written to {plot}")
        bad = [r for r in doc["runs"] if not r["identical_chains"]["ok"]]
        for r in bad:
            _verdict(r["identical_chains"])
        if not bad:
            console.print("[green]✓ after every run, all nodes held identical chains[/]")
        if bad:
            raise typer.Exit(1)


def _state_sweep(
    sizes: str, rounds: int, json_file: Path | None, plot: Path | None, **kw: Any
) -> None:
    """`tianfu bench sweep --state-sizes`: a fresh pre-loaded network per size."""
    from tianfu.bench.runner import BenchError
    from tianfu.bench.statesweep import plot_state_sizes, run_state_sweep, state_table

    counts = _numbers(sizes, int)
    assert counts is not None
    cfg = _config(**kw)
    if cfg.contract != "asset":
        raise UsageProblem("--state-sizes pre-loads asset balances: use --contract asset")
    try:
        with _progress_bar() as update:
            doc = run_state_sweep(cfg, counts, rounds, _say, update)
    except (BenchError, OSError) as exc:
        raise _failed(str(exc)) from None
    out.print(state_table(doc))
    _write(doc, json_file, plot, plot_state_sizes)
    bad = [r for r in doc["runs"] if not r["identical_chains"]["ok"]]
    for r in bad:
        _verdict(r["identical_chains"])
    if bad or any(r["tps"] <= 0 for r in doc["runs"]):
        raise typer.Exit(1)
    console.print("[green]✓ after every run, all nodes held identical chains[/]")
