"""`Executor.query` does no work a view did not pay for: a sandboxed view's result is the
sandbox's checked copy (`walk.copy_value`, charged with the view's gas, bounded by
`MAX_RESULT_BYTES`), so the query returns it without walking it again; a native view's
result is checked (it is built from state reads, paid by their bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tianfu.execution import query
from tianfu.testing.appchain import AppChain

VIEWS = """
@view
def nested(ctx, n):
    return [[i] for i in range(n)]
"""


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    c.deploy("views", VIEWS)
    yield c
    c.close()


class _Spy:
    """`check_value` recording what it was given."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.seen: list[Any] = []

    def __call__(self, value: Any, **kw: Any) -> None:
        self.seen.append(value)
        self.real(value, **kw)


def test_a_sandboxed_views_result_is_not_walked_again_unpaid(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(query.check_value)
    monkeypatch.setattr(query, "check_value", spy)
    result = chain.query("views", "nested", 5_000)
    assert result == [[i] for i in range(5_000)]
    assert all(v is not result for v in spy.seen), "the result was walked again, unpaid"


def test_a_native_views_result_is_still_checked(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(query.check_value)
    monkeypatch.setattr(query, "check_value", spy)
    roles = chain.query("governance", "supervisory_roles")
    assert roles and any(v is roles for v in spy.seen)
