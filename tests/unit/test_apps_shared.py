"""Every shipped contract's module is shareable between calls (docs/adr/0015).

The sandbox runs a contract's module once and reuses it only when every value its top level
binds is deeply immutable (`ModuleInstances.adopt` / `frozen_namespace`); a module-level
list or dict makes every call execute the module afresh (~2x slower). These tests run the
sandbox's own check on every shipped contract source, so an edit that adds a module-level
list or dict fails here, naming the value to rewrite as a tuple.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tianfu
from tianfu.apps.registry import APPLICATIONS, Application
from tianfu.execution import runtime as g
from tianfu.execution.contract_api import ContractError
from tianfu.execution.instances import ModuleInstances, frozen_namespace
from tianfu.execution.sandbox import CompiledContract, compile_contract

PACKAGE = Path(tianfu.__file__).parent
SOURCES = sorted(
    [
        *PACKAGE.glob("apps/*/contract.py"),
        *PACKAGE.glob("contracts/examples/*.py"),
        PACKAGE / "privdata" / "contract.py",
    ],
)
SOURCES = [p for p in SOURCES if p.name != "__init__.py"]
IDS = [str(p.relative_to(PACKAGE)) for p in SOURCES]
GAS = 1_000_000


def _executed(source: str) -> tuple[CompiledContract, dict, g.Runtime, int, int]:
    """The contract compiled, and its module executed the way `CompiledContract.call` does."""
    compiled = compile_contract(source)
    rt = g.Runtime(GAS)
    namespace = rt.module_globals()
    before, before_mem = rt.m.left, rt.m.mem
    exec(compiled.code, namespace)  # noqa: S102 - the instrumented, validated contract
    return compiled, namespace, rt, before - rt.m.left, before_mem - rt.m.mem


def _not_frozen(namespace: dict, rt: g.Runtime) -> list[str]:
    """The module-level names whose value alone fails the sandbox's immutability check."""
    names = [k for k in namespace if not k.startswith("__")]
    values = {k: namespace.pop(k) for k in names}
    bad = []
    try:
        for k in names:
            namespace[k] = values[k]  # functions keep `namespace` as their globals
            if not frozen_namespace(namespace, rt):
                bad.append(f"{k} ({type(values[k]).__name__})")
            del namespace[k]
    finally:
        namespace.update(values)
    return bad


def test_every_shipped_contract_is_checked() -> None:
    names = set(IDS)
    apps = {"evidence", "fund_supervision", "ip_rights", "supply_finance", "traceability"}
    apps |= {"manufacturing", "city_governance"}
    assert {f"apps/{a}/contract.py" for a in apps} <= names
    assert {"contracts/examples/asset.py", "contracts/examples/kv.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_shipped_contract_module_is_shareable(path: Path) -> None:
    compiled, namespace, rt, setup_gas, setup_mem = _executed(path.read_text(encoding="utf-8"))
    instance = ModuleInstances().adopt(namespace, rt, setup_gas, setup_mem, compiled.methods)
    assert instance is not None, (
        f"{path.relative_to(PACKAGE)} is not shareable between calls: its top level binds "
        f"mutable values {_not_frozen(namespace, rt) or '(none alone: see frozen_namespace)'}; "
        "write module-level tables as tuples (docs/adr/0015)"
    )
    assert set(instance.functions) == set(compiled.methods)


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_shipped_contract_reuses_its_module_on_the_call_path(path: Path) -> None:
    compiled = compile_contract(path.read_text(encoding="utf-8"))
    # A private copy, so the compile cache's instances are left alone.
    copy = CompiledContract(compiled.source_hash, compiled.methods, compiled.views, compiled.code)
    method = sorted(compiled.methods)[0]
    for _ in range(2):
        # Too many arguments: the module runs (and is adopted) before the arity check fails,
        # so no context is needed.
        with pytest.raises(ContractError, match="argument"):
            copy.call(None, method, list(range(40)), GAS)
    assert copy.instances.shareable is True
    assert copy.instances.take() is not None


@pytest.mark.parametrize("app", APPLICATIONS, ids=[a.name for a in APPLICATIONS])
def test_deployed_application_source_is_shareable(app: Application) -> None:
    """The assembled text (main part, library, views table: docs/adr/0029) as deployed: its
    view exports close over strings only, so the module stays shareable."""
    compiled, namespace, rt, setup_gas, setup_mem = _executed(app.source())
    instance = ModuleInstances().adopt(namespace, rt, setup_gas, setup_mem, compiled.methods)
    assert instance is not None, f"{app.name}: {_not_frozen(namespace, rt)}"
    assert set(instance.functions) == set(compiled.methods)


def test_the_check_names_a_module_level_list() -> None:
    source = "T = (1, 2)\nL = [1]\nD = {'a': (1,)}\ndef f(ctx):\n    return L\n"
    compiled, namespace, rt, setup_gas, setup_mem = _executed(source)
    assert ModuleInstances().adopt(namespace, rt, setup_gas, setup_mem, compiled.methods) is None
    assert _not_frozen(namespace, rt) == ["L (list)", "D (dict)"]
