"""Verifier disagreements found by the seventh review (an outsider reading docs/spec): each
test makes, on a chain whose validators certify what they are given (docs/spec/vectors/
chain.py), the document the specification settles, and checks that the SDK, the spec
verifier and the console under Node give its verdict.

A proven transaction is one the chain admitted: its scheme is one the chain's suite
accepts (transactions.md, proofs.md#bundle-verification). A certified block holding
another — only validators holding more than 2/3 of the power can make one — is refused
by every verifier: its id's hash and its signer's address (`u8(scheme)`) are defined for
those schemes only, and a console building the address from a byte array wrapped a
scheme of 257 to 1, so the holder of an Ed25519 key was shown as the depositor of a
transaction of scheme 257."""

from __future__ import annotations

import json
import subprocess
from typing import Any
from unittest import mock

import pytest
import verifiers_agree_chain as vac
import verifiers_agree_lib as lib
from test_verifiers_agree_review import three

from tianfu.codec import encode
from tianfu.crypto import ED25519, SM2, chain_suite
from tianfu.execution.contract_api import state_key
from tianfu.proofs.build import ProofBuilder
from tianfu.proofs.documents import make_document, merge_single_blocks
from tianfu.proofs.valchain import TrustOptions
from tianfu.types import Transaction, TxBody
from tianfu.types.tx import Event, Receipt

OK = 0


def _wrapped_address(scheme: int, public_key: bytes) -> str:
    """The address the console computed for any scheme: `u8(scheme)` wrapped modulo 256."""
    from tianfu.crypto.address import address_of

    return address_of(scheme % 256, public_key)


def forged_documents(suite: str, scheme: int, version: int = 1) -> list[dict[str, Any]]:
    """A `tx` and an `evidence` document of a block holding a deposit whose transaction
    has `scheme` (and `version`), its record naming as depositor the wrapped address."""
    lib.load_app_kinds()
    with chain_suite(suite).use():
        m = vac._chain_module()
        key_scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"seventh-{suite}/node{i + 1}", key_scheme) for i in range(4)]
        chain = m.SpecChain(f"seventh-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        alice = m.Signer.make(f"seventh-{suite}/alice", key_scheme)
        fh = "ab" * 32
        body = TxBody(version, chain.chain_id, scheme, alice.public_key, 1, 1000, "evidence",
                      "deposit", [fh, "Document D-1", {}], b"")  # fmt: skip
        tx = Transaction(body, bytes(64))  # no verifier checks a proven transaction's signature
        did = "D-1"
        record = {"id": did, "file_hash": fh, "title": "Document D-1", "meta": {},
                  "depositor": _wrapped_address(scheme, alice.public_key), "org": "org1",
                  "name": "alice", "height": 1, "time_ms": m.T0, "tx": tx.hash.hex()}  # fmt: skip
        receipt = Receipt(OK, 40, did, "", [Event("evidence", "Deposited", {"id": did})])
        chain.commit([(tx, receipt)], {state_key("evidence", "dep:" + did): encode(record)})
        chain.commit()
        now = m.T0 + 3_600_000
        opts = TrustOptions(now_ms=now)
        b = ProofBuilder(chain)
        genesis = encode(chain.genesis)
        # The SDK renders what it is given (it is made to refuse in the verifiers, which are
        # what is tested), with the console's wrapped address.
        with mock.patch("tianfu.apps.common.certificate.address_of", _wrapped_address), \
                mock.patch("tianfu.types.tx.check_version", lambda obj: None), \
                mock.patch("tianfu.proofs.verify.check_tx_scheme", lambda tx: None, create=True):  # fmt: skip
            tx_doc = make_document("tx", b.tx_bundle(tx.hash), chain.genesis, opts)
            state_doc = make_document("state", b.state_bundle([("evidence", "dep:" + did)], 1),
                                      chain.genesis, opts)  # fmt: skip
            merged = merge_single_blocks([tx_doc, state_doc])
            ev_doc = make_document("evidence", merged, chain.genesis, opts)
        return [{"name": f"{kind} of a transaction of scheme {scheme}, version {version}",
                 "kind": kind, "document": doc, "genesis": genesis, "now_ms": now}
                for kind, doc in (("tx", tx_doc), ("evidence", ev_doc))]  # fmt: skip


@pytest.mark.parametrize(("suite", "scheme"), [("standard", 257), ("standard", 3),
                                               ("sm2", 7), ("sm2", 1), ("sm2", 259),
                                               ("standard", -255)])  # fmt: skip
def test_a_proven_transaction_of_a_scheme_the_suite_does_not_accept_is_refused(
    suite: str, scheme: int
) -> None:
    """Main: the console took the evidence document of scheme 257 (the address of scheme 1)
    and, on an sm2 chain, hashed a scheme-7 or scheme-1 transaction's id with SM3 where the
    SDK and the spec verifier use SHA-256; the SDK raised ValueError (no verdict) for the
    address of scheme 257 and the spec verifier KeyError for any unknown scheme."""
    for base in forged_documents(suite, scheme):
        verdicts = three(base)
        assert not any(ok for ok, _ in verdicts), (base["name"], verdicts)
        assert all("scheme" in why for _, why in verdicts), (base["name"], verdicts)


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_proven_transaction_of_another_version_is_refused(suite: str) -> None:
    """Main: the console read a proven transaction's body by its length alone and took one
    of version 2 that the SDK and the spec verifier refuse (transactions.md: version 1)."""
    scheme = ED25519 if suite == "standard" else SM2
    for base in forged_documents(suite, scheme, version=2):
        verdicts = three(base)
        assert not any(ok for ok, _ in verdicts), (base["name"], verdicts)


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_honest_documents_of_the_forging_chain_verify(suite: str) -> None:
    """The chain and rendering above make valid documents when the scheme is the suite's:
    what the tests above refuse is the scheme (or the version), nothing else."""
    scheme = ED25519 if suite == "standard" else SM2
    for base in forged_documents(suite, scheme):
        verdicts = three(base)
        assert all(ok for ok, _ in verdicts), (base["name"], verdicts)


def test_the_console_gives_every_address_vector_and_refuses_an_unknown_scheme() -> None:
    """docs/spec/vectors/crypto.json's addresses through the console's `addressOf`: main's
    gave the scheme-257 key the address of scheme 1 (Uint8Array([257]) is [1]) and a
    scheme-0 or -4 key an address, where crypto.md#addresses defines none."""
    if lib.NODE is None:
        pytest.skip("Node.js runs the console's verifier here")
    vectors = json.loads((lib.ROOT / "docs/spec/vectors/crypto.json").read_text())["addresses"]
    script = f"""
const p = await import({json.dumps(str(lib.ROOT / "src/tianfu/web/static/js/proof.js"))});
const cases = {json.dumps(vectors)};
const suites = {{1: "standard", 2: "standard", 3: "sm2"}};
const out = cases.map((c) => {{
  try {{
    return p.inSuite(suites[c.scheme] ?? "standard",
                     () => p.addressOf(c.scheme, p.fromHex(c.public_key)));
  }} catch (e) {{
    return null;
  }}
}});
process.stdout.write(JSON.stringify(out));
"""
    out = subprocess.run([lib.NODE, "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=120, check=True)  # fmt: skip
    assert json.loads(out.stdout) == [c["address"] for c in vectors]
    assert None in [c["address"] for c in vectors]


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_contract_name_with_a_final_line_feed_is_no_transaction(suite: str) -> None:
    """transactions.md: a contract name is the whole text `[a-z][a-z0-9_]*`. Main's SDK
    decoded a transaction to "kv\\n" (msgspec's pattern `^…$` matches before a final line
    feed), so a node admitted it into a block (its receipt failed: no such contract) and the
    SDK took its `tx` document, which the spec verifier and the console refuse."""
    from tianfu.codec import CodecError
    from tianfu.types.tx import decode_tx

    m = vac._chain_module()
    with chain_suite(suite).use():
        alice = m.Signer.make(f"seventh-{suite}/alice", ED25519 if suite == "standard" else SM2)
        body = TxBody(1, "c", alice.scheme, alice.public_key, 1, 1000, "kv\n", "put", [], b"")
        raw = encode(Transaction(body, bytes(64)))
        with pytest.raises((CodecError, ValueError)):
            decode_tx(raw)


def test_the_console_keeps_the_sdks_p256_verdicts_with_its_key_tables() -> None:
    """The console keeps each P-256 key's point with a table of its multiples from its
    second use (chain.js, p256Point) and checks ECDSA itself on it: over 70 keys signing
    twice (more than it keeps) and 4 keys signing 8 messages each — valid, with a bit of s
    or r flipped, high s (n − s), over another message — and a key off the curve used three
    times, it says what the SDK says."""
    from test_verifiers_agree import SIGNATURE_RUNNER

    from tianfu.crypto import ECDSA_P256, verify

    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    m = vac._chain_module()
    with chain_suite("standard").use():
        cases: list[tuple[bytes, bytes, bytes]] = []
        for i in range(70):
            s = m.Signer.make(f"p256-table/key{i}", ECDSA_P256)
            cases += [(s.public_key, bytes([j]) * 32, s.sign(bytes([j]) * 32)) for j in range(2)]
        for i in range(4):
            s = m.Signer.make(f"p256-table/many{i}", ECDSA_P256)
            for j in range(8):
                msg = bytes([j, i]) * 16
                sig = s.sign(msg)
                high = sig[:32] + (n - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")
                cases += [(s.public_key, msg, sig),
                          (s.public_key, msg, sig[:40] + bytes([sig[40] ^ 4]) + sig[41:]),
                          (s.public_key, msg, bytes([sig[0] ^ 1]) + sig[1:]),
                          (s.public_key, msg, high),
                          (s.public_key, b"\xff" * 32, sig)]  # fmt: skip
        off = b"\x02" + bytes(31) + b"\x01"  # x = 1: x³ − 3x + b is no square mod p
        cases += [(off, bytes(32), cases[-1][2])] * 3
        sdk = [verify(ECDSA_P256, pub, msg, sig) for pub, msg, sig in cases]
    assert sum(sdk) == 140 + 32, [i for i, ok in enumerate(sdk) if ok and i >= 140]
    if lib.NODE is None:
        return
    payload = [{"suite": "standard", "scheme": ECDSA_P256, "public_key": pub.hex(),
                "message": msg.hex(), "signature": sig.hex()} for pub, msg, sig in cases]  # fmt: skip
    out = subprocess.run([lib.NODE, str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js == sdk, [i for i, (x, y) in enumerate(zip(js, sdk, strict=True)) if x != y]


def reheaded_document(suite: str, tx_count: int | None, round_: int) -> dict[str, Any]:
    """The `state` document of block 3 of a 4-validator chain, with block 3's header given
    `tx_count` (None: its own) and its certificate made at `round_`, signed anew by every
    validator (what validators holding more than 2/3 of the power can sign)."""
    import msgspec

    from tianfu.proofs.documents import bundle_of
    from tianfu.proofs.formats import LightBlock
    from tianfu.types import PRECOMMIT, CommitCertificate, CommitSig, vote_signing_bytes

    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"width-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"width-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        chain.commit([], {state_key("kv", "v"): encode("x")})
        chain.commit()
        chain.commit()
        now = m.T0 + 3_600_000
        opts = TrustOptions(now_ms=now)
        doc = make_document("state", ProofBuilder(chain).state_bundle([("kv", "v")], 3),
                            chain.genesis, opts)  # fmt: skip
        header = chain.header(3)
        if tx_count is not None:
            header = msgspec.structs.replace(header, tx_count=tx_count)
        sigs = []
        for i, s in enumerate(signers):
            t = header.time_ms + 1000 + i
            msg = vote_signing_bytes(chain.chain_id, 3, round_, PRECOMMIT, header.hash, t)
            sigs.append(CommitSig(s.public_key, t, s.sign(msg)))
        cert = CommitCertificate(1, chain.chain_id, 3, round_, header.hash, sigs)
        bundle = bundle_of(doc)
        block = msgspec.structs.replace(
            bundle.blocks[0], block=LightBlock(encode(header), encode(cert), b"")
        )
        bundle = msgspec.structs.replace(bundle, blocks=[block])
        doc = {**doc, "block_hash": header.hash.hex(), "raw": encode(bundle).hex()}
        return {"name": f"tx_count {tx_count}, round {round_}", "kind": "state",
                "document": doc, "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip


@pytest.mark.parametrize("suite", ["standard", "sm2"])
@pytest.mark.parametrize(
    ("tx_count", "round_"),
    [(2**53, 0), (2**64 - 1, 0), (None, 2**53), (None, 2**64 - 1)],
)
def test_a_round_or_tx_count_beyond_2_53_is_malformed_for_every_verifier(
    suite: str, tx_count: int | None, round_: int
) -> None:
    """blocks.md bounds a header's and a certificate's height, round and tx_count to
    2^53 − 1, as it bounds their times: main's SDK and spec verifier took any integer of the
    encoding (to 2^64 − 1), the console (which reads them as JavaScript numbers) only up to
    2^53 − 1, so they split on a block certified with such a round or tx_count."""
    verdicts = three(reheaded_document(suite, tx_count, round_))
    assert not any(ok for ok, _ in verdicts), verdicts


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_round_and_tx_count_of_2_53_minus_1_verify_everywhere(suite: str) -> None:
    """The bound's other side: round and tx_count 2^53 − 1 are valid for every verifier."""
    verdicts = three(reheaded_document(suite, 2**53 - 1, 2**53 - 1))
    assert all(ok for ok, _ in verdicts), verdicts


def odd_receipt_document(suite: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The `tx` document of a block holding a `kv` put whose receipt has `fields` replaced
    (Receipt's fields, or `event` for its one event's [contract, name, data])."""
    import msgspec

    from tianfu.proofs import verify as sdk_verify

    lib.load_app_kinds()
    real = sdk_verify.decode_part

    def lenient(data: bytes, cls: Any, what: str) -> Any:  # the receipt as it is, unchecked
        if cls is not Receipt:
            return real(data, cls, what)
        r = msgspec.msgpack.decode(data)
        return Receipt(r[0], r[1], r[2], r[3], [Event(*e) for e in r[4]])

    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"receipt-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"receipt-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        alice = m.Signer.make(f"receipt-{suite}/alice", scheme)
        tx = m.signed_tx(alice, chain.chain_id, 1, "kv", "put", ["a", "b"])
        event = fields.pop("event", ["kv", "Put", {"key": "a"}])
        receipt = Receipt(**{"status": OK, "gas_used": 10, "result": None, "error": "",
                             "events": [Event(*event)], **fields})  # fmt: skip
        chain.commit([(tx, receipt)], {state_key("kv", "a"): encode("b")})
        chain.commit()
        now = m.T0 + 3_600_000
        with mock.patch.object(sdk_verify, "decode_part", lenient):
            doc = make_document("tx", ProofBuilder(chain).tx_bundle(tx.hash), chain.genesis,
                                TrustOptions(now_ms=now))  # fmt: skip
        return {"name": f"a receipt with {fields or event}", "kind": "tx", "document": doc,
                "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip


@pytest.mark.parametrize("suite", ["standard", "sm2"])
@pytest.mark.parametrize(
    "fields",
    [{"gas_used": True}, {"gas_used": "10"}, {"gas_used": None}, {"error": 7},
     {"error": None}, {"event": [5, "Put", {"key": "a"}]}, {"event": ["kv", 9, {}]}],
)  # fmt: skip
def test_a_receipt_field_of_another_type_is_refused(suite: str, fields: dict[str, Any]) -> None:
    """transactions.md: `gas_used` is an integer, `error` a text, an event's contract and
    name texts. Main's console read a receipt by its length, its status and its values
    alone and took (rendered) a boolean, text or nil `gas_used`, an integer or nil `error`
    and an event of an integer contract or name, which the SDK and the spec verifier
    refuse."""
    verdicts = three(odd_receipt_document(suite, dict(fields)))
    assert not any(ok for ok, _ in verdicts), verdicts


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_honest_receipt_of_the_odd_receipt_chain_verifies(suite: str) -> None:
    verdicts = three(odd_receipt_document(suite, {}))
    assert all(ok for ok, _ in verdicts), verdicts


def leaf_document(suite: str, height: int, prev: int | None, hashed: int) -> dict[str, Any]:
    """The `state` document of block 3 whose header's state is one leaf — key kv/v, value
    "x", written at `height` after `prev` — hashed with u64be(`hashed`) (what a verifier
    reading `height` as 64 unsigned bits hashes), block 3 signed anew by every validator."""
    import msgspec

    from tianfu.codec import decode as cdecode
    from tianfu.codec import hash_domain
    from tianfu.proofs.documents import bundle_of
    from tianfu.proofs.formats import EntryProof, LightBlock
    from tianfu.state import StateProof
    from tianfu.state.proof import ProofLeaf
    from tianfu.types import (
        PRECOMMIT,
        BlockHeader,
        CommitCertificate,
        CommitSig,
        vote_signing_bytes,
    )

    base = reheaded_document(suite, None, 0)
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"width-{suite}/node{i + 1}", scheme) for i in range(4)]
        key, value = state_key("kv", "v"), encode("x")
        kh = hash_domain("tianfu/state/key/v1", key)
        vh = hash_domain("tianfu/state/value/v1", value)
        p = b"" if prev is None else (prev % 2**64).to_bytes(8, "big")
        root = hash_domain("tianfu/state/leaf/v2", kh, vh, hashed.to_bytes(8, "big"), p)
        bundle = bundle_of(base["document"])
        light = bundle.blocks[0].block
        header = msgspec.structs.replace(cdecode(light.header, BlockHeader), state_root=root)
        sigs = []
        for i, s in enumerate(signers):
            t = header.time_ms + 1000 + i
            msg = vote_signing_bytes(header.chain_id, 3, 0, PRECOMMIT, header.hash, t)
            sigs.append(CommitSig(s.public_key, t, s.sign(msg)))
        cert = CommitCertificate(1, header.chain_id, 3, 0, header.hash, sigs)
        proof = StateProof(2, [], ProofLeaf(kh, vh, height, prev))
        block = msgspec.structs.replace(
            bundle.blocks[0],
            block=LightBlock(encode(header), encode(cert), b""),
            entries=[EntryProof(key, value, encode(proof))],
        )
        bundle = msgspec.structs.replace(bundle, blocks=[block])
        doc = dict(base["document"])
        doc.update(block_hash=header.hash.hex(), state_root=root.hex(), raw=encode(bundle).hex())
        doc["entries"] = [{**doc["entries"][0], "changed_at": height, "previous_change": prev}]
        return {**base, "name": f"a leaf of height {height}, prev {prev}", "document": doc}


@pytest.mark.parametrize("suite", ["standard", "sm2"])
@pytest.mark.parametrize(
    ("height", "prev", "hashed"),
    [(-1, None, 2**64 - 1), (3, -1, 3), (4, None, 4), (2**60, None, 2**60), (2**60, 2, 2**60)],
)
def test_a_proven_entry_changed_after_its_block_or_at_a_negative_height_is_refused(
    suite: str, height: int, prev: int | None, hashed: int
) -> None:
    """merkle.md: a leaf's height and prev are in 0 … 2^63 − 1, and (proofs.md) a proven
    entry's height never exceeds its block's (the state of block h holds only changes up to
    h). Main's console hashed a leaf of height −1 as u64be(2^64 − 1) and took it, and refused
    a leaf of height 2^60 (a BigInt) that the SDK and the spec verifier took; all three took
    an entry changed at block 4 in the state of block 3."""
    verdicts = three(leaf_document(suite, height, prev, hashed))
    assert not any(ok for ok, _ in verdicts), verdicts


@pytest.mark.parametrize("suite", ["standard", "sm2"])
@pytest.mark.parametrize(("height", "prev"), [(3, None), (3, 2), (0, None)])
def test_a_proven_entry_changed_at_or_before_its_block_verifies(
    suite: str, height: int, prev: int | None
) -> None:
    verdicts = three(leaf_document(suite, height, prev, height))
    assert all(ok for ok, _ in verdicts), verdicts


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_change_and_its_reversal_in_one_block_is_no_change(suite: str) -> None:
    """merkle.md#leaves-with-history: a block that leaves an entry as it was — here the
    `governance/validators` value written again with the set it held (a change and its
    reversal in one block, a power set to the power it had) — writes no new leaf, so the
    node's documents list no change there and every verifier takes them; a power change
    without a key change, in the next block, is a change (a link) like any other."""
    import msgspec

    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"reverse-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"reverse-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        chain.commit([], {state_key("kv", "v"): encode("x")})  # 1
        g = list(chain.genesis.validators)
        chain.change_validators(g)  # 2: the genesis set again
        chain.change_validators([msgspec.structs.replace(g[0], power=2), *g[1:]])  # 3
        for _ in range(3):
            chain.commit()  # 4 … 6
        now = m.T0 + 3_600_000
        doc = make_document("state", ProofBuilder(chain).state_bundle([("kv", "v")], 6),
                            chain.genesis, TrustOptions(now_ms=now))  # fmt: skip
    assert [c["changed_in"] for c in doc["validator_changes"]] == [0, 3]
    assert [v["power"] for v in doc["validator_changes"][1]["validators"]] == [2, 1, 1, 1]
    base = {"name": "a reversal", "kind": "state", "document": doc,
            "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip
    verdicts = three(base)
    assert all(ok for ok, _ in verdicts), verdicts


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_set_that_changes_every_block_verifies_at_every_height(suite: str) -> None:
    """blocks.md#validator-sets: the change written by block c signs from c + 2, so on a
    chain whose set changes in every block (a power, then a member added, a member removed,
    in turn), block h is signed by the set block h − 2 wrote; the node's documents of every
    height, sequential and skipping, list the changes up to h − 2 and every verifier takes
    them."""
    import msgspec

    from tianfu.proofs.build import SKIPPING
    from tianfu.types import Validator

    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        pool = [m.Signer.make(f"every-{suite}/node{i + 1}", scheme) for i in range(7)]
        chain = m.SpecChain(f"every-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(pool[:4])])  # fmt: skip
        for s in pool[4:]:
            chain.add_signer(s)
        chain.commit([], {state_key("kv", "v"): encode("x")})  # 1
        members = list(chain.genesis.validators)
        for c in range(2, 9):
            if c % 3 == 2:  # a power
                members[0] = msgspec.structs.replace(members[0], power=members[0].power + 1)
            elif c % 3 == 0:  # a member added
                s = pool[4 + (c // 3) % 3]
                members = [v for v in members if v.public_key != s.public_key]
                members.append(Validator(f"n{c}", "org1", scheme, s.public_key, 1))
            else:  # the last member removed
                members = members[:-1]
            chain.change_validators(members)
        for _ in range(2):
            chain.commit()
        now = m.T0 + 3_600_000
        b = ProofBuilder(chain)
        bases = []
        for h in range(1, chain.height() + 1):
            expect = [0] + [c for c in range(2, 9) if c <= h - 2]
            for mode in ("sequential", SKIPPING):
                bundle = (b.state_bundle([("kv", "v")], h) if mode == "sequential"
                          else b.state_bundle([("kv", "v")], h, SKIPPING))  # fmt: skip
                doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
                if mode == "sequential":
                    assert [c["changed_in"] for c in doc["validator_changes"]] == expect, h
                bases.append({"name": f"block {h}, {mode}", "kind": "state", "document": doc,
                              "genesis": encode(chain.genesis), "now_ms": now})  # fmt: skip
    for base in bases:
        verdicts = three(base)
        assert all(ok for ok, _ in verdicts), (base["name"], verdicts)


def test_every_verifier_gives_the_verdict_of_each_whole_document_vector() -> None:
    """docs/spec/vectors/documents.json's cases given whole (the valid ones and the blocks
    signed anew of forgedvectors.py, each breaking one rule of a certified block): the SDK,
    the spec verifier and the console (for the kinds it verifies) give each its `valid`.
    Main's three took the state entry changed after its block and the standard suite's
    transaction of scheme 257; its console took the sm2 suite's too."""
    v = json.loads((lib.ROOT / "docs/spec/vectors/documents.json").read_text())
    lib.load_app_kinds()
    cases = [c for c in v["cases"] if "document" in c]
    assert {c["valid"] for c in cases} == {True, False}
    wrong = []
    js_items = []
    for c in cases:
        genesis = bytes.fromhex(v["geneses"][c["genesis"]])
        case = lib.Case(c["name"], lib.dumps(c["document"]), c["now_ms"])
        for name, (ok, why) in (("sdk", lib.verdict_sdk(case, genesis, c["kind"])),
                                ("spec", lib.verdict_spec(case, genesis, c["kind"]))):  # fmt: skip
            if ok is not c["valid"]:
                wrong.append((c["suite"], c["name"], name, why))
        if lib.NODE is not None and c["kind"] in lib.JS_KINDS:
            js_items.append((c, (case, genesis, c["kind"])))
    if js_items:
        for (c, _), (ok, why) in zip(js_items, lib.verdicts_js([i for _, i in js_items]),
                                     strict=True):  # fmt: skip
            unsupported = any(u in why for u in lib.JS_UNSUPPORTED)  # refused by design
            if ok is not c["valid"] and not (c["valid"] and unsupported):
                wrong.append((c["suite"], c["name"], "console", why))
    assert wrong == []


def test_governance_refuses_a_contract_name_with_a_final_line_feed(tmp_path: Any) -> None:
    """Governance checked a proposed contract's name with `re.match(^…$)`, which takes
    "kv\\n": such a contract could be deployed, yet no transaction may call it (TxBody's
    name is the whole text) and no document can show its state (documents.md: a contract
    key's name is the whole text before the first `/`)."""
    import sys

    sys.path.insert(0, str(lib.ROOT / "tests" / "unit"))
    from test_governance_admission import Chain

    chain = Chain(tmp_path)
    try:
        chain.block()
        source = "def put(ctx, k, v):\n    ctx.put(k, v)\n"
        r = chain.call(chain.admins["org1"], "propose_contract", "kv\n", source)
        assert not r.ok and "contract name" in r.error, r
        assert chain.call(chain.admins["org1"], "propose_contract", "kv", source).ok
    finally:
        chain.close()
