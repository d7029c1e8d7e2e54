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


def _oversized_documents(suite: str) -> list[dict[str, Any]]:
    """A `state` document proving a value of 1.1 MiB and a `tx` document of a transaction
    of 1.1 MiB (their validators sign whatever they like), made with the SDK's part limit
    lifted."""
    from tianfu.codec import decode
    from tianfu.proofs import valchain, verify
    from tianfu.types import OK, Receipt

    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"review-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"review-{suite}", suite, [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        user = m.Signer.make(f"review-{suite}/user", scheme)
        big = "x" * (1100 << 10)
        tx = m.signed_tx(user, chain.chain_id, 1, "kv", "put", ["v", big])
        chain.commit([(tx, Receipt(OK, 1, None, "", []))], {state_key("kv", "v"): encode(big)})
        chain.commit()
        chain.commit()
        now = m.T0 + 3_600_000
        b = ProofBuilder(chain)
        saved = verify.check_part_size, verify.decode_part
        verify.check_part_size = lambda *_: None  # type: ignore[assignment]
        verify.decode_part = lambda data, typ, what: decode(data, typ, max_size=16 << 20)  # type: ignore[assignment]
        try:
            return [{"name": f"a {kind} of 1.1 MiB", "kind": kind, "now_ms": now,
                     "genesis": encode(chain.genesis),
                     "document": make_document(kind, bundle, chain.genesis, TrustOptions(now_ms=now))}
                    for kind, bundle in (("state", b.state_bundle([("kv", "v")], 3)),
                                         ("tx", b.tx_bundle(tx.hash)))]  # fmt: skip
        finally:
            verify.check_part_size, verify.decode_part = saved
            assert valchain.decode_part is saved[1]


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_part_of_more_than_1_mib_is_refused_by_every_verifier(suite: str) -> None:
    """proofs.md#bundle: each part held as bytes is decoded with a limit of 1 MiB — a proven
    value too (the spec verifier refuses it). The SDK decoded a proven state value of any
    size, and the console every part of any size: both accepted a state document proving a
    value of 1.1 MiB, and the console a transaction of 1.1 MiB."""
    for base in _oversized_documents(suite):
        verdicts = three(base)
        assert [ok for ok, _ in verdicts] == [False] * len(verdicts), (base["name"], verdicts)


def test_a_genesis_of_more_than_1_mib_is_refused_by_every_verifier() -> None:
    """encoding.md#strict-decoding: a genesis file is a chain object of at most 1 MiB. The
    console decoded a genesis of any size (and then verified documents against it), which
    the SDK and the spec verifier refuse."""
    import tianfu.types.genesis as tg
    from tianfu.codec import CodecError
    from tianfu.types import Genesis, OrgConfig

    def genesis(cert_bytes: int) -> bytes:
        return encode(Genesis(1, "big", 0, [OrgConfig("o", b"c" * cert_bytes)],
                              [Validator("v", "o", ED25519, b"\x01" * 32, 1)]))  # fmt: skip

    base = len(genesis(70_000)) - 70_000  # a bin 32 head from 65,536 bytes on
    for size, valid in ((1 << 20, True), ((1 << 20) + 1, False)):
        raw = genesis(size - base)
        assert len(raw) == size
        try:
            tg.decode_genesis(raw)
            sdk = True
        except CodecError:
            sdk = False
        try:
            lib.specwire.parse_genesis(raw)
            spec = True
        except lib.specwire.Invalid:
            spec = False
        assert (sdk, spec) == (valid, valid), size
        if lib.NODE is None:
            continue
        runner = Path(__file__).resolve().parents[1] / "js" / "genesis_runner.mjs"
        out = subprocess.run([lib.NODE, str(runner)], input=json.dumps([raw.hex()]),
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)[0]["ok"] is valid, (size, out.stdout[:300])


def test_a_genesis_with_any_policy_text_is_accepted_by_every_verifier() -> None:
    """blocks.md#genesis: the policies are any text (governance knows three; the spec's
    comment named two, which an outsider could read as a rule). Every verifier takes a
    genesis with "all" and with a text governance does not know."""
    from tianfu.types import Genesis, OrgConfig, Policies

    raws = [encode(Genesis(1, "p", 0, [OrgConfig("o", b"")], [Validator("v", "o", ED25519, b"\x01" * 32, 1)],
                           policies=Policies(a, b))) for a, b in (("all", "all"), ("", "unknown"))]  # fmt: skip
    for raw in raws:
        lib.decode_genesis(raw)
        lib.specwire.parse_genesis(raw)
    if lib.NODE is None:
        return
    runner = Path(__file__).resolve().parents[1] / "js" / "genesis_runner.mjs"
    out = subprocess.run([lib.NODE, str(runner)], input=json.dumps([r.hex() for r in raws]),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [r["ok"] for r in json.loads(out.stdout)] == [True, True], out.stdout
