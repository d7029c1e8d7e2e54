"""The console's receivable page as a bank officer and a supplier read it: the pledge's
bank, status, financing amount, interest rate and payment reference, the repayment and
whom it went to, closed pledges and transfers, in both languages (the page showed only
the pledge's bank: not whether it was applied for, approved or disbursed, nor for how much)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tianfu.apps.supply_finance import demo
from tianfu.testing.appchain import AppChain

TAGS = re.compile(r"<[^>]+>")


def _text(html: str) -> str:
    return " ".join(TAGS.sub(" ", html).split())


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("receivables"))
    yield c
    c.close()


def test_a_pledge_its_repayment_and_transfers_are_shown_in_both_languages(
    chain: AppChain,
) -> None:
    made = demo.create_demo(chain)
    root = made["receivable"]
    pledged, moved = _parts(made)
    http: TestClient = chain.http

    en = _text(http.get(f"/receivables/{pledged}", params={"lang": "en"}).text)
    assert "Pledge financing" in en and "disbursed" in en
    assert "Financing amount ¥240,000.00" in en and "Interest rate 4.50% a year" in en
    assert "BOS-LOAN-0001" in en
    zh = _text(http.get(f"/receivables/{pledged}", params={"lang": "zh_CN"}).text)
    assert "质押融资" in zh and "融资金额 ¥240,000.00" in zh and "年利率 4.50%" in zh
    assert "已放款" in zh and "disbursed" not in zh
    tree = _text(http.get(f"/receivables/{root}", params={"lang": "zh_CN"}).text)
    assert "蜀银行" in tree and "· 已放款" in tree  # the tree's pledge column: bank and status

    zh = _text(http.get(f"/receivables/{moved}", params={"lang": "zh_CN"}).text)
    assert "转让记录" in zh and "转出方" in zh

    core = demo.setup_parties(chain)["core"]
    core.sf.repay(root, "REPAY-0001")
    en = _text(http.get(f"/receivables/{pledged}", params={"lang": "en"}).text)
    assert "Repayment" in en and "( bank )" in en and "REPAY-0001" in en
    assert "Closed pledges" in en and "repaid to the bank" in en and "repaid_to_bank" not in en
    zh = _text(http.get(f"/receivables/{pledged}", params={"lang": "zh_CN"}).text)
    assert "兑付" in zh and "已兑付给银行" in zh and "( bank )" not in zh
    holder = _text(http.get(f"/receivables/{moved}", params={"lang": "zh_CN"}).text)
    assert "( 持有人 )" in holder


def _parts(made: dict[str, object]) -> tuple[str, str]:
    parts = made["parts"]
    assert isinstance(parts, dict)
    pledged = next(k for k, v in parts.items() if "pledged" in v)
    moved = next(k for k, v in parts.items() if "transferred" in v)
    return pledged, moved
