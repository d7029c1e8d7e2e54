"""The applications' shared helpers on their own: SDK operations and views declared by their
parameters, command-table helpers, the record-certificate commands and proven fields."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tianfu.apps.common.certificate import ProvenRecord
from tianfu.apps.common.certificate_commands import certificate_commands
from tianfu.apps.common.commands import (
    NUMBER,
    TIME,
    arg,
    headed,
    in_order,
    record_with,
    repeated,
    table_view,
)
from tianfu.apps.common.display import Fields
from tianfu.apps.common.errors import BadInput, CommandFailed
from tianfu.apps.common.params import AMOUNT, address, document, fen, local_file
from tianfu.apps.common.sdk import ContractSDK, operation, view
from tianfu.apps.evidence.certificate import CERTIFICATE as EVIDENCE_CERTIFICATE
from tianfu.apps.evidence.certificate import SPEC as EVIDENCE
from tianfu.apps.photo_sharing.certificate import CERTIFICATE as PHOTO_CERTIFICATE
from tianfu.apps.photo_sharing.certificate import SPEC as PHOTO


class FakeClient:
    """Records every call; views answer from `records`, operations answer "done"."""

    def __init__(self, records: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.records = records or {}

    def query(self, contract: str, method: str, *args: Any) -> Any:
        self.calls.append(("query", contract, method, *args))
        if method == "get":
            return self.records.get(args[0])
        return [method, *args]

    def invoke(self, contract: str, method: str, *args: Any) -> Any:
        self.calls.append(("invoke", contract, method, *args))
        return SimpleNamespace(result={"done": method})


class Shop(ContractSDK):
    CONTRACT = "shop"

    order = operation("order_id", "items", express=False, returns=dict)
    cancel = operation("order_id")
    get = view("order_id")
    lines = view("order_id", returns=tuple)
    orders_of = view("address", start=1, limit=200)


def test_operations_and_views_send_their_arguments_in_order() -> None:
    client = FakeClient({"O1": {"id": "O1"}})
    shop = Shop(client)  # type: ignore[arg-type]
    assert shop.order("O1", ["x"]) == {"done": "order"}
    assert shop.order("O2", ["y"], express=True) == {"done": "order"}
    assert shop.cancel(order_id="O1") == {"done": "cancel"}
    assert shop.get("O1") == {"id": "O1"} and shop.get("O9") is None
    assert shop.lines("O1") == ("lines", "O1")
    assert shop.orders_of("ab", limit=5) == ["orders_of", "ab", 1, 5]
    assert client.calls == [
        ("invoke", "shop", "order", "O1", ["x"], False),
        ("invoke", "shop", "order", "O2", ["y"], True),
        ("invoke", "shop", "cancel", "O1"),
        ("query", "shop", "get", "O1"),
        ("query", "shop", "get", "O9"),
        ("query", "shop", "lines", "O1"),
        ("query", "shop", "orders_of", "ab", 1, 5),
    ]
    with pytest.raises(TypeError):
        shop.order("O1")  # a missing argument is refused before anything is sent
    assert len(client.calls) == 7
    assert str(inspect.signature(shop.order)) == "(order_id, items, express=False)"
    assert shop.order.__name__ == "order" and "operation" in (shop.order.__doc__ or "")
    assert isinstance(Shop.__dict__["get"], view)


def test_in_order_and_repeated_options() -> None:
    values = {"b": 2, "a": 1, "c": 3}
    assert in_order("c", "a")(values) == [3, 1]
    p = repeated("reader", "Another reader (repeatable).")
    assert (p.option, p.default, p.help) == ("--reader", None, "Another reader (repeatable).")
    assert p.type == list[str] | None


def test_record_with_shows_a_record_and_its_related_views() -> None:
    client = FakeClient({"O1": {"id": "O1", "total": 5}})
    session = SimpleNamespace(client=lambda signed=False: client)
    run = record_with(Shop, "order_id", "order", "lines")
    out = run(session, {"order_id": "O1"})  # type: ignore[arg-type]
    assert out.data == {"id": "O1", "total": 5, "lines": ("lines", "O1")}
    assert out.display == (Fields("order O1", out.data),)
    with pytest.raises(CommandFailed, match="^unknown order O2$"):
        run(session, {"order_id": "O2"})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Deposit(ProvenRecord):
    deposit_id: str
    title: str


def test_a_proven_record_lists_its_own_fields_first() -> None:
    d = Deposit(
        deposit_id="D1",
        title="T",
        org="org1",
        name="n",
        chain_id="c",
        height=3,
        time_ms=4,
        tx_hash="t",
        block_hash="b",
        state_root="s",
    )
    assert list(d.as_dict().items()) == [
        ("deposit_id", "D1"),
        ("title", "T"),
        ("org", "org1"),
        ("name", "n"),
        ("chain_id", "c"),
        ("height", 3),
        ("time_ms", 4),
        ("tx_hash", "t"),
        ("block_hash", "b"),
        ("state_root", "s"),
        ("validator_changes", 0),
    ]


@pytest.mark.parametrize(
    ("spec", "texts"),
    [
        (
            EVIDENCE,
            (
                "Export a deposit's evidence certificate (proofs, header, commit certificate).",
                "Verify FILE against an evidence CERTIFICATE offline, trusting only the genesis.",
                "The file whose deposit is to be proven.",
                "The evidence certificate JSON.",
                "The consortium's genesis (genesis.bin or the JSON of GET /v1/genesis). "
                "Verification is offline: no node is contacted.",
            ),
        ),
        (
            PHOTO,
            (
                "Export a photo's authorship certificate (proofs, header, commit certificate).",
                "Verify IMAGE against an authorship CERTIFICATE offline, trusting only the genesis.",
                "The image whose registration is to be proven.",
                "The authorship certificate JSON.",
                "The network's genesis (genesis.bin or the JSON of GET /v1/genesis). "
                "Verification is offline: no node is contacted.",
            ),
        ),
    ],
)
def test_certificate_commands_are_worded_from_the_record_spec(spec: Any, texts: Any) -> None:

    def never(*_: Any) -> Any:
        raise AssertionError("not called")

    cert, verify = certificate_commands(spec, arg("record_id"), never, never, never)
    assert (cert.name, verify.name) == ("certificate", "verify")
    assert [p.name for p in cert.params] == ["record_id", "out", "genesis"]
    assert [p.name for p in verify.params] == ["file", "certificate_file", "genesis"]
    assert (cert.help, verify.help, verify.params[0].help, verify.params[1].help) == texts[:4]
    assert verify.params[2].help == texts[4]
    assert cert.options == {"url", "json"} and verify.options == {"json"}
    session = SimpleNamespace(load_genesis=never)
    values = {"file": Path("f"), "certificate_file": Path("c"), "genesis": None}
    assert verify.run is not None
    with pytest.raises(BadInput, match="--genesis"):  # nothing is read without a trust anchor
        verify.run(session, values)  # type: ignore[arg-type]


def test_table_columns_are_keys_or_keys_with_their_headings() -> None:
    assert headed(("id", "org")) == (("id", "org"), ())  # no heading differs: none given
    assert headed(("id", ("org", "written by"), TIME, NUMBER)) == (
        ("id", "org", "time_ms", "n"),
        ("id", "written by", "time", "#"),
    )
    view = table_view("log", "A log.", arg("ref"), columns=(NUMBER, "org"), title="log of {ref}")
    assert (view.columns, view.headers, view.show) == (("n", "org"), ("#", "org"), "rows")


WHO = "Address or identity directory."


def test_shared_argument_kinds() -> None:
    assert (AMOUNT.name, AMOUNT.type, AMOUNT.help, AMOUNT.option) == (
        "amount",
        int,
        "Amount in fen.",
        None,
    )
    assert fen("total", "Total in fen.") == arg("total", int, "Total in fen.")
    note = document("note", "The delivery note")
    report = document("report", "The report", option=True)
    assert (note.option, report.option) == (None, "--report")
    assert note.help == "The delivery note: its SHA-256 or the file."
    digest = "ab" * 32
    assert note.parse is not None and note.parse(digest) == digest
    assert local_file("An image file.") == arg("file", Path, "An image file.")
    who, to = address("who"), address("to", "The licensee.", option=True)
    assert (who.option, who.help, to.option, to.help) == (None, WHO, "--to", "The licensee.")
    assert who.parse is not None and who.parse("ab" * 20) == "ab" * 20


def test_record_specs_name_their_fields_once() -> None:
    assert (EVIDENCE.title, EVIDENCE.id_field) == ("evidence certificate", "deposit_id")
    assert (PHOTO.title, PHOTO.id_field) == ("authorship certificate", "photo_id")
    assert EVIDENCE.named()[:2] == (("file_sha256", "file_hash"), ("title", "title"))
    assert (EVIDENCE.source("file_sha256"), EVIDENCE.source("meta")) == ("file_hash", "meta")
    assert PHOTO.source("sha256") == "sha256"  # shown as image_sha256, verified as sha256


def test_a_verified_result_reads_the_record_by_the_spec() -> None:
    proven = {
        "org": "org1",
        "name": "n",
        "chain_id": "c",
        "height": 3,
        "time_ms": 4,
        "tx_hash": "t",
        "block_hash": "b",
        "state_root": "s",
        "validator_changes": 0,
    }
    record = {"file_hash": "f" * 64, "title": "T", "depositor": "d", "meta": {"k": 1}}
    deposit = EVIDENCE_CERTIFICATE.result("D0001", record, proven)
    assert (deposit.deposit_id, deposit.file_sha256, deposit.title) == ("D0001", "f" * 64, "T")
    assert (deposit.meta, deposit.depositor, deposit.height) == ({"k": 1}, "d", 3)
    assert deposit.meta is not record["meta"]  # a copy
    no_meta = EVIDENCE_CERTIFICATE.result("D0002", {**record, "meta": None}, proven)
    assert no_meta.meta == {}
    photo = {"sha256": "a" * 64, "phash": "p", "title": "T", "author": "x", "licence": {}}
    authorship = PHOTO_CERTIFICATE.result("PH000001", photo, proven)
    assert (authorship.photo_id, authorship.sha256, authorship.phash) == ("PH000001", "a" * 64, "p")
    assert (authorship.licence, authorship.author) == ({}, "x")
