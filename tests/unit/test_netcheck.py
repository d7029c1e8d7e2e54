"""The bench's and the network tests' agreement check raises a real error, not `assert`
(which `python -O` removes), for a fork and for a node that does not answer."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tianfu.bench import netcheck

CHAINS = {
    "http://a": [("h1", "r1"), ("h2", "r2"), ("h3", "r3")],
    "http://b": [("h1", "r1"), ("h2", "r2"), ("h3", "r3")],
    "http://c": [("h1", "r1"), ("h2x", "r2"), ("h3", "r3")],
}


@pytest.fixture
def chains(monkeypatch):
    monkeypatch.setattr(netcheck, "height", lambda url: len(CHAINS.get(url, [])))
    monkeypatch.setattr(netcheck, "headers", lambda url, upto: CHAINS[url][:upto])


def test_identical_chains_give_their_height(chains) -> None:
    assert netcheck.assert_identical(["http://a", "http://b"]) == 3


def test_a_fork_is_named_with_its_height(chains) -> None:
    with pytest.raises(netcheck.ChainsDiffer, match="fork at height 2: http://a"):
        netcheck.assert_identical(["http://a", "http://b", "http://c"])


def test_a_silent_node_is_an_error(chains) -> None:
    with pytest.raises(netcheck.ChainsDiffer, match="not answering"):
        netcheck.assert_identical(["http://a", "http://gone"])


def test_the_check_holds_under_python_O() -> None:
    code = (
        "from tianfu.bench import netcheck\n"
        "netcheck.height = lambda url: 2\n"
        "netcheck.headers = lambda url, upto: [('h1', 'r'), (url, 'r')]\n"
        "try:\n"
        "    netcheck.assert_identical(['http://a', 'http://b'])\n"
        "except netcheck.ChainsDiffer as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('accepted')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused: fork at height 2"), out.stdout


def test_committed_tx_counts_reads_every_block_that_holds_transactions(monkeypatch) -> None:
    """Each transaction counted once per block holding it (a duplicate shows as 2); the
    blocks whose headers count no transaction are not read one by one."""
    blocks = {1: [], 2: ["t1", "t2"], 3: [], 4: ["t2"], 5: ["t3"]} | {h: [] for h in range(6, 251)}
    read: list[str] = []

    def fake_get(url: str, params: dict[str, int] | None = None, **kw: object) -> httpx.Response:
        read.append(url)
        request = httpx.Request("GET", url)
        if url.endswith("/v1/status"):
            return httpx.Response(200, json={"height": len(blocks)}, request=request)
        if url.endswith("/v1/blocks"):
            assert params is not None
            first = params["from"]
            page = [
                {"height": h, "hash": f"h{h}", "state_root": "r", "tx_count": len(blocks[h])}
                for h in range(first, min(first + params["limit"], len(blocks) + 1))
            ]
            return httpx.Response(200, json={"blocks": page}, request=request)
        h = int(url.rsplit("/", 1)[1])
        return httpx.Response(200, json={"height": h, "txs": blocks[h]}, request=request)

    monkeypatch.setattr(netcheck, "http_get", fake_get)
    counts = netcheck.committed_tx_counts("http://a")
    assert counts == {"t1": 1, "t2": 2, "t3": 1}
    assert sorted(u for u in read if "/v1/blocks/" in u) == [
        f"http://a/v1/blocks/{h}" for h in (2, 4, 5)
    ]
