"""The package graph has no back-edges: the layering of DESIGN.md §3 holds, with no exception.

Every `tianfu` import in `src/tianfu` (module level, inside functions and under
`TYPE_CHECKING` alike) is read from the source, and each import from one package of
`tianfu` into another must go down the layers below. Packages on one layer do not import
each other. A new package needs a line in `LAYERS` (that is where its place is decided).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

import tianfu

SRC = Path(tianfu.__file__).parent

# Lowest first. A package may import the packages of lower layers only. The chain of
# DESIGN.md §3 — types <- crypto <- state/consensus/mempool <- store <- p2p/api <- node — is
# kept; the other packages are placed where their imports put them.
LAYERS: list[set[str]] = [
    {"scoped"},  # a process default with a per-thread/task override (the hash, the suite)
    # Modules that import nothing of tianfu: the map-key gate of untrusted msgpack; the
    # Unicode 14.0 table (ADR 0042); the host of an address (IPv4 carried in IPv6); the
    # node threads' stacks.
    {"codec_scan", "unicode14_table", "netaddr", "stacks"},
    # canonical bytes; durable file writes; token buckets; text answers as Unicode 14.0's
    {"codec", "durable", "ratelimit", "unicode14"},
    {"types"},
    {"crypto", "state"},
    {"identity", "mempool", "consensus", "execution"},  # execution: runtime, sandbox, API
    {"contracts", "store"},  # system contracts (on the contract API); SQLite store
    {"p2p", "proofs"},
    {"privdata"},  # private data: formats, sealing, the node's keeping and distribution
    {"api", "client", "ledger"},
    {"sync", "apps"},
    {"web"},  # the console served by the node
    {"node"},  # the composition root
    {"bench"},
    {"cli"},
    {"testing"},  # simulator, fakes, factories: imported by tests only
    {"__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, module: str) -> set[str]:
    """The `tianfu...` modules that `module` (at `path`) imports, wherever the import is."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return {n for n in names if n == "tianfu" or n.startswith("tianfu.")}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@cache
def edges() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> the importing modules."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        module = module_name(path)
        for name in imported(path, module):
            src, dst = top(module), top(name)
            if src and dst and src != dst:
                found[(src, dst)].append(f"{module} -> {name}")
    return found


def test_every_package_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    unplaced = sorted((packages | modules) - set(RANK))
    assert not unplaced, f"give these a layer in LAYERS: {unplaced}"


def test_imports_only_go_down_the_layers():
    back = [
        line
        for (src, dst), lines in sorted(edges().items())
        if src in RANK and dst in RANK and RANK[dst] >= RANK[src]
        for line in lines
    ]
    assert not back, "imports against the layering:\n" + "\n".join(back)


def test_production_code_never_imports_testing():
    found = [line for (src, dst), lines in edges().items() if dst == "testing" for line in lines]
    assert not found, found


@pytest.mark.parametrize("forbidden", ["p2p", "store", "api", "ledger", "node"])
def test_consensus_imports_no_io_package(forbidden):
    assert ("consensus", forbidden) not in edges()


def test_the_checker_sees_back_edges(tmp_path):
    """The reader finds relative and function-level imports (else the test proves nothing)."""
    mod = SRC / "consensus" / "x.py"
    source = "def f():\n    from ..p2p import api\n    import tianfu.store.sqlite\n"
    path = tmp_path / "x.py"
    path.write_text(source)
    names = imported(path, module_name(mod))
    assert names == {"tianfu.p2p", "tianfu.store.sqlite"}
