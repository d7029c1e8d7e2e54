"""Verifier disagreements found by the fourth review of the verifiers (SDK, spec verifier,
console under Node): each test makes a document or genesis the specification says is
valid (or invalid) and checks that every verifier says so."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import verifiers_agree_chain as vac
import verifiers_agree_lib as lib

from tianfu.codec import encode
from tianfu.crypto import ED25519, SM2, chain_suite
from tianfu.execution.contract_api import state_key
from tianfu.proofs.build import ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import TrustOptions
from tianfu.types import Validator, ValidatorSet

JS = Path(__file__).resolve().parents[2] / "src" / "tianfu" / "web" / "static" / "js"


def three(base: dict[str, Any]) -> list[tuple[bool, str]]:
    lib.load_app_kinds()
    case = lib.Case(base["name"], lib.dumps(base["document"]), base["now_ms"])
    out = [lib.verdict_sdk(case, base["genesis"], base["kind"]),
           lib.verdict_spec(case, base["genesis"], base["kind"])]  # fmt: skip
    if lib.NODE is not None:
        out += lib.verdicts_js([(case, base["genesis"], base["kind"])])
    return out


def named_chain_document(suite: str, name: str, org: str) -> dict[str, Any]:
    """A `state` document of block 3 of a chain whose first genesis validator is `name`, of
    organisation `org` (the genesis bounds neither: blocks.md#genesis)."""
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"review-{suite}/node{i + 1}", scheme) for i in range(4)]
        orgs = [org, "org2", "org3", "org4"]
        chain = m.SpecChain(f"review-{suite}", suite, [(s, orgs[i], 1) for i, s in enumerate(signers)],
                            names=[name, "node2", "node3", "node4"])  # fmt: skip
        chain.commit([], {state_key("kv", "v"): encode("x")})
        chain.commit()
        chain.commit()
        now = m.T0 + 3_600_000
        bundle = ProofBuilder(chain).state_bundle([("kv", "v")], 3)
        doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
        return {"name": "long name", "kind": "state", "document": doc,
                "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip


@pytest.mark.parametrize("suite", ["standard", "sm2"])
@pytest.mark.parametrize("where", ["validator name", "organisation name"])
def test_a_genesis_name_of_64_kib_or_more_is_verified_by_every_verifier(suite: str, where: str) -> None:  # fmt: skip
    """blocks.md#genesis: a validator's and an organisation's name are text of any length.
    The console encoded a validator set's names for its hash with at most 65,535 bytes
    ("string too long"), so it refused every document of a chain whose genesis names a
    validator or its organisation with more; the SDK and the spec verifier verify them."""
    long = "v" * 70_000
    base = named_chain_document(suite, long, "org1") if where == "validator name" else \
        named_chain_document(suite, "node1", long)  # fmt: skip
    assert [ok for ok, _ in three(base)] == [True] * (3 if lib.NODE else 2), three(base)


def test_the_console_hashes_a_set_of_65536_members_as_the_specification_does() -> None:
    """blocks.md#validator-sets: the set's hash is over its canonical encoding, whose array
    of 65,536 validators or more has the header `dd` and a 4-byte length. The console wrote
    `dc` and the length's low 16 bits, so its hash of such a set (a genesis of 1 MiB holds
    that many) differed from the SDK's and the spec verifier's."""
    if lib.NODE is None:
        pytest.skip("Node.js runs the console's verifier")
    n = 65_536
    vals = [Validator(f"{i:x}", "o", ED25519, i.to_bytes(3, "big"), 1) for i in range(n)]
    with chain_suite("standard").use():
        expected = ValidatorSet(vals).hash.hex()
    spec = lib.specwire.valset_hash("standard", [lib.specwire.Validator(v.name, v.org, v.scheme, v.public_key, v.power) for v in vals])  # fmt: skip
    assert spec.hex() == expected
    script = f"""
import {{ makeSet }} from {json.dumps((JS / "valchain.js").as_uri())};
import {{ hex, inSuite }} from {json.dumps((JS / "proof.js").as_uri())};
const vals = [];
for (let i = 0; i < {n}; i++) {{
  const k = new Uint8Array([i >> 16, (i >> 8) & 255, i & 255]);
  vals.push({{ name: i.toString(16), org: "o", scheme: 1, publicKey: k, power: 1 }});
}}
process.stdout.write(inSuite("standard", () => hex(makeSet(vals).hash)));
"""
    done = subprocess.run([lib.NODE, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == expected
