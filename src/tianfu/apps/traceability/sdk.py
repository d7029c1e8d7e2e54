"""SDK helpers for the traceability contract, including the verified public batch lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, following, view
from tianfu.apps.traceability.proof import event_key

CONTRACT = "traceability"
__all__ = ["CONTRACT", "Provenance", "Traceability", "event_key", "walk_descendants"]
PAGE = 200  # the most codes one `children_of` call takes (the contract's MAX_PAGE)


def walk_descendants(query: Callable[..., Any], code: str, limit: int = PAGE) -> list[str]:
    """The batch `code` and every batch made from it, breadth first, each once, however many
    they are: `query("children_of", codes)` (the node's view) gives the children of `limit`
    queued codes at a time, and a child not seen yet is queued. Each call reads only the
    batches it names; children lists never change once set, so a batch made from `code`
    before the walk started is listed, and one reached through several merged inputs is
    listed once."""
    if not 1 <= limit <= PAGE:
        raise ValueError(f"limit must be 1..{PAGE}")
    out = [code]
    seen = {code}
    i = 0
    while i < len(out):
        page = out[i : i + limit]
        i += len(page)
        for _, children in query("children_of", page):
            for child in children:
                if child not in seen:
                    seen.add(child)
                    out.append(child)
    return out


@dataclass(frozen=True)
class Provenance:
    """A batch's full provenance, every record proven against a certified block header.

    `lineage` starts with the batch itself, then its ancestors (breadth first); each entry
    is {"batch": record, "product": record, "events": [event records]}; every event names
    its organisation, signer, block time and block height.
    """

    code: str
    height: int  # the certified height at which every record was proven
    state_root: bytes
    recalled: bool
    recall: dict[str, Any] | None
    lineage: list[dict[str, Any]] = field(default_factory=list)
    proofs: int = 0  # how many Merkle proofs were checked

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "verified_at_height": self.height,
            "state_root": self.state_root.hex(),
            "recalled": self.recalled,
            "recall": self.recall,
            "proofs_checked": self.proofs,
            "lineage": self.lineage,
        }


class Traceability(ContractSDK):
    """Operations and queries of the `traceability` contract through an SDK `Client`."""

    CONTRACT = CONTRACT

    # -- operations -------------------------------------------------------------------------
    def register_product(self, product_id: str, name: str, category: str, unit: str) -> Any:
        return self._invoke("register_product", product_id, name, category, unit)

    def create_batch(self, code: str, product_id: str, quantity: int, origin: str) -> Any:
        return self._invoke("create_batch", code, product_id, quantity, origin)

    def record_event(self, code: str, kind: str, data: dict[str, Any] | None = None) -> int:
        return int(self._invoke("record_event", code, kind, dict(data or {})))

    def transfer_batch(self, code: str, to: str) -> Any:
        """Hand the batch to the member address `to`; its organisation is read on chain."""
        return self._invoke("transfer_batch", code, to)

    def split_batch(self, code: str, parts: list[tuple[str, int]]) -> list[str]:
        items = [{"code": c, "quantity": q} for c, q in parts]
        return list(self._invoke("split_batch", code, items))

    def merge_batches(self, new_code: str, codes: list[str], product_id: str) -> Any:
        return self._invoke("merge_batches", new_code, list(codes), product_id)

    def grant_prefix(self, prefix: str, org: str) -> Any:
        """(regulator) Grant a code prefix to a member organisation."""
        return self._invoke("grant_prefix", prefix, org)

    def revoke_prefix(self, prefix: str) -> Any:
        """(regulator) Revoke the grant of a code prefix."""
        return self._invoke("revoke_prefix", prefix)

    def recall(self, code: str, reason: str) -> list[str]:
        """Recall a batch and everything made from it: `recall`, then `continue_recall`
        until the recall is done; the codes reached, in order."""
        reached = list(self._invoke("recall", code, reason))
        while not self.recall_progress(code)["done"]:
            reached += list(self._invoke("continue_recall", code))
        return reached

    # -- queries (computed by the node) -----------------------------------------------------
    product = view("product_id")
    batch = view("code")
    events = view("code", returns=list)
    events_page = view("code", returns=dict, start=1, limit=200)
    provenance = view("code")
    provenance_page = view("code", returns=dict, start=1, limit=200)
    descendants = view("code", returns=list)
    descendants_page = view("code", returns=dict, start=1, limit=200)
    children_of = view("codes", returns=list)
    recall_progress = view("code")
    code_prefix = view("prefix")

    def all_events(self, code: str, limit: int = 200) -> list[Any]:
        """Every event of batch `code`, read a page (`events_page`) at a time."""
        out: list[Any] = []
        start: int | None = 1
        while start is not None:
            page = self.events_page(code, start=start, limit=limit)
            out += list(page["events"])
            start = following(page, start)
        return out

    def all_descendants(self, code: str, limit: int = PAGE) -> list[str]:
        """The batch `code` and every batch made from it, breadth first, however many they
        are, read a page of batches (`children_of`) at a time (`walk_descendants`)."""
        return walk_descendants(self._query, code, limit)

    # -- the public, verified lookup ----------------------------------------------------------
    def lookup_document(self, code: str, height: int | None = None) -> dict[str, Any]:
        """The lookup as a proof document (kind "traceability"): it verifies offline against
        the genesis alone (`tianfu verify-proof FILE --genesis GENESIS`)."""
        from tianfu.apps.traceability.proof import lookup_document

        return lookup_document(self.client, code, height, self.contract)

    def lookup(self, code: str, height: int | None = None) -> Provenance:
        """The full provenance of batch `code`, each record proven by a Merkle proof.

        Needs no identity: a `Client(url, None, genesis=...)` is enough. Every record is
        read at one height and checked against that height's header, its commit certificate
        and the validator chain from the trusted genesis, so a lying node is caught. Raises
        `LookupError` for an unknown batch and `VerificationError` for any data that does not
        verify.
        """
        doc = self.lookup_document(code, height)
        return Provenance(
            code=doc["code"],
            height=doc["height"],
            state_root=bytes.fromhex(doc["state_root"]),
            recalled=doc["recalled"],
            recall=doc["recall"],
            lineage=doc["lineage"],
            proofs=doc["records_proven"],
        )
