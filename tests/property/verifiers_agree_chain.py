"""Valid proof documents of a chain of each suite that goes through every kind of
membership change, and whose proven values sit at the edges of the formats.

Built with the deterministic `SpecChain` of docs/spec/vectors/chain.py (fixed keys and
times, deterministic signatures; blocks are made directly, not executed):

1. state values at the edges: 2^64 - 1, -2^63, 2^53 + 1, empty text / bytes / array / map,
   text outside the BMP and not NFC-normalised, map keys whose UTF-8 order differs from
   UTF-16 order, 32 levels of nesting; a transaction with such arguments;
2. an organisation admitted (`governance/orgs`, `org/org5`) and a validator of it added;
3. a validator re-weighted (power 1 -> 5);
4. a validator's key rotated (same name and organisation, a new key);
5. the validator of the admitted organisation removed;
6. ... 9. empty blocks.

Every document is made by the project's `ProofBuilder` (sequential and skipping chains).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import msgspec

from tianfu.codec import encode
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import ECDSA_P256, ED25519, SM2, chain_suite
from tianfu.execution.contract_api import address_of, state_key
from tianfu.proofs.build import SKIPPING, ProofBuilder
from tianfu.proofs.documents import make_document, merge_single_blocks
from tianfu.proofs.valchain import VALIDATORS_KEY, TrustOptions
from tianfu.types import OK, Event, Receipt, Validator, values
from tianfu.types.block import median_time

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def _chain_module() -> Any:
    name = "spec_vectors_chain"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, VECTORS / "chain.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def nested(depth: int) -> Any:
    v: Any = "leaf"
    for _ in range(depth):
        v = [v]
    return v


EDGE_VALUES: dict[str, Any] = {
    "u64max": 2**64 - 1,
    "i64min": -(2**63),
    "beyond_js": 2**53 + 1,
    "empties": {"text": "", "bytes": b"", "array": [], "map": {}},
    "unicode": {
        "\U0001f600": "astral \U0001d11e",
        "e\u0301": "not NFC",
        "\u00e9": "NFC",
        "\uff5e": "after the astral key in UTF-16",
    },  # fmt: skip
    "deep": nested(31),
    "mixed": [None, True, False, 0, -1, 127, 128, -32, -33, b"\x00\xff", "a/b"],
    "proto": {"__proto__": {"polluted": 1}, "constructor": "c", "toString": 0},
}
BIG = ("u64max", "i64min", "beyond_js")  # integers a JavaScript number does not hold exactly


def build(suite: str) -> tuple[dict[str, Any], bytes, int]:
    """The documents ({name: (kind, document)}), the genesis bytes and the clock."""
    with chain_suite(suite).use():
        return _build(suite)


def _build(suite: str) -> tuple[dict[str, Any], bytes, int]:
    m = _chain_module()
    schemes = [ED25519, ED25519, ECDSA_P256, ED25519] if suite == "standard" else [SM2] * 4
    signers = [m.Signer.make(f"agree-{suite}/node{i + 1}", sc) for i, sc in enumerate(schemes)]
    chain = m.SpecChain(f"agree-{suite}", suite, [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
    user = m.Signer.make(f"agree-{suite}/user", schemes[0])
    node5 = m.Signer.make(f"agree-{suite}/node5", schemes[0])
    rotated = m.Signer.make(f"agree-{suite}/node2-rotated", schemes[1])
    chain.add_signer(node5)
    chain.add_signer(rotated)
    g = list(chain.genesis.validators)
    writes = {state_key("kv", k): encode(v) for k, v in EDGE_VALUES.items()}
    tx = m.signed_tx(user, chain.chain_id, 1, "kv", "put", ["edges", EDGE_VALUES["unicode"],
                     EDGE_VALUES["u64max"], EDGE_VALUES["i64min"], b""])  # fmt: skip
    receipt = Receipt(OK, 7, EDGE_VALUES["mixed"], "", [Event("kv", "Put", EDGE_VALUES["empties"])])
    chain.commit([(tx, receipt)], writes)  # 1
    v5 = Validator("node5", "org5", node5.scheme, node5.public_key, 1)
    org5 = {"name": "org5", "ca_cert": b"CA of org5", "status": "active"}
    chain.commit([], {
        state_key("governance", "orgs"): encode(["org1", "org2", "org3", "org4", "org5"]),
        state_key("governance", "org/org5"): encode(org5),
        VALIDATORS_KEY: encode([validator_record(v) for v in [*g, v5]]),
    })  # 2: an organisation admitted, a validator of it added  # fmt: skip
    weighted = [msgspec.structs.replace(g[0], power=5), *g[1:], v5]
    chain.change_validators(weighted)  # 3: re-weighted
    rot = [weighted[0], Validator(g[1].name, g[1].org, rotated.scheme, rotated.public_key, 1),
           *weighted[2:]]  # fmt: skip
    chain.change_validators(rot)  # 4: node2's key rotated
    chain.change_validators(rot[:4])  # 5: node5 removed
    for _ in range(4):
        chain.commit()  # 6 ... 9
    now = m.T0 + 3_600_000
    opts = TrustOptions(now_ms=now)
    b = ProofBuilder(chain)
    docs: dict[str, Any] = {}

    def doc(name: str, kind: str, bundle: Any) -> None:
        docs[name] = (kind, make_document(kind, bundle, chain.genesis, opts))

    keys = [("kv", k) for k in EDGE_VALUES] + [("kv", "never written")]
    doc("edge values", "state", b.state_bundle(keys, 9))
    doc("edge values, skipping chain", "state", b.state_bundle(keys[:2], 9, SKIPPING))
    doc("edge values at block 1", "state", b.state_bundle(keys[:4], 1))
    safe = [("kv", k) for k in EDGE_VALUES if k not in BIG]
    doc("edge values within JavaScript's safe integers", "state", b.state_bundle(safe, 9))
    doc("edge transaction", "tx", b.tx_bundle(tx.hash))
    doc("validators after a key rotation", "validators", b.validators_bundle(9))
    doc("validators between changes", "validators", b.validators_bundle(5))
    doc("validators after a key rotation, skipping", "validators", b.validators_bundle(9, SKIPPING))
    doc("orgs after an admission", "orgs", b.consortium_bundle("orgs", 9))
    doc("validators history", "history", b.history_bundle("governance", "validators", 9))
    return docs, encode(chain.genesis), now


def value_document(
    suite: str, value: Any, *, depth_limit: int | None = None
) -> tuple[dict[str, Any], bytes, int]:
    """A `state` document proving `kv/v` = `value` at block 3 of a small chain. With
    `depth_limit`, the project's nesting limit of contract values is that while the
    document is made (to make a document every verifier MUST refuse)."""
    with chain_suite(suite).use():
        m = _chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"agree-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"agree-{suite}", suite, [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        chain.commit([], {state_key("kv", "v"): encode(value)})
        chain.commit()
        chain.commit()
        now = m.T0 + 3_600_000
        limit = values.MAX_DEPTH
        values.MAX_DEPTH = depth_limit or limit
        try:
            bundle = ProofBuilder(chain).state_bundle([("kv", "v")], 3)
            doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
        finally:
            values.MAX_DEPTH = limit
        return doc, encode(chain.genesis), now


def record_documents(suite: str) -> tuple[dict[str, Any], bytes, int]:
    """An `evidence` and a `photo_authorship` certificate (documents.md#record-certificates)
    of records written in block 2, after a change of the validator set in block 1."""
    with chain_suite(suite).use():
        m = _chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"agree-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"agree-{suite}", suite, [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        user = m.Signer.make(f"agree-{suite}/user", scheme)
        who = address_of(user.scheme, user.public_key)
        g = list(chain.genesis.validators)
        chain.change_validators([msgspec.structs.replace(g[0], power=2), *g[1:]])  # 1
        t2 = median_time(chain.certs[-1], chain.set_at(1))
        fh, ih, ph = (hashlib.sha256(x).hexdigest() for x in (b"file", b"image", b"phash"))
        dep = m.signed_tx(user, chain.chain_id, 1, "evidence", "deposit", [fh, "A file", {}])
        reg = m.signed_tx(user, chain.chain_id, 2, "photos", "register", [ih, "A photo", ph])
        common = {"org": "org1", "name": "user", "height": 2, "time_ms": t2}
        records = {
            state_key("evidence", "dep:D-1"): {**common, "id": "D-1", "file_hash": fh,
                "title": "A file", "depositor": who, "tx": dep.hash.hex()},
            state_key("photos", "photo:P-1"): {**common, "id": "P-1", "sha256": ih, "phash": ph,
                "title": "A photo", "author": who, "tx": reg.hash.hex()},
        }  # fmt: skip
        chain.commit(
            [(dep, Receipt(OK, 40, "D-1", "", [])), (reg, Receipt(OK, 40, "P-1", "", []))],
            {k: encode(v) for k, v in records.items()},
        )  # 2
        chain.commit()
        chain.commit()
        now = m.T0 + 3_600_000
        opts = TrustOptions(now_ms=now)
        b = ProofBuilder(chain)
        docs: dict[str, Any] = {}
        for kind, tx, (contract, key) in (("evidence", dep, ("evidence", "dep:D-1")),
                                          ("photo_authorship", reg, ("photos", "photo:P-1"))):  # fmt: skip
            parts = [make_document("tx", b.tx_bundle(tx.hash), chain.genesis, opts),
                     make_document("state", b.state_bundle([(contract, key)], 2), chain.genesis, opts)]  # fmt: skip
            docs[f"{kind} certificate"] = (kind, make_document(kind, merge_single_blocks(parts), chain.genesis, opts))  # fmt: skip
        return docs, encode(chain.genesis), now
