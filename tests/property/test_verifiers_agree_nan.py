"""What a node's JSON answer can hold that no document holds: NaN, Infinity and -Infinity.
Python's `json.loads` — behind the SDK's HTTP answers (`httpx`'s `.json()`) and its event
stream — parses them into floats, and the SDK verified such a dict by rendering each leaf
as JSON text with `allow_nan=False`, which raised a bare ValueError out of
`verify_document` and `verify_block_events`: a hostile node answering a proof request or
sending an event batch with `"height": NaN` made the SDK fail with an untyped error instead
of refusing the answer (documents.md#parsing: NaN and Infinity are not JSON, and a document
holding one is invalid; the spec verifier and the console refuse them while parsing)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import verifiers_agree_lib as lib
from test_verifiers_agree_tenth import batches

from tianfu.client import LightClient
from tianfu.client.verify import verify_block_events
from tianfu.proofs.documents import verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.valchain import TrustOptions
from tianfu.types.genesis import decode_genesis

NOT_JSON = [float("nan"), float("inf"), float("-inf")]


def state_vector() -> tuple[dict[str, Any], bytes]:
    v = json.loads((lib.ROOT / "docs/spec/vectors/documents.json").read_text(encoding="utf-8"))
    case = next(c for c in v["cases"] if c["suite"] == "standard" and c["name"] == "state")
    return case, bytes.fromhex(v["geneses"]["standard"])


@pytest.mark.parametrize("bad", NOT_JSON, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["height", "entry value", "nested in a list"])
def test_a_document_holding_nan_or_infinity_is_refused_with_a_verification_error(
    bad: float, where: str
) -> None:
    case, genesis = state_vector()
    doc = json.loads(json.dumps(case["document"]))
    if where == "height":
        doc["height"] = bad
    elif where == "entry value":
        doc["entries"][0]["value"] = bad
    else:
        doc["entries"][0]["value"] = [[bad]]
    text = json.dumps(doc)  # as a node would send it: Python's json writes NaN, Infinity
    as_parsed = json.loads(text)  # as the SDK's HTTP client parses the answer
    with pytest.raises(VerificationError):
        verify_document(as_parsed, decode_genesis(genesis),
                        options=TrustOptions(now_ms=case["now_ms"]))  # fmt: skip
    for verdict in (lib.verdict_sdk, lib.verdict_spec):
        ok, _ = verdict(lib.Case("nan", text, case["now_ms"]), genesis, "state")
        assert not ok
    if lib.NODE is not None:
        [(ok, _)] = lib.verdicts_js([(lib.Case("nan", text, case["now_ms"]), genesis, "state")])
        assert not ok


@pytest.mark.parametrize("bad", NOT_JSON, ids=["nan", "inf", "-inf"])
def test_an_event_batch_holding_nan_or_infinity_is_refused_with_a_verification_error(
    bad: float,
) -> None:
    f, sent = batches("standard", [3])
    batch = json.loads(sent[0])
    light = LightClient.from_genesis(f.g)
    assert verify_block_events(light, batch).height == 3
    for events in ([bad], bad, [{"tx_index": 0, "contract": "kv", "name": "x", "data": bad}]):
        with pytest.raises(VerificationError):
            verify_block_events(light, {**batch, "events": events})


def test_the_event_stream_refuses_a_batch_holding_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    import websockets.sync.client

    from tianfu.client.proofs import ProvingReads

    f, sent = batches("standard", [3])
    message = sent[0].replace('"events": []', '"events": [NaN]')
    assert "NaN" in message

    def messages() -> Iterator[str]:
        yield message

    monkeypatch.setattr(websockets.sync.client, "connect",
                        lambda url, **kw: contextlib.nullcontext(messages()))  # fmt: skip
    node = SimpleNamespace(light_client=LightClient.from_genesis(f.g), url="http://node",
                           timeout=5.0)  # fmt: skip
    with pytest.raises(VerificationError):
        list(ProvingReads.stream_block_events(node))  # type: ignore[arg-type]


ANSWERS = {
    "a document holding NaN": None,  # filled in by the test: the vector with "height": NaN
    "null": b"null",
    "an array": b"[1]",
    "a text": b'"ab"',
    "a number": b"5",
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_the_sdks_proof_reads_refuse_a_node_answer_that_is_no_document(answer: str) -> None:
    """A node's answer to a proof request (`Client.prove_*`, `block_events`) that holds NaN,
    or is JSON but no object, is a typed refusal (ClientError or VerificationError): the
    SDK converted such answers with `dict(...)`, so `null`, `5` or `[1]` raised TypeError
    and `"ab"` ValueError out of the client."""
    import httpx

    from tianfu.client import Client
    from tianfu.client.errors import ClientError

    case, genesis = state_vector()
    doc = json.loads(json.dumps(case["document"]))
    doc["height"] = float("nan")
    body = json.dumps(doc).encode() if ANSWERS[answer] is None else ANSWERS[answer]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))
    client = Client("http://node", http=http, genesis=decode_genesis(genesis))
    reads = [
        lambda: client.prove_state("kv", "v"),
        lambda: client.prove_history("kv", "v"),
        lambda: client.prove_absence("00" * 32),
        lambda: client.prove_validators(),
        lambda: client.prove_orgs(),
        lambda: client.prove_contracts(),
        lambda: client.block_events(3),
    ]
    for read in reads:
        with pytest.raises((ClientError, VerificationError)):
            read()
