"""A transaction's page says what was called in words a clerk reads: its arguments by the
method's parameter names (amounts in yuan, addresses as enrolled names, dates as dates; the
JSON as sent under a toggle), a refusal's code and a sandbox failure in the reader's
language (the raw text on hover), in Chinese and in English. The page showed the arguments,
the return value and a refusal's code only as raw JSON or as the contract wrote them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tianfu.apps.registry import APPLICATIONS
from tianfu.testing.appchain import AppChain
from tianfu.web import params
from tianfu.web.data import ConsoleData
from tianfu.web.i18n import translations
from tianfu.web.words import REFUSAL_REASONS


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("demo-txs"))
    for app in APPLICATIONS:  # what tianfu up --demo creates
        app.create_demo(c)
    yield c
    c.close()


def _tx_of(chain: AppChain, contract: str, method: str) -> tuple[str, dict]:
    """The first committed transaction calling `contract.method`: its page and its record."""
    for height in range(1, chain.service.status()["height"] + 1):
        block = chain.http.get(f"/blocks/{height}").text
        for url in re.findall(r'href="(/txs/[0-9a-f]{64})"', block):
            rec = chain.http.get(f"/v1{url}").json()
            if (rec["tx"]["contract"], rec["tx"]["method"]) == (contract, method):
                return url, rec
    raise AssertionError(f"no {contract}.{method} in the demo")


def _args(page: str) -> str:
    found = re.search(r'<dl class="data" id="tx-args">(.*?)</dl>', page, re.S)
    assert found, "no named arguments on the page"
    return found.group(1)


def test_a_prescriptions_arguments_are_named_and_readable(chain: AppChain) -> None:
    url, rec = _tx_of(chain, "health", "prescribe")
    patient, quantity, expires_ms = rec["tx"]["args"][:3]
    zh = chain.http.get(url, params={"lang": "zh_CN"}).text
    en = chain.http.get(url, params={"lang": "en"}).text
    name = ConsoleData(chain.service).name_of(patient)
    assert name is not None
    args_zh, args_en = _args(zh), _args(en)
    assert '<dt title="patient">患者</dt>' in args_zh
    assert '<dt title="patient">patient</dt>' in args_en
    assert f'<dt title="quantity">数量</dt><dd>{quantity}</dd>' in args_zh
    assert '<dt title="expires_ms">到期时间</dt>' in args_zh
    assert f'<time title="{expires_ms}" data-ms="{expires_ms}">' in args_zh
    assert f'href="/accounts/{patient}"' in args_zh and f"<bdi>{name.name}</bdi>" in args_zh
    # the arguments as sent, under a toggle
    assert "<details><summary>原始参数（JSON）</summary><pre>" in zh
    assert "<details><summary>The arguments as sent (JSON)</summary><pre>" in en


def test_an_amount_argument_is_in_yuan(chain: AppChain) -> None:
    url, rec = _tx_of(chain, "health", "reimburse")
    fen = rec["tx"]["args"][1]
    args = _args(chain.http.get(url, params={"lang": "zh_CN"}).text)
    assert '<dt title="amount_fen">' in args
    assert f'<span class="money" title="{fen} 分">¥{fen // 100:,}.{fen % 100:02d}</span>' in args


def test_a_refusal_code_is_said_in_the_readers_language(chain: AppChain) -> None:
    """The demo's refused payment: its receipt's result and its event carry the code
    `unregistered_recipient`, which a Chinese page showed as written."""
    url, rec = _tx_of(chain, "fund_supervision", "attempt_disburse")
    assert rec["receipt"]["result"]["code"] == "unregistered_recipient"
    zh = chain.http.get(url, params={"lang": "zh_CN"}).text
    en = chain.http.get(url, params={"lang": "en"}).text
    said = REFUSAL_REASONS["unregistered_recipient"]
    zh_said = translations("zh_CN").gettext(said)
    assert zh_said != said
    shown = '<span title="unregistered_recipient">{}</span>'
    assert zh.count(shown.format(zh_said)) == 2  # the return value and the event
    assert en.count(shown.format(said)) == 2
    assert f'<p id="tx-refusal"><span title="unregistered_recipient">{zh_said}</span></p>' in zh


def test_an_unknown_code_is_shown_as_written() -> None:
    from tianfu.web.render import _env

    module = _env.get_template("macros.html").make_module(
        {
            "_": translations("zh_CN").gettext,
            "refusal": lambda v: REFUSAL_REASONS.get(v, v),
            "field": str,
        }
    )
    assert str(module.datum("code", "no_such_code", {})) == (
        '<span title="no_such_code">no_such_code</span>'
    )


def test_out_of_gas_is_said_in_the_readers_language() -> None:
    from tianfu.web.words import receipt_error

    zh = receipt_error(translations("zh_CN").gettext)
    text = "out of gas: the call used more than its 1000 gas"
    assert zh(text) == "交易燃料耗尽（用量超过了上限）"
    assert zh("ZeroDivisionError: division by zero") == "合约执行时出现除以零"
    assert zh("the fund is closed") == "the fund is closed"  # a contract's own words


def test_arguments_that_do_not_fit_the_method_are_numbered() -> None:
    def record(contract: str, key: str) -> None:
        return None

    assert params.named_args("governance", "approve", ["P1"], record) == [("proposal_id", "P1")]
    assert params.named_args("governance", "approve", [], record) == []
    assert params.named_args("governance", "approve", ["a", "b"], record) == [
        ("#1", "a"),
        ("#2", "b"),
    ]
    assert params.named_args("nowhere", "x", [1], record) == [("#1", 1)]


def test_a_deployed_sources_parameters_are_read_once_per_hash() -> None:
    reads: list[str] = []
    source = "def pay(ctx, to, amount_fen, memo=''):\n    return 1\n"

    def record(contract: str, key: str) -> object:
        reads.append(key)
        if key == "contract/shop":
            return {"source_hash": "ab" * 32}
        return source if key == "source/" + "ab" * 32 else None

    params._parsed.clear()
    assert params.named_args("shop", "pay", ["x", 5], record) == [("to", "x"), ("amount_fen", 5)]
    assert params.named_args("shop", "pay", ["x", 5, "m"], record)[2] == ("memo", "m")
    assert reads.count("source/" + "ab" * 32) == 1
    assert params.source_methods("def (") == {}


def test_every_parameter_of_the_applications_and_governance_has_a_label() -> None:
    """A Chinese transaction page names each argument in Chinese: every parameter of the
    shipped applications' methods and of governance's is in the catalogue."""
    from tianfu.web.words import FIELD_NAMES

    missing = set()
    for app in APPLICATIONS:
        for _required, names in params.source_methods(app.source()).values():
            missing |= {n for n in names if n not in FIELD_NAMES and n not in params.PARAM_NAMES}
    for _required, names in params.native_methods().values():
        missing |= {n for n in names if n not in FIELD_NAMES and n not in params.PARAM_NAMES}
    assert not missing, sorted(missing)


def test_a_failed_transactions_page_says_why_in_the_readers_language(chain: AppChain) -> None:
    """A receipt the sandbox failed (here: a division by zero) reads 合约执行时出现除以零 on
    a Chinese page, the receipt's own text on hover; its arguments are named from the
    deployed source."""
    chain.deploy("divider", "def share(ctx, total_fen, parts):\n    return total_fen // parts\n")
    admin = chain.admin(chain.orgs[0])
    receipt = chain.call(admin, "divider", "share", 1000, 0)
    assert not receipt.ok and receipt.error == "ZeroDivisionError: division by zero"
    url, _rec = _tx_of(chain, "divider", "share")
    zh = chain.http.get(url, params={"lang": "zh_CN"}).text
    en = chain.http.get(url, params={"lang": "en"}).text
    assert '<span class="error" title="ZeroDivisionError: division by zero">' in zh
    assert "合约执行时出现除以零</span>" in zh and "the contract divided by zero</span>" in en
    args = _args(zh)
    assert '<dt title="total_fen">total_fen</dt>' in args  # a name the catalogue lacks
    assert '<span class="money" title="1000 分">¥10.00</span>' in args
    assert '<dt title="parts">份数</dt><dd>0</dd>' in args
