"""Every console page of the demo (`tianfu up --demo`), read in Chinese, says nothing in English.

A walk from the navigation bar through the application pages and every record they link
to collects the page's visible text (not scripts, hover titles or ids marked as such) and
refuses an ASCII word unless it is an id (it holds a digit, `-`, `_`, `.`, `/` or `:`, or
is hex), a unit on the allow-list, or the English of a bilingual demo text (inside
full-width parentheses). A Chinese reader saw `road` · `normal` in a case's history, the
fund purpose `housing-renovation`, the node's health `ok` (and, on a degraded node, its
English problems: "degraded: not signing: ...") and durations such as `1d 1h`.
The explorer's block, transaction and account pages name the methods called, the events
emitted and their fields in the reader's language (the name as written on hover); a walk of
them refuses, besides English words, a method or field name such as `create_batch`, and lets
through only the contracts' names, ids and free text the demo wrote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from tianfu.apps.registry import APPLICATIONS
from tianfu.node.health import NodeHealth, wire_health
from tianfu.testing.appchain import AppChain
from tianfu.web.render import NAV

# Words a Chinese page may show as they are: the time zone, the language switcher's own
# name for English, a hash's name, a national standard's prefix and SI units of weight.
ALLOWED = frozenset({"CST", "English", "SHA", "GB", "g", "kg"})
# The contracts' names, ids the chain holds (shown as written).
CONTRACTS = frozenset({app.name for app in APPLICATIONS} | {"privdata"})
WALKED = re.compile(
    r"/(|blocks|validators|orgs|contracts|proposals)|/proposals/[0-9a-f]+"
    r"|/(funds|receivables|works|trace|cases|evidence|photos)(/[^/?#]+)?"
    r"|/medical(/(records|prescriptions)/[^/?#]+)?"
    r"|/orders(/[^/?#]+/[^/?#]+)?"
)
SKIPPED_TAGS = frozenset({"script", "style", "pre", "code", "template"})
BILINGUAL = re.compile(r"（[^（）]*）")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./:']*")
UNIT = re.compile(r"[0-9]+([A-Za-z]+)")  # a number and its English unit: 1d, 3h
HEX = re.compile(r"[0-9a-fA-F]{8,}…?[0-9a-fA-F]*")


class _Text(HTMLParser):
    """A page's visible text nodes and its links; an element of class `hex` is an id."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: is its text hidden or an id
        self.texts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag in ("br", "img", "meta", "link", "input", "hr", "wbr"):
            return
        hidden = tag in SKIPPED_TAGS or "hex" in (a.get("class") or "").split()
        self.stack.append(hidden or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and not (self.stack and self.stack[-1]):
            self.texts.append(data.strip())


def english_words(text: str) -> list[str]:
    """The words of `text` a Chinese reader should not see in English."""
    found = []
    for word in WORD.findall(BILINGUAL.sub("", text)):
        word = word.rstrip(".:'")
        unit = UNIT.fullmatch(word)
        word = unit.group(1) if unit else word
        if word.isdigit():
            continue
        is_id = not unit and (any(c.isdigit() or c in "-_./:" for c in word) or HEX.fullmatch(word))
        if word and not is_id and word not in ALLOWED | CONTRACTS:
            found.append(word)
    return found


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("demo-walk"))
    for app in APPLICATIONS:  # what tianfu up --demo creates
        app.create_demo(c)
    yield c
    c.close()


def test_the_words_checker_refuses_english_and_lets_ids_through() -> None:
    assert english_words("道路 · normal") == ["normal"]
    assert english_words("超期 1d 1h") == ["d", "h"]
    assert english_words("明月村（Mingyue Village） TEA-2024-001 org1 2026-12-07 CST") == []
    assert english_words("ab12cd34ef56 · cg-water-staff · SHA-256") == []


def test_no_english_on_the_chinese_pages_of_the_demo(chain: AppChain) -> None:
    todo = [path for path, _ in NAV if WALKED.fullmatch(path)]
    seen: set[str] = set()
    found: dict[str, set[str]] = {}
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        r = chain.http.get(url, params={"lang": "zh_CN"}, headers={"Accept": "text/html"})
        assert r.status_code == 200, url
        page = _Text()
        page.feed(r.text)
        for text in page.texts:
            for word in [] if text in AS_WRITTEN else english_words(text):
                found.setdefault(word, set()).add(f"{url}: {text}")
        todo += [u for u in page.links if WALKED.fullmatch(u) and u not in seen]
    assert len(seen) > 25, sorted(seen)  # the walk reached the records
    assert not found, "\n".join(f"{w}: {sorted(where)[:3]}" for w, where in found.items())


def test_a_duration_is_in_the_readers_language() -> None:
    from tianfu.web import format as fmt
    from tianfu.web.i18n import translations

    zh, en = translations("zh_CN").gettext, translations("en").gettext
    assert fmt.duration(90_061_000, zh) == "1天 1小时 1分 1秒"
    assert fmt.duration(90_061_000, en) == "1d 1h 1m 1s" == fmt.duration(90_061_000)
    assert fmt.duration(-3_600_000, zh) == "-1小时" and fmt.duration(250, zh) == "250 毫秒"
    assert english_words(fmt.duration(93_784_000, zh)) == []


def test_a_fund_purpose_is_translated_with_the_id_on_hover(chain: AppChain) -> None:
    for url in ("/funds", "/funds/rural-housing-2024"):
        zh = chain.http.get(url, params={"lang": "zh_CN"}).text
        en = chain.http.get(url, params={"lang": "en"}).text
        assert '<span title="housing-renovation">农村住房改造</span>' in zh, url
        assert '<span title="housing-renovation">housing renovation</span>' in en, url


def test_a_role_is_translated_with_the_role_on_hover(chain: AppChain) -> None:
    zh = chain.http.get("/proposals", params={"lang": "zh_CN"}).text
    en = chain.http.get("/proposals", params={"lang": "en"}).text
    assert '<span title="notary">公证机构</span>' in zh and '<span title="court">法院</span>' in zh
    assert '<span title="notary">notary</span>' in en


def test_a_degraded_nodes_health_is_in_the_readers_language(chain: AppChain) -> None:
    """The overview says each problem of the node's health (`/v1/status` `health_reasons`)
    in the reader's language, the node's English health text on hover."""
    halted = "cannot store decided block 9: database or disk is full"
    driver = SimpleNamespace(
        failed=None,
        halted=halted,
        signing_held=None,
        blocks=SimpleNamespace(build_failure=None, execute_failure="StoreBusy: locked"),
    )
    idle = SimpleNamespace(store_error=None, fatal=None, stats={}, peers=list)
    health = NodeHealth()
    wire_health(health, store=idle, driver=driver, syncer=idle, transport=idle, guard=idle)
    before = chain.service.health
    chain.service.health = health.state
    try:
        status = chain.http.get("/v1/status").json()
        text = f"degraded: not signing: {halted}; cannot execute proposed blocks: StoreBusy: locked"
        assert status["health"] == text
        assert status["health_reasons"] == ["not_signing", "cannot_execute"]
        zh = chain.http.get("/", params={"lang": "zh_CN"}).text
        page = _Text()
        page.feed(zh)
        assert [w for t in page.texts for w in english_words(t)] == []
        assert f'<span class="warn" title="{text}">异常:</span>' in zh
        assert "本验证节点暂停签名" in zh and "无法执行提议的区块" in zh
        en = chain.http.get("/", params={"lang": "en"}).text
        assert "this validator signs nothing" in en and "proposed blocks cannot be executed" in en
        driver.halted = driver.blocks.execute_failure = None
        assert chain.http.get("/v1/status").json()["health_reasons"] == []
        assert '<dd id="health">正常</dd>' in chain.http.get("/", params={"lang": "zh_CN"}).text
    finally:
        chain.service.health = before


SNAKE = re.compile(r"[a-z]+(?:_[a-z]+)+")
# The text nodes the pages of the demo show as the chain holds them: the ids of
# its allocation accounts and departments, the name of each organisation's admin identity,
# a milestone's name, a detail's kind, a doctor's note and an access's purpose, and the
# free text of the calls' arguments (as the demo wrote them).
AS_WRITTEN = frozenset(
    {
        *("sc", "cd", "pujiang", "mingyue", "ganxi", "urban", "water", "admin"),
        *("casting", "dispensing"),
        *("second opinion: no need to repeat the blood count", "reimbursement claim"),
        # the arguments of the demo's calls, as their senders wrote them
        *("2024 年度额度 sc（2024 quota for sc）", "400 discs cast, HT250", "friction low"),
        *("软件许可协议，签字版 PDF（Licence agreement, signed PDF）", "Tianfu skyline at dusk"),
        *("friction coefficient below specification", "print run of 5,000, 2025"),
        "retouched copy of my photo",
        # the members' own words inside the demo's call arguments, shown field by field: an
        # evidence deposit's details ({"case": "demo", "pages": 12}), a bill's part numbers
        *("demo", "pages", "caliper"),
        # the demo's photographs' titles and licence terms
        *("Tianfu skyline at dusk", "City at night", "credit the author"),
    }
)
SYSTEM_CONTRACTS = frozenset({"governance", "privdata"})


def chain_names(text: str) -> list[str]:
    """The words of `text` `english_words` refuses, and any method or field name in it (a
    lowercase name joined by `_`, which is no id), but a contract's name."""
    if text in AS_WRITTEN:
        return []
    parts = [p for w in WORD.findall(BILINGUAL.sub("", text)) for p in re.split(r"[./:]", w)]
    names = [p for p in parts if SNAKE.fullmatch(p) and p not in CONTRACTS]
    return [w for w in english_words(text) if w not in SYSTEM_CONTRACTS] + names


def test_the_names_checker_refuses_method_and_field_names() -> None:
    assert chain_names("traceability.create_batch") == ["create_batch"]
    assert chain_names("BatchCreated") == ["BatchCreated"]
    assert chain_names("fund_supervision · 创建批次 · governance · rural-housing-2024") == []
    assert chain_names("ab12cd34 · cg-water-staff · org1/PO-1") == []


def test_the_explorer_pages_of_the_demo_name_calls_events_and_fields_in_chinese(
    chain: AppChain,
) -> None:
    """Every block page, one transaction page per contract method the demo calls (so at
    least one of each application) and every account page they link to, read in Chinese."""
    found: dict[str, set[str]] = {}

    def walk(url: str) -> _Text:
        r = chain.http.get(url, params={"lang": "zh_CN"}, headers={"Accept": "text/html"})
        assert r.status_code == 200, url
        page = _Text()
        page.feed(r.text)
        for text in page.texts:
            for word in chain_names(text):
                found.setdefault(word, set()).add(f"{url}: {text}")
        return page

    calls: dict[tuple[str, str], str] = {}
    for height in range(1, chain.service.status()["height"] + 1):
        for link in walk(f"/blocks/{height}").links:
            if link.startswith("/txs/"):
                body = chain.http.get(f"/v1{link}").json()["tx"]
                calls.setdefault((body["contract"], body["method"]), link)
    accounts: set[str] = set()
    for link in calls.values():
        accounts |= {u for u in walk(link).links if u.startswith("/accounts/")}
    for link in accounts:
        walk(link)
    assert {contract for contract, _ in calls} >= CONTRACTS | SYSTEM_CONTRACTS
    assert len(calls) > 50 and len(accounts) > 20, (len(calls), len(accounts))
    assert not found, "\n".join(f"{w}: {sorted(where)[:3]}" for w, where in found.items())


def test_a_method_and_an_event_are_translated_with_the_name_on_hover(chain: AppChain) -> None:
    height, events = 0, []
    while not events:  # the first transaction that emitted an event
        height += 1
        block = chain.http.get(f"/blocks/{height}", params={"lang": "zh_CN"}).text
        for url in re.findall(r'href="(/txs/[0-9a-f]{64})"', block)[:1]:
            rec = chain.http.get(f"/v1{url}").json()
            events = rec["receipt"]["events"]
    zh = chain.http.get(url, params={"lang": "zh_CN"}).text
    en = chain.http.get(url, params={"lang": "en"}).text
    method = f'<span title="{rec["tx"]["method"]}">'
    assert method in zh and method in en and method in block
    event = re.search(rf'<td><span title="{events[0]["name"]}">([^<]+)</span></td>', zh)
    assert event and not english_words(event.group(1)), events[0]


def test_a_service_level_is_a_duration_not_a_date(chain: AppChain) -> None:
    """A department's `sla_ms` is a length of time: the event's page says 2天, not a date in
    1970."""
    from tianfu.web import format as fmt
    from tianfu.web.i18n import translations

    zh = translations("zh_CN").gettext
    seen = 0
    for height in range(1, chain.service.status()["height"] + 1):
        block = chain.http.get(f"/blocks/{height}").text
        for url in re.findall(r'href="(/txs/[0-9a-f]{64})"', block):
            for event in chain.http.get(f"/v1{url}").json()["receipt"]["events"]:
                sla = (event.get("data") or {}).get("sla_ms")
                if isinstance(sla, int):
                    page = chain.http.get(url, params={"lang": "zh_CN"}).text
                    assert f'<span title="{sla}">{fmt.duration(sla, zh)}</span>' in page
                    assert "1970-" not in page
                    seen += 1
    assert seen >= 2
