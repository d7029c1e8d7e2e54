"""Mempool admission: the checks a transaction passes to be kept pending and gossiped
(`Executor.check_static`, `check_size`, `check_tx` call these).

`check_static` needs no state (chain, expiry window, scheme, signature); a block's
transactions pass it too (`Executor.execute_block`). `check_tx` adds the signer's and the
contract's checks against committed state, its answers kept per next height in the
executor's `AdmissionMemo`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tianfu.crypto import verify_tx
from tianfu.execution.admission_memo import AdmissionMemo
from tianfu.execution.context import RawReader
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import TX_FREE_BYTES, TX_GAS_PER_BYTE, tx_gas
from tianfu.execution.refusals import BadSignature, TxInvalid
from tianfu.types import ConsensusParams, Transaction

if TYPE_CHECKING:
    from tianfu.execution.executor import Executor


def _admission_signature(tx: Transaction) -> Callable[[], None]:
    """`tx`'s signature check for `check_tx`: BadSignature; verified once at most."""
    done = False

    def check() -> None:
        nonlocal done
        if not done:
            if not verify_tx(tx):
                raise BadSignature("bad signature")
            done = True

    return check


def check_static(
    ex: Executor,
    tx: Transaction,
    next_height: int,
    params: ConsensusParams | None = None,
    *,
    signature: bool = True,
) -> None:
    """Checks that need no state: chain, expiry window, signature (unless `signature` is
    False: the cheap checks only). Raises TxInvalid."""
    window = (params or ex.params_for(next_height)).tx_expiry_window
    body = tx.body
    if body.chain_id != ex.chain_id:
        raise TxInvalid(f"wrong chain id {body.chain_id!r} (this chain is {ex.chain_id!r})")
    if body.expiry < next_height:
        raise TxInvalid(
            f"transaction expired at height {body.expiry} (next block is {next_height})"
        )
    if body.expiry > next_height + window:
        raise TxInvalid(
            f"expiry {body.expiry} is too far ahead: at most {window} blocks after {next_height}"
        )
    refused = ex.suite.refusal(body.scheme)
    if refused is not None:
        raise TxInvalid(refused)
    if signature and not verify_tx(tx):
        raise BadSignature("bad signature")


def check_size(tx: Transaction, params: ConsensusParams) -> int:
    """The transaction's encoded size; raises TxInvalid if it is larger than
    `max_block_bytes` (a block holds at most that many transaction bytes) or its bytes
    alone need more gas than `max_gas_per_tx` (`tx_gas`): such a transaction may never be
    in a block. (A block over `max_block_bytes` is refused whole before its transactions
    are checked: in a block this refuses nothing more. At admission it keeps out what a
    vote lowering `max_block_bytes` left too large, and a proposer drops one still
    pending instead of stopping its selection there.)"""
    size = len(tx.encoded())
    if size > params.max_block_bytes:
        raise TxInvalid(
            f"a transaction of {size} bytes is larger than a block may hold "
            f"(max_block_bytes {params.max_block_bytes})"
        )
    need = tx_gas(len(tx.body.cert), size)
    if need > params.max_gas_per_tx:
        raise TxInvalid(
            f"a transaction of {size} bytes needs {need} gas before its call "
            f"({TX_GAS_PER_BYTE} a byte past the first {TX_FREE_BYTES}); the limit per "
            f"transaction is {params.max_gas_per_tx}"
        )
    return size


def check_tx(
    ex: Executor,
    tx: Transaction,
    next_height: int,
    time_ms: int,
    reader: RawReader,
    params: ConsensusParams | None = None,
) -> bool:
    """Mempool admission against committed state. Raises TxInvalid or ContractError.
    Returns whether the signer is an outsider (an open chain's account or applicant:
    anyone can make those keys; the mempool gives them one share together).

    `params`: those of block `next_height` (default `params_for(next_height)`).

    The signer is looked up before its signature is checked (`_admission_signature`): a
    signer that may not transact — unknown, revoked, of no member organisation, an
    open chain's unregistered key — is refused for a few state reads, not a signature
    check. A first-use certificate's chain check (dearer than the signature's) comes
    after the signature check. A transaction whose signature is valid gets the answer
    it got with the signature checked first: the other checks keep their order.
    """
    memo = ex._admission
    if memo.height != next_height:  # a block was committed: start afresh
        memo = ex._admission = AdmissionMemo(next_height)
    if params is None:
        params = memo.params
        if params is None:
            params = memo.params = ex.params_for(next_height)
    check_static(ex, tx, next_height, params, signature=False)
    body = tx.body
    size = check_size(tx, params)
    signature = _admission_signature(tx)
    if ex.open:
        gov = ex._gov_reader(reader)
        if ex._open().admit(gov, reader, body, next_height, ex.chain_id, size) is not None:
            signature()
            methods, _views = ex._methods(body.contract, reader, memo)
            if body.method not in methods:
                raise ContractError(f"contract {body.contract!r} has no method {body.method!r}")
            return True
    # The resolved caller, kept with its read set (`tianfu.execution.admission_memo`). For a
    # registered signer it does not depend on the certificate sent along.
    # The answer holds within the certificate's validity period, checked at each use.
    who = (body.scheme, body.signer)
    kept = memo.lookup(memo.callers, who, reader)
    if kept is None or not kept.not_before_ms <= time_ms <= kept.not_after_ms:
        reads: list[tuple[bytes, bytes | None]] = []
        # A first-use certificate's chain check comes after the signature check.
        first_use = {"before_chain_check": signature} if body.cert else {}
        resolved = ex.governance.resolve_caller(
            ex._gov_reader(reader, reads),
            body.scheme,
            body.signer,
            body.cert,
            time_ms,
            **first_use,
        )
        if not resolved.writes:  # a registration depends on the CA's period too
            memo.keep(memo.callers, who, tuple(reads), resolved)
    signature()
    methods, _views = ex._methods(body.contract, reader, memo)
    if body.method not in methods:
        raise ContractError(f"contract {body.contract!r} has no method {body.method!r}")
    return False
