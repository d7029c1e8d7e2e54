"""photo_sharing: the contract (near-duplicate thresholds, bounded index, quotas, licences,
reports, hostile arguments), the node's upload checks, certificates and the CLI."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from tianfu.api.errors import install_error_handlers
from tianfu.apps import photo_sharing
from tianfu.apps.photo_sharing import BLOB_PREFIX, demo, media
from tianfu.apps.photo_sharing.blobs import BlobStore
from tianfu.apps.photo_sharing.certificate import (
    ImageMismatch,
    PhotoCertificateError,
    verify_certificate,
)
from tianfu.apps.photo_sharing.demo import cast, create_demo
from tianfu.apps.photo_sharing.routes import blob_router
from tianfu.apps.photo_sharing.scenario import run_scenario
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.cli.main import app as main
from tianfu.client import ApiError, Client, TxFailed
from tianfu.codec import encode
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

runner = CliRunner()
cli = app_cli("photo_sharing")
ALICE, BOB, CAROL, DAVE = "a" * 40, "b" * 40, "c" * 40, "d" * 40
LIC = {"kind": "cc-by", "terms": ""}


# -- the contract on a dict-backed context ---------------------------------------------------
class Ctx:
    """A dict-backed context: enough to run the contract's logic without a chain."""

    def __init__(self) -> None:
        self.contract = "photo_sharing"
        self.sender = Caller(ALICE, "org1", "alice", "member")
        self.height = 1
        self.time_ms = 1_700_000_000_000
        self.tx_hash = "ab" * 32
        self.state: dict[str, Any] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.state

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value

    def delete(self, key: str) -> None:
        self.state.pop(key, None)

    def emit(self, name: str, **data: Any) -> None:
        self.events.append((name, data))

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)

    def require_role(self, role: str) -> None:
        raise ContractError("no roles here")

    def has_role(self, role: str) -> bool:
        return False

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        return default


def contract(**params: int) -> Any:
    """The shipped contract, with module constants replaced (THRESHOLD=4, QUOTA_BYTES=...)."""
    source = photo_sharing.source()
    for name, value in params.items():
        line = next(x for x in source.splitlines() if x.startswith(name + " = "))
        source = source.replace(line, f"{name} = {value}")
    return compile_contract(source)


class Local:
    """Calls of the contract as `sender`, one block per call."""

    def __init__(self, **params: int) -> None:
        self.c = contract(**params)
        self.ctx = Ctx()
        self.orgs: dict[str, str] = {}  # a sender's organisation, if not org1

    def call(self, sender: str, method: str, *args: Any, gas: int = 1_000_000) -> Any:
        self.ctx.sender = Caller(sender, self.orgs.get(sender, "org1"), sender[:3], "member")
        self.ctx.height += 1
        self.ctx.tx_hash = secrets.token_hex(32)
        before = dict(self.ctx.state)
        try:
            return self.c.call(self.ctx, method, list(args), gas)[0]
        except ContractError:
            self.ctx.state = before  # a failed call reverts its writes, as on the chain
            raise

    def register(self, phash: str, sender: str = ALICE, size: int = 5000, **kw: Any) -> str:
        sha = kw.pop("sha", secrets.token_hex(32))
        return str(
            self.call(sender, "register", sha, size, phash, secrets.token_hex(32), 900, "t", LIC)
        )


def flip(phash: str, bits: list[int]) -> str:
    h = int(phash, 16)
    for b in bits:
        h ^= 1 << b
    return f"{h:016x}"


@pytest.mark.parametrize("threshold", [1, 2, 5, 10, 16])
def test_near_duplicates_are_flagged_exactly_under_the_threshold(threshold: int) -> None:
    app = Local(THRESHOLD=threshold)
    base = "9f3a5c7e1b2d4f60"
    first = app.register(base)
    spread = list(range(0, 64, 4)) + list(range(1, 64, 4))  # bits in every slice
    for d in range(0, min(threshold + 3, 30)):
        pid = app.register(flip(base, spread[:d]))
        near = {p for p, _ in app.ctx.state["photo:" + pid]["near"]}
        assert (first in near) == (d < threshold), (d, threshold)
    assert app.call(ALICE, "params")["segments"] == (threshold + 1) // 2


def test_flags_reach_both_parties_with_events() -> None:
    app = Local()
    a = app.register("0123456789abcdef", ALICE)
    b = app.register(flip("0123456789abcdef", [3, 40, 63]), BOB)
    assert app.call(ALICE, "flags", a) == [
        {
            "height": 3,
            "time_ms": app.ctx.time_ms,
            "distance": 3,
            "photo": b,
            "author": BOB,
            "role": "later",
        }
    ]
    assert app.call(BOB, "flags", b)[0] | {"height": 0} == {
        "height": 0,
        "time_ms": app.ctx.time_ms,
        "distance": 3,
        "photo": a,
        "author": ALICE,
        "role": "earlier",
    }
    flagged = [e for n, e in app.ctx.events if n == "NearDuplicateFlagged"]
    assert flagged == [
        {"photo": b, "author": BOB, "earlier": a, "earlier_author": ALICE, "distance": 3}
    ]
    assert app.call(BOB, "similar", "0123456789abcdef") == [
        {"photo": a, "distance": 0},
        {"photo": b, "distance": 3},
    ]


def test_matches_are_capped_and_closest_first() -> None:
    app = Local()
    base = "00000000ffffffff"
    ids = [app.register(flip(base, [i, 63 - i]), BOB) for i in range(20)]  # distance 2 each
    ids.append(app.register(flip(base, [32]), BOB))  # distance 1
    pid = app.register(base)
    near = app.ctx.state["photo:" + pid]["near"]
    assert len(near) == 16 and near[0] == [ids[-1], 1]
    assert [d for _, d in near] == sorted(d for _, d in near)


def test_full_buckets_keep_their_oldest_entries() -> None:
    app = Local(MAX_BUCKET=3)
    base = "1111111111111111"
    first = [app.register(flip(base, [60, 61, 62, 63]), BOB) for _ in range(3)]
    late = app.register(flip(base, [60, 61, 62, 63]), BOB)  # its buckets are full now
    buckets = [v for k, v in app.ctx.state.items() if k.startswith("b:")]
    assert all(len(b) <= 3 for b in buckets)
    assert all(late not in [e[0] for e in b] for b in buckets if len(b) == 3)
    near = app.ctx.state["photo:" + late]["near"]
    assert {p for p, _ in near} == set(first)  # the earlier ones are still found


def test_one_organisation_cannot_fill_the_buckets_to_hide_a_later_photo() -> None:
    """Accounts of one organisation register far photos sharing every slice value of a
    pHash: they take only MAX_BUCKET_ORG places of each bucket, so another organisation's
    photo of that pHash still enters the index and its later copy is flagged."""
    app = Local(MAX_BUCKET=4, MAX_BUCKET_ORG=2)
    app.orgs = {BOB: "org2", CAROL: "org3"}
    target = 0x5A5A_A5A5_3C3C_C3C3
    segments = [(13 * i, 13 if i < 4 else 12) for i in range(5)]
    for shift, width in segments:
        for k in range(6):  # 6 fillers per slice: same slice value, every other bit flipped
            h = target ^ (((1 << 64) - 1) ^ (((1 << width) - 1) << shift))
            h ^= k + 1 << (shift + width) if shift + width < 60 else k + 1
            app.register(f"{h & ((1 << 64) - 1):016x}", BOB)
    original = app.register(f"{target:016x}", CAROL)
    copy = app.register(f"{target ^ 0b101:016x}", ALICE)
    assert [p for p, _ in app.ctx.state["photo:" + copy]["near"]] == [original]
    buckets = [v for k, v in app.ctx.state.items() if k.startswith("b:")]
    assert all(len([e for e in b if e[2] == "org2"]) <= 2 for b in buckets)


def _fill_every_slice(app: Local, target: int, senders: list[str], per_sender: int) -> None:
    """Far photos of `senders` sharing every slice value of `target` (the index at THRESHOLD
    10: 5 slices), `per_sender` each per slice."""
    segments = [(13 * i, 13 if i < 4 else 12) for i in range(5)]
    n = 0
    for shift, width in segments:
        for who in senders:
            for _ in range(per_sender):
                n += 1
                h = target ^ (((1 << 64) - 1) ^ (((1 << width) - 1) << shift))
                h ^= n << (shift + width) if shift + width < 52 else n
                app.register(f"{h & ((1 << 64) - 1):016x}", who)


def test_a_few_organisations_together_cannot_fill_the_buckets_to_hide_a_later_photo() -> None:
    """Two organisations each take their MAX_BUCKET_ORG places of every bucket of a pHash
    and so fill them: a third organisation's photo of that pHash still enters (the newest
    entry of an organisation holding the most places gives way) and its copy is flagged."""
    app = Local(MAX_BUCKET=4, MAX_BUCKET_ORG=2)
    app.orgs = {BOB: "org2", DAVE: "org4", CAROL: "org3"}
    target = 0x5A5A_A5A5_3C3C_C3C3
    _fill_every_slice(app, target, [BOB, DAVE], 2)
    segments = [(13 * i, 13 if i < 4 else 12) for i in range(5)]
    keys = [f"b:{i}:{hex((target >> sh) & ((1 << w) - 1))}" for i, (sh, w) in enumerate(segments)]
    assert all(len(app.ctx.state[k]) == 4 for k in keys)  # every bucket of the target is full
    original = app.register(f"{target:016x}", CAROL)
    copy = app.register(f"{target ^ 0b101:016x}", ALICE)
    assert [p for p, _ in app.ctx.state["photo:" + copy]["near"]] == [original]
    buckets = [v for k, v in app.ctx.state.items() if k.startswith("b:")]
    assert all(len(b) <= 4 for b in buckets)
    assert all(original in [e[0] for e in app.ctx.state[k]] for k in keys)  # in all of them


def test_an_organisations_only_entry_in_a_bucket_never_leaves_it() -> None:
    app = Local(MAX_BUCKET=3, MAX_BUCKET_ORG=3)
    app.orgs = {BOB: "org2", CAROL: "org3", DAVE: "org4"}
    target = 0x0123_4567_89AB_CDEF
    _fill_every_slice(app, target, [BOB, CAROL, DAVE], 1)  # three organisations, one each
    before = {k: list(v) for k, v in app.ctx.state.items() if k.startswith("b:")}
    late = app.register(f"{target:016x}", ALICE)  # org1: every bucket is one place each
    after = {k: v for k, v in app.ctx.state.items() if k.startswith("b:")}
    assert all(after[k] == v for k, v in before.items() if len(v) == 3)
    assert all(late not in [e[0] for e in v] for k, v in after.items() if k in before)


def test_quota_counts_image_and_thumbnail_and_a_minimum_per_photo() -> None:
    app = Local(QUOTA_BYTES=20_000, MIN_CHARGE=4096)
    app.register("0000000000000001", size=10_000)  # 10,900 with the thumbnail
    app.register("f000000000000000", size=100)  # counts 4,096
    assert app.call(ALICE, "usage", ALICE) == {"bytes": 14_996, "photos": 2, "quota": 20_000}
    with pytest.raises(ContractError, match="storage quota exceeded: 14996 \\+ 5900 bytes"):
        app.register("0f0f0f0f0f0f0f0f", size=5000)
    assert app.call(ALICE, "usage", ALICE)["photos"] == 2  # the refusal counted nothing
    app.register("0f0f0f0f0f0f0f0f", sender=BOB, size=5000)  # quotas are per account


def test_exact_duplicates_are_refused_naming_the_first() -> None:
    app = Local()
    sha = "ee" * 32
    pid = app.register("0000000000000000", sha=sha)
    with pytest.raises(ContractError, match=f"already registered as {pid} by {ALICE}"):
        app.register("ffffffffffffffff", BOB, sha=sha)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("E" * 64, 10, "0" * 16, "1" * 64, 9, "t", LIC), "sha256"),
        (("e" * 64, True, "0" * 16, "1" * 64, 9, "t", LIC), "image size must be an integer"),
        (("e" * 64, 0, "0" * 16, "1" * 64, 9, "t", LIC), "between 1 and"),
        (("e" * 64, 1_000_001, "0" * 16, "1" * 64, 9, "t", LIC), "between 1 and 1000000"),
        (("e" * 64, 10, "0" * 15, "1" * 64, 9, "t", LIC), "phash"),
        (("e" * 64, 10, "0" * 15 + "g", "1" * 64, 9, "t", LIC), "phash"),
        (("e" * 64, 10, 5, "1" * 64, 9, "t", LIC), "phash"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 65_537, "t", LIC), "thumbnail size"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "", LIC), "title must not be empty"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "x" * 201, LIC), "title is longer"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "t", "cc-by"), "licence must be an object"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "t", {"kind": "mine"}), "licence kind"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "t", {**LIC, "x": 1}), "only the fields"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "t", {"kind": "cc0", "x": ""}), "only kind"),
        (("e" * 64, 10, "0" * 16, "1" * 64, 9, "t", {**LIC, "terms": 5}), "terms must be"),
    ],
)
def test_hostile_registrations_are_refused_and_change_nothing(args: Any, needle: str) -> None:
    app = Local()
    with pytest.raises(ContractError, match=needle):
        app.call(ALICE, "register", *args)
    assert app.ctx.state == {}


def test_licences_are_granted_by_the_author_and_transferred_by_the_holder() -> None:
    app = Local()
    pid = app.register("0123012301230123")
    with pytest.raises(ContractError, match="only the author"):
        app.call(BOB, "grant_licence", pid, CAROL, "print", True)
    with pytest.raises(ContractError, match="needs no licence"):
        app.call(ALICE, "grant_licence", pid, ALICE, "print", True)
    with pytest.raises(ContractError, match="transferable must be"):
        app.call(ALICE, "grant_licence", pid, BOB, "print", 1)
    with pytest.raises(ContractError, match="an address"):
        app.call(ALICE, "grant_licence", pid, "B" * 40, "print", True)
    lid = app.call(ALICE, "grant_licence", pid, BOB, "web, 2025", True)
    fixed = app.call(ALICE, "grant_licence", pid, BOB, "one print", False)
    with pytest.raises(ContractError, match="not transferable"):
        app.call(BOB, "transfer_licence", fixed, CAROL)
    with pytest.raises(ContractError, match="only the holder"):
        app.call(ALICE, "transfer_licence", lid, CAROL)
    with pytest.raises(ContractError, match="accept it first"):
        app.call(BOB, "transfer_licence", lid, CAROL)
    with pytest.raises(ContractError, match="only the holder of"):
        app.call(CAROL, "accept_licence", lid)
    app.call(BOB, "accept_licence", fixed)
    app.call(BOB, "accept_licence", lid)
    with pytest.raises(ContractError, match="already accepted"):
        app.call(BOB, "accept_licence", lid)
    with pytest.raises(ContractError, match="another address"):
        app.call(BOB, "transfer_licence", lid, BOB)
    assert app.call(BOB, "transfer_licence", lid, CAROL) == 1
    app.call(CAROL, "accept_licence", lid)
    assert app.call(CAROL, "transfer_licence", lid, BOB) == 2
    app.call(BOB, "accept_licence", lid)
    assert [h["to"] for h in app.call(ALICE, "licence_history", lid)] == [CAROL, BOB]
    assert [x["id"] for x in app.call(ALICE, "held_licences", BOB)] == [fixed, lid]
    assert app.call(ALICE, "held_licences", CAROL) == []
    assert [x["id"] for x in app.call(ALICE, "licences", pid)] == [lid, fixed]


def test_no_author_can_fill_another_accounts_licence_list() -> None:
    """Licences granted to an account enter its list only when it accepts them: an author who
    grants it licences by the hundred neither pads its list nor blocks another author's grant."""
    app = Local()
    spam = app.register("0123012301230123", ALICE)
    real = app.register("7777777777777777", CAROL)
    for _ in range(200):  # the contract's MAX_LIST
        app.call(ALICE, "grant_licence", spam, BOB, "unwanted", True)
    assert app.call(BOB, "held_licences", BOB) == []
    lid = app.call(CAROL, "grant_licence", real, BOB, "wanted", True)
    app.call(BOB, "accept_licence", lid)
    assert [x["id"] for x in app.call(BOB, "held_licences", BOB)] == [lid]
    # nor does a holder that passes a licence on
    other = app.call(CAROL, "grant_licence", real, ALICE, "passed on", True)
    app.call(ALICE, "accept_licence", other)
    app.call(ALICE, "transfer_licence", other, BOB)
    assert [x["id"] for x in app.call(BOB, "held_licences", BOB)] == [lid]


def test_infringement_reports_link_an_earlier_and_a_later_registration() -> None:
    app = Local()
    a = app.register("00000000000000ff", ALICE)
    b = app.register("00000000000000fe", BOB)
    with pytest.raises(ContractError, match="registered after"):
        app.call(ALICE, "report_infringement", b, a, "reversed")
    with pytest.raises(ContractError, match="two different"):
        app.call(ALICE, "report_infringement", a, a, "same")
    with pytest.raises(ContractError, match="unknown photo"):
        app.call(ALICE, "report_infringement", a, "PH999999", "none")
    rid = app.call(CAROL, "report_infringement", a, b, "seen on a billboard")
    rep = app.call(ALICE, "report", rid)
    assert (rep["original_author"], rep["copy_author"], rep["distance"]) == (ALICE, BOB, 1)
    assert app.call(ALICE, "reports", a) == app.call(BOB, "reports", b) == [rep]
    with pytest.raises(ContractError, match="only the author of"):
        app.call(ALICE, "respond_infringement", rid, "not me")
    app.call(BOB, "respond_infringement", rid, "licensed from the author")
    with pytest.raises(ContractError, match="already answered"):
        app.call(BOB, "respond_infringement", rid, "again")


def test_no_one_can_use_up_the_reports_of_a_photo() -> None:
    """Reports naming a photo are a numbered log: a stranger's two hundred reports neither
    stop another's report nor make it dearer, and every report can be read."""
    app = Local()
    a = app.register("00000000000000ff", ALICE)
    b = app.register("00000000000000fe", BOB)
    c = app.register("0000000000000ffe", BOB)
    _, first = app.c.call(app.ctx, "report_infringement", [a, c, "seen first"], 1_000_000)
    for _ in range(200):
        app.call(BOB, "report_infringement", a, b, "noise")
    rid = app.call(CAROL, "report_infringement", a, c, "a real copy")
    _, later = app.c.call(app.ctx, "report_infringement", [a, c, "seen again"], 1_000_000)
    assert later - first <= 8, (first, later)
    assert app.call(CAROL, "report_count", a) == 203
    assert len(app.call(CAROL, "reports", a)) == 25  # the first MAX_REPORTS_SHOWN
    assert [r["id"] for r in app.call(CAROL, "reports_page", a, 202, 1)] == [rid]
    assert [r["id"] for r in app.call(CAROL, "reports", c)] == ["IR000001", rid, "IR000203"]


# -- on the in-process chain -------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    c = AppChain(tmp_path_factory.mktemp("photo"))
    c.deploy(photo_sharing.NAME, photo_sharing.source())
    yield c
    c.close()


@pytest.fixture(scope="module")
def people(chain: AppChain) -> dict[str, Any]:
    return cast(chain, "-t")


def test_scenario(chain: AppChain) -> None:
    run_scenario(chain)


def test_demo(chain: AppChain) -> None:
    summary = create_demo(chain)
    app = PhotoSharing(chain.client(chain.admin("org1")))
    assert app.get(summary["copy_id"])["near"][0][0] == summary["photo_id"]
    assert summary["distance"] == 2
    assert len(app.licences(summary["photo_id"])) == 1


def test_registration_gas_is_bounded_with_every_probed_bucket_full(chain: AppChain) -> None:
    """The worst case of the index: every bucket a registration reads holds MAX_BUCKET
    entries near it (flooded from the four organisations: one takes at most MAX_BUCKET_ORG
    places of a bucket). Its gas stays well under a transaction's budget."""
    who = [chain.identity(f"org{n}", "ph-flooder") for n in range(1, 5)]
    base = 0x5A5A_A5A5_3C3C_C3C3
    segments = [(13 * i, 13 if i < 4 else 12) for i in range(5)]  # THRESHOLD 10: 5 slices
    calls = []
    for j in range(14 * 32):  # per slice: its own value and 13 (12) one-bit neighbours, 32 each
        h = base
        for shift, width in segments:
            probe = (j // 32) % (width + 1)
            if probe:
                h ^= 1 << (shift + probe - 1)
        phash = f"{h:016x}"
        args = (secrets.token_hex(32), 100, phash, secrets.token_hex(32), 100, "flood", LIC)
        calls.append((who[j % 4], photo_sharing.NAME, "register", args))
    for start in range(0, len(calls), 10):  # few per block: the block's gas budget
        receipts = chain.call_many(calls[start : start + 10])
        assert len(receipts) == len(calls[start : start + 10]) and all(r.ok for r in receipts)
    assert chain.query(photo_sharing.NAME, "count") >= len(calls)
    victim = chain.identity("org1", "ph-victim")
    r = chain.call(
        victim,
        photo_sharing.NAME,
        "register",
        "d" * 64,
        100,
        f"{base:016x}",
        "e" * 64,
        100,
        "target",
        LIC,
    )
    assert r.ok, r.error
    assert len(chain.query(photo_sharing.NAME, "get", r.result)["near"]) == 16
    assert r.gas_used < 200_000, r.gas_used  # max_gas_per_tx is 1,000,000


def _upload(client: Client, sha: str, data: bytes) -> dict[str, Any]:
    return dict(client.request("PUT", f"{BLOB_PREFIX}/{sha}", content=data).json())


def test_uploads_are_checked_against_the_registration(chain: AppChain, people: Any) -> None:
    app = PhotoSharing(chain.client(people["photographer"]))
    photo = media.prepare(demo.original(7001))
    with pytest.raises(ApiError) as e:
        _upload(app.client, photo.sha256, photo.image)
    assert e.value.status == 404 and "no committed" in e.value.message
    pid = app.register(photo.image, "t", upload=False)
    for bad, status, needle in [
        (photo.sha256.upper(), 400, "not a SHA-256"),
        ("ab" * 32, 422, "the body's SHA-256"),
    ]:
        with pytest.raises(ApiError) as e:
            _upload(app.client, bad, photo.image)
        assert e.value.status == status and needle in e.value.message
    stored = app.upload(photo)
    assert [(a["kind"], a["photo"], a["stored"]) for a in stored] == [
        ("image", pid, True),
        ("thumbnail", pid, True),
    ]
    assert [a["stored"] for a in app.upload(photo)] == [False, False]  # already held
    again = app.client.request("PUT", f"{BLOB_PREFIX}/{photo.sha256}", content=photo.image)
    assert again.status_code == 200
    resp = app.client.request("GET", f"{BLOB_PREFIX}/{photo.sha256}")
    assert resp.content == photo.image and resp.headers["content-type"] == "image/jpeg"


def test_an_upload_whose_pixels_are_not_the_registered_ones_is_refused(
    chain: AppChain, people: Any
) -> None:
    app = PhotoSharing(chain.client(people["agency"]))
    real = media.prepare(demo.original(7002))
    other = media.prepare(demo.original(7003))
    # A thumbnail of another picture, registered with this image's hashes.
    app._invoke(  # noqa: SLF001 - the registration a dishonest client would send
        "register",
        real.sha256,
        real.size,
        real.phash,
        other.thumb_sha256,
        other.thumb_size,
        "mismatched thumbnail",
        LIC,
    )
    assert _upload(app.client, real.sha256, real.image)["stored"] is True
    with pytest.raises(ApiError) as e:
        _upload(app.client, other.thumb_sha256, other.thumbnail)
    assert e.value.status == 422 and "not a picture of the registered image" in e.value.message
    # Bytes that are no image at all, registered under their hash.
    junk = b"\xff\xd8\xff" + secrets.token_bytes(3000)
    app._invoke(  # noqa: SLF001
        "register", media.sha256_hex(junk), len(junk), "0" * 16, "1" * 64, 10, "junk", LIC
    )
    with pytest.raises(ApiError) as e:
        _upload(app.client, media.sha256_hex(junk), junk)
    assert e.value.status == 422 and "not a JPEG, PNG or WebP" in e.value.message
    with pytest.raises(ApiError) as e:
        app.client.request("GET", f"{BLOB_PREFIX}/{media.sha256_hex(junk)}")
    assert e.value.status == 404


def test_an_oversized_upload_is_refused_before_it_is_read(chain: AppChain, people: Any) -> None:
    app = PhotoSharing(chain.client(people["agency"]))
    with pytest.raises(ApiError) as e:
        _upload(app.client, "ab" * 32, b"\0" * ((1 << 20) + 1))
    assert e.value.status == 413


def test_certificate_verifies_offline(chain: AppChain, people: Any, tmp_path: Path) -> None:
    app = PhotoSharing(chain.client(people["photographer"]))
    image = demo.original(7004)
    pid = app.register(image, "Panda at dawn", licence_terms("cc0"))
    cert = json.loads(json.dumps(app.certificate(pid)))
    proven = verify_certificate(json.dumps(cert), image, chain.genesis)
    assert (proven.photo_id, proven.title, proven.licence["kind"]) == (pid, "Panda at dawn", "cc0")
    assert proven.author == people["photographer"].info.address
    assert verify_certificate(cert, None, chain.genesis).photo_id == pid
    with pytest.raises(ImageMismatch):
        verify_certificate(cert, image + b"\0", chain.genesis)
    with pytest.raises(PhotoCertificateError, match="readable part"):
        verify_certificate({**cert, "author": BOB}, image, chain.genesis)
    # The CLI verifies it offline too, and `tianfu verify-proof` knows the kind.
    (tmp_path / "cert.json").write_text(json.dumps(cert))
    (tmp_path / "photo.jpg").write_bytes(image)
    genesis = tmp_path / "genesis.bin"
    genesis.write_bytes(encode(chain.genesis))
    r = runner.invoke(
        cli,
        [
            "verify",
            str(tmp_path / "photo.jpg"),
            str(tmp_path / "cert.json"),
            "--genesis",
            str(genesis),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["photo_id"] == pid
    (tmp_path / "other.jpg").write_bytes(demo.original(7005))
    r = runner.invoke(
        cli,
        [
            "verify",
            str(tmp_path / "other.jpg"),
            str(tmp_path / "cert.json"),
            "--genesis",
            str(genesis),
        ],
    )
    assert r.exit_code == 1 and "does not match the registered hash" in r.stderr
    r = runner.invoke(cli, ["verify", str(tmp_path / "photo.jpg"), str(tmp_path / "cert.json")])
    assert r.exit_code == 2
    r = runner.invoke(
        main, ["verify-proof", str(tmp_path / "cert.json"), "--genesis", str(genesis)]
    )
    assert r.exit_code == 0 and "photo_authorship" in r.stdout, r.output


def test_cli(chain: AppChain, people: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    http = chain.http
    monkeypatch.setattr(
        common,
        "make_client",
        lambda url, identity=None, need_identity=False, **kw: Client(
            "http://testserver",
            people["publisher"] if identity else None,
            genesis=chain.genesis,
            http=http,
        ),
    )
    r = runner.invoke(cli, ["--help"])
    assert r.exit_code == 0 and "register" in r.stdout and "certificate" in r.stdout
    image = tmp_path / "photo.jpg"
    image.write_bytes(demo.original(7006))
    r = runner.invoke(cli, ["phash", str(image), "--json"])
    assert (
        r.exit_code == 0
        and json.loads(r.stdout)["phash"] == media.prepare(image.read_bytes()).phash
    )
    ident = tmp_path / "id"
    ident.mkdir()
    r = runner.invoke(
        cli,
        [
            "register",
            str(image),
            "--title",
            "CLI photo",
            "--licence",
            "cc-by",
            "--json",
            "--identity",
            str(ident),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    pid = doc["photo"]["id"]
    assert [u["stored"] for u in doc["uploaded"]] == [True, True]
    r = runner.invoke(cli, ["register", str(image), "--title", "again", "--identity", str(ident)])
    assert r.exit_code == 1 and "already registered" in r.stderr
    r = runner.invoke(
        cli, ["register", str(tmp_path / "id"), "--title", "x", "--identity", str(ident)]
    )
    assert r.exit_code != 0
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    r = runner.invoke(
        cli, ["register", str(tmp_path / "junk.jpg"), "--title", "x", "--identity", str(ident)]
    )
    assert r.exit_code == 2 and "not a JPEG, PNG or WebP" in r.stderr
    r = runner.invoke(cli, ["find", str(image), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["exact"]["id"] == pid
    r = runner.invoke(cli, ["show", pid])
    assert r.exit_code == 0 and "CLI photo" in r.stdout
    r = runner.invoke(cli, ["show", "PH999999"])
    assert r.exit_code == 1
    out = tmp_path / "copy.jpg"
    r = runner.invoke(cli, ["download", str(image), "--out", str(out)])
    assert r.exit_code == 0 and out.read_bytes() == image.read_bytes()
    r = runner.invoke(cli, ["params", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["threshold"] == 10
    r = runner.invoke(
        cli, ["grant", pid, "--to", "B" * 40, "--terms", "x", "--identity", str(ident)]
    )
    assert r.exit_code == 2


def test_contract_limits_match_the_media_module() -> None:
    params = Local().call(ALICE, "params")
    assert params["max_image_bytes"] == media.MAX_IMAGE_BYTES
    assert params["max_thumb_bytes"] == media.MAX_THUMB_BYTES


def test_a_refused_call_through_the_sdk_raises_txfailed(chain: AppChain, people: Any) -> None:
    app = PhotoSharing(chain.client(people["agency"]))
    with pytest.raises(TxFailed, match="unknown photo"):
        app.grant_licence("PH999999", ALICE, "x")


def test_a_node_that_cannot_write_answers_507_and_keeps_nothing(
    chain: AppChain, people: Any, tmp_path: Path
) -> None:
    class FullDisk(BlobStore):
        def save(self, sha256: str, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    api = FastAPI()
    install_error_handlers(api)
    api.include_router(blob_router(chain.service, FullDisk(tmp_path)))
    photo = media.prepare(demo.original(7010))
    PhotoSharing(chain.client(people["agency"])).register(photo.image, "t", upload=False)
    resp = TestClient(api).put(f"{BLOB_PREFIX}/{photo.sha256}", content=photo.image)
    assert resp.status_code == 507 and "cannot store" in resp.json()["error"]
    assert not any(tmp_path.iterdir())


def test_a_registration_that_lied_about_the_phash_does_not_certify_the_image(
    chain: AppChain, people: Any
) -> None:
    """A copy registered with a made-up pHash hides from the near-duplicate index (and is
    never uploaded, since a node would refuse its bytes); its certificate must not verify
    with the image, whose own pHash is not the registered one."""
    photographer = PhotoSharing(chain.client(people["photographer"]))
    copier = PhotoSharing(chain.client(people["agency"]))
    original = demo.original((1 << 21) + secrets.randbelow(1 << 20))
    first = photographer.register(original, "Golden hour")
    # The same picture re-encoded: another SHA-256, the same pixels and pHash.
    out = io.BytesIO()
    Image.open(io.BytesIO(original)).convert("RGB").save(out, format="PNG")
    copy = media.prepare(out.getvalue())
    honest_phash = media.prepare(original).phash
    assert copy.sha256 != media.sha256_hex(original)
    assert media.distance(copy.phash, honest_phash) <= media.PHASH_TOLERANCE
    far = format(int(copy.phash, 16) ^ 0xFFFFFFFF0000FFFF, "016x")
    pid = copier._invoke(  # noqa: SLF001 - the registration a dishonest client would send
        "register", copy.sha256, copy.size, far, copy.thumb_sha256, copy.thumb_size, "Mine", LIC
    )
    assert all(f["photo"] != first for f in copier.flags(pid))  # the lie hid the original
    cert = json.loads(json.dumps(copier.certificate(pid)))
    assert verify_certificate(cert, None, chain.genesis).photo_id == pid
    with pytest.raises(ImageMismatch, match="perceptual hash"):
        verify_certificate(cert, copy.image, chain.genesis)
    honest = photographer.certificate(first)
    assert verify_certificate(honest, original, chain.genesis).photo_id == first


def test_near_copies_cannot_use_up_the_flags_of_a_photo() -> None:
    """Flags were kept to MAX_LIST per photo: anyone registering that many near copies of a
    photo stopped every later copy (an infringer's) from being flagged to its author."""
    app = Local(MAX_LIST=5)
    app.orgs = {CAROL: "org3"}
    base = "9f3a5c7e1b2d4f60"
    original = app.register(base)
    for _ in range(6):  # BOB's copies of the same pHash flag the original first (oldest)
        app.register(base, BOB)
    copy = app.register(base, CAROL)
    assert app.call(ALICE, "flag_count", original) == 7
    assert [f["photo"] for f in app.call(ALICE, "flags_page", original, 7, 5)] == [copy]
    assert len(app.call(ALICE, "flags", original)) == 5  # the first MAX_LIST, oldest first
