"""Independent verifier, part 2: proof documents, checked against their bundle.

Written only from docs/spec (proofs.md, documents.md) as the specification's executable
check; imports nothing from `tianfu`. The bundle and the validator chain are checked in
`specbundle`, the readable fields rendered in `specdocs` (the wire format: `specwire`). Use:

    python tests/spec_verifier/specverify.py DOCUMENT.json --genesis genesis.bin [--now-ms N]

prints what the document proves and exits 0, or prints why it is rejected and exits 1.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from specbundle import parse_link, verify_bundle  # noqa: E402
from specdocs import render, vals_doc  # noqa: E402
from specwire import (  # noqa: E402
    Invalid,
    encode,
    parse_genesis,
)

__all__ = ["main", "parse_link", "verify_bundle", "verify_document"]


def _no_dup(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise Invalid(f"repeated key {k!r}")
        out[k] = v
    return out


def _int(text: str) -> int:
    """documents.md#parsing: an integer of more than 40 digits is refused before conversion."""
    if len(text.lstrip("-")) > 40:
        raise Invalid("an integer of more than 40 digits")
    return int(text)


def _bad_constant(name: str) -> Any:
    raise Invalid(f"{name} is not JSON")


def same(a: Any, b: Any) -> bool:
    """Equal JSON values of the same types (documents.md#verification)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def verify_document(doc: str | bytes | dict[str, Any], genesis: bytes, now_ms: int | None = None,
                    kind: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The verified document (as rendered from the proof); raises `Invalid` otherwise."""
    g = parse_genesis(genesis)
    if not isinstance(doc, dict):
        size = len(doc.encode("utf-8", "surrogatepass") if isinstance(doc, str) else doc)
        if size > 40 << 20:
            raise Invalid("document too large")
        try:
            text = doc.decode("utf-8") if isinstance(doc, bytes) else doc  # UTF-8 only
        except UnicodeDecodeError:
            raise Invalid("not UTF-8") from None
        try:
            doc = json.loads(text, object_pairs_hook=_no_dup, parse_constant=_bad_constant,
                             parse_int=_int)  # fmt: skip
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"not JSON: {exc}") from None
    if type(doc) is not dict:
        raise Invalid("not a JSON object")
    known = {"state", "tx", "absence", "history", "validators", "orgs", "contracts", "evidence",
             "photo_authorship", "traceability"}  # fmt: skip
    if doc.get("format") != "tianfu-proof/v1" or doc.get("kind") not in known:
        raise Invalid("format or kind")
    if kind is not None and doc["kind"] != kind:
        raise Invalid("another kind")
    if doc.get("genesis_hash") != g.hash.hex() or doc.get("suite") != g.suite:
        raise Invalid("issued for another genesis")
    r = doc.get("raw")
    if type(r) is not str or not re.fullmatch(r"(?:[0-9a-f]{2})*", r):
        raise Invalid("raw is not lower-case hex")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    hist, blocks = verify_bundle(bytes.fromhex(r), g, now)
    expected = {
        "format": "tianfu-proof/v1", "kind": doc["kind"], "chain_id": g.chain_id,
        "genesis_hash": g.hash.hex(), "suite": g.suite,
        "validator_changes": [{"changed_in": c, "effective_from": e, "skipped_to": s,
                               "validators": vals_doc(v)} for c, e, v, s in hist.changes],
        **render(doc["kind"], g, blocks),
        "raw": r,
    }  # fmt: skip
    if not same(doc, expected):
        raise Invalid("the readable fields differ from the proof")
    return expected


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("document")
    ap.add_argument("--genesis", required=True, help="the consortium's genesis.bin")
    ap.add_argument("--now-ms", type=int, default=None, help="the clock (default: now)")
    args = ap.parse_args(argv)
    try:
        doc = verify_document(Path(args.document).read_bytes(), Path(args.genesis).read_bytes(),
                              args.now_ms)  # fmt: skip
    except (Invalid, OSError) as exc:
        print(f"REJECTED: {exc}")
        return 1
    print(json.dumps({k: v for k, v in doc.items() if k != "raw"}, indent=2, ensure_ascii=False))
    print(f"VERIFIED: {doc['kind']} proof of chain {doc['chain_id']} at height "
          f"{doc.get('height')}, {len(doc['validator_changes']) - 1} validator-set changes")  # fmt: skip
    return 0


_unused = (encode,)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
