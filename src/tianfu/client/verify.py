"""Light-client verification: headers against a trusted validator set, state and tx proofs.

Pure functions over canonical bytes; no I/O except `LightClient.sync`, which fetches the
validator-change history through a node's API client and verifies every step. The trust
anchor is a validator set and chain id, normally taken from a genesis the user already
trusts; the light client follows validator-set changes from there (ADR 0012). A header is believed
only when a commit certificate carries precommits of more than 2/3 of that set's voting
power for exactly that header's hash; a state value or a transaction is believed only
when a Merkle proof links it to such a header's state root or transaction root.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from tianfu.codec import CodecError, decode, encode
from tianfu.crypto import CertificateError, verify_commit
from tianfu.crypto.merkle import verify_merkle_proof
from tianfu.execution.api import state_key
from tianfu.types import BlockHeader, CommitCertificate, Genesis, Transaction, ValidatorSet


class VerificationError(Exception):
    """Data from a node that does not verify against the trusted validator set."""


@dataclass(frozen=True)
class VerifiedValue:
    contract: str
    key: str
    value: Any  # None when the key is proven absent
    present: bool
    height: int
    header_hash: bytes
    state_root: bytes


@dataclass(frozen=True)
class VerifiedTx:
    tx: Transaction
    height: int
    index: int
    header_hash: bytes


class StateSource(Protocol):
    """Where a light client fetches proven state reads (`tianfu.client.Client` is one)."""

    def state_raw(
        self, contract: str, key: str, height: int | None = None, prove: bool = False
    ) -> dict[str, Any]: ...


class LightClient:
    """Verifies headers with their commit certificates against the validator set in force.

    It keeps the validator sets it trusts by the height they sign from, starting with the
    trust anchor (the genesis set, from height 1), and the height `known_until` up to
    which that history is proven complete. A header at a height up to `known_until` must
    be signed by exactly the set of its height. Beyond it, a header signed by the latest
    trusted set is accepted (the set is assumed unchanged until shown otherwise, as any
    light client that does not fetch every header must); a header naming another set is
    refused, unless the client has a `source` (a node's API client): it then walks the
    validator-change history up to that height with `sync` and checks again.

    The history walk (ADR 0012): the set that signs block h is `governance/validators` of
    state h - 2, and every change is also recorded under `governance/valset_heights` and
    `governance/valset/<from height>`. For the next change f the client verifies header
    f - 2 with the set it trusts for that height, then Merkle proofs of `valset_heights`
    (which must extend the history it knows, unchanged) and of each new `valset/<f>`
    against that header's state root. Every step is proven by the previous trusted set.
    """

    def __init__(
        self, validators: ValidatorSet, chain_id: str, *, source: StateSource | None = None
    ) -> None:
        if not validators.validators:
            raise VerificationError("the trusted validator set is empty")
        self.validators = validators  # the trust anchor (signs from height 1)
        self.chain_id = chain_id
        self.source = source
        self._changes: list[int] = [1]  # heights from which a trusted set signs
        self._sets: dict[int, ValidatorSet] = {1: validators}
        self._known_until = 2  # the genesis state fixes the sets of heights 1 and 2

    @classmethod
    def from_genesis(cls, genesis: Genesis, *, source: StateSource | None = None) -> LightClient:
        return cls(genesis.validator_set, genesis.chain_id, source=source)

    # -- the trusted history -----------------------------------------------------------------
    @property
    def known_until(self) -> int:
        """The validator sets of all heights up to this one are proven."""
        return self._known_until

    def trusted_sets(self) -> dict[int, ValidatorSet]:
        """The trusted validator sets by the height from which each signs."""
        return {f: self._sets[f] for f in self._changes}

    def validator_set_at(self, height: int) -> ValidatorSet | None:
        """The proven set that signs block `height`; None beyond `known_until`."""
        if height < 1 or height > self._known_until:
            return None
        return self._set_for(height)

    def _set_for(self, height: int) -> ValidatorSet:
        """The set of `height` (beyond `known_until`: the latest trusted set)."""
        i = max(bisect.bisect_right(self._changes, height), 1)
        return self._sets[self._changes[i - 1]]

    # -- headers ---------------------------------------------------------------------------
    def verify_header(self, header: BlockHeader, certificate: CommitCertificate) -> None:
        """Raise `VerificationError` unless `certificate` commits exactly `header`, signed by
        more than 2/3 of the validator set in force at its height."""
        if header.chain_id != self.chain_id:
            raise VerificationError(
                f"header is for chain {header.chain_id!r}, not {self.chain_id!r}"
            )
        if header.height < 1:
            raise VerificationError(f"no header at height {header.height}")
        valset = self._set_for(header.height)
        if (
            header.validators_hash != valset.hash
            and header.height > self._known_until
            and self.source is not None
        ):
            self.sync(self.source, header.height)
            valset = self._set_for(header.height)
        if header.validators_hash != valset.hash:
            raise VerificationError(
                f"header {header.height} names a validator set other than the trusted one "
                f"of its height (proven up to height {self._known_until})"
            )
        _verify_commit(certificate, header, valset, self.chain_id)

    # -- following validator-set changes -------------------------------------------------------
    def sync(self, source: StateSource, up_to_height: int) -> None:
        """Walk the validator-change history until the sets up to `up_to_height` are proven.

        `source` answers proven state reads (a `Client`); what it sends is only a hint until
        verified. Raises `VerificationError` if the history does not verify.
        """
        hint: list[int] | None = None
        while self._known_until < up_to_height:
            if hint is None:
                hint = _heights_hint(source)
            step = up_to_height - 2
            upcoming = [f for f in hint if f > self._known_until]
            if upcoming:
                step = min(step, upcoming[0] - 2)
            step = max(step, 1)
            heights_doc = source.state_raw(GOV, VALSET_HEIGHTS, step, prove=True)
            heights = self._proven_heights(heights_doc, step)
            docs = {
                f: source.state_raw(GOV, f"valset/{f}", step, prove=True)
                for f in heights
                if f > self._known_until
            }
            self.update_validators(heights_doc, docs, height=step)

    def update_validators(
        self,
        heights_doc: dict[str, Any],
        valset_docs: dict[int, dict[str, Any]],
        *,
        height: int | None = None,
    ) -> int:
        """One proven step of the history walk; returns the new `known_until`.

        `heights_doc` is a proven read (`/v1/state/governance/valset_heights?prove=true`) at
        some height X whose validator set this client knows (X <= `known_until`, or the
        latest trusted set still signs X); `valset_docs[f]` the proven read of
        `valset/<f>` at the same height for every change f in it after `known_until`.
        Afterwards the sets of all heights up to X + 2 are known.
        """
        if not isinstance(heights_doc, dict):
            raise VerificationError("a state read must be a JSON object")
        raw_height = heights_doc.get("height") if height is None else height
        if not isinstance(raw_height, int) or raw_height < 1:
            raise VerificationError("the history step names no height")
        x = raw_height
        signer = self._set_for(x)
        step_client = LightClient(signer, self.chain_id)
        heights = self._proven_heights(heights_doc, x, step_client)
        header = _decode(_hex(heights_doc, "header", "raw"), BlockHeader, "header")
        known = [f for f in heights if f <= self._known_until]
        if known != self._changes:
            raise VerificationError(
                f"the proven validator history at height {x} ({heights}) contradicts the "
                f"trusted one ({self._changes})"
            )
        new_sets: dict[int, ValidatorSet] = {}
        for f in heights:
            if f <= self._known_until:
                continue
            doc = valset_docs.get(f)
            if doc is None:
                raise VerificationError(f"the validator set recorded from height {f} is missing")
            value = verify_state_json(step_client, doc, contract=GOV, key=f"valset/{f}", height=x)
            if value.header_hash != header.hash:
                raise VerificationError("the validator set was read from another header")
            if not value.present:
                raise VerificationError(f"no validator set is recorded from height {f}")
            new_sets[f] = _valset(value.value, f)
        changes = [*self._changes, *new_sets]
        sets = {**self._sets, **new_sets}
        i = bisect.bisect_right(changes, x)
        if sets[changes[i - 1]].hash != header.validators_hash:
            raise VerificationError(
                f"header {x} was signed by a set other than the one the history puts there"
            )
        self._changes, self._sets = changes, sets
        self._known_until = max(self._known_until, x + ACTIVATION_DELAY)
        return self._known_until

    def _proven_heights(
        self, doc: dict[str, Any], height: int, light: LightClient | None = None
    ) -> list[int]:
        """The proven `valset_heights` of a state read at `height` (checked, ascending)."""
        light = light or LightClient(self._set_for(height), self.chain_id)
        try:
            value = verify_state_json(light, doc, contract=GOV, key=VALSET_HEIGHTS, height=height)
        except VerificationError as exc:
            raise VerificationError(f"validator history at height {height}: {exc}") from None
        if not value.present:  # a state from before the history was kept: genesis set only
            return [1]
        heights = value.value
        if (
            not isinstance(heights, list)
            or not heights
            or heights[0] != 1
            or any(not isinstance(f, int) or isinstance(f, bool) for f in heights)
            or any(b <= a for a, b in zip(heights, heights[1:], strict=False))
            or heights[-1] > height + ACTIVATION_DELAY
        ):
            raise VerificationError(f"malformed validator history at height {height}")
        return heights


GOV = "governance"
VALSET_HEIGHTS = "valset_heights"
ACTIVATION_DELAY = 2  # == tianfu.contracts.admission.ACTIVATION_DELAY


def _verify_commit(
    certificate: CommitCertificate, header: BlockHeader, valset: ValidatorSet, chain_id: str
) -> None:
    try:
        verify_commit(certificate, header.hash, header.height, valset, chain_id)
    except CertificateError as exc:
        raise VerificationError(f"commit certificate rejected: {exc}") from None


def _valset(records: Any, height: int) -> ValidatorSet:
    from tianfu.contracts.admission import validator_set_from_records

    try:
        valset = validator_set_from_records(records)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"malformed validator set from height {height}: {exc}") from None
    if not valset.validators:
        raise VerificationError(f"the validator set from height {height} is empty")
    return valset


def _heights_hint(source: StateSource) -> list[int]:
    """The node's latest validator history, unverified: it only picks the steps."""
    doc = source.state_raw(GOV, VALSET_HEIGHTS)
    raw = doc.get("value_raw") if isinstance(doc, dict) else None
    if not isinstance(raw, str):
        return []
    try:
        value = decode_value(bytes.fromhex(raw))
    except (ValueError, VerificationError):
        return []
    if not isinstance(value, list):
        return []
    return sorted({f for f in value if isinstance(f, int) and not isinstance(f, bool)})


def as_light_client(
    trust: LightClient | Genesis | ValidatorSet, chain_id: str | None = None
) -> LightClient:
    if isinstance(trust, LightClient):
        return trust
    if isinstance(trust, Genesis):
        if chain_id is not None and chain_id != trust.chain_id:
            raise VerificationError(f"genesis is for chain {trust.chain_id!r}, not {chain_id!r}")
        return LightClient.from_genesis(trust)
    if chain_id is None:
        raise VerificationError("a chain id is needed with a bare validator set")
    return LightClient(trust, chain_id)


def _decode(data: bytes, typ: type[Any], what: str) -> Any:
    try:
        return decode(data, typ)
    except CodecError as exc:
        raise VerificationError(f"malformed {what}: {exc}") from None


def decode_value(value_bytes: bytes) -> Any:
    """A contract value from its stored bytes; refuses any non-canonical encoding."""
    try:
        value = msgspec.msgpack.decode(value_bytes)
    except msgspec.DecodeError as exc:
        raise VerificationError(f"malformed value bytes: {exc}") from None
    if encode(value) != value_bytes:
        raise VerificationError("value bytes are not the canonical encoding of a value")
    return value


def verify_header_bytes(
    light: LightClient, header_bytes: bytes, cert_bytes: bytes, height: int | None = None
) -> BlockHeader:
    header: BlockHeader = _decode(header_bytes, BlockHeader, "header")
    cert: CommitCertificate = _decode(cert_bytes, CommitCertificate, "commit certificate")
    if height is not None and header.height != height:
        raise VerificationError(f"header is for height {header.height}, not {height}")
    light.verify_header(header, cert)
    return header


def verify_state_read(
    trust: LightClient | Genesis | ValidatorSet,
    chain_id: str | None,
    contract: str,
    key: str,
    value_bytes: bytes | None,
    proof_bytes: bytes,
    header_bytes: bytes,
    cert_bytes: bytes,
    *,
    height: int | None = None,
) -> VerifiedValue:
    """Check a state read end to end and return the proven value (None when proven absent)."""
    from tianfu.state import StateProof, verify_proof

    light = as_light_client(trust, chain_id)
    header = verify_header_bytes(light, header_bytes, cert_bytes, height)
    proof = _decode(proof_bytes, StateProof, "state proof")
    if not verify_proof(header.state_root, state_key(contract, key), value_bytes, proof):
        what = "absence" if value_bytes is None else "value"
        raise VerificationError(
            f"state proof does not prove this {what} of {contract}/{key} at height {header.height}"
        )
    value = None if value_bytes is None else decode_value(value_bytes)
    return VerifiedValue(
        contract, key, value, value_bytes is not None, header.height, header.hash, header.state_root
    )


def verify_tx_proof(
    trust: LightClient | Genesis | ValidatorSet,
    chain_id: str | None,
    tx_bytes: bytes,
    index: int,
    size: int,
    path: list[bytes],
    header_bytes: bytes,
    cert_bytes: bytes,
    *,
    tx_hash: bytes | None = None,
    height: int | None = None,
) -> VerifiedTx:
    """Check that a transaction is in a committed block; return it."""
    light = as_light_client(trust, chain_id)
    tx: Transaction = _decode(tx_bytes, Transaction, "transaction")
    if tx_hash is not None and tx.hash != tx_hash:
        raise VerificationError("the proven transaction is not the one asked for")
    header = verify_header_bytes(light, header_bytes, cert_bytes, height)
    if size != header.tx_count:
        raise VerificationError(
            f"proof is for {size} transactions, the block has {header.tx_count}"
        )
    if not verify_merkle_proof(header.tx_root, tx_bytes, index, size, path):
        raise VerificationError("transaction inclusion proof does not match the block's tx root")
    return VerifiedTx(tx, header.height, index, header.hash)


def _hex(doc: dict[str, Any], *names: str) -> bytes:
    obj: Any = doc
    for n in names:
        if not isinstance(obj, dict) or n not in obj:
            raise VerificationError(f"response lacks field {'.'.join(names)}")
        obj = obj[n]
    if not isinstance(obj, str):
        raise VerificationError(f"field {'.'.join(names)} is not a hex string")
    try:
        return bytes.fromhex(obj)
    except ValueError:
        raise VerificationError(f"field {'.'.join(names)} is not valid hex") from None


def verify_state_json(
    trust: LightClient | Genesis | ValidatorSet,
    doc: dict[str, Any],
    *,
    chain_id: str | None = None,
    contract: str | None = None,
    key: str | None = None,
    height: int | None = None,
) -> VerifiedValue:
    """Verify a `/v1/state/...?prove=true` response (or its saved JSON) from its raw fields."""
    if not isinstance(doc, dict):
        raise VerificationError("a state read must be a JSON object")
    c, k = doc.get("contract"), doc.get("key")
    if not isinstance(c, str) or not isinstance(k, str):
        raise VerificationError("state read lacks contract/key")
    if (contract is not None and c != contract) or (key is not None and k != key):
        raise VerificationError(f"the node answered for {c}/{k}, not {contract}/{key}")
    if doc.get("proof") is None:
        raise VerificationError("state read carries no proof (ask with prove=true)")
    if doc.get("certificate") is None:
        raise VerificationError("state read carries no commit certificate")
    value_bytes = None if doc.get("value_raw") is None else _hex(doc, "value_raw")
    return verify_state_read(
        trust,
        chain_id,
        c,
        k,
        value_bytes,
        _hex(doc, "proof"),
        _hex(doc, "header", "raw"),
        _hex(doc, "certificate", "raw"),
        height=height,
    )


def verify_tx_proof_json(
    trust: LightClient | Genesis | ValidatorSet,
    doc: dict[str, Any],
    *,
    chain_id: str | None = None,
    tx_hash: bytes | None = None,
) -> VerifiedTx:
    """Verify a `/v1/txs/{hash}/proof` response from its raw fields."""
    try:
        index, size = int(doc["index"]), int(doc["size"])
        path = [bytes.fromhex(p) for p in doc["path"]]
        height = int(doc["height"])
    except (KeyError, TypeError, ValueError):
        raise VerificationError("malformed transaction proof response") from None
    return verify_tx_proof(
        trust,
        chain_id,
        _hex(doc, "tx", "raw"),
        index,
        size,
        path,
        _hex(doc, "header", "raw"),
        _hex(doc, "certificate", "raw"),
        tx_hash=tx_hash,
        height=height,
    )
