"""Properties of photo_sharing: the bounded index finds every earlier photo under the
threshold and nothing else, and after any sequence of registrations, licence grants,
acceptances, transfers and reports the flags are symmetric and exact, quotas add up, licence
holders agree with their lists, reports are listed under both photos, and photo records
never change; an authorship certificate verifies only untouched."""

from __future__ import annotations

import secrets
from collections import Counter
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.apps import photo_sharing
from tianfu.apps.photo_sharing import demo
from tianfu.apps.photo_sharing.certificate import PhotoCertificateError, verify_certificate
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.sandbox import CompiledContract, compile_contract
from tianfu.testing.appchain import AppChain

PEOPLE = ("a" * 40, "b" * 40, "c" * 40)
LIC = {"kind": "cc0", "terms": ""}
ORGS = {PEOPLE[0]: "org1", PEOPLE[1]: "org2", PEOPLE[2]: "org1"}
# The index at THRESHOLD 10: 5 slices (shift, width) of the pHash; a bucket holds at most
# MAX_BUCKET (32) entries and MAX_BUCKET_ORG (8) of one organisation; a full bucket drops the
# newest entry of the organisation holding the most places for one holding two fewer or less.
SLICES = ((0, 13), (13, 13), (26, 13), (39, 13), (52, 12))


def _slice(h: int, shift: int, width: int) -> int:
    return (h >> shift) & ((1 << width) - 1)


class IndexModel:
    """Which photos entered which bucket, as the contract decides it."""

    def __init__(self, size: int = 32, per_org: int = 8) -> None:
        self.buckets: dict[tuple[int, int], list[tuple[str, str]]] = {}
        self.size, self.per_org = size, per_org

    def found(self, h: int) -> set[str]:
        """The photos in the buckets a registration of `h` reads."""
        out: set[str] = set()
        for (i, v), entries in self.buckets.items():
            if bin(v ^ _slice(h, *SLICES[i])).count("1") <= 1:
                out |= {pid for pid, _ in entries}
        return out

    def add(self, pid: str, h: int, org: str) -> None:
        for i, sl in enumerate(SLICES):
            entries = self.buckets.setdefault((i, _slice(h, *sl)), [])
            counts = Counter(o for _, o in entries)
            if counts[org] >= self.per_org:
                continue
            if len(entries) >= self.size:  # full: the newest of the largest holder gives way, if
                top = max(counts.values())  # it holds at least two more places
                if top <= counts[org] + 1:
                    continue
                drop = max(k for k, (_, o) in enumerate(entries) if counts[o] == top)
                del entries[drop]
            entries.append((pid, org))


class Ctx:
    def __init__(self) -> None:
        self.contract = "photo_sharing"
        self.sender = Caller(PEOPLE[0], "org1", "a", "member")
        self.height = 0
        self.time_ms = 1_700_000_000_000
        self.tx_hash = "00" * 32
        self.state: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.state

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value

    def emit(self, name: str, **data: Any) -> None:
        pass

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)


@cache
def contract(threshold: int, size: int = 32, per_org: int = 8) -> CompiledContract:
    source = photo_sharing.source().replace("THRESHOLD = 10 ", f"THRESHOLD = {threshold} ")
    source = source.replace("MAX_BUCKET = 32\n", f"MAX_BUCKET = {size}\n")
    source = source.replace("MAX_BUCKET_ORG = 8 ", f"MAX_BUCKET_ORG = {per_org} ")
    return compile_contract(source)


def call(c: CompiledContract, ctx: Ctx, sender: str, method: str, *args: Any) -> Any:
    ctx.sender = Caller(sender, ORGS[sender], sender[:2], "member")
    ctx.height += 1
    ctx.time_ms += 1000
    ctx.tx_hash = secrets.token_hex(32)
    before = dict(ctx.state)
    try:
        return c.call(ctx, method, list(args), 2_000_000)[0]
    except ContractError:
        ctx.state = before
        raise


def register(c: CompiledContract, ctx: Ctx, sender: str, phash: int, size: int = 5000) -> str:
    return str(
        call(c, ctx, sender, "register", secrets.token_hex(32), size, f"{phash:016x}",
             secrets.token_hex(32), 500, "t", LIC)
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    regs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=30),
)
def test_buckets_are_shared_as_the_model_says_and_no_only_entry_leaves(
    regs: list[tuple[int, int]],
) -> None:
    """Photos of six organisations crowd small buckets (5 places, 3 per organisation): the
    buckets hold exactly what the model says, never more than their places or an
    organisation's share, and an organisation's only entry in a bucket is never dropped."""
    c, ctx, model = contract(10, 5, 3), Ctx(), IndexModel(5, 3)
    for n, (org, variant) in enumerate(regs):
        phash = SEEDS[0] ^ (variant << 60)  # four neighbours sharing their first four slices
        ctx.sender = Caller(f"{org + 1:040x}", f"org{org}", "x", "member")
        ctx.height, ctx.tx_hash = ctx.height + 1, f"{n:064x}"
        before = {k: list(v) for k, v in ctx.state.items() if k.startswith("b:")}
        pid = c.call(ctx, "register", [f"{n + 1:064x}", 500, f"{phash:016x}",
                                       f"{n + 1:064x}", 500, "t", LIC], 2_000_000)[0]  # fmt: skip
        model.add(pid, phash, f"org{org}")
        for key, entries in before.items():
            now = [e[0] for e in ctx.state[key]]
            orgs = [e[2] for e in ctx.state[key]]
            assert len(orgs) <= 5 and max(orgs.count(o) for o in orgs) <= 3
            held = Counter(e[2] for e in entries)
            assert all(e[0] in now for e in entries if held[e[2]] == 1)  # only entries stay
    got = {
        (int(k.split(":")[1]), int(k.split(":")[2], 16)): [(e[0], e[2]) for e in v]
        for k, v in ctx.state.items()
        if k.startswith("b:")
    }
    assert got == {k: v for k, v in model.buckets.items() if v}


@settings(max_examples=150, deadline=None)
@given(
    threshold=st.integers(1, 16),
    base=st.integers(0, (1 << 64) - 1),
    bits=st.lists(st.integers(0, 63), unique=True, max_size=20),
)
def test_the_index_finds_exactly_the_photos_under_the_threshold(
    threshold: int, base: int, bits: list[int]
) -> None:
    c, ctx = contract(threshold), Ctx()
    first = register(c, ctx, PEOPLE[0], base)
    other = base
    for b in bits:
        other ^= 1 << b
    second = register(c, ctx, PEOPLE[1], other)
    near = [p for p, _ in ctx.state["photo:" + second]["near"]]
    assert near == ([first] if len(bits) < threshold else [])


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.integers(0, 2), st.integers(0, 15), st.integers(0, 63)),
        st.tuples(st.just("grant"), st.integers(0, 2), st.integers(0, 20), st.integers(0, 2)),
        st.tuples(st.just("transfer"), st.integers(0, 2), st.integers(0, 20), st.integers(0, 2)),
        st.tuples(st.just("accept"), st.integers(0, 2), st.integers(0, 20), st.just(0)),
        st.tuples(st.just("report"), st.integers(0, 2), st.integers(0, 15), st.integers(0, 15)),
    ),
    max_size=16,  # at most 16 photos: each has fewer near ones than MAX_MATCHES
)
SEEDS = (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 0x0F0F_0F0F_F0F0_F0F0)


@settings(max_examples=60, deadline=None)
@given(ops=OPS)
def test_invariants_after_any_sequence(ops: list[tuple[str, int, int, int]]) -> None:
    c, ctx = contract(10), Ctx()
    photos: list[tuple[str, int, str]] = []  # id, phash, author
    records: dict[str, Any] = {}
    charged = {p: 0 for p in PEOPLE}
    reported: dict[str, list[str]] = {}  # photo id -> the reports naming it, oldest first
    index = IndexModel()
    seen: dict[str, set[str]] = {}  # photo id -> the earlier photos its registration read
    for op, who, x, y in ops:
        sender = PEOPLE[who]
        try:
            if op == "register":
                phash = (
                    SEEDS[x % 3] ^ ((1 << y) if x >= 3 else 0) ^ ((1 << (x + 40)) if x > 8 else 0)
                )
                found = index.found(phash)
                pid = register(c, ctx, sender, phash)
                seen[pid] = found
                index.add(pid, phash, ORGS[sender])
                photos.append((pid, phash, sender))
                records[pid] = ctx.state["photo:" + pid]
                charged[sender] += 5500
            elif op == "grant" and photos:
                pid = photos[x % len(photos)][0]
                call(c, ctx, sender, "grant_licence", pid, PEOPLE[y], "use", x % 2 == 0)
            elif op == "transfer":
                call(c, ctx, sender, "transfer_licence", "LI" + str(x).zfill(6), PEOPLE[y])
            elif op == "accept":
                call(c, ctx, sender, "accept_licence", "LI" + str(x).zfill(6))
            elif op == "report" and photos:
                a, b = photos[x % len(photos)][0], photos[y % len(photos)][0]
                rid = call(c, ctx, sender, "report_infringement", a, b, "copied")
                assert a < b  # only an earlier photo's copy is reported
                reported.setdefault(a, []).append(rid)
                reported.setdefault(b, []).append(rid)
        except ContractError:
            pass
    # Records are written once.
    for pid, record in records.items():
        assert ctx.state["photo:" + pid] == record
    # Flags: exactly the pairs under the threshold (fewer than MAX_MATCHES here) whose earlier
    # photo is in a bucket the later one read (one organisation fills at most 8 places of a
    # bucket: its 9th photo there is not indexed), both ways.
    for i, (a, ha, _) in enumerate(photos):
        flags = call(c, ctx, PEOPLE[0], "flags", a)
        expected = []
        for j, (b, hb, author_b) in enumerate(photos):
            d = (ha ^ hb).bit_count()
            indexed = b in seen[a] if j < i else a in seen.get(b, set())
            if j != i and d < 10 and indexed:
                expected.append((b, d, author_b, "later" if j > i else "earlier"))
        got = [(f["photo"], f["distance"], f["author"], f["role"]) for f in flags]
        assert sorted(got) == sorted(expected)
    # Every report is listed, in order, under both photos it names; anyone may report.
    for pid, _, _ in photos:
        got, start = [], 1
        while True:  # pages of 25 (MAX_REPORTS_SHOWN), until a short one
            page = [r["id"] for r in call(c, ctx, PEOPLE[0], "reports_page", pid, start, 25)]
            got, start = got + page, start + 25
            if len(page) < 25:
                break
        assert got == reported.get(pid, [])
        assert call(c, ctx, PEOPLE[0], "report_count", pid) == len(got)
    # Quotas add up.
    for p in PEOPLE:
        assert call(c, ctx, p, "usage", p)["bytes"] == charged[p]
    # Every licence is in its holder's list once the holder accepted it, and in nobody else's;
    # only an accepted licence was ever transferred on by its holder.
    n = ctx.state.get("seq:lic", 0)
    for k in range(1, n + 1):
        lic = ctx.state["lic:LI" + str(k).zfill(6)]
        for p in PEOPLE:
            listed = lic["id"] in ctx.state.get("hlic:" + p, [])
            assert listed == (lic["holder"] == p and lic["accepted"])
        assert lic["holder"] != records[lic["photo"]]["author"] or lic["transfers"] > 0


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Any:
    chain = AppChain(tmp_path_factory.mktemp("photoprops"))
    chain.deploy(photo_sharing.NAME, photo_sharing.source())
    app = PhotoSharing(chain.client(chain.identity("org1", "ph-author")))
    app.register(demo.original(1), "an earlier photo")  # so the state proof has siblings
    pid = app.register(IMAGE, "Wide Alley at noon", licence_terms("cc-by"))
    app.register(demo.original(2), "a later photo")
    yield app.certificate(pid), chain.genesis
    chain.close()


IMAGE = demo.original(3)
CERT_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@CERT_SETTINGS
@given(pos=st.integers(0, 100_000), bit=st.integers(0, 7))
def test_any_flipped_certificate_bit_is_refused(issued: Any, pos: int, bit: int) -> None:
    cert, genesis = issued
    assert verify_certificate(cert, IMAGE, genesis).title == "Wide Alley at noon"
    raw = bytearray(bytes.fromhex(cert["raw"]))
    raw[pos % len(raw)] ^= 1 << bit
    with pytest.raises(PhotoCertificateError):
        verify_certificate({**cert, "raw": raw.hex()}, IMAGE, genesis)


@CERT_SETTINGS
@given(
    name=st.sampled_from(["image_sha256", "phash", "title", "author", "height", "time_ms"]),
    value=st.one_of(st.integers(), st.text(max_size=70)),
)
def test_any_changed_readable_field_is_refused(issued: Any, name: str, value: Any) -> None:
    cert, genesis = issued
    if cert[name] == value:
        return
    with pytest.raises(PhotoCertificateError, match="readable part"):
        verify_certificate({**cert, name: value}, IMAGE, genesis)
