"""The console in Chinese and in English, for readers who do not write code: both
catalogues hold the same messages, every one of them written in its catalogue's language,
and the field names a contract writes into a trace step or a proposal's record are shown
in the reader's language (a Chinese trace page listed `from_org`, `price_fen`, `parent`,
`quantity` as the contract wrote them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tianfu.apps.registry import application
from tianfu.testing.appchain import AppChain
from tianfu.web import i18n
from tianfu.web.words import FIELD_NAMES, WORDS

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
PLACEHOLDER = re.compile(r"%\(\w+\)s")
# What a Chinese message may keep in Latin letters: commands and file names in backticks
# or parentheses of the proof format's name.
KEPT_LATIN = re.compile(r"`[^`]*`|tianfu-proof/v1")
DATA_TERMS = re.compile(r'<dt title="([^"]*)">([^<]*)</dt>')


def _catalogue(lang: str) -> dict[str, str]:
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id and isinstance(m.id, str)}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_no_message_is_written_twice_in_a_catalogue(lang: str) -> None:
    """Two merges each adding a label wrote it twice; babel silently keeps the last of two,
    so a second, different translation would win unseen."""
    text = (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    ids = re.findall(r'^msgid "(.+)"$', text, flags=re.MULTILINE)
    twice = sorted({i for i in ids if ids.count(i) > 1})
    assert not twice, twice


def test_both_catalogues_hold_the_same_messages_each_in_its_language() -> None:
    zh, en = _catalogue("zh_CN"), _catalogue("en")
    assert set(zh) == set(en), (sorted(set(zh) - set(en))[:5], sorted(set(en) - set(zh))[:5])
    assert len(zh) > 400
    for msgid in zh:
        assert zh[msgid] and en[msgid], msgid
        for text in (zh[msgid], en[msgid]):
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), msgid
        assert not CJK.search(en[msgid]), (msgid, en[msgid])
        assert CJK.search(zh[msgid]), f"not Chinese: {msgid!r} -> {zh[msgid]!r}"
        prose = PLACEHOLDER.sub(" ", KEPT_LATIN.sub(" ", zh[msgid]))
        assert not re.search(r"[A-Za-z]{2,}[ -][A-Za-z]{2,}", prose), (msgid, zh[msgid])


def test_chain_words_and_field_names_read_as_words_in_english() -> None:
    en = _catalogue("en")
    for msgid in {*WORDS, *FIELD_NAMES.values()}:
        assert msgid in en, msgid
        assert "_" not in en[msgid], (msgid, en[msgid])


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("language"))
    application("traceability").create_demo(c)
    yield c
    c.close()


def _proposal(chain: AppChain) -> str:
    found = re.search(r'href="(/proposals/[0-9a-f]+)"', chain.http.get("/proposals").text)
    assert found
    return found.group(1)


def test_record_field_names_are_shown_in_the_readers_language(chain: AppChain) -> None:
    for url in ("/trace/LJ-TIN-001", "/trace/LJ-TIN-004", _proposal(chain)):
        zh = DATA_TERMS.findall(chain.http.get(url, params={"lang": "zh_CN"}).text)
        en = DATA_TERMS.findall(chain.http.get(url, params={"lang": "en"}).text)
        assert zh and [k for k, _ in zh] == [k for k, _ in en], url
        for (key, zh_label), (_, en_label) in zip(zh, en, strict=True):
            assert key in FIELD_NAMES, (url, key)  # every field of these records is known
            assert CJK.search(zh_label), (url, key, zh_label)
            assert not CJK.search(en_label) and "_" not in en_label, (url, key, en_label)
    page = chain.http.get("/trace/LJ-TIN-001", params={"lang": "zh_CN"}).text
    assert '<dt title="from_org">移交方机构</dt>' in page
    assert '<dt title="price_fen">价格</dt>' in page


def test_a_field_name_the_console_does_not_know_is_shown_as_written(tmp_path: Path) -> None:
    c = AppChain(tmp_path)
    try:
        application("traceability").create_demo(c)
        from tianfu.apps.traceability.demo import cast

        producer = cast(c)["producer"]
        c.call(producer, "traceability", "register_product", "p1", "Tea", "Longjing", "g")
        c.call(producer, "traceability", "create_batch", "B-1", "p1", 10, "plot 1")
        rc = c.call(producer, "traceability", "record_event", "B-1", "harvest", {"shelf": 7})
        assert rc.ok, rc.error
        page = c.http.get("/trace/B-1", params={"lang": "zh_CN"}).text
        assert '<dt title="shelf">shelf</dt>' in page
    finally:
        c.close()


def test_a_language_asked_for_as_a_tag_is_the_page_s_language(tmp_path: Path) -> None:
    """`?lang=` took only the catalogue names `zh_CN` and `en`: `?lang=zh` or `?lang=zh-CN`
    (the tag the page's own `<html lang>` says) was ignored, and a reader whose browser
    asks for English got the English page; now a tag naming a shipped language chooses it,
    and is remembered by its catalogue name."""
    web = AppChain(tmp_path).http
    english, chinese = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}
    for tag, browser, html, code in [
        ("zh", english, "zh-CN", "zh_CN"), ("zh-CN", english, "zh-CN", "zh_CN"),
        ("zh_cn", english, "zh-CN", "zh_CN"), ("zh_CN", english, "zh-CN", "zh_CN"),
        ("en", chinese, "en", "en"), ("en-US", chinese, "en", "en"), ("EN", chinese, "en", "en"),
    ]:  # fmt: skip
        r = web.get("/", params={"lang": tag}, headers=browser)
        assert r.status_code == 200 and f'<html lang="{html}">' in r.text, tag
        assert r.cookies.get(i18n.COOKIE) == code, tag
        web.cookies.clear()
    for ignored in ("fr", "x" * 5000, ""):
        r = web.get("/", params={"lang": ignored}, headers=english)
        assert '<html lang="en">' in r.text and i18n.COOKIE not in r.cookies, ignored
    assert i18n.choose(None, "zh", "en") == "zh_CN"  # a cookie written as a tag, too
