"""Documents of blocks the vector chain's validators sign anew (documents.json): what
validators holding more than 2/3 of the power could certify. The invalid ones each break one
rule a verifier checks of a certified block: every verifier MUST reject each; their readable
fields are what a verifier skipping that rule would render, so that only the rule rejects
them. The valid ones (`forged_documents_eighth`) sit at the edges of the integer ranges.

- a state entry changed after its block (proofs.md, pass 1): the state of block `h` is one
  leaf written at `h + 1`;
- a transaction of scheme 257 (transactions.md, crypto.md#addresses): no suite accepts it,
  and `u8(257)` taken modulo 256 would be 1.
"""

from __future__ import annotations

from typing import Any

import msgspec
from chain import SpecChain

from tianfu.codec import decode, encode, hash_domain
from tianfu.crypto.merkle import merkle_root
from tianfu.execution.contract_api import state_key
from tianfu.proofs.documents import bundle_of
from tianfu.proofs.formats import BlockProof, EntryProof, LightBlock, TxInclusion
from tianfu.state import StateProof
from tianfu.state.proof import ProofLeaf
from tianfu.types import (
    PRECOMMIT,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Transaction,
    TxBody,
    Validator,
    vote_signing_bytes,
)


def _resign(chain: SpecChain, header: BlockHeader) -> CommitCertificate:
    """`header`'s certificate, every member of its set signing as the chain's blocks do."""
    sigs = []
    for i, v in enumerate(chain.set_at(header.height).validators):
        if v.public_key in chain.abstain:
            continue
        t = header.time_ms + 1000 + i
        msg = vote_signing_bytes(chain.chain_id, header.height, 0, PRECOMMIT, header.hash, t)
        sigs.append(CommitSig(v.public_key, t, chain.signers[v.public_key].sign(msg)))
    return CommitCertificate(1, chain.chain_id, header.height, 0, header.hash, sigs)


def _document(base: dict[str, Any], chain: SpecChain, header: BlockHeader,
              block: BlockProof) -> dict[str, Any]:  # fmt: skip
    bundle = bundle_of(base)
    light = LightBlock(encode(header), encode(_resign(chain, header)), b"")
    bundle = msgspec.structs.replace(bundle, blocks=[msgspec.structs.replace(block, block=light)])
    return {**base, "block_hash": header.hash.hex(), "raw": encode(bundle).hex()}


def later_entry(chain: SpecChain, base: dict[str, Any]) -> dict[str, Any]:
    bp = bundle_of(base).blocks[0]
    header = decode(bp.block.header, BlockHeader)
    entry = bp.entries[0]
    assert entry.value is not None and base["entries"][0]["key"] == "alpha"
    kh = hash_domain("tianfu/state/key/v1", state_key("kv", "alpha"))
    vh = hash_domain("tianfu/state/value/v1", entry.value)
    later = header.height + 1
    root = hash_domain("tianfu/state/leaf/v2", kh, vh, later.to_bytes(8, "big"), b"")
    header = msgspec.structs.replace(header, state_root=root)
    proof = StateProof(2, [], ProofLeaf(kh, vh, later, None))
    block = msgspec.structs.replace(bp, entries=[EntryProof(entry.key, entry.value, encode(proof))])
    doc = _document(base, chain, header, block)
    doc["state_root"] = root.hex()
    doc["entries"] = [{**base["entries"][0], "changed_at": later, "previous_change": None}]
    return doc


def scheme_257(chain: SpecChain, base: dict[str, Any]) -> dict[str, Any]:
    bp = bundle_of(base).blocks[0]
    header = decode(bp.block.header, BlockHeader)
    inc = bp.txs[0]
    tx = decode(inc.tx, Transaction)
    body = msgspec.structs.replace(tx.body, scheme=257)
    forged = encode(Transaction(TxBody(*msgspec.structs.astuple(body)), tx.signature))
    header = msgspec.structs.replace(header, tx_root=merkle_root([forged]),
                                     receipts_root=merkle_root([inc.receipt]), tx_count=1)  # fmt: skip
    block = msgspec.structs.replace(bp, txs=[TxInclusion(0, forged, [], inc.receipt, [])])
    doc = _document(base, chain, header, block)
    tx_id = hash_domain("tianfu/tx/v1", encode(body))  # with the chain's hash
    doc["index"] = 0
    doc["tx"] = {**base["tx"], "scheme": 257, "hash": tx_id.hex()}
    return doc


def forged_documents(suite: str, chain: SpecChain, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """The invalid cases above, over the valid `state` and `tx` cases of `suite`."""
    by_name = {c["name"]: c for c in cases if c["suite"] == suite and "document" in c}
    out = []
    for name, base, forge in (
        ("a state entry changed after its block (a leaf of height h + 1 in block h)",
         "state", later_entry),
        ("a transaction of scheme 257 (no suite's; u8(257) modulo 256 would be 1)",
         "tx", scheme_257),
    ):  # fmt: skip
        b = by_name[base]
        out.append({"name": name, "suite": suite, "genesis": suite, "kind": b["kind"],
                    "now_ms": b["now_ms"], "valid": False,
                    "document": forge(chain, b["document"])})  # fmt: skip
    return out


# -- the eighth review: heights and counts beyond what a 64-bit float or a 32-bit shift holds ------
def _path_sides(index: int, n: int) -> list[bool]:
    """merkle.md, audit path step 2: whether each sibling, root to leaf, is on the right."""
    sides, lo, hi = [], 0, n
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        sides.append(index < lo + k)
        lo, hi = (lo, lo + k) if index < lo + k else (lo + k, hi)
    return sides


def _root(item: bytes, sides: list[bool], other: bytes) -> bytes:
    h = hash_domain("tianfu/merkle/leaf/v1", item)
    for right in reversed(sides):
        h = hash_domain("tianfu/merkle/node/v1", *((h, other) if right else (other, h)))
    return h


def big_block(chain: SpecChain, base: dict[str, Any], index: int, tx_count: int) -> dict[str, Any]:
    """The `tx` case's transaction at `index` of a block of `tx_count` transactions (the
    others' subtrees one chosen hash per level), signed anew."""
    bp = bundle_of(base).blocks[0]
    header = decode(bp.block.header, BlockHeader)
    inc = bp.txs[0]
    other = hash_domain("tianfu spec vectors/other transactions")
    sides = _path_sides(index, tx_count)
    header = msgspec.structs.replace(header, tx_root=_root(inc.tx, sides, other),
                                     receipts_root=_root(inc.receipt, sides, other),
                                     tx_count=tx_count)  # fmt: skip
    path = [other] * len(sides)
    block = msgspec.structs.replace(bp, txs=[TxInclusion(index, inc.tx, path, inc.receipt, path)])
    doc = _document(base, chain, header, block)
    doc["index"] = index
    return doc


def late_change(chain: SpecChain, base: dict[str, Any]) -> dict[str, Any]:
    """The `tx` case with one more sequential link, at block 2^53 − 2, proving a change
    written there (the latest set with its first member's power + 1): effective from 2^53."""
    from tianfu.contracts.reviewed_admission import validator_record
    from tianfu.proofs.documents import make_document
    from tianfu.proofs.formats import ValidatorLink
    from tianfu.proofs.valchain import VALIDATORS_KEY, TrustOptions
    from tianfu.types import ValidatorSet

    bundle = bundle_of(base)
    last = base["validator_changes"][-1]
    latest = ValidatorSet([Validator(v["name"], v["org"], v["scheme"], bytes.fromhex(v["public_key"]),
                                     v["power"]) for v in last["validators"]])  # fmt: skip
    new = [msgspec.structs.replace(latest.validators[0], power=latest.validators[0].power + 1),
           *latest.validators[1:]]  # fmt: skip
    value = encode([validator_record(v) for v in new])
    c = 2**53 - 2
    kh = hash_domain("tianfu/state/key/v1", VALIDATORS_KEY)
    leaf = ProofLeaf(kh, hash_domain("tianfu/state/value/v1", value), c, last["changed_in"])
    top = decode(bundle.blocks[0].block.header, BlockHeader)
    header = msgspec.structs.replace(top, height=c, state_root=leaf.hash(),
                                     validators_hash=latest.hash, tx_count=0,
                                     last_commit=msgspec.structs.replace(top.last_commit, height=c - 1))  # fmt: skip
    sigs = []
    for i, v in enumerate(latest.validators):
        t = header.time_ms + 1000 + i
        msg = vote_signing_bytes(chain.chain_id, c, 0, PRECOMMIT, header.hash, t)
        sigs.append(CommitSig(v.public_key, t, chain.signers[v.public_key].sign(msg)))
    cert = CommitCertificate(1, chain.chain_id, c, 0, header.hash, sigs)
    link = ValidatorLink(LightBlock(encode(header), encode(cert), b""), value,
                         encode(StateProof(2, [], leaf)))  # fmt: skip
    bundle = msgspec.structs.replace(bundle, validators=[*bundle.validators, link])
    return make_document("tx", bundle, chain.genesis, TrustOptions(now_ms=base["_now_ms"]))


def forged_documents_eighth(suite: str, chain: SpecChain, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Documents the eighth review added (docs/adr/0035): a change effective from 2^53
    (valid), a block of 2^53 − 1 transactions whose transaction 2^31 − 1 is proven (valid),
    a transaction proven at index 2^31 (invalid: an index is at most 2^31 − 1) and an
    evidence record whose `tx` is a byte string (invalid: documents.md compares texts)."""
    by_name = {c["name"]: c for c in cases if c["suite"] == suite and "document" in c}
    tx, evidence = by_name["tx"], by_name["evidence"]
    out = []
    for name, b, valid, make in (
        ("a change written by block 2^53 − 2, effective from 2^53 (exact, not a float)", tx,
         True, lambda: late_change(chain, {**tx["document"], "_now_ms": tx["now_ms"]})),
        ("a block of 2^53 − 1 transactions, its transaction 2^31 − 1 proven", tx, True,
         lambda: big_block(chain, tx["document"], 2**31 - 1, 2**53 - 1)),
        ("a transaction proven at index 2^31 (a TxInclusion index is at most 2^31 − 1)", tx,
         False, lambda: big_block(chain, tx["document"], 2**31, 2**31 + 1)),
        ("an evidence record whose tx is the id's bytes, not its hex text (both render alike)",
         evidence, False, lambda: record_tx_as_bytes(chain, evidence["document"])),
    ):  # fmt: skip
        out.append({"name": name, "suite": suite, "genesis": suite, "kind": b["kind"],
                    "now_ms": b["now_ms"], "valid": valid, "document": make()})  # fmt: skip
    return out


def record_tx_as_bytes(chain: SpecChain, base: dict[str, Any]) -> dict[str, Any]:
    """The `evidence` case whose deposit record holds its `tx` as the 32 bytes of the
    transaction id instead of their hex text (it renders the same), signed anew."""
    bp = bundle_of(base).blocks[0]
    header = decode(bp.block.header, BlockHeader)
    entry = bp.entries[0]
    assert entry.value is not None
    record = decode(entry.value, dict)
    record["tx"] = bytes.fromhex(record["tx"])
    value = encode(record)
    proof = decode(entry.proof, StateProof)
    assert proof.leaf is not None
    leaf = msgspec.structs.replace(
        proof.leaf, value_hash=hash_domain("tianfu/state/value/v1", value)
    )
    kh = leaf.key_hash
    h = leaf.hash()
    for d in range(len(proof.siblings) - 1, -1, -1):
        n = kh[d // 2] & 0x0F if d % 2 else kh[d // 2] >> 4
        level = proof.siblings[d]
        h = hash_domain("tianfu/state/internal/v1", *level[:n], h, *level[n:])
    header = msgspec.structs.replace(header, state_root=h)
    proven = EntryProof(entry.key, value, encode(StateProof(proof.version, proof.siblings, leaf)))
    return _document(base, chain, header, msgspec.structs.replace(bp, entries=[proven]))
