"""An application contract's deployed source: its parts and the shared contract library joined
into one text, which is exactly what the chain pins and runs; the library's helpers."""

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tianfu.apps.common.source import LIBRARY, PARTIES, _without_header, joined_source
from tianfu.apps.registry import APPLICATIONS
from tianfu.codec import hash_domain
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.sandbox import SOURCE_TAG, compile_contract
from tianfu.testing.appchain import AppChain

# sha256 of each application contract's deployed source. Any change of a contract's parts or
# of the shared library changes what a new deployment runs (and its source hash): update a
# pin only deliberately, saying why. A chain keeps the source it deployed (ADR 0031).
SOURCE_SHA256 = {
    "supply_finance": "61409ddf7ccdd0942b8bd0a582f32e8e9203fe014708c5d568b0d52cfa20a04f",
    "fund_supervision": "0b532d953b2970e963f676359f2b373a5b5b46c5295e5cb8ae38a10aa9aeea73",
    "traceability": "e2dcddaf47524f148c479840c53e05d96adb2121204edf24ec820654dc0464a4",
    "evidence": "b37bd12baa5a56d7872fd73b660e6b378a91ab1836d18a094c77c19b3b0969e4",
    "ip_rights": "84cfb45c576fb759af1a84ca10910bac9dc8eabe2ca081df54c61b7a23c6ca30",
    "manufacturing": "bba9e2be0cdab2a148307f0fcf743974164df4833fe14fce6386ee59b4ed18d5",
    "city_governance": "07b3c31b1c6cd7793ded37cc6bc7a0629791279dbb913ec41e72ec5bc4ba40e3",
    "health": "3a247bb564861cbca02e0f78fe8a3952c5505255a4431ce550a075e4d281d306",
    "photo_sharing": "56929b6f02785e4613d251b72ad61891dcd7e68309aa00c0f66f61701a49bb1d",
}
APPS = {a.name: a for a in APPLICATIONS}


def _code(path: str) -> str:
    return _without_header(Path(path).read_text(encoding="utf-8")).strip("\n")


def test_every_application_is_pinned():
    assert set(SOURCE_SHA256) == set(APPS)


@pytest.mark.parametrize("name", sorted(SOURCE_SHA256))
def test_deployed_source_is_pinned_and_has_the_library_after_its_main_part(name):
    source = APPS[name].source()
    assert hashlib.sha256(source.encode()).hexdigest() == SOURCE_SHA256[name]
    main = (Path(LIBRARY).parents[1] / name / "contract.py").read_text(encoding="utf-8")
    assert source.startswith(main.strip("\n") + "\n\n\n" + _code(LIBRARY) + "\n")
    assert "# ruff: noqa" not in source.split("\n", 2)[2]  # later parts' headers left out
    assert (_code(PARTIES) in source) == (name in ("supply_finance", "fund_supervision"))


def test_the_library_adds_no_method_or_view():
    library = compile_contract(_code(LIBRARY) + "\n")
    assert library.methods == frozenset() and library.views == frozenset()
    parties = compile_contract(_code(PARTIES) + "\n" + _code(LIBRARY) + "\n")
    assert parties.methods == {"enrol", "party"} and parties.views == {"party"}


def test_what_is_deployed_is_the_whole_assembled_source(tmp_path):
    """The chain pins the hash of the assembled text (library included) and stores it whole."""
    chain = AppChain(tmp_path)
    try:
        source = APPS["evidence"].source()
        chain.deploy("evidence", source)
        record = chain.query("governance", "get_contract", "evidence")
        assert record["source_hash"] == hash_domain(SOURCE_TAG, source.encode()).hex()
        assert chain.query("governance", "get_source", "evidence") == source
    finally:
        chain.close()


def test_a_part_without_its_header_is_refused(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("# part\ny = 2\n")  # no blank line after the header
    with pytest.raises(ValueError):
        joined_source(str(tmp_path / "pkg.py"), "a.py", "b.py")
    assert _without_header("# part\n\n# -- views\ny = 2\n").strip("\n") == "# -- views\ny = 2"


def test_parts_are_joined_with_two_blank_lines_whatever_their_edges(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("# part\n\n\n\ny = 2\n\n")
    assert joined_source(str(tmp_path / "pkg.py"), "a.py", "b.py") == "x = 1\n\n\ny = 2\n"


# -- the library's helpers, run in the sandbox ----------------------------------------------
PROBE = """
def stored(ctx, key):
    return _stored(ctx, "r:", key, "thing")


def known(ctx, key):
    return _known(ctx, "r:", key, "thing")


def listed(ctx, ids):
    return _listed(ctx, "r:", ids)


def numbered(ctx, first, last, digits):
    return _numbered(ctx, "n:", first, last, digits)


def page(ctx, count, start, limit):
    return _page(ctx, "n:", count, start, limit)


def tree(ctx):
    return [r["id"] for r in _breadth_first(ctx, _load, [_load(ctx, "a")])]


def _load(ctx, key):
    return _stored(ctx, "t:", key, "node")


def fields(ctx, data):
    _fields(ctx, data, "meta")
    return True


def member(ctx, address):
    return _active_member_org(ctx, address)
"""


class Ctx:
    def __init__(self, state: dict[str, Any], governance: dict[str, Any]) -> None:
        self.state = state
        self.governance = governance
        self.sender = Caller("a" * 40, "org1", "alice", "member")
        self.height = 1
        self.time_ms = 0
        self.tx_hash = "00" * 32

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        assert contract == "governance"
        return self.governance.get(key, default)

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)


def probe(method: str, *args: Any, state: Any = None, governance: Any = None) -> Any:
    contract = compile_contract(PROBE + "\n\n" + _code(LIBRARY) + "\n")
    return contract.call(Ctx(state or {}, governance or {}), method, list(args), 10**6)[0]


def refused(method: str, *args: Any, **kw: Any) -> str:
    with pytest.raises(ContractError) as e:
        probe(method, *args, **kw)
    return str(e.value)


def test_stored_and_known_records():
    state = {"r:x": {"v": 1}}
    assert probe("stored", "x", state=state) == {"v": 1}
    assert refused("stored", "y", state=state) == "unknown thing y"
    assert refused("stored", 7, state=state) == "unknown thing 7"
    assert probe("known", "x", state=state) == {"v": 1}
    assert refused("known", 7, state=state) == "a thing id is a string"
    assert refused("known", "y", state=state) == "unknown thing y"


def test_lists_numbered_records_and_pages():
    state = {"r:a": 1, "r:b": 2, "n:1": "one", "n:2": "two", "n:3": "three", "n:002": "pad"}
    assert probe("listed", ["b", "a", "z"], state=state) == [2, 1, None]
    assert probe("numbered", 1, 3, 1, state=state) == ["one", "two", "three"]
    assert probe("numbered", 2, 2, 3, state=state) == ["pad"]
    assert probe("numbered", 1, 0, 1, state=state) == []
    assert probe("page", 3, 2, 5, state=state) == ["two", "three"]
    assert probe("page", 3, 1, 2, state=state) == ["one", "two"]
    assert probe("page", 3, 4, 2, state=state) == []


def test_breadth_first_lists_parents_before_children():
    state = {
        "t:a": {"id": "a", "children": ["b", "c"]},
        "t:b": {"id": "b", "children": ["d"]},
        "t:c": {"id": "c", "children": []},
        "t:d": {"id": "d", "children": []},
    }
    assert probe("tree", state=state) == ["a", "b", "c", "d"]
    del state["t:d"]
    assert refused("tree", state=state) == "unknown node d"


def test_fields_checks_a_flat_object():
    assert probe("fields", {"k": "v", "n": 1, "b": True, "z": None}) is True
    assert refused("fields", [1]) == "meta must be an object"
    assert refused("fields", {str(i): i for i in range(21)}) == "meta has more than 20 fields"
    assert refused("fields", {"k" * 65: 1}) == "meta field names are at most 64 characters"
    assert refused("fields", {"k": [1]}) == "meta field k must be a string, integer or boolean"
    assert refused("fields", {"k": "v" * 501}) == "meta field k is too long"


def test_active_member_org_reads_the_certificate_membership_and_revocations():
    address = "b" * 40
    cert = {"org": "org2", "serial": "7", "fingerprint": "f1"}
    gov = {"cert/" + address: cert, "org/org2": {"status": "active"}}
    assert probe("member", address, governance=gov) == "org2"
    assert refused("member", "c" * 40, governance=gov) == (
        f"unknown address {'c' * 40}: no member certificate is registered for it"
    )
    assert refused("member", address, governance={**gov, "org/org2": {"status": "removed"}}) == (
        "org2 is not a member"
    )
    revoked = f"the certificate of {address} (org2) is revoked"
    for mark in (
        {"revoked/" + address: {}},
        {"revoked_serial/org2/7": {}},
        {"revoked_cert/f1": {"org": "org2"}},
    ):
        assert refused("member", address, governance={**gov, **mark}) == revoked
    # a fingerprint revoked by another organisation does not touch this certificate
    assert (
        probe("member", address, governance={**gov, "revoked_cert/f1": {"org": "org9"}}) == "org2"
    )


# -- the library's view makers: a table of views (docs/adr/0029) --------------------------------
VIEWS = """
record = view(_record_view("r:"))
via = view(_record_via_view("x:", "r:"))
listed = view(_listed_view("r:", "l:"))
counted = view(_counted_log_view("e:", "n:"))
log = view(_record_log_view("r:", "count", "h:", 3))
members = view(_record_listed_view("r:", "ids", "r:"))
"""
VIEW_STATE = {
    "r:a": {"count": 2, "ids": ["b", "z"]},
    "r:b": {"count": 0, "ids": []},
    "x:hash": "a",
    "l:a": ["b", "a"],
    "n:a": 2,
    "e:a:1": "one",
    "e:a:2": "two",
    "h:a:001": "first",
    "h:a:002": "second",
}


def view_probe(method: str, *args: Any, table: str = VIEWS) -> Any:
    contract = compile_contract(_code(LIBRARY) + "\n\n" + table)
    return contract.call(Ctx(VIEW_STATE, {}), method, list(args), 10**6)[0]


@pytest.mark.parametrize(
    ("view", "key", "answer", "none"),
    [
        ("record", "a", VIEW_STATE["r:a"], None),
        ("via", "hash", VIEW_STATE["r:a"], None),
        ("listed", "a", [VIEW_STATE["r:b"], VIEW_STATE["r:a"]], []),
        ("counted", "a", ["one", "two"], []),
        ("log", "a", ["first", "second"], []),
        ("members", "a", [VIEW_STATE["r:b"], None], []),
    ],
)
def test_view_makers_read_what_their_table_says(view, key, answer, none):
    assert view_probe(view, key) == answer
    assert view_probe(view, "missing") == none


def test_the_table_exports_views_and_the_module_stays_shareable():
    contract = compile_contract(_code(LIBRARY) + "\n\n" + VIEWS)
    assert contract.views == {"record", "via", "listed", "counted", "log", "members"}
    for _ in range(2):
        contract.call(Ctx(VIEW_STATE, {}), "log", ["a"], 10**6)
    assert contract.instances.shareable is True


@pytest.mark.parametrize(
    "entry",
    [
        "_record_view(1)",
        '_record_via_view("x:", None)',
        '_listed_view(["r:"], "l:")',
        '_counted_log_view("e:", 2)',
        '_record_log_view(b"r:", "count", "h:")',
        '_record_listed_view("r:", "ids", 0)',
    ],
)
def test_a_view_maker_refuses_a_key_prefix_that_is_not_a_string(entry):
    table = f"bad = view({entry})\n"
    with pytest.raises(ContractError, match="a view's key prefix must be a string"):
        view_probe("bad", "a", table=table)
