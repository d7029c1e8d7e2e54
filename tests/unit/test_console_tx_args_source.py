"""A transaction page's argument names, read from a deployed contract's source: the parse
never runs beside the sandbox's own (CPython's AST constructor is not thread safe: two
parses at once in the process fail with "AST constructor recursion depth mismatch", and the
node's consensus compiles contracts), the first views of a source parse it once however many
arrive together (a deployed source of 256 KiB takes ~0.7 s and ~110 MB to parse), a source
that could not be read is not remembered as having no methods, and an old transaction keeps
the names of the source it ran against after the contract is upgraded."""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tianfu.execution import sandbox
from tianfu.testing.appchain import AppChain
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


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("upgraded-args"))
    yield c
    c.close()


def _args(page: str) -> str:
    found = re.search(r'<dl class="data" id="tx-args">(.*?)</dl>', page, re.S)
    assert found, "no named arguments on the page"
    return found.group(1)


def test_an_old_transaction_keeps_the_names_of_the_source_it_ran_against(chain: AppChain) -> None:
    """Version 1 of `shop.pay` takes (to, amount_fen); version 2 swaps them. The version 1
    payment's page still says who was paid and ¥0.05, not an amount of "x"."""
    chain.deploy("shop", "def pay(ctx, to, amount_fen):\n    return 1\n")
    admin = chain.admin(chain.orgs[0])
    receipt = chain.call(admin, "shop", "pay", "x", 5)
    assert receipt.ok, receipt.error
    params._parsed.clear()
    chain.deploy("shop", "def pay(ctx, amount_fen, to):\n    return 2\n")
    heights = range(1, chain.service.status()["height"] + 1)
    urls = [
        url
        for h in heights
        for url in re.findall(r'href="(/txs/[0-9a-f]{64})"', chain.http.get(f"/blocks/{h}").text)
    ]
    paid = [u for u in urls if chain.http.get(f"/v1{u}").json()["tx"]["method"] == "pay"]
    assert len(paid) == 1
    args = _args(chain.http.get(paid[0], params={"lang": "en"}).text)
    assert '<dt title="to">' in args and "<dd>x</dd>" in args, args
    assert '<span class="money" title="5 fen">¥0.05</span>' in args, args


def test_a_code_that_is_not_a_fund_refusal_is_shown_as_written(chain: AppChain) -> None:
    """A batch code, an argument or an event's `code` of any contract but the fund's, that
    happens to be spelled like a fund refusal's code ("invalid") is the code, not the fund's
    refusal sentence ("the request was malformed ..."); the fund's refusals are translated
    (test_console_tx_readable)."""
    chain.deploy(
        "stock",
        'def add(ctx, code, quantity):\n    ctx.emit("Added", code=code, quantity=quantity)\n'
        '    return {"code": code, "quantity": quantity}\n',
    )
    receipt = chain.call(chain.admin(chain.orgs[0]), "stock", "add", "invalid", 3)
    assert receipt.ok, receipt.error
    heights = range(1, chain.service.status()["height"] + 1)
    urls = [
        url
        for h in heights
        for url in re.findall(r'href="(/txs/[0-9a-f]{64})"', chain.http.get(f"/blocks/{h}").text)
    ]
    added = [u for u in urls if chain.http.get(f"/v1{u}").json()["tx"]["contract"] == "stock"]
    assert len(added) == 1
    page = chain.http.get(added[0], params={"lang": "en"}).text
    assert "the request was malformed (amount or document hash)" not in page
    assert 'id="tx-refusal"' not in page
    assert '<dt title="code">code</dt><dd>invalid</dd>' in _args(page)
