"""Proof documents: JSON around a `ProofBundle`, parsed strictly against the proven data.

A document is `{"format": "tianfu-proof/v1", "kind": ..., "raw": hex(bundle), ...}` plus
readable fields that are a pure function of what the bundle proves. A verifier decodes
`raw`, verifies it against the genesis it trusts, renders the whole document again from the
proven data and requires the given document to be exactly that (same keys, same values,
same JSON types, no duplicate keys): no readable field can be added, dropped, renamed or
changed without failing. Kinds: state, tx, absence, history, validators (here) and the
applications' own (evidence, traceability), each with its shape rules and readable fields.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tianfu.codec import encode
from tianfu.crypto import CryptoError, suite_of
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.formats import BlockProof, ProofBundle
from tianfu.proofs.valchain import Change, TrustedHistory, TrustOptions
from tianfu.proofs.values import readable, readable_body
from tianfu.proofs.verify import (
    ProvenBlock,
    ProvenEntry,
    ProvenTx,
    VerifiedBundle,
    decode_bundle,
    verify_bundle,
)
from tianfu.state.keys import COMMITTED_TX_PREFIX
from tianfu.types import Genesis, ValidatorSet

FORMAT = "tianfu-proof/v1"
MAX_DOCUMENT_BYTES = 40 << 20
# no integer of a valid document has more digits (the largest, a total power, has 25)
MAX_INTEGER_DIGITS = 40
_CONTRACT = re.compile(r"[a-z][a-z0-9_]*")


class DocumentError(VerificationError):
    """A proof document that is malformed or whose readable fields differ from the proof."""


@dataclass(frozen=True)
class Kind:
    """A document kind: its shape rules over the proven bundle and its readable fields."""

    name: str
    check: Callable[[VerifiedBundle], None]
    render: Callable[[VerifiedBundle, Genesis], dict[str, Any]]


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


@dataclass(frozen=True)
class VerifiedDocument:
    kind: str
    verified: VerifiedBundle
    document: dict[str, Any]  # the document as rendered from the proven data

    @property
    def readable(self) -> dict[str, Any]:
        """The readable fields (the document without `raw`)."""
        return {k: v for k, v in self.document.items() if k != "raw"}


# -- JSON ------------------------------------------------------------------------------------
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DocumentError(f"the document repeats the key {k!r}")
        out[k] = v
    return out


def _finite(text: str) -> float:
    """A number written with a fraction or an exponent (never equal to a document's
    integers); one beyond the range of a double is refused here, as NaN and Infinity are."""
    value = float(text)
    if not math.isfinite(value):
        raise DocumentError(f"the document holds the number {text[:40]}, beyond any range")
    return value


def _bounded_int(text: str) -> int:
    """An integer of at most MAX_INTEGER_DIGITS digits (documents.md#parsing), refused before
    it is converted (a conversion takes time quadratic in the digits)."""
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise DocumentError(
            f"the document holds an integer of more than {MAX_INTEGER_DIGITS} digits"
        )
    return int(text)


def _no_constant(name: str) -> Any:
    raise DocumentError(f"the document holds {name}, which is not JSON")


def read_document(path: Path) -> bytes:
    """A document file's bytes, reading no further than the size limit (a file of any size,
    or a device that never ends, costs at most that much memory). `OSError` if unreadable."""
    with path.open("rb") as fh:
        data = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return data


def load_document(data: str | bytes) -> dict[str, Any]:
    """Parse a document's JSON strictly: an object, no duplicate keys, no NaN/Infinity.
    The size limit is of its UTF-8 bytes (a character of text is 1 to 4 of them)."""
    size = len(data)
    if isinstance(data, str) and size <= MAX_DOCUMENT_BYTES < 4 * size:
        size = len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    if isinstance(data, bytes):
        # UTF-8 and nothing else: `json.loads` of bytes would also take UTF-16 or UTF-32,
        # drop a byte-order mark and let encoded surrogates through (documents.md#parsing)
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError("the document is not JSON text in UTF-8") from None
    try:
        doc = json.loads(
            data,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
            parse_int=_bounded_int,
        )
    except DocumentError:
        raise
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"the document is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DocumentError("the document is not a JSON object")
    return doc


def canonical_json(doc: Any) -> str:
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def same_json(given: Any, expected: Any) -> bool:
    """`given` equals `expected` as JSON (types, exact integers); False, not an error, for
    no JSON value: NaN, Infinity (Python's `json` parses them: a node's answer) or other."""
    try:
        return canonical_json(given) == canonical_json(expected)
    except (ValueError, TypeError, RecursionError):
        return False


def dump_document(doc: dict[str, Any]) -> str:
    """The document as a file's text (indented; any JSON layout verifies the same)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _difference(given: Any, expected: Any, path: str) -> str | None:
    """Where `given` differs from `expected` (a readable path), or None."""
    if isinstance(expected, dict) and isinstance(given, dict):
        for k in expected:
            if k not in given:
                return f"missing field {path}{k}"
        for k in given:
            if k not in expected:
                return f"unknown field {path}{k}"
        for k in expected:
            d = _difference(given[k], expected[k], f"{path}{k}.")
            if d is not None:
                return d
        return None
    if isinstance(expected, list) and isinstance(given, list):
        if len(given) != len(expected):
            return f"field {path.rstrip('.')} has {len(given)} items, the proof {len(expected)}"
        for i, (g, e) in enumerate(zip(given, expected, strict=True)):
            d = _difference(g, e, f"{path.rstrip('.')}[{i}].")
            if d is not None:
                return d
        return None
    if not same_json(given, expected):
        return f"field {path.rstrip('.')} differs from the proven data"
    return None


# -- rendering --------------------------------------------------------------------------------
def render_validators(valset: ValidatorSet) -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "org": v.org,
            "power": v.power,
            "scheme": v.scheme,
            "public_key": v.public_key.hex(),
        }
        for v in valset.validators
    ]


def render_change(c: Change) -> dict[str, Any]:
    return {
        "changed_in": c.changed_in,
        "effective_from": c.effective,
        "skipped_to": c.skipped,
        "validators": render_validators(c.validators),
    }


def render_block(b: ProvenBlock) -> dict[str, Any]:
    h = b.header
    return {
        "height": h.height,
        "block_hash": h.hash.hex(),
        "time_ms": h.time_ms,
        "state_root": h.state_root.hex(),
    }


def split_state_key(key: bytes) -> tuple[str, str]:
    """(contract, key) of a contract's state key; refuses reserved and malformed keys."""
    try:
        text = key.decode()
    except UnicodeDecodeError:
        raise DocumentError("a proven state key is not text") from None
    contract, sep, k = text.partition("/")
    if not sep or not _CONTRACT.fullmatch(contract) or len(contract) > 64:
        raise DocumentError("a proven state key is not a contract's key")
    return contract, k


def render_entry(e: ProvenEntry) -> dict[str, Any]:
    contract, key = split_state_key(e.key)
    return {
        "contract": contract,
        "key": key,
        "present": e.present,
        "value": readable(e.value),
        "changed_at": e.height,
        "previous_change": e.prev,
    }


def render_tx(p: ProvenTx) -> dict[str, Any]:
    r = p.receipt
    return {
        "index": p.index,
        "tx": {"hash": p.tx.hash.hex(), **readable_body(p.tx.body)},
        "receipt": {
            "ok": r.ok,
            "gas_used": r.gas_used,
            "result": readable(r.result),
            "error": r.error,
            "events": [
                {"contract": e.contract, "name": e.name, "data": readable(e.data)} for e in r.events
            ],
        },
    }


def render_document(kind: str, verified: VerifiedBundle, genesis: Genesis) -> dict[str, Any]:
    k = KINDS.get(kind)
    if k is None:
        raise DocumentError(f"unknown proof kind {kind!r}")
    k.check(verified)
    return {
        "format": FORMAT,
        "kind": kind,
        "chain_id": genesis.chain_id,
        "genesis_hash": genesis.hash.hex(),
        "suite": genesis.suite,
        "validator_changes": [render_change(c) for c in verified.changes],
        **k.render(verified, genesis),
        "raw": encode(verified.bundle).hex(),
    }


def make_document(
    kind: str, bundle: ProofBundle, genesis: Genesis, options: TrustOptions | None = None
) -> dict[str, Any]:
    """The document of `bundle` (verified first: a document is only made of what verifies)."""
    with suite_of(genesis).use():
        verified = verify_bundle(bundle, TrustedHistory.from_genesis(genesis, options))
        return render_document(kind, verified, genesis)


def verify_document(
    doc: dict[str, Any] | str | bytes,
    genesis: Genesis,
    *,
    kind: str | None = None,
    options: TrustOptions | None = None,
) -> VerifiedDocument:
    """Verify a document against `genesis` alone; raise `VerificationError` otherwise.

    The genesis says the chain's crypto suite (the document names it too, as `suite`):
    every hash and signature is checked with it, whatever this process otherwise uses.
    """
    try:
        suite = suite_of(genesis)
    except CryptoError as exc:
        raise DocumentError(str(exc)) from None
    with suite.use():
        return _verify_document(doc, genesis, kind, options)


def _verify_document(
    doc: dict[str, Any] | str | bytes,
    genesis: Genesis,
    kind: str | None,
    options: TrustOptions | None,
) -> VerifiedDocument:
    if not isinstance(doc, dict):
        doc = load_document(doc)
    if doc.get("format") != FORMAT:
        raise DocumentError(f"not a proof document (format is not {FORMAT})")
    name = doc.get("kind")
    if not isinstance(name, str) or name not in KINDS:
        raise DocumentError(f"unknown proof kind {name!r}")
    if kind is not None and name != kind:
        raise DocumentError(f"the document proves a {name!r}, not a {kind!r}")
    if doc.get("genesis_hash") != genesis.hash.hex():
        raise DocumentError(
            f"the document was issued for chain {str(doc.get('chain_id'))[:64]!r} with genesis "
            f"{str(doc.get('genesis_hash'))[:80]}, not for the trusted genesis "
            f"{genesis.hash.hex()} of chain {genesis.chain_id!r}"
        )
    if doc.get("suite") != genesis.suite:
        raise DocumentError(
            f"the document names the crypto suite {str(doc.get('suite'))[:32]!r}; the trusted "
            f"genesis uses {genesis.suite!r}"
        )
    data = _lowercase_hex(doc.get("raw"))
    if data is None:
        raise DocumentError("the document's raw field is not lowercase hex")
    bundle = decode_bundle(data)
    verified = verify_bundle(bundle, TrustedHistory.from_genesis(genesis, options))
    expected = render_document(name, verified, genesis)
    diff = _difference(doc, expected, "")
    if diff is not None:
        raise DocumentError(f"the document's readable part does not match the proof: {diff}")
    return VerifiedDocument(name, verified, expected)


def _lowercase_hex(raw: object) -> bytes | None:
    """The bytes `raw` spells when it is a text of lowercase hex digit pairs and nothing else
    (no spaces, no capitals); None otherwise. One C pass each way: a 30 KB document's check
    costs a fraction of a millisecond, not the ten a per-pair regular expression takes."""
    if not isinstance(raw, str):
        return None
    try:
        data = bytes.fromhex(raw)
    except ValueError:
        return None
    return data if data.hex() == raw else None


def bundle_of(doc: dict[str, Any]) -> ProofBundle:
    """The (not yet verified) bundle of a document."""
    raw = doc.get("raw") if isinstance(doc, dict) else None
    if not isinstance(raw, str):
        raise DocumentError("the document has no raw bundle")
    try:
        data = bytes.fromhex(raw)
    except ValueError:
        raise DocumentError("the document's raw field is not hex") from None
    return decode_bundle(data)


def merge_single_blocks(docs: list[dict[str, Any]]) -> ProofBundle:
    """One bundle proving everything several one-block documents of the same block prove
    (e.g. a transaction and a state entry of its block): the block, the validator chain,
    and the union of their transactions and entries."""
    bundles = [bundle_of(d) for d in docs]
    if not bundles:
        raise DocumentError("nothing to merge")
    first = bundles[0]
    if any(len(b.blocks) != 1 for b in bundles):
        raise DocumentError("only one-block documents can be merged")
    block = first.blocks[0].block
    if any(b.blocks[0].block != block or b.validators != first.validators for b in bundles):
        raise DocumentError("the documents are for different blocks or validator chains")
    txs = {t.index: t for b in bundles for t in b.blocks[0].txs}
    entries = {e.key: e for b in bundles for e in b.blocks[0].entries}
    merged = BlockProof(block, [txs[i] for i in sorted(txs)], list(entries.values()))
    return ProofBundle(first.version, first.validators, [merged])


# -- the core kinds -----------------------------------------------------------------------------
def _one_block(v: VerifiedBundle, what: str) -> ProvenBlock:
    if len(v.blocks) != 1:
        raise DocumentError(f"a {what} proof holds exactly one block")
    return v.blocks[0]


def _check_state(v: VerifiedBundle) -> None:
    b = _one_block(v, "state")
    if b.txs or not b.entries:
        raise DocumentError("a state proof holds state entries only")
    for e in b.entries:
        split_state_key(e.key)


def _render_state(v: VerifiedBundle, _g: Genesis) -> dict[str, Any]:
    b = v.blocks[0]
    return {**render_block(b), "entries": [render_entry(e) for e in b.entries]}


def _check_tx(v: VerifiedBundle) -> None:
    b = _one_block(v, "transaction")
    if len(b.txs) != 1 or b.entries:
        raise DocumentError("a transaction proof holds exactly one transaction")


def _render_tx(v: VerifiedBundle, _g: Genesis) -> dict[str, Any]:
    b = v.blocks[0]
    return {**render_block(b), **render_tx(b.txs[0])}


def absent_tx_hash(e: ProvenEntry) -> bytes:
    if len(e.key) != 33 or not e.key.startswith(COMMITTED_TX_PREFIX):
        raise DocumentError("an absence proof is about a transaction hash")
    return e.key[1:]


def _check_absence(v: VerifiedBundle) -> None:
    b = _one_block(v, "absence")
    if b.txs or len(b.entries) != 1:
        raise DocumentError("an absence proof holds exactly one committed-transaction entry")
    e = b.entries[0]
    absent_tx_hash(e)
    if e.height is not None:
        raise DocumentError(f"the transaction was committed, in block {e.height}")


def _render_absence(v: VerifiedBundle, _g: Genesis) -> dict[str, Any]:
    b = v.blocks[0]
    return {**render_block(b), "tx_hash": absent_tx_hash(b.entries[0]).hex(), "committed": False}


def _check_history(v: VerifiedBundle) -> None:
    first = v.blocks[0].entries
    if any(b.txs or len(b.entries) != 1 for b in v.blocks):
        raise DocumentError("a history proof holds one state entry per block")
    key = first[0].key
    split_state_key(key)
    top = v.blocks[0]
    if top.entries[0].height is None and len(v.blocks) > 1:
        raise DocumentError("a key never written has no earlier versions")
    for newer, older in zip(v.blocks, v.blocks[1:], strict=False):
        e_new, e_old = newer.entries[0], older.entries[0]
        if e_old.key != key:
            raise DocumentError("a history proof is about one key")
        if e_new.prev is None or older.header.height != e_new.prev:
            raise DocumentError(
                f"the version before the change at {e_new.height} is proven at the wrong height"
            )
        if e_old.height != older.header.height:
            raise DocumentError(f"block {older.header.height} does not hold a change of the key")


def genesis_value(genesis: Genesis, key: bytes) -> Any:
    """The value of a state key in the genesis state (the governance entries)."""
    from tianfu.contracts import governance

    contract, k = split_state_key(key)
    entries = governance.genesis_entries(genesis) if contract == governance.NAME else {}
    if k not in entries:
        raise DocumentError(f"{contract}/{k} is not in the genesis state")
    return entries[k]


def _render_history(v: VerifiedBundle, genesis: Genesis) -> dict[str, Any]:
    top = v.blocks[0]
    contract, key = split_state_key(top.entries[0].key)
    last = v.blocks[-1].entries[0]
    versions = [
        {
            "height": b.entries[0].height,
            "present": b.entries[0].present,
            "value": readable(b.entries[0].value),
            "proven_in_block": b.header.height,
        }
        for b in v.blocks
        if b.entries[0].height is not None
    ]
    complete, earlier_change = last.prev is None, last.prev
    if last.height == 0 or last.prev == 0:  # the first version is in the genesis state
        complete, earlier_change = True, None
        if last.height != 0:
            versions.append(
                {
                    "height": 0,
                    "present": True,
                    "value": readable(genesis_value(genesis, top.entries[0].key)),
                    "proven_in_block": 0,
                }
            )
    return {
        "contract": contract,
        "key": key,
        "height": top.header.height,
        "block_hash": top.header.hash.hex(),
        "time_ms": top.header.time_ms,
        "complete": complete,
        "earlier_change": earlier_change,
        "versions": versions,
    }


def _check_validators(v: VerifiedBundle) -> None:
    b = _one_block(v, "validator-set")
    if b.txs or b.entries:
        raise DocumentError("a validator-set proof holds no transaction or entry")


def _render_validators(v: VerifiedBundle, _g: Genesis) -> dict[str, Any]:
    b = v.blocks[0]
    return {
        **render_block(b),
        "validators": render_validators(b.valset),
        "total_power": b.valset.total_power,
    }


# -- the consortium's answers (the /v1/orgs and /v1/contracts reads) ---------------------------------
CONSORTIUM_READS = {"orgs": ("orgs", "org/"), "contracts": ("contracts", "contract/")}


def consortium_keys(kind: str, names: Any) -> list[str]:
    """The governance keys the answer of `kind` reads, given its list of names."""
    list_key, prefix = CONSORTIUM_READS[kind]
    listed = names if isinstance(names, list) else []
    return list(dict.fromkeys([list_key, *(prefix + n for n in listed if isinstance(n, str))]))


def _consortium(v: VerifiedBundle, kind: str) -> tuple[ProvenBlock, list[Any]]:
    """(block, the listed records in list order) of an orgs/contracts bundle: the read
    replayed over exactly the proven entries (the list, then each listed record, in order;
    nothing else)."""
    b = _one_block(v, kind)
    if b.txs or not b.entries:
        raise DocumentError(f"a {kind} proof holds governance entries only")
    keys = [split_state_key(e.key) for e in b.entries]
    if any(c != "governance" for c, _ in keys):
        raise DocumentError(f"a {kind} proof reads the governance contract only")
    names = b.entries[0].value if b.entries[0].value is not None else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DocumentError(f"the proven {kind} list is not a list of names")
    if [k for _, k in keys] != consortium_keys(kind, names):
        raise DocumentError(f"the proven entries are not exactly what the {kind} answer reads")
    values = {k: e.value for (_, k), e in zip(keys, b.entries, strict=True)}
    prefix = CONSORTIUM_READS[kind][1]
    records = [(n, values[prefix + n]) for n in names]
    if not all(isinstance(r, dict) for _, r in records):
        raise DocumentError(f"a listed {kind[:-1]} has no record")
    return b, records


def _check_orgs(v: VerifiedBundle) -> None:
    _consortium(v, "orgs")


def _render_orgs(v: VerifiedBundle, _g: Genesis) -> dict[str, Any]:
    b, records = _consortium(v, "orgs")
    orgs = [
        {"name": n, "status": readable(r.get("status")), "ca_cert": readable(r.get("ca_cert"))}
        for n, r in records
    ]
    return {**render_block(b), "orgs": orgs}


def _check_contracts(v: VerifiedBundle) -> None:
    _consortium(v, "contracts")


def _render_contracts(v: VerifiedBundle, _g: Genesis) -> dict[str, Any]:
    b, records = _consortium(v, "contracts")
    return {**render_block(b), "contracts": [readable(r) for _, r in records]}


register(Kind("state", _check_state, _render_state))
register(Kind("orgs", _check_orgs, _render_orgs))
register(Kind("contracts", _check_contracts, _render_contracts))
register(Kind("tx", _check_tx, _render_tx))
register(Kind("absence", _check_absence, _render_absence))
register(Kind("history", _check_history, _render_history))
register(Kind("validators", _check_validators, _render_validators))
