"""Disagreements found by the tenth review (a cross-review of the ninth): the light client's
stream of block event batches takes only the blocks asked for, as `block_events(h)` takes
only block h's batch (documents.md#block-event-batches), with blocks signed anew
(verifiers_agree_forge.py)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from verifiers_agree_forge import Forge

from tianfu.codec import encode
from tianfu.crypto import chain_suite
from tianfu.proofs.errors import VerificationError

SUITES = ["standard", "sm2"]


def batches(suite: str, heights: list[int]) -> tuple[Forge, list[str]]:
    """The event batches of blocks `heights` of no transactions (certified, complete), as
    the WebSocket sends them."""
    f = Forge(suite, "tenth-stream")
    g = f.genesis_set()
    sent = []
    with chain_suite(suite).use():
        for height in heights:
            root, _ = f.leaf_state(b"kv/v", encode("x"), height, None)
            h = f.header(height, root, g)
            cert = f.cert(h, list(g.validators))
            sent.append(json.dumps({"height": height, "header": encode(h).hex(),
                                    "certificate": encode(cert).hex(),
                                    "receipts": [], "events": []}))  # fmt: skip
    return f, sent


def stream(monkeypatch: pytest.MonkeyPatch, suite: str, heights: list[int], **asked: Any) -> Any:
    """The heights `Client.stream_block_events(**asked)` yields from a node sending the
    batches of `heights` (and how many it read), or the exception raised."""
    import websockets.sync.client

    from tianfu.client import LightClient
    from tianfu.client.proofs import ProvingReads

    f, sent = batches(suite, heights)
    read: list[int] = []

    def messages() -> Iterator[str]:
        for text in sent:
            read.append(json.loads(text)["height"])
            yield text

    monkeypatch.setattr(websockets.sync.client, "connect",
                        lambda url, **kw: contextlib.nullcontext(messages()))  # fmt: skip
    node = SimpleNamespace(light_client=LightClient.from_genesis(f.g), url="http://node",
                           timeout=5.0)  # fmt: skip
    got: list[int] = []
    try:
        for verified in ProvingReads.stream_block_events(node, **asked):  # type: ignore[arg-type]
            got.append(verified.height)
    except VerificationError as exc:
        return exc, got
    return got, read


@pytest.mark.parametrize("suite", SUITES)
def test_the_stream_ends_at_the_last_block_asked_for(
    suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stream_block_events(3, 4)` yielded every batch the node sent after block 4's too
    (block 5 passed as part of the blocks 3 … 4 asked for) and waited on for more. It ends
    after block 4's batch now, reading no further."""
    got, read = stream(monkeypatch, suite, [3, 4, 5], from_height=3, to_height=4)
    assert got == [3, 4] and read == [3, 4]


@pytest.mark.parametrize("suite", SUITES)
def test_the_stream_refuses_a_batch_past_the_last_block_asked_for(
    suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the next block (`from_height` None) up to block 4: a node answering block 5's
    batch first is refused, nothing yielded; up to block 5 it is taken."""
    out, got = stream(monkeypatch, suite, [5, 6], to_height=4)
    assert isinstance(out, VerificationError), out
    assert got == [] and "block 5, past block 4" in str(out)
    got, read = stream(monkeypatch, suite, [5, 6], to_height=5)
    assert got == [5] and read == [5]


def test_a_state_read_of_a_key_that_is_no_utf8_text_is_refused() -> None:
    """A node's state read answering the key "\\ud800" (JSON's escape of a lone surrogate),
    verified as given (`verify_state_json` without the contract and key asked for): the
    state key `contract/key` in UTF-8 does not exist, and `UnicodeEncodeError` escaped the
    verifier instead of its `VerificationError`."""
    from tianfu.client import verify_state_json

    f = Forge("standard", "tenth-surrogate")
    g = f.genesis_set()
    with chain_suite("standard").use():
        root, proof = f.leaf_state(b"kv/v", encode("x"), 3, None)
        h = f.header(3, root, g)
        cert = f.cert(h, list(g.validators))
    doc = json.loads(json.dumps({"contract": "kv", "key": "\ud800", "value_raw": encode("x").hex(),
        "proof": encode(proof).hex(), "header": {"raw": encode(h).hex()},
        "certificate": {"raw": encode(cert).hex()}}))  # fmt: skip
    with pytest.raises(VerificationError, match="not UTF-8"):
        verify_state_json(f.g, doc)
    doc["key"] = "v"
    assert verify_state_json(f.g, doc).value == "x"


@pytest.mark.parametrize("message", ["[" * 100_000 + "]" * 100_000, "{not json", "\udcff"])
def test_a_stream_message_that_is_not_json_is_refused_by_verification(
    message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile node's WebSocket message that is not JSON (or nests past the parser's
    stack) raised `RecursionError` or `JSONDecodeError` out of the light client's stream: a
    caller catching `VerificationError`, as for every other refusal, was crashed instead."""
    import websockets.sync.client

    from tianfu.client import LightClient
    from tianfu.client.proofs import ProvingReads

    f, _ = batches("standard", [])
    monkeypatch.setattr(websockets.sync.client, "connect",
                        lambda url, **kw: contextlib.nullcontext(iter([message])))  # fmt: skip
    node = SimpleNamespace(light_client=LightClient.from_genesis(f.g), url="http://node",
                           timeout=5.0)  # fmt: skip
    with pytest.raises(VerificationError, match="not JSON"):
        list(ProvingReads.stream_block_events(node, from_height=1))  # type: ignore[arg-type]
