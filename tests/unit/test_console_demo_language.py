"""The demo data (`tianfu up --demo`) read on the Chinese console pages.

The demo wrote its names, places, reasons and titles in English alone, so a Chinese trace
page said `Longjing 250 g gift tin` under 已召回 and `tin seal found damaged at the
warehouse` as the reason, the fund tree `Mingyue Village`, the receivables `Tianfu Motors
Group`, the evidence page `Licence agreement, signed PDF`. Its free text is now bilingual,
Chinese first with the English in full-width parentheses, and the words the traceability
contract holds a step's data to (an inspection's `pass`, an input's `fertiliser`) and the
demo's step fields (`variety`, `dose_kg`, ...) are shown in the reader's language."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tianfu.apps.registry import application
from tianfu.testing.appchain import AppChain
from tianfu.web.words import FIELD_NAMES

CJK = re.compile(r"[\u4e00-\u9fff]")
DATA = re.compile(r'<dt title="([^"]*)">([^<]*)</dt><dd>(.*?)</dd>', re.S)
STEP = re.compile(r'<li class="step step-[^"]*"><strong>([^<]*)</strong>')
CONSOLE_APPS = ("traceability", "fund_supervision", "supply_finance", "evidence", "ip_rights")
BATCHES = ("TEA-2024-001", "TEA-2024-002", "LJ-LOT-0415", "LJ-TIN-001", "LJ-TIN-004")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("demo-zh"))
    for name in CONSOLE_APPS:
        application(name).create_demo(c)
    yield c
    c.close()


def _page(chain: AppChain, url: str, lang: str) -> str:
    r = chain.http.get(url, params={"lang": lang})
    assert r.status_code == 200, (url, r.status_code)
    return r.text


@pytest.mark.parametrize(
    ("url", "chinese", "english"),
    [
        ("/trace", "龙井 250 克礼盒", "Longjing 250 g gift tin"),
        ("/trace/LJ-TIN-004", "仓库发现罐口密封破损", "tin seal found damaged"),
        ("/trace/TEA-2024-001", "杭州梅家坞 7 号地块", "Meijiawu, Hangzhou plot 7"),
        ("/funds/rural-housing-2024", "明月村", "Mingyue Village"),
        ("/receivables", "天府汽车集团", "Tianfu Motors Group"),
        ("/works", "竹林晨曦", "Bamboo Dawn"),
        ("/evidence/EV000001", "成都市第三公证处", "Chengdu Notary Office No. 3"),
        ("/evidence/EV000001", "软件许可协议", "Licence agreement, signed PDF"),
    ],
)
def test_the_demo_reads_in_both_languages(chain: AppChain, url, chinese, english) -> None:
    for lang in ("zh_CN", "en"):
        page = _page(chain, url, lang)
        assert chinese in page and english in page, (url, lang)


def test_every_field_of_the_demo_trace_steps_is_named_in_the_readers_language(
    chain: AppChain,
) -> None:
    seen = set()
    for code in BATCHES:
        zh = DATA.findall(_page(chain, f"/trace/{code}", "zh_CN"))
        en = DATA.findall(_page(chain, f"/trace/{code}", "en"))
        assert [k for k, *_ in zh] == [k for k, *_ in en], code
        for (key, zh_label, _), (_, en_label, _) in zip(zh, en, strict=True):
            assert key in FIELD_NAMES and CJK.search(zh_label), (code, key, zh_label)
            assert not CJK.search(en_label) and "_" not in en_label, (code, key, en_label)
            seen.add(key)
    assert {"variety", "dose_kg", "report_hash", "result", "input", "standard"} <= seen


def test_every_step_of_the_demo_batches_is_named_in_chinese(chain: AppChain) -> None:
    for code in BATCHES:
        types = STEP.findall(_page(chain, f"/trace/{code}", "zh_CN"))
        assert types and all(CJK.search(t) for t in types), (code, types)


def test_the_words_a_trace_step_is_held_to_are_translated_with_the_word_as_hover(
    chain: AppChain,
) -> None:
    steps = {
        "LJ-LOT-0415": ("result", "pass", "合格"),
        "TEA-2024-001": ("input", "fertiliser", "肥料"),
    }
    for code, (key, written, chinese) in steps.items():
        zh = {k: v for k, _, v in DATA.findall(_page(chain, f"/trace/{code}", "zh_CN"))}
        en = {k: v for k, _, v in DATA.findall(_page(chain, f"/trace/{code}", "en"))}
        assert zh[key] == f'<span title="{written}">{chinese}</span>', (code, zh[key])
        assert written in en[key] and not CJK.search(en[key]), (code, en[key])
