"""A transaction page's argument names, read from a deployed contract's source: the parse
never runs beside the sandbox's own (CPython's AST constructor is not thread safe: two
parses at once in the process fail with "AST constructor recursion depth mismatch", and the
node's consensus compiles contracts), the first views of a source parse it once however many
arrive together (a deployed source of 256 KiB takes ~0.7 s and ~110 MB to parse), a source
that could not be read is not remembered as having no methods."""

from __future__ import annotations

import ast
import threading
from typing import Any

import pytest

from tianfu.execution import sandbox
from tianfu.web import params

SOURCE = "def pay(ctx, to, amount_fen, memo=''):\n    return 1\n"


def _reader(source_hash: str, source: Any, on_source: Any = None) -> Any:
    def record(contract: str, key: str) -> Any:
        if key == "contract/shop":
            return {"source_hash": source_hash}
        if key == "source/" + source_hash:
            if on_source is not None:
                return on_source()
            return source
        return None

    return record


def test_a_source_is_parsed_only_under_the_sandboxs_compile_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held: list[bool] = []
    parse = ast.parse

    def watched(source: Any, *args: Any, **kwargs: Any) -> Any:
        if source == SOURCE:
            held.append(sandbox._COMPILE_LOCK.locked())
        return parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", watched)
    params._parsed.clear()
    record = _reader("c1" * 32, SOURCE)
    assert params.named_args("shop", "pay", ["x", 5], record) == [("to", "x"), ("amount_fen", 5)]
    assert held and all(held), held


def test_the_first_views_of_a_source_arriving_together_parse_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    views = 4
    parses: list[int] = []
    parse = ast.parse

    def counted(source: Any, *args: Any, **kwargs: Any) -> Any:
        if source == SOURCE:
            parses.append(1)
        return parse(source, *args, **kwargs)

    arrived = threading.Barrier(views)

    def source_read() -> str:
        # Every view reads the source before any parses it, when they may (a single-flight
        # parse lets one read it: the others wait for its answer, and this gives up).
        try:
            arrived.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return SOURCE

    monkeypatch.setattr(ast, "parse", counted)
    params._parsed.clear()
    record = _reader("c2" * 32, None, source_read)
    answers: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(params.named_args("shop", "pay", [1, 2], record))
        )
        for _ in range(views)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert answers == [[("to", 1), ("amount_fen", 2)]] * views
    assert len(parses) == 1, parses


def test_a_source_that_could_not_be_read_is_not_remembered_as_methodless() -> None:
    params._parsed.clear()
    missing = _reader("c3" * 32, None)
    assert params.named_args("shop", "pay", ["x", 5], missing) == [("#1", "x"), ("#2", 5)]
    found = _reader("c3" * 32, SOURCE)
    assert params.named_args("shop", "pay", ["x", 5], found) == [("to", "x"), ("amount_fen", 5)]
