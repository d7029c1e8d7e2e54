"""Traceability lookups as proof documents: a batch's whole provenance, verifiable offline.

A lookup reads, at one certified height, the batch record, its product, every event, and
the same for every ancestor batch (breadth first). The document (kind "traceability")
proves exactly those entries in one block, with the validator chain from the genesis; the
verifier replays the lookup over the proven entries, so an entry missing, one too many, or
a readable field that differs from what the entries say makes it fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

import msgspec

from tianfu.client import Client, VerificationError
from tianfu.proofs.documents import (
    DocumentError,
    Kind,
    bundle_of,
    make_document,
    merge_single_blocks,
    register,
    split_state_key,
)
from tianfu.proofs.values import readable
from tianfu.proofs.verify import VerifiedBundle
from tianfu.types import Genesis

KIND = "traceability"
BATCH = "batch:"


def event_key(code: str, seq: int) -> str:
    return f"ev:{code}:{seq:08d}"


class LineageError(VerificationError):
    """The proven entries are not what the lookup reads (or hold malformed records)."""


def is_integer(x: Any) -> TypeGuard[int]:
    """An integer of a record (a boolean is not one, as in every proven value)."""
    return isinstance(x, int) and not isinstance(x, bool)


def walk_lineage(
    code: str, read: Callable[[str], Any]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The lineage of batch `code` through `read(key)` (a record, or None if absent):
    [{"batch", "product", "events"}] for the batch, then its ancestors breadth first, and
    the batch's recall notice. Raises `LookupError` for an unknown batch."""
    first = read(BATCH + code)
    if first is None:
        raise LookupError(f"unknown batch {code}")
    lineage: list[dict[str, Any]] = []
    seen: set[str] = set()
    queue = [code]
    while queue:
        c = queue.pop(0)
        if c in seen:
            continue
        seen.add(c)
        b = first if c == code else read(BATCH + c)
        if not isinstance(b, dict):
            raise LineageError(f"ancestor batch {c} is proven absent or malformed")
        product, n, parents = b.get("product"), b.get("events"), b.get("parents")
        if not isinstance(product, str) or not is_integer(n) or not isinstance(parents, list):
            raise LineageError(f"batch {c} is a malformed record")
        prod = read("product:" + product)
        evs = [read(event_key(c, i)) for i in range(1, n + 1)]
        if any(e is None for e in evs):
            raise LineageError(f"an event of batch {c} is proven absent")
        lineage.append({"batch": b, "product": prod, "events": evs})
        queue.extend(p for p in parents if isinstance(p, str))
    recall = first.get("recall") if isinstance(first, dict) else None
    return lineage, recall if isinstance(recall, dict) else None


def _proven(v: VerifiedBundle) -> tuple[str, str, dict[str, Any], list[dict[str, Any]], Any]:
    """(contract, code, entries by key, lineage, recall) of a traceability bundle, checked."""
    if len(v.blocks) != 1 or v.blocks[0].txs or not v.blocks[0].entries:
        raise LineageError("a traceability lookup proves state entries of one block")
    entries = v.blocks[0].entries
    keys = [split_state_key(e.key) for e in entries]
    contracts = {c for c, _ in keys}
    if len(contracts) != 1:
        raise LineageError("a traceability lookup reads one contract")
    (contract,) = contracts
    first = keys[0][1]
    if not first.startswith(BATCH):
        raise LineageError("a traceability lookup starts with the batch looked up")
    code = first[len(BATCH) :]
    values = {k: e.value for (_, k), e in zip(keys, entries, strict=True)}
    read_keys: set[str] = set()

    def read(key: str) -> Any:
        if key not in values:
            raise LineageError(f"the lookup reads {key}, which the proof does not hold")
        read_keys.add(key)
        return values[key]

    try:
        lineage, recall = walk_lineage(code, read)
    except LookupError:
        raise LineageError(f"batch {code} is proven absent") from None
    if read_keys != set(values):
        raise LineageError("the proof holds entries the lookup does not read")
    return contract, code, values, lineage, recall


def _check(v: VerifiedBundle) -> None:
    _proven(v)


def _render(v: VerifiedBundle, _genesis: Genesis) -> dict[str, Any]:
    contract, code, values, lineage, recall = _proven(v)
    header = v.blocks[0].header
    return {
        "contract": contract,
        "code": code,
        "height": header.height,
        "block_hash": header.hash.hex(),
        "time_ms": header.time_ms,
        "state_root": header.state_root.hex(),
        "recalled": recall is not None,
        "recall": readable(recall),
        "records_proven": len(values),
        "lineage": readable(lineage),
    }


register(Kind(KIND, _check, _render))


def lookup_document(
    client: Client, code: str, height: int | None = None, contract: str = "traceability"
) -> dict[str, Any]:
    """The traceability document of batch `code` at `height` (latest when None): the node's
    proofs of exactly the entries the lookup reads, fetched level by level at one height,
    each verified by the client's light client, then merged and verified against the
    client's trusted genesis. Raises `LookupError` for an unknown batch."""
    docs: list[dict[str, Any]] = []
    values: dict[str, Any] = {}

    def fetch(keys: list[str]) -> None:
        nonlocal height
        todo = [k for k in dict.fromkeys(keys) if k not in values]
        if not todo:
            return
        doc = client.state_proofs_raw([(contract, k) for k in todo], height)
        block = client.light_client.verify_bundle(bundle_of(doc)).blocks[0]
        if height is not None and block.header.height != height:
            raise VerificationError(f"the node answered for block {block.header.height}")
        height = block.header.height
        for e in block.entries:
            values[split_state_key(e.key)[1]] = e.value
        docs.append(doc)

    fetch([BATCH + code])
    if values.get(BATCH + code) is None:
        raise LookupError(f"unknown batch {code}")
    seen: set[str] = set()
    level = [code]
    while level:  # one request for a level's batches, one for their products and events
        fetch([BATCH + c for c in level])
        keys: list[str] = []
        parents: list[str] = []
        for c in level:
            seen.add(c)
            b = values[BATCH + c]
            if isinstance(b, dict) and is_integer(b.get("events")):
                keys.append(f"product:{b.get('product')}")
                keys += [event_key(c, i) for i in range(1, b["events"] + 1)]
                parents += [p for p in b.get("parents") or [] if isinstance(p, str)]
        fetch(keys)
        level = [p for p in dict.fromkeys(parents) if p not in seen]
    needed: list[str] = []

    def read(key: str) -> Any:
        fetch([key])
        needed.append(key)
        return values[key]

    walk_lineage(code, read)
    try:
        bundle = merge_single_blocks(docs)
    except DocumentError as exc:
        raise VerificationError(f"the node's proofs do not fit together: {exc}") from None
    order = {k: i for i, k in enumerate(dict.fromkeys(needed))}
    entries = [e for e in bundle.blocks[0].entries if split_state_key(e.key)[1] in order]
    entries.sort(key=lambda e: order[split_state_key(e.key)[1]])
    block = msgspec.structs.replace(bundle.blocks[0], entries=entries)
    return make_document(
        KIND, msgspec.structs.replace(bundle, blocks=[block]), client.trusted_genesis()
    )
