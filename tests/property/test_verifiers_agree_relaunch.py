"""A chain relaunched under the same chain id with the same validator keys (README.md#what-a-
verifier-trusts).

Version-1 genesis: a commit signs the chain id, the height, the round, the block hash and a
time, never the genesis hash, and a verifier checks no header's `prev_hash` (blocks.md#block-
header). So a document of the first chain, its `genesis_hash` rewritten, verifies against the
second chain's genesis: the three verifiers MUST all say so (the spec states it as what a
verifier of a version-1 chain cannot tell apart), and all refuse the document as it was
issued (its `genesis_hash` is the first chain's).

Version-2 genesis (ADR 0039): a commit signs the genesis hash too (`tianfu/vote/v3`), so the
three verifiers MUST all refuse the first chain's document with the second chain's genesis,
its `genesis_hash` rewritten or not, and accept it with its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import verifiers_agree_lib as lib

from tianfu.codec import encode
from tianfu.types.genesis import decode_genesis

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors" / "documents.json"
V2_VECTORS = VECTORS.with_name("genesis2.json")
NAMES = ("tx", "evidence", "a key rotated; the next block signed with the new key")


def relaunched(genesis: bytes) -> bytes:
    """The same chain id, organisations and validators; launched a day later under other
    policies: another genesis, another genesis hash."""
    g = msgspec.msgpack.decode(genesis)
    g[2] += 86_400_000
    g[6] = ["all", "all"]
    return encode(g)


def verdicts(cases: list[tuple[lib.Case, bytes, str]]) -> list[list[bool]]:
    lib.load_app_kinds()
    out = [[lib.verdict_sdk(*c)[0], lib.verdict_spec(*c)[0]] for c in cases]
    if lib.NODE is not None:
        for row, (ok, _) in zip(out, lib.verdicts_js(cases), strict=True):
            row.append(ok)
    return out


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_document_of_a_relaunched_chain_with_the_same_id_and_keys_verifies_everywhere(
    suite: str,
) -> None:
    v: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    first = bytes.fromhex(v["geneses"][suite])
    second = relaunched(first)
    second_hash = decode_genesis(second).hash.hex()
    assert second_hash != decode_genesis(first).hash.hex()
    chosen = [c for c in v["cases"] if c["suite"] == suite and c["name"] in NAMES]
    assert len(chosen) == len(NAMES)
    rewritten, as_issued = [], []
    for c in chosen:
        doc = {**c["document"], "genesis_hash": second_hash}
        rewritten.append((lib.Case(c["name"], lib.dumps(doc), c["now_ms"]), second, c["kind"]))
        as_issued.append((lib.Case(c["name"], lib.dumps(c["document"]), c["now_ms"]), second,
                          c["kind"]))  # fmt: skip
    assert all(all(row) for row in verdicts(rewritten))
    assert not any(any(row) for row in verdicts(as_issued))


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_document_of_a_version_2_chain_is_refused_with_a_relaunched_genesis_everywhere(
    suite: str,
) -> None:
    v: dict[str, Any] = json.loads(V2_VECTORS.read_text(encoding="utf-8"))
    first = bytes.fromhex(v["geneses"][suite])
    assert decode_genesis(first).version == 2
    # relaunched here (another time and policies) and as the vectors give it
    seconds = [relaunched(first), bytes.fromhex(v["geneses"][f"{suite}-relaunched"])]
    valid = [c for c in v["cases"] if c["suite"] == suite and c["valid"]]
    assert {c["name"] for c in valid} == {"tx", "state"}
    own = [(lib.Case(c["name"], lib.dumps(c["document"]), c["now_ms"]), first, c["kind"])
           for c in valid]  # fmt: skip
    assert all(all(row) and len(row) >= 2 for row in verdicts(own))
    forged = []
    for second in seconds:
        g2 = decode_genesis(second)
        assert g2.version == 2 and g2.chain_id == decode_genesis(first).chain_id
        assert g2.validators == decode_genesis(first).validators and g2.hash != first
        for c in valid:
            for doc in (c["document"], {**c["document"], "genesis_hash": g2.hash.hex()}):
                forged.append((lib.Case(c["name"], lib.dumps(doc), c["now_ms"]), second,
                               c["kind"]))  # fmt: skip
    rows = verdicts(forged)
    assert len(rows) == 2 * 2 * len(valid)
    assert not any(any(row) for row in rows), rows


def test_the_version_2_vector_cases_have_the_verdicts_they_state() -> None:
    """Every case of genesis2.json, by the three verifiers: accepted iff `valid`."""
    v: dict[str, Any] = json.loads(V2_VECTORS.read_text(encoding="utf-8"))
    cases = [(lib.Case(c["name"], lib.dumps(c["document"]), c["now_ms"]),
              bytes.fromhex(v["geneses"][c["genesis"]]), c["kind"]) for c in v["cases"]]  # fmt: skip
    assert sum(not c["valid"] for c in v["cases"]) >= 8
    for c, row in zip(v["cases"], verdicts(cases), strict=True):
        assert row == [c["valid"]] * len(row), (c["name"], c["genesis"], row)
