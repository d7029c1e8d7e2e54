"""A chain relaunched under the same chain id with the same validator keys (README.md#what-a-
verifier-trusts): a commit signs the chain id, the height, the round, the block hash and a
time, never the genesis hash, and a verifier checks no header's `prev_hash` (blocks.md#block-
header). So a document of the first chain, its `genesis_hash` rewritten, verifies against the
second chain's genesis: the three verifiers MUST all say so (the spec states it as what a
verifier cannot tell apart, and why a new genesis needs a new chain id), and all refuse the
document as it was issued (its `genesis_hash` is the first chain's)."""

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
