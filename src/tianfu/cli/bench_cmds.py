"""CLI: `tianfu bench` (one measured run on a fresh local network) and `tianfu bench sweep`
(latency against throughput over several rates, or a curve over validator counts, one-way
network delays between validators, or workloads)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tianfu.apps.common.readable import counted
from tianfu.cli.common import (
    CommandFailed,
    CommandGroup,
    UsageProblem,
    grouped_command,
    handle_errors,
    option_group,
    scheme_of,
)
from tianfu.cli.tables import Screen

bench_app = CommandGroup(
    "Measure a fresh local network: finalized tx/s, latency, CPU, against this "
    "machine's signature-verify ceiling (Ed25519, or SM2 with --scheme sm2) measured in the "
    "same run.",
    invoke_without_command=True,
    no_args_is_help=False,
)
console = Screen(stderr=True)
out = Screen()

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
    str,
    typer.Option(
        "--contract",
        help="Load: asset (transfers), kv (puts) or supply_finance (receivables through "
        "issue, accept, split, transfer, pledge, finance and repay; closed loop only).",
    ),
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


BlockIntervalOpt = Annotated[
    Optional[int],  # noqa: UP045 (typer needs Optional on 3.11)
    typer.Option(
        "--block-interval",
        min=0,
        max=60_000,
        help="The network's block_interval_ms (the shortest time between blocks while "
        "transactions wait); default: the genesis default, 100.",
    ),
]


CSV_HELP = {
    "--rates": "Open-loop rates, e.g. 200,400,800. Default: a closed-loop run finds the "
    "maximum, then 25/50/75/100/125 % of it.",
    "--validators-sweep": "Instead of rates: one closed-loop run per validator count, e.g. "
    "1,4,7,10,16 (tx/s, p99, and one validator's CPU ms per finalized transaction).",
    "--delays": "Instead of rates: one closed-loop run per one-way delay in ms between "
    "validators, e.g. 0,10,50,100 (every validator link through a delay proxy; round "
    "timeouts and, unless --concurrency is given, connections grow with the delay).",
    "--workloads": "Instead of rates: one closed-loop run per workload, e.g. "
    "asset,supply_finance (tx/s and p99 side by side).",
    "--state-sizes": "Instead of rates: one closed-loop run per state size, e.g. "
    "10000,1000000,10000000, on a fresh network whose genesis state holds that many "
    "asset balances (transfers go to random ones); reports RSS and disk per node.",
}


def _csv(flag: str) -> Any:
    """A comma-separated list option of `tianfu bench sweep`."""
    return typer.Option(flag, help=CSV_HELP[flag])


Csv = Optional[str]  # noqa: UP045 (typer needs Optional on 3.11)
RatesOpt = Annotated[Csv, _csv("--rates")]
ValidatorsSweepOpt = Annotated[Csv, _csv("--validators-sweep")]
DelaysOpt = Annotated[Csv, _csv("--delays")]
WorkloadsOpt = Annotated[Csv, _csv("--workloads")]
StateSizesOpt = Annotated[Csv, _csv("--state-sizes")]
RoundsOpt = Annotated[
    int, typer.Option("--rounds", min=1, help="With --state-sizes: rounds, the sizes alternating.")
]


@dataclass(frozen=True)
class LoadOptions:
    """The load and where its figures go: the options `tianfu bench` and `tianfu bench sweep`
    both take, after their own."""

    contract: ContractOpt = "asset"
    clients: ClientsOpt = 2
    concurrency: ConcurrencyOpt = None
    batch: BatchOpt = 1
    senders: SendersOpt = 8
    scheme: BenchSchemeOpt = "ed25519"
    block_interval_ms: BlockIntervalOpt = None
    json_file: JsonFileOpt = None
    plot: PlotOpt = None


LOAD_OPTIONS = option_group(LoadOptions)
load_command = grouped_command(LoadOptions, LOAD_OPTIONS, *LOAD_OPTIONS)


def _config(load: LoadOptions, options: dict[str, Any]) -> Any:
    """The run's configuration from a command's load options and its own options (those
    named as its fields)."""
    from tianfu.bench.runner import BenchConfig

    given = {**options, **asdict(load)}
    names = {f.name for f in fields(BenchConfig)} - {"scheme"}
    cfg = BenchConfig(
        **{k: v for k, v in given.items() if k in names}, scheme=scheme_of(load.scheme)
    )
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
@load_command
def bench(
    load: LoadOptions,
    ctx: typer.Context,
    validators: ValidatorsOpt = 4,
    duration: DurationOpt = 30.0,
    warmup: WarmupOpt = 5.0,
    rate: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--rate", min=0.1, help="Open loop at this many tx/s; default: closed loop."),
    ] = None,
) -> None:
    """Start a fresh network of N validators, load it from separate client processes, and
    report finalized tx/s, submit-to-commit latency, blocks, CPU and memory per node."""
    if ctx.invoked_subcommand is not None:
        return
    options = dict(locals())
    with handle_errors():
        from tianfu.bench.report import bench_table, plot_run
        from tianfu.bench.runner import BenchError, run_bench

        cfg = _config(load, options)
        try:
            with _progress_bar() as update:
                fig = run_bench(cfg, _say, update)
        except BenchError as exc:
            raise _failed(str(exc)) from None
        out.print(bench_table(fig))
        _outputs(fig, load, lambda path: plot_run(path, fig))
        _verdict(fig["identical_chains"])
        if not fig["identical_chains"]["ok"] or fig["tps"] <= 0:
            raise typer.Exit(1)


def _outputs(doc: Any, load: LoadOptions, plotter: Callable[[Path], None]) -> None:
    """Write the figures as JSON and the plot as PNG where asked."""
    from tianfu.bench.report import write_json

    if load.json_file:
        write_json(load.json_file, doc)
        console.print(f"figures written to {load.json_file}")
    if load.plot:
        plotter(load.plot)
        console.print(f"plot written to {load.plot}")


def _failed(msg: str) -> Exception:
    return CommandFailed(f"benchmark failed: {msg}")


def _verdict(ident: dict[str, Any]) -> None:
    if ident["ok"]:
        console.print(f"[green]✓ {ident['message']}[/]")
    else:
        console.print(f"[red]✗ the nodes disagree: {ident['message']}[/]")


def _numbers(text: str | None, kind: type, zero: bool = False) -> list[Any] | None:
    """A comma-separated list of positive numbers (`zero`: 0 allowed too)."""
    if text is None:
        return None
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageProblem(f"not a comma-separated list of numbers: {text!r}") from None
    if not values or any(v < 0 or (v == 0 and not zero) for v in values):
        raise UsageProblem(f"give {'non-negative' if zero else 'positive'} numbers: {text!r}")
    return values


@bench_app.command("sweep")
@load_command
def sweep(
    load: LoadOptions,
    validators: ValidatorsOpt = 4,
    duration: DurationOpt = 15.0,
    warmup: WarmupOpt = 3.0,
    rates: RatesOpt = None,
    validators_sweep: ValidatorsSweepOpt = None,
    delays: DelaysOpt = None,
    workloads: WorkloadsOpt = None,
    state_sizes: StateSizesOpt = None,
    rounds: RoundsOpt = 1,
) -> None:
    """Latency against throughput over several open-loop rates on one network, or a curve
    on a fresh network per point: --validators-sweep, --delays, --workloads or
    --state-sizes (throughput, RSS and disk per size of the pre-loaded state)."""
    options = dict(locals())
    with handle_errors():
        from tianfu.bench.runner import BenchError
        from tianfu.bench.workloads import FLOW_CONTRACTS

        curves = {
            "validators": _numbers(validators_sweep, int),
            "delays": _numbers(delays, float, zero=True),
            "workloads": None if workloads is None else _names(workloads),
            "state-sizes": _numbers(state_sizes, int),
        }
        chosen = [(k, v) for k, v in curves.items() if v is not None]
        if len(chosen) + (rates is not None) > 1:
            raise UsageProblem(
                "give only one of --rates, --validators-sweep, --delays, --workloads or "
                "--state-sizes (not both)"
            )
        cfg = _config(load, options)
        sizes = _numbers(state_sizes, int)
        if sizes is not None:
            _state_sweep(cfg, sizes, rounds, load)
            return
        rate_list = _numbers(rates, float)
        plan = _plan(*chosen[0], cfg) if chosen else None
        if plan is None and load.contract in FLOW_CONTRACTS:
            raise UsageProblem(
                f"{load.contract} runs closed loop only, so it has no rate sweep: use --workloads, "
                "--validators-sweep or --delays with it"
            )
        try:
            with _progress_bar() as update:
                if plan is not None:
                    doc = _curve(chosen[0][0], plan, cfg, update)
                else:
                    doc = _rates(cfg, rate_list, update, load.batch)
        except BenchError as exc:
            raise _failed(str(exc)) from None
        _outputs(doc, load, lambda path: _plot(doc, path))
        bad = [r for r in doc["runs"] if not r["identical_chains"]["ok"]]
        for r in bad:
            _verdict(r["identical_chains"])
        if not bad:
            console.print("[green]✓ after every run, all nodes held identical chains[/]")
        if bad:
            raise typer.Exit(1)


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise UsageProblem(f"give comma-separated names: {text!r}")
    return names


def _plan(kind: str, values: list[Any], cfg: Any) -> Any:
    """The curve's points, every configuration checked before anything runs."""
    from tianfu.bench import curves

    try:
        plan = curves.plan_curve(kind, cfg, values)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    return (values, plan)


def _curve(kind: str, plan: Any, cfg: Any, update: Callable[[Any], None]) -> Any:
    """A curve over fresh networks, its table printed."""
    from tianfu.bench import curves

    points, planned = plan
    doc = curves.run_curve(kind, cfg, planned, _say, update)
    labels = ",".join(f"{p:g}" if isinstance(p, float) else str(p) for p in points)
    title = {
        "validators": f"validators {labels}, {cfg.contract}",
        "delays": f"{counted(cfg.validators, 'validator')}, one-way delays (ms) {labels}",
        "workloads": f"{counted(cfg.validators, 'validator')}, workloads {labels}",
    }[kind]
    out.print(curves.curve_table(f"tianfu bench sweep — {title}", doc))
    return doc


def _rates(
    cfg: Any, rate_list: list[float] | None, update: Callable[[Any], None], batch: int
) -> Any:
    """The rate sweep on one network, its table and the half-load line printed."""
    from tianfu.bench.report import sweep_table
    from tianfu.bench.sweep import run_rate_sweep

    doc = run_rate_sweep(cfg, rate_list, _say, update)
    per = f", {batch} txs per request" if batch > 1 else ""
    title = f"tianfu bench sweep — {counted(cfg.validators, 'validator')}, rates{per}"
    out.print(sweep_table(title, doc["runs"]))
    half = doc["at_half_load"]
    if half:
        out.print(
            f"at about half of the maximum ({doc['max_tps']:,.0f} tx/s): offered "
            f"{half['rate']:,.0f} tx/s, achieved {half['tps']:,.0f} tx/s, "
            f"p99 {half['p99_ms']} ms"
        )
    return doc


def _plot(doc: dict[str, Any], path: Path) -> None:
    from tianfu.bench import plots
    from tianfu.bench.report import plot_latency_vs_throughput

    plotter = {
        "validators": plots.plot_validator_curve,
        "delays": plots.plot_delay_curve,
        "workloads": plots.plot_workload_curve,
    }.get(doc["kind"], plot_latency_vs_throughput)
    plotter(path, doc["runs"])


def _state_sweep(cfg: Any, counts: list[int], rounds: int, load: LoadOptions) -> None:
    """`tianfu bench sweep --state-sizes`: a fresh pre-loaded network per size."""
    from tianfu.bench.runner import BenchError
    from tianfu.bench.statesweep import plot_state_sizes, run_state_sweep, state_table

    if cfg.contract != "asset":
        raise UsageProblem("--state-sizes pre-loads asset balances: use --contract asset")
    try:
        with _progress_bar() as update:
            doc = run_state_sweep(cfg, counts, rounds, _say, update)
    except (BenchError, OSError) as exc:
        raise _failed(str(exc)) from None
    out.print(state_table(doc))
    _outputs(doc, load, lambda path: plot_state_sizes(path, doc))
    bad = [r for r in doc["runs"] if not r["identical_chains"]["ok"]]
    for r in bad:
        _verdict(r["identical_chains"])
    if bad or any(r["tps"] <= 0 for r in doc["runs"]):
        raise typer.Exit(1)
    console.print("[green]✓ after every run, all nodes held identical chains[/]")
