"""`readable_body` and `readable`: the readable fields of a transaction body and the one
readable-value renderer, shared by the API's transaction JSON and the proof documents."""

from __future__ import annotations

from tianfu.api.render import jsonable, render_tx
from tianfu.crypto import ED25519, generate_keypair, sign_tx
from tianfu.proofs.values import readable_body
from tianfu.types import TxBody


def test_fields_in_order_with_bytes_as_hex_and_args_by_the_given_renderer() -> None:
    kp = generate_keypair(ED25519)
    body = TxBody(1, "c1", ED25519, kp.public_key, 7, 99, "asset", "transfer", [b"\x01", {2: "x"}])
    assert readable_body(body) == {
        "chain_id": "c1",
        "scheme": ED25519,
        "signer": kp.public_key.hex(),
        "nonce": 7,
        "expiry": 99,
        "contract": "asset",
        "method": "transfer",
        "args": ["01", {"2": "x"}],
        "has_cert": False,
    }
    assert readable_body(body, lambda v: "rendered")["args"] == "rendered"


def test_the_api_renders_a_transaction_with_the_body_fields_between_hash_and_signature() -> None:
    kp = generate_keypair(ED25519)
    tx = sign_tx(kp, TxBody(1, "c1", ED25519, kp.public_key, 1, 5, "asset", "mint", [3]))
    out = render_tx(tx)
    assert list(out) == ["hash", *readable_body(tx.body), "signature", "raw"]
    assert out["args"] == jsonable([3]) == [3]
    assert out["hash"] == tx.hash.hex() and out["signature"] == tx.signature.hex()


def test_one_readable_renderer_serves_contract_values_structs_and_the_api() -> None:
    from tianfu.api.render import render_receipt
    from tianfu.proofs.values import readable
    from tianfu.types import Event, Receipt

    assert jsonable is readable
    value = {"a": [b"\x01\x02", 3, None, True], 7: ("x", bytearray(b"\xff"))}
    assert readable(value) == {"a": ["0102", 3, None, True], "7": ["x", "ff"]}
    event = Event("asset", "Moved", {"to": b"\xab", "n": 2})
    assert readable(event) == {"contract": "asset", "name": "Moved", "data": {"to": "ab", "n": 2}}
    out = render_receipt(Receipt(0, 5, result=b"\x00", events=[event]))
    assert (out["status"], out["ok"], out["result"]) == ("ok", True, "00")
    assert out["events"] == [readable(event)]
    assert render_receipt(Receipt(1, 5, error="no"))["status"] == "failed"
