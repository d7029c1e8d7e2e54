"""Disagreements found by the ninth review (a cross-review of the eighth): the light client's
reads — a state read, a transaction proof, a block's event batch — against the bounds and
checks the documents' verifiers apply to the same proven parts (proofs.md#bundle), with
blocks signed anew (verifiers_agree_forge.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import verifiers_agree_chain as vac
import verifiers_agree_lib  # noqa: F401 - puts the spec verifier on the path
from verifiers_agree_forge import Forge

from tianfu.codec import encode, hash_domain
from tianfu.crypto import chain_suite
from tianfu.proofs.errors import VerificationError
from tianfu.types.tx import Event, Receipt

SUITES = ["standard", "sm2"]
MIB = 1 << 20


def _outcome(read: Any) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - compared by the tests
        return exc


# -- a proven value of more than 1 MiB -----------------------------------------------------------
def state_read(suite: str, value: bytes) -> Any:
    """The light client's state read of kv/v in block 3, whose one leaf holds `value`
    (its proof and certificate valid): the result or the exception raised."""
    from tianfu.client import verify_state_read

    f = Forge(suite, "ninth-value")
    g = f.genesis_set()
    with chain_suite(suite).use():
        root, proof = f.leaf_state(b"kv/v", value, 3, None)
        h = f.header(3, root, g)
        cert = f.cert(h, list(g.validators))
    return _outcome(
        lambda: verify_state_read(
            f.g, f.chain_id, "kv", "v", value, encode(proof), encode(h), encode(cert)
        )
    )


@pytest.mark.parametrize("suite", SUITES)
def test_a_state_read_refuses_a_value_a_bundle_could_not_hold(suite: str) -> None:
    """proofs.md#bundle: every part held as bytes, a proven value too, has at most 1 MiB; a
    bundle proving a larger value is refused by all three verifiers of documents. The light
    client's state read (`verify_state_read`, behind the client's `/v1/state` reads) took a
    value of any size. A byte string of 1 MiB − 5 bytes encodes in exactly 1 MiB (taken),
    one byte more in 1 MiB + 1 (refused)."""
    at_bound = encode(b"x" * (MIB - 5))
    assert len(at_bound) == MIB
    taken = state_read(suite, at_bound)
    assert not isinstance(taken, Exception), taken
    assert taken.value == b"x" * (MIB - 5)
    over = state_read(suite, encode(b"x" * (MIB - 4)))
    assert isinstance(over, VerificationError), over
    assert "1048576" in str(over)


@pytest.mark.parametrize("suite", SUITES)
def test_a_state_read_refuses_a_key_a_bundle_could_not_hold(suite: str) -> None:
    """proofs.md#bundle: an `EntryProof`'s key has 1 … 4096 bytes. The light client's state
    read took the (absence or value) proof of a key of any length; `kv/` and 4093
    characters (4096 bytes) are taken, one more refused."""
    from tianfu.client import verify_state_read

    f = Forge(suite, "ninth-key")
    g = f.genesis_set()
    out = []
    for key in ("k" * 4093, "k" * 4094):
        with chain_suite(suite).use():
            root, proof = f.leaf_state(("kv/" + key).encode(), encode("x"), 3, None)
            h = f.header(3, root, g)
            cert = f.cert(h, list(g.validators))
        out.append(_outcome(lambda key=key, proof=proof, h=h, cert=cert: verify_state_read(
            f.g, f.chain_id, "kv", key, encode("x"), encode(proof), encode(h), encode(cert))))  # fmt: skip
    assert not isinstance(out[0], Exception) and out[0].value == "x", out[0]
    assert isinstance(out[1], VerificationError), out[1]


# -- a transaction index beyond 2^31 − 1 ---------------------------------------------------------
def tx_proof(suite: str, index: Any, tx_count: int) -> Any:
    """The light client's proof of a `kv` put at `index` of block 3 of `tx_count`
    transactions (the other transactions' subtrees standing as one chosen hash per level of
    the path, as in the eighth review's big block): the result or the exception raised."""
    from tianfu.client import verify_tx_proof

    f = Forge(suite, "ninth-index")
    g = f.genesis_set()
    m = vac._chain_module()
    with chain_suite(suite).use():
        tx = m.signed_tx(f.signer("alice"), f.chain_id, 1, "kv", "put", ["a", "b"])
        receipt = encode(Receipt(0, 10, None, "", [Event("kv", "Put", {"key": "a"})]))
        other = hash_domain("forge/other transactions")
        sides = []  # merkle.md, audit path step 2: the sibling is on the right
        lo, hi = 0, tx_count
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            sides.append(int(index) < lo + k)
            lo, hi = (lo, lo + k) if int(index) < lo + k else (lo + k, hi)

        def root(item: bytes) -> bytes:
            h = hash_domain("tianfu/merkle/leaf/v1", item)
            for right in reversed(sides):
                h = hash_domain("tianfu/merkle/node/v1", *((h, other) if right else (other, h)))
            return h

        state_root, _ = f.leaf_state(b"kv/a", encode("b"), 3, None)
        h = f.header(3, state_root, g, tx_root=root(tx.encoded()),
                     receipts_root=root(receipt), tx_count=tx_count)  # fmt: skip
        cert = f.cert(h, list(g.validators))
        path = [other] * len(sides)
    return _outcome(
        lambda: verify_tx_proof(
            f.g,
            f.chain_id,
            tx.encoded(),
            index,
            tx_count,
            path,
            encode(h),
            encode(cert),
            receipt_bytes=receipt,
            receipt_path=path,
        )  # fmt: skip
    )


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("index", "tx_count"), [(2**31, 2**31 + 1), (2**32, 2**53 - 1)])
def test_a_transaction_proof_refuses_an_index_beyond_2_31_minus_1(
    suite: str, index: int, tx_count: int
) -> None:
    """proofs.md#bundle: a proven transaction's index is in 0 … 2^31 − 1, whatever the
    block's tx_count; the three verifiers of documents refuse 2^31 (the eighth review). Its
    twin, the light client's `verify_tx_proof`, took any index below tx_count."""
    out = tx_proof(suite, index, tx_count)
    assert isinstance(out, VerificationError), out


@pytest.mark.parametrize("suite", SUITES)
def test_a_transaction_proof_at_index_2_31_minus_1_verifies(suite: str) -> None:
    """The other side of the bound: the last index a bundle can hold is taken."""
    out = tx_proof(suite, 2**31 - 1, 2**31)
    assert not isinstance(out, Exception), out
    assert out.index == 2**31 - 1


def test_a_transaction_proofs_index_is_an_integer() -> None:
    """`True` is not the index 1 (Python's `0 <= True < 2` holds)."""
    out = tx_proof("standard", True, 2)
    assert isinstance(out, VerificationError), out
    assert not isinstance(tx_proof("standard", 1, 2), Exception)


# -- an event batch of another block than the one asked for ---------------------------------------
def empty_batch(suite: str, height: int) -> tuple[Forge, dict[str, Any]]:
    """The event batch of block `height` of no transactions (certified, complete)."""
    f = Forge(suite, "ninth-events")
    g = f.genesis_set()
    with chain_suite(suite).use():
        root, _ = f.leaf_state(b"kv/v", encode("x"), height, None)
        h = f.header(height, root, g)
        cert = f.cert(h, list(g.validators))
    batch = {"height": height, "header": encode(h).hex(), "certificate": encode(cert).hex(),
             "receipts": [], "events": []}  # fmt: skip
    return f, batch


@pytest.mark.parametrize("suite", SUITES)
def test_the_sdks_block_events_are_of_the_block_asked_for(suite: str) -> None:
    """`Client.block_events(5)` verified whatever certified batch the node answered: block
    3's (no events) passed as a verified answer for block 5, which might hold events — the
    state read's twin (`read_state(height=)`) refuses a header of another height. It is
    refused now, naming both heights; block 3's batch asked for as block 3 verifies."""
    from tianfu.client import LightClient
    from tianfu.client.proofs import ProvingReads

    f, batch = empty_batch(suite, 3)
    node = SimpleNamespace(light_client=LightClient.from_genesis(f.g),
                           block_events_raw=lambda height, contract, name: batch)  # fmt: skip
    other = _outcome(lambda: ProvingReads.block_events(node, 5))  # type: ignore[arg-type]
    assert isinstance(other, VerificationError), other
    assert "height 3, not 5" in str(other)
    same = ProvingReads.block_events(node, 3)  # type: ignore[arg-type]
    assert same.height == 3 and same.events == []


# -- a proven value at the 1 MiB bound, in a document ---------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("size", "valid"), [(MIB - 5, True), (MIB - 4, False)])
def test_a_documents_proven_value_is_bounded_at_1_mib_by_every_verifier(
    suite: str, size: int, valid: bool
) -> None:
    """proofs.md#bundle: a part of more than 1 MiB rejects the bundle. The three verifiers
    of documents agree at the bound itself (the state read above now takes the same): a
    value encoded in exactly 1 MiB is proven, one in 1 MiB + 1 is refused by all."""
    from test_verifiers_agree_eighth import agree
    from verifiers_agree_forge import change

    f = Forge(suite, "ninth-mib")
    g = f.genesis_set()
    value = encode(b"x" * size)
    with chain_suite(suite).use():
        block = f.state_block(3, g, value=value)
        h = f.header(3, f.leaf_state(b"kv/v", value, 3, None)[0], g)
    fields = {"validator_changes": [change(0, 1, list(g.validators))], "height": 3,
              "block_hash": h.hash.hex(), "time_ms": h.time_ms, "state_root": h.state_root.hex(),
              "entries": [{"contract": "kv", "key": "v", "present": True,
                           "value": "78" * size, "changed_at": 3,
                           "previous_change": None}]}  # fmt: skip
    agree(f.document("state", f.bundle([], [block]), f"a value of {len(value)} bytes", **fields),
          valid)  # fmt: skip


# -- an audit path with a sibling that is no hash ------------------------------------------------
@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("length", [31, 33, 0])
def test_a_merkle_path_of_a_sibling_that_is_no_32_byte_hash_is_refused(
    suite: str, length: int
) -> None:
    """merkle.md, audit path: the siblings are hashes. A header whose tx and receipts roots
    are nodes over a sibling of `length` bytes (validators may sign any root) proves nothing
    at index 0 of 2. A bundle's path holds 32-byte hashes only, so the three verifiers of
    documents refuse it; the light client's `verify_tx_proof` (`verify_merkle_proof`, and the
    spec verifier's `verify_path`, which trust their caller to have checked it) took it."""
    import specwire  # on the path of verifiers_agree_lib

    from tianfu.client import verify_tx_proof
    from tianfu.crypto.merkle import verify_merkle_proof

    f = Forge(suite, "ninth-path")
    g = f.genesis_set()
    m = vac._chain_module()
    odd = b"\x07" * length
    with chain_suite(suite).use():
        tx = m.signed_tx(f.signer("alice"), f.chain_id, 1, "kv", "put", ["a", "b"])
        receipt = encode(Receipt(0, 10, None, "", []))

        def root(item: bytes) -> bytes:
            return hash_domain(
                "tianfu/merkle/node/v1", hash_domain("tianfu/merkle/leaf/v1", item), odd
            )

        state_root, _ = f.leaf_state(b"kv/a", encode("b"), 3, None)
        h = f.header(3, state_root, g, tx_root=root(tx.encoded()),
                     receipts_root=root(receipt), tx_count=2)  # fmt: skip
        cert = f.cert(h, list(g.validators))
        assert not verify_merkle_proof(h.tx_root, tx.encoded(), 0, 2, [odd])
        out = _outcome(
            lambda: verify_tx_proof(
                f.g,
                f.chain_id,
                tx.encoded(),
                0,
                2,
                [odd],
                encode(h),
                encode(cert),
                receipt_bytes=receipt,
                receipt_path=[odd],
            )  # fmt: skip
        )
    assert isinstance(out, VerificationError), out
    assert not specwire.verify_path(suite, h.tx_root, tx.encoded(), 0, 2, [odd])
