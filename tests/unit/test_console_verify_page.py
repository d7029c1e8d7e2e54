"""The console's /verify page (static/js/verify.js) run under Node with a stand-in DOM
(tests/js/verify_page_runner.mjs): the optional expected genesis hash a visitor types is
compared with the genesis's hash in its own suite (SM3 on an `sm2` chain, as the node shows
it and as every document's `genesis_hash` has it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "js" / "verify_page_runner.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node")


def page(cert: str, genesis_hex: str, expected: str) -> dict[str, Any]:
    assert NODE is not None
    payload = json.dumps({"cert": cert, "genesis_hex": genesis_hex, "expected": expected})
    out = subprocess.run([NODE, str(RUNNER)], input=payload, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout))


def evidence_vector(suite: str) -> tuple[str, str, str]:
    """The spec vectors' evidence certificate of `suite`: its text, genesis hex and hash."""
    v = json.loads((ROOT / "docs/spec/vectors/documents.json").read_text(encoding="utf-8"))
    (case,) = [c for c in v["cases"] if c["name"] == "evidence" and c["suite"] == suite]
    doc = case["document"]
    return json.dumps(doc), v["geneses"][case["genesis"]], doc["genesis_hash"]


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_expected_genesis_hash_is_the_chains_own(suite: str) -> None:
    """Main's page hashed the genesis with SHA-256 whatever its suite: on an SM2 chain it
    refused the genesis whose published (SM3) hash the visitor typed."""
    cert, genesis, ghash = evidence_vector(suite)
    shown = page(cert, genesis, ghash)
    assert shown["verdict"] == "verified", shown
    assert page(cert, genesis, ghash.upper())["verdict"] == "verified"  # typed in capitals
    other = ("0" if ghash[0] != "0" else "1") + ghash[1:]
    shown = page(cert, genesis, other)
    assert shown["verdict"] == "rejected" and "expected hash" in shown["reason"], shown
