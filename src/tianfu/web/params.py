"""A transaction's arguments by name, as the transaction page shows them.

The names are the parameters of the called method: read from the contract's deployed source
(its top-level `def method(ctx, ...)`, parsed once per source hash), or from the native
governance contract's methods. `PARAM_NAMES` holds the applications' and governance's
parameter names in the catalogue (the field names of `tianfu.web.words` cover the others);
a name neither knows is shown as written. When the arguments do not fit the method's
parameters (a call that failed on them, a contract upgraded since), they are numbered.
"""

from __future__ import annotations

import ast
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tianfu.contracts.governance import Governance
from tianfu.execution.sandbox import parse_source
from tianfu.web.i18n import N_

MAX_PARSED = 32  # contract sources whose parameters are kept (by source hash)

# The parameter names of the applications' and governance's methods, by name.
PARAM_NAMES = {
    "account_id": N_("account"),
    "authors": N_("authors"),
    "case_id": N_("case"),
    "case_no": N_("case number"),
    "claim": N_("claim"),
    "codes": N_("codes"),
    "copy_id": N_("copy"),
    "data": N_("data"),
    "deposit_id": N_("deposit"),
    "dept_id": N_("department"),
    "details_hash": N_("details hash"),
    "dispute_id": N_("dispute"),
    "doc_hash": N_("document hash"),
    "end": N_("end"),
    "evidence": N_("evidence"),
    "expires_ms": N_("expires"),
    "fee_fen": N_("fee"),
    "from_id": N_("from"),
    "fund_id": N_("fund"),
    "h": N_("content hash"),
    "id_hash": N_("identity hash"),
    "inspection_required": N_("inspection required"),
    "instalments": N_("instalments"),
    "items": N_("items"),
    "lic_id": N_("licence"),
    "licence": N_("licence"),
    "licence_id": N_("licence"),
    "licensee": N_("licensee"),
    "limit": N_("limit"),
    "location": N_("location"),
    "memo": N_("memo"),
    "meta": N_("details"),
    "new_code": N_("new code"),
    "note_hash": N_("note hash"),
    "order_id": N_("order"),
    "original_id": N_("original"),
    "outcome": N_("outcome"),
    "parent_id": N_("parent"),
    "passed": N_("passed"),
    "payment_ref": N_("payment reference"),
    "photo_id": N_("photograph"),
    "prefix": N_("code prefix"),
    "product_id": N_("product"),
    "readers": N_("reader organisations"),
    "reporter": N_("reporter"),
    "response": N_("response"),
    "idle_ms": N_("idle for"),
    "rec_id": N_("record"),
    "report_id": N_("report"),
    "rid": N_("receivable"),
    "ruling": N_("ruling"),
    "rx_id": N_("prescription"),
    "sensor_ref": N_("sensor reference"),
    "size": N_("size (bytes)"),
    "start": N_("start"),
    "statement": N_("statement"),
    "summary": N_("summary"),
    "terms": N_("terms"),
    "thumb_sha256": N_("thumbnail hash"),
    "thumb_size": N_("thumbnail size (bytes)"),
    "title": N_("title"),
    "to_dept": N_("to department"),
    "to_id": N_("to"),
    "transferable": N_("transferable"),
    "unit": N_("unit"),
    "work_id": N_("work"),
    "work_type": N_("work type"),
    "wrapped": N_("wrapped key"),
    "approve": N_("approve"),
    "ca_cert_der": N_("CA certificate"),
    "cert": N_("certificate"),
    "params": N_("parameters"),
    "power": N_("voting power"),
    "proposal_id": N_("proposal"),
    "public_key": N_("public key"),
    "roles": N_("roles"),
    "round": N_("round"),
    "scheme": N_("signature scheme"),
    "serial": N_("serial number"),
    "validator": N_("validator"),
    "vote_a": N_("first vote"),
    "vote_b": N_("second vote"),
    "ok": N_("succeeded"),
    "refusal": N_("refusal number"),
}

# The parameter (and record field) names whose meaning differs by contract, by contract:
# looked up before `PARAM_NAMES` and the field names (a manufacturing order's `due_ms` is its
# delivery time, a city case's the time it must be dealt with by).
CONTRACT_PARAM_NAMES = {
    "manufacturing": {"due_ms": N_("delivery due")},
}

# Parsed sources by hash, least recently used first; pages are served from several threads.
# `_parsed_lock` guards the dict; `_parse_lock` is held across a source's read and parse, so
# that the first views of a source arriving together parse it once (the others wait for it).
_parsed: OrderedDict[str, dict[str, tuple[int, tuple[str, ...]]]] = OrderedDict()
_parsed_lock = threading.Lock()
_parse_lock = threading.Lock()


def source_methods(source: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """The top-level functions of a contract source: name -> (number of required
    parameters, parameter names), without the first (the call's context). Parsed as the
    sandbox parses (`parse_source`: one parse at a time in the process, on a fresh stack)."""
    try:
        tree = parse_source(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.args.args and not node.name.startswith("_"):
            names = tuple(a.arg for a in node.args.args[1:])
            found[node.name] = (len(names) - len(node.args.defaults), names)
    return found


def native_methods() -> dict[str, tuple[int, tuple[str, ...]]]:
    """The native governance contract's methods, as `source_methods`."""
    found = {}
    for name, fn in inspect.getmembers(Governance, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = list(inspect.signature(fn).parameters.values())[2:]  # self, ctx
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY) for p in params):
            continue
        required = sum(1 for p in params if p.default is inspect.Parameter.empty)
        found[name] = (required, tuple(p.name for p in params))
    return found


_NATIVE = {"governance": native_methods()}


def methods_of(
    contract: str, record: Callable[[str, str], Any]
) -> dict[str, tuple[int, tuple[str, ...]]]:
    """The methods of `contract` as the chain holds it now (`record(contract, key)` reads
    one record): the native ones, or those of its deployed source, parsed once per hash."""
    if contract in _NATIVE:
        return _NATIVE[contract]
    deployed = record("governance", f"contract/{contract}")
    source_hash = deployed.get("source_hash") if isinstance(deployed, dict) else None
    if not isinstance(source_hash, str):
        return {}
    known = _cached(source_hash)
    if known is not None:
        return known
    with _parse_lock:
        known = _cached(source_hash)  # parsed by the view this one waited for
        if known is not None:
            return known
        source = record("governance", f"source/{source_hash}")
        if not isinstance(source, str):
            return {}  # not readable now: not remembered, a later view reads it again
        methods = source_methods(source)
        with _parsed_lock:
            _parsed[source_hash] = methods
            while len(_parsed) > MAX_PARSED:
                _parsed.popitem(last=False)
    return methods


def _cached(source_hash: str) -> dict[str, tuple[int, tuple[str, ...]]] | None:
    with _parsed_lock:
        known = _parsed.get(source_hash)
        if known is not None:
            _parsed.move_to_end(source_hash)
        return known


def named_args(
    contract: str, method: str, args: Any, record: Callable[[str, str], Any]
) -> list[tuple[str, Any]]:
    """The arguments of a call as (name, value): the method's parameter names when the
    arguments fit them, else '#1', '#2', ..."""
    values = list(args) if isinstance(args, (list, tuple)) else [args]
    required, names = methods_of(contract, record).get(method, (-1, ()))
    if required <= len(values) <= len(names):
        return list(zip(names, values, strict=False))
    return [(f"#{i}", v) for i, v in enumerate(values, 1)]
