"""Every signature vector of docs/spec/vectors/crypto.json — valid signatures, and keys and
signatures each verifier must refuse (high s, r + s = n, small-order Ed25519 points, a
compressed key whose x is not below the field prime or is no point's abscissa, a prefix
other than 02 / 03) — gets its `valid` from the SDK's `tianfu.crypto.verify`, the spec
verifier's `verify_sig` and the console's `verifySignature` (chain.js under Node): the
signature checks behind every certificate, compared on the specification's own vectors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import verifiers_agree_lib as lib

from tianfu.crypto import chain_suite, verify

VECTORS = lib.ROOT / "docs" / "spec" / "vectors" / "crypto.json"
SIGNATURE_RUNNER = Path(__file__).resolve().parents[1] / "js" / "signature_runner.mjs"


def cases() -> list[dict[str, object]]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))["signatures"]  # type: ignore[no-any-return]


def test_the_sdk_and_the_spec_verifier_give_every_signature_vector_its_verdict() -> None:
    for c in cases():
        args = [bytes.fromhex(str(c[k])) for k in ("public_key", "message", "signature")]
        with chain_suite(str(c["suite"])).use():
            sdk = verify(int(str(c["scheme"])), *args)
        spec = lib.specwire.verify_sig(str(c["suite"]), int(str(c["scheme"])), *args)
        assert (sdk, spec) == (c["valid"], c["valid"]), c["name"]


@pytest.mark.skipif(lib.NODE is None, reason="needs node")
def test_the_console_gives_every_signature_vector_its_verdict() -> None:
    cs = cases()
    payload = [{k: c[k] for k in ("suite", "scheme", "public_key", "message", "signature")}
               for c in cs]  # fmt: skip
    out = subprocess.run([str(lib.NODE), str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert [(c["name"], ok) for c, ok in zip(cs, got, strict=True)] == [
        (c["name"], c["valid"]) for c in cs
    ]
