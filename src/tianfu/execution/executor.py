"""The block executor: admits transactions and runs a block's transactions against state.

Given the committed state (a raw key reader) it executes transactions one by one, each in
its own `CallContext`; a successful call's writes are merged into the block's overlay, a
failing one's are dropped and a failed receipt recorded. The result is the block's
receipts and its key-sorted state updates, ready for the Merkle tree and the store.

Chain parameters (gas limit per transaction, expiry window) are those of the block's
height: the ledger passes them in (`Ledger.params(h)`, read from committed state, so every
node uses the same ones for height h) or sets `params_at` for calls that pass none.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tianfu.codec import decode_value, encode
from tianfu.crypto import suite_of
from tianfu.execution.admission_checks import check_size, check_static, check_tx
from tianfu.execution.admission_memo import AdmissionMemo
from tianfu.execution.block_result import (
    FLAT_RESULTS,
    RECEIPT_ROOM,
    BlockGov,
    BlockOverLimit,
    BlockResult,
    BlockRun,
    check_receipt,
    failed_receipt,
)
from tianfu.execution.context import CallContext, RawReader
from tianfu.execution.contract_api import Caller, ContractError, failing_as, state_key
from tianfu.execution.costs import (
    GAS_BASE,
    GAS_NATIVE_CALL,
    tx_gas,
    write_gas,
)
from tianfu.execution.limits import MAX_RECEIPT_BYTES
from tianfu.execution.meter import Meter
from tianfu.execution.native import arity, call_native
from tianfu.execution.query import run_query
from tianfu.execution.refusals import AccessRefused, TxInvalid
from tianfu.execution.system import GOVERNANCE, GovernanceModule, OpenProfileModule
from tianfu.types import (
    OK,
    ConsensusParams,
    Genesis,
    Receipt,
    Transaction,
    ValueTypeError,
    check_value,
)

__all__ = [
    "GAS_BASE",
    "GAS_NATIVE_CALL",
    "MAX_RECEIPT_BYTES",
    "BlockResult",
    "Executor",
    "TxInvalid",
]
_GOV_PREFIX = state_key(GOVERNANCE, "")  # every governance key starts with it
_GOV_MEMO_SIZE = 4096  # decoded governance values kept (emptied when full)
_GOV_MEMO_MAX_BYTES = 8192  # larger values are decoded every time
_MISSING = object()


class UnknownContract(LookupError):
    pass


class Executor:
    """Executes transactions deterministically. One instance per node, shared by the API
    threads (admission, queries) and the consensus worker: its caches are either dicts whose
    single operations are atomic and whose entries are pure functions of their keys, or,
    for the compiled-contract LRU, guarded by a lock."""

    def __init__(
        self,
        genesis: Genesis,
        governance: GovernanceModule,
        compile_cache_size: int = 64,
        open_profile: OpenProfileModule | None = None,
    ) -> None:
        self.genesis = genesis
        self.governance = governance  # the governance system contract (run natively)
        self.chain_id = genesis.chain_id
        self.vote_domain = genesis.vote_domain  # what the chain's votes sign (ADR 0039)
        self.suite = suite_of(genesis)  # the signature schemes the chain accepts
        self.params = genesis.params  # the genesis parameters: used when no others are known
        # The parameters in force for a height (set by the ledger); None: always `params`.
        self.params_at: Callable[[int], ConsensusParams] | None = None
        self.native: dict[str, Any] = {GOVERNANCE: governance.Governance()}
        # The open profile (ADR 0025): accounts without member certificates, with quotas.
        self.open = genesis.open is not None
        self.open_profile = open_profile
        if self.open:
            if open_profile is None:
                raise ValueError("an open-profile chain needs the open profile's contracts")
            self.native.update(open_profile.natives())
            self._execute_tx = self._execute_open_tx  # type: ignore[method-assign,assignment]
        self._native_methods = {n: governance.native_methods(c) for n, c in self.native.items()}
        # Each native method's (required, most) arguments: bound by `call_native`, whose
        # refusal reads the same on every Python version.
        self._native_arity = {
            n: {m: arity(getattr(c, m)) for m in self._native_methods[n][0]}
            for n, c in self.native.items()
        }
        # Compiled contracts by source hash, least recently used first. Its get-then-move
        # and insert-then-evict sequences are not atomic, so they hold `_compiled_lock`: a
        # thread evicting an entry between another's get and move_to_end would otherwise
        # raise KeyError inside that thread's execution or admission.
        self._compiled: OrderedDict[bytes, Any] = OrderedDict()
        self._compiled_lock = threading.Lock()
        # Decoded governance values by their raw bytes (see `_gov_reader`). Shared by the
        # API thread and the consensus worker: dict operations are atomic, and every entry
        # is a pure function of its key, so no interleaving gives a wrong value.
        self._gov_values: dict[bytes, Any] = {}
        self._cache_size = compile_cache_size
        self._admission = AdmissionMemo()  # `check_tx`'s answers for one next height

    # -- genesis --------------------------------------------------------------------------
    def genesis_updates(self) -> dict[bytes, bytes | None]:
        entries = self.governance.genesis_entries(self.genesis)
        return dict(sorted((state_key(GOVERNANCE, k), encode(v)) for k, v in entries.items()))

    def params_for(self, height: int) -> ConsensusParams:
        """The parameters in force for block `height` (the genesis ones without `params_at`)."""
        return self.params if self.params_at is None else self.params_at(height)

    # -- admission (`tianfu.execution.admission_checks`) ----------------------------------
    def check_static(
        self,
        tx: Transaction,
        next_height: int,
        params: ConsensusParams | None = None,
        *,
        signature: bool = True,
    ) -> None:
        """Checks that need no state (`admission_checks.check_static`). Raises TxInvalid."""
        check_static(self, tx, next_height, params, signature=signature)

    check_size = staticmethod(check_size)

    def check_tx(
        self,
        tx: Transaction,
        next_height: int,
        time_ms: int,
        reader: RawReader,
        params: ConsensusParams | None = None,
    ) -> bool:
        """Mempool admission against committed state (`admission_checks.check_tx`): whether the
        signer is an outsider. Raises TxInvalid or ContractError."""
        return check_tx(self, tx, next_height, time_ms, reader, params)

    # -- blocks ---------------------------------------------------------------------------
    def execute_block(
        self,
        height: int,
        time_ms: int,
        txs: list[Transaction],
        reader: RawReader,
        seen: Callable[[bytes], bool],
        *,
        proposer_mode: bool = False,
        verified: Callable[[Transaction], bool] | None = None,
        params: ConsensusParams | None = None,
    ) -> BlockResult:
        """Execute `txs` as block `height`, under `params` (default `params_for(height)`).

        Validators (proposer_mode=False) raise TxInvalid for a transaction that may never be
        in a block (`check_static`, `check_size`), and BlockOverLimit when the receipts' gas
        or canonical bytes add up past `max_block_gas` / `max_block_receipt_bytes`. A
        proposer drops invalid transactions instead and reports them in `dropped`; it stops
        at the first transaction that would take the block past a limit — its gas, receipt
        bytes, transaction count or transaction bytes (that one and the rest wait for a
        later block: `deferred`) — and drops one that would exceed a limit even alone.
        `seen(hash)` says whether a transaction is already committed (replay protection);
        `verified(tx)` may say a signature was already checked at admission (of this very
        transaction: one of the same hash under other signature bytes is checked).
        """
        p = params or self.params_for(height)
        max_gas, max_bytes = p.max_block_gas, p.max_block_receipt_bytes
        overlay: dict[bytes, bytes | None] = {}
        # A proposer executes each transaction into `staged` first and merges it into the
        # overlay only once the block's budgets allow it; a validator writes straight into
        # the overlay (a block over its budgets is refused whole). Reads see the same values.
        staged: dict[bytes, bytes | None] = {}

        if proposer_mode:

            def read(k: bytes) -> bytes | None:
                if k in staged:
                    return staged[k]
                if k in overlay:
                    return overlay[k]
                return reader(k)

            target = staged
        else:

            def read(k: bytes) -> bytes | None:
                if k in overlay:
                    return overlay[k]
                return reader(k)

            target = overlay

        included: list[Transaction] = []
        receipts: list[Receipt] = []
        encoded: list[bytes] = []
        dropped: list[tuple[bytes, str]] = []
        in_block: set[bytes] = set()
        block_gov = BlockGov(self._gov_reader(read))
        run = BlockRun(height, time_ms, p, read, target, block_gov)
        gas_total = bytes_total = 0
        deferred = 0
        # A proposer also keeps to the block's count and bytes of transactions (a validator's
        # ledger refuses a block over them before executing it): candidates taken under
        # other limits than the height's (a governance change) wait for a later block.
        max_txs, max_tx_bytes = p.max_block_txs, p.max_block_bytes
        tx_bytes = 0
        for i, tx in enumerate(txs):
            if proposer_mode and len(included) >= max_txs:
                deferred = len(txs) - i
                break
            h = tx.hash
            try:
                if h in in_block or seen(h):
                    raise TxInvalid("transaction already committed (replay)")
                if verified is not None and verified(tx):
                    self._check_window(tx, height, p)
                else:
                    self.check_static(tx, height, p)
                size = self.check_size(tx, p)
            except TxInvalid as exc:
                if proposer_mode:
                    dropped.append((h, str(exc)))
                    continue
                raise
            if proposer_mode and tx_bytes + size > max_tx_bytes:
                deferred = len(txs) - i
                break
            try:
                receipt = self._execute_tx(tx, h, run)
            except AccessRefused as exc:  # open profile: refused before any write
                if proposer_mode:
                    dropped.append((h, str(exc)))
                    continue
                raise
            raw = encode(receipt)
            gas_total += receipt.gas_used
            bytes_total += len(raw)
            if gas_total > max_gas or bytes_total > max_bytes:
                if not proposer_mode:
                    raise BlockOverLimit(
                        f"transactions 0..{len(included)} use {gas_total} gas and "
                        f"{bytes_total} receipt bytes; the block limits are {max_gas} gas "
                        f"and {max_bytes} bytes"
                    )
                staged.clear()
                block_gov.changed()  # its answers may rest on the writes just discarded
                gas_total -= receipt.gas_used
                bytes_total -= len(raw)
                if receipt.gas_used > max_gas or len(raw) > max_bytes:
                    # Alone over a block's budget: it can never be in a block.
                    dropped.append(
                        (
                            h,
                            f"its receipt ({receipt.gas_used} gas, {len(raw)} bytes) exceeds "
                            f"a block's limits ({max_gas} gas, {max_bytes} bytes)",
                        )
                    )
                    continue
                deferred = len(txs) - i  # it and the rest wait for the next block
                break
            if proposer_mode:
                overlay.update(staged)
                staged.clear()
            in_block.add(h)
            tx_bytes += size
            included.append(tx)
            receipts.append(receipt)
            encoded.append(raw)
        return BlockResult(
            included,
            receipts,
            dict(sorted(overlay.items())),
            dropped,
            encoded,
            gas_total,
            deferred,
        )

    def _check_window(self, tx: Transaction, height: int, params: ConsensusParams) -> None:
        if tx.body.expiry < height or tx.body.expiry > height + params.tx_expiry_window:
            raise TxInvalid(
                f"transaction expiry {tx.body.expiry} is outside the window at {height}"
            )

    def _execute_tx(
        self,
        tx: Transaction,
        tx_hash: bytes,
        run: BlockRun,
        caller: Caller | None = None,  # an open-profile account, resolved already
        limit: int | None = None,  # its gas limit, if below max_gas_per_tx
    ) -> Receipt:
        """One transaction of the block `run`, written into its overlay, charged to one
        `Meter`: its base cost, its caller's resolution, the contract's every step and byte,
        and its state access. A failed receipt records everything consumed, the contract's
        steps included. Raises `HostResourceError` if the host ran out of memory or stack,
        and a state read's failure as it is (not outcomes: the block fails on this node)."""
        body = tx.body
        block_gov, overlay = run.gov, run.overlay
        meter = Meter(run.params.max_gas_per_tx if limit is None else limit)
        who = (body.scheme, body.signer, body.cert)
        try:
            meter.charge(tx_gas(len(body.cert), len(tx.encoded())))
            if caller is None:
                caller = block_gov.callers.get(who)  # (the block's time is fixed: no recheck)
            if caller is None:
                caller, registration, _, _ = self.governance.resolve_caller(
                    block_gov.gov, *who, run.time_ms
                )
                if registration:
                    # A first-use certificate's registration: state writes, paid as any
                    # other before they are made (out of gas: nothing is registered);
                    # they stand even if the call fails.
                    entries = [
                        (state_key(GOVERNANCE, k), encode(v)) for k, v in registration.items()
                    ]
                    meter.charge(sum(write_gas(len(k), len(v)) for k, v in entries))
                    overlay.update(entries)
                    block_gov.changed()
                else:
                    block_gov.callers[who] = caller
        except ContractError as exc:
            return failed_receipt(meter, exc)
        ctx = CallContext(
            contract=body.contract,
            sender=caller,
            height=run.height,
            time_ms=run.time_ms,
            tx_hash=tx_hash.hex(),
            reader=run.read,
            gas=meter,
        )
        try:
            # A compiled contract already looked up in this block: `_call`'s sandbox path
            # (only sandboxed contracts are kept there; this context is not read-only).
            compiled = block_gov.contracts.get(body.contract)
            if compiled is not None:
                result, _ = compiled.call(ctx, body.method, list(body.args), meter)
            else:
                result, _ = self._call(
                    ctx, body.contract, body.method, list(body.args), meter, run.read, block_gov
                )
            # A sandboxed contract's result is the sandbox's checked copy (`copy_value`,
            # charged); a native contract's is checked here.
            if type(result) not in FLAT_RESULTS and body.contract in self.native:
                check_value(result)
            if ctx.receipt_bytes > RECEIPT_ROOM:  # else result and events fit for sure
                check_receipt(ctx, result)
        except ContractError as exc:
            return failed_receipt(meter, exc)
        except ValueTypeError as exc:
            return failed_receipt(meter, ContractError(f"bad return value: {exc}"))
        writes = ctx.writes
        overlay.update(writes)
        for written in writes:
            if written.startswith(_GOV_PREFIX):
                block_gov.changed()
                break
        return Receipt(OK, meter.used, result, "", ctx.events)

    def _execute_open_tx(self, tx: Transaction, tx_hash: bytes, run: BlockRun) -> Receipt:
        """`_execute_tx` on an open-profile chain: a member's transaction as on any chain; an
        account's within its quota, which pays the gas used (whether the call succeeds or
        not). Raises `AccessRefused` / `QuotaExceeded` for one that may not be in a block."""
        admitted = self._open().admit(
            run.gov.gov, run.read, tx.body, run.height, self.chain_id, len(tx.encoded())
        )
        if admitted is None:
            return Executor._execute_tx(self, tx, tx_hash, run)
        limit = run.params.max_gas_per_tx
        if admitted.charged is not None:
            limit = min(limit, admitted.available)
        key = self._open().bucket_key(admitted.charged) if admitted.charged else b""
        before = run.overlay.get(key)
        receipt = Executor._execute_tx(self, tx, tx_hash, run, admitted.caller, limit)
        if admitted.charged is not None:
            # A call may take gas from its signer's own bucket (a sponsorship pays the new
            # account's starting gas): the gas used is then taken from what it left.
            after = run.overlay.get(key)
            start = admitted.available
            if after is not before and after is not None:
                start = decode_value(after)["gas"]
            bucket = {"gas": max(0, start - receipt.gas_used), "height": run.height}
            run.overlay[key] = encode(bucket)
        return receipt

    def _open(self) -> OpenProfileModule:
        """The open profile's module (set whenever `self.open`, checked at construction)."""
        if self.open_profile is None:
            raise RuntimeError("not an open-profile chain")
        return self.open_profile

    def _call(
        self,
        ctx: CallContext,
        contract: str,
        method: str,
        args: list[Any],
        gas: Meter,
        read: RawReader,
        block_gov: BlockGov | None = None,
    ) -> tuple[Any, int]:
        native = self.native.get(contract)
        if native is not None:
            methods, views = self._native_methods[contract]
            if method not in methods:
                raise ContractError(f"contract {contract!r} has no method {method!r}")
            if ctx._read_only and method not in views:
                raise ContractError(f"{contract}.{method} is not a view")
            gas.charge(GAS_NATIVE_CALL)
            bounds = self._native_arity[contract][method]
            return call_native(native, contract, method, bounds, ctx, args), 0
        if block_gov is None:
            compiled = self._compiled_contract(contract, read)
        else:
            compiled = block_gov.contracts.get(contract)
            if compiled is None:
                compiled = block_gov.contracts[contract] = self._compiled_contract(
                    contract, read, block_gov.gov
                )
        if ctx._read_only and method not in compiled.views:
            raise ContractError(f"{contract}.{method} is not a view")
        return compiled.call(ctx, method, args, gas)  # type: ignore[no-any-return]

    # -- contracts ------------------------------------------------------------------------
    def _gov_reader(
        self, read: RawReader, reads: list[tuple[bytes, bytes | None]] | None = None
    ) -> Callable[[str], Any]:
        """Governance values through `read`, decoded. Decoding is memoised by the raw bytes
        (a pure function of them), so the values returned are shared: never mutate them.
        With `reads`, every (state key, raw bytes) read is appended to it."""
        memo = self._gov_values
        if reads is not None:
            source, record = read, reads.append

            def recorded(k: bytes) -> bytes | None:
                raw = source(k)
                record((k, raw))
                return raw

            read = recorded

        def gov(key: str) -> Any:
            raw = read(_GOV_PREFIX + key.encode())
            if raw is None:
                return None
            if len(raw) > _GOV_MEMO_MAX_BYTES:  # e.g. a contract's source: not kept
                return decode_value(raw)
            value = memo.get(raw, _MISSING)
            if value is _MISSING:
                value = decode_value(raw)
                if len(memo) >= _GOV_MEMO_SIZE:
                    memo.clear()
                memo[raw] = value
            return value

        return gov

    def _compiled_contract(
        self, contract: str, read: RawReader, gov: Callable[[str], Any] | None = None
    ) -> Any:
        from tianfu.execution.sandbox import ContractRejected, compile_contract

        gov = gov or self._gov_reader(read)
        record = gov(f"contract/{contract}")
        if record is None:
            raise ContractError(f"unknown contract {contract!r}")
        source_hash = bytes.fromhex(record["source_hash"])
        with self._compiled_lock:
            compiled = self._compiled.get(source_hash)
            if compiled is not None:
                self._compiled.move_to_end(source_hash)
                return compiled
        source = gov(f"source/{record['source_hash']}")
        if source is None:
            raise ContractError(f"source of contract {contract!r} is missing")
        # An activated contract always compiles: this refusal cannot happen. Compiled
        # outside the lock; two threads compiling the same source get equal modules.
        with failing_as(ContractRejected, f"contract {contract!r} does not compile"):
            compiled = compile_contract(source)
        with self._compiled_lock:
            self._compiled[source_hash] = compiled
            while len(self._compiled) > self._cache_size:
                self._compiled.popitem(last=False)
        return compiled

    def _methods(
        self, contract: str, read: RawReader, memo: AdmissionMemo | None = None
    ) -> tuple[frozenset[str], frozenset[str]]:
        """A contract's (methods, views); with `memo`, kept there with the read set of the
        lookup (the contract record, and the source when it was not compiled yet)."""
        native = self._native_methods.get(contract)
        if native is not None:
            return native
        if memo is None:
            compiled = self._compiled_contract(contract, read)
            return compiled.methods, compiled.views
        table: tuple[frozenset[str], frozenset[str]] | None = memo.lookup(
            memo.contracts, contract, read
        )
        if table is None:
            reads: list[tuple[bytes, bytes | None]] = []
            compiled = self._compiled_contract(contract, read, self._gov_reader(read, reads))
            table = (compiled.methods, compiled.views)
            memo.keep(memo.contracts, contract, tuple(reads), table)
        return table

    # -- queries ------------------------------------------------------------------------
    def query(
        self,
        contract: str,
        method: str,
        args: list[Any],
        reader: RawReader,
        height: int,
        time_ms: int,
    ) -> Any:
        """Run a view read-only on committed state (`tianfu.execution.query`). Raises
        ContractError."""
        return run_query(self, contract, method, args, reader, height, time_ms)
