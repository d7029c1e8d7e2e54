"""Forged transactions in what the node admits: an API batch's (`Forged`: after its first
one, later ones are refused without a signature check) and a peer's (`vouched_check`: a
peer is to blame for a bad signature, whatever else is wrong)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tianfu.api.service import TxRejected, TxUnchecked
from tianfu.contracts.identity import AuthError
from tianfu.crypto import verify_tx
from tianfu.execution.refusals import AccessRefused, BadSignature
from tianfu.types import Transaction


@dataclass
class Forged:
    """What an API batch met so far (`NodeService._admit_batch`): the index of its first
    transaction with a bad signature or a refused signer, and the refusal of each signer
    refused (by key and certificate: the same answer for the same ones, at one height)."""

    first: int | None = None
    signers: dict[tuple[int, bytes, bytes], TxRejected] = field(default_factory=dict)
    unchecked: TxUnchecked | None = None  # the answer of every one refused unchecked


def signer_of(tx: Transaction) -> tuple[int, bytes, bytes]:
    body = tx.body
    return body.scheme, body.signer, body.cert


def vouched_check(check_tx: Callable[..., bool]) -> Callable[..., bool]:
    """`Executor.check_tx` for a peer's transactions: one refused for its signer before its
    signature was checked (admission looks the signer up first: unknown, revoked, an open
    chain's unregistered account, its quota) has its signature checked too, and a bad one
    raises `BadSignature` (gossip's verdict `FORGED`, the peer struck): the peer vouched
    for it, as an honest node passes on only transactions whose signatures it checked."""

    def check(tx: Transaction, *args: Any) -> bool:
        try:
            return check_tx(tx, *args)
        except (AuthError, AccessRefused):
            if not verify_tx(tx):
                raise BadSignature("bad signature") from None
            raise

    return check
