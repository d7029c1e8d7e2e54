"""Every public view of the nine application contracts refuses an argument of the wrong type
with a contract error naming it: never the sandbox's raw Python error ("TypeError:
unsupported operand types for +: str and int" from a key built with `+`), and never an
answer as if the id were merely unknown (0, None, [] for `flag_count(123)`)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.unit.app_local import ALICE, Ctx, Local

from tianfu.apps.registry import APPLICATIONS
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

WRONG: tuple[Any, ...] = (123, None, True, [1], {"a": 1}, b"x")
RAW = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception)\b")  # "TypeError: ...", "KeyError: ..."
PAGE = {"start": 1, "limit": 10}  # a plausible value for each page argument; others a string


def _views(name: str) -> tuple[Local, dict[str, tuple[str, ...]]]:
    """The contract `name` on an empty local state, and each view's argument names."""
    app = next(a for a in APPLICATIONS if a.name == name)
    c = compile_contract(app.source())
    local = Local(c, Ctx(name))
    first = sorted(c.views)[0]
    try:  # the first call sets up the module instance whose functions are read below
        local.call(ALICE, first)
    except ContractError:
        pass
    instance = c.instances.take()
    assert instance is not None
    try:
        out = {}
        for view in sorted(c.views):
            code = instance.functions[view].__code__
            out[view] = tuple(code.co_varnames[1 : code.co_argcount])
    finally:
        c.instances.give(instance)
    return local, out


@pytest.mark.parametrize("name", sorted(a.name for a in APPLICATIONS))
def test_a_wrong_typed_view_argument_is_a_contract_error_naming_it(name: str) -> None:
    local, views = _views(name)
    raw: list[str] = []
    answered: list[str] = []
    checked = 0
    for view, names in views.items():
        for i, arg in enumerate(names):
            for bad in WRONG:
                if arg in PAGE and type(bad) is int:
                    continue  # 123 is a valid page start or limit
                args: list[Any] = [PAGE.get(n, "x") for n in names]
                args[i] = bad
                try:
                    out = local.call(ALICE, view, *args)
                except ContractError as e:
                    checked += 1
                    if RAW.match(str(e)):
                        raw.append(f"{view}({arg}={bad!r}): {e}")
                else:
                    answered.append(f"{view}({arg}={bad!r}) -> {out!r}")
    assert checked > 0
    assert raw == []
    assert answered == []


@pytest.mark.parametrize(
    ("view", "args", "message"),
    [
        ("claimable_page", (123, 1, 10), "org must be a string"),
        ("claim_count", (None,), "org must be a string"),
        ("claimable", ([1],), "org must be a string"),
        ("patient", (7,), "address must be a string"),
        ("record", (7,), "key must be a string"),
    ],
)
def test_health_views_name_the_wrong_typed_argument(
    view: str, args: tuple[Any, ...], message: str
) -> None:
    local, _ = _views("health")
    with pytest.raises(ContractError, match=f"^{message}$"):
        local.call(ALICE, view, *args)
