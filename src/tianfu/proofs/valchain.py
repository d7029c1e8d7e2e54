"""The validator sets a light client trusts, extended by a chain of proven changes.

The set that signs block h is the `governance/validators` entry of the state of h - 2
(`Ledger.validator_set`; the genesis set for h <= 2 and while the entry is absent). The
entry's leaf records the height of the set's last change and of the change before it
(`tianfu.state`), so the changes form a chain back to the genesis that a proof can follow.

`TrustedHistory` starts from a trust anchor (the genesis, or a header trusted by its hash)
and takes `ValidatorLink`s in ascending height. Rules (after CometBFT's light client,
spec/light-client/verification and light/verifier.go):

- A header at height h is checked against the set the history puts at h: exactly known
  for every h up to `proven_until`, otherwise the latest trusted set, presumed still in
  force (a light client that does not fetch every header must presume that a replaced
  set does not sign headers off the chain). Checked: chain id, the certificate's height
  and block hash, valid distinct signatures of members holding more than 2/3 of the
  set's power, and `header.validators_hash == hash(set)`.
- Sequential link (no `signers`): its header is checked as above; the Merkle proof of the
  validators entry in its state gives (set V, change height c, previous change p). Either
  c is the last change already trusted and V the latest set, or c is a new change whose
  previous change p is exactly the last trusted one (no change is skipped) and which does
  not yet sign the link's own header (c >= h - 1). V then signs from c + 2 on, and every
  set up to h + 2 is known.
- Skipping link (`signers` = the header's own set; CometBFT's non-adjacent verification):
  the trusted header (the last link's, or the genesis) is within the trusting period
  (its time + period > now), the new header is later than it and not from the future
  (time < now + max clock drift), its set hashes to `validators_hash`, more than 2/3 of
  that set signed it, and the signers include more than the trust level (default 1/3,
  at least 1/3) of the latest trusted set's power. The proof in its state gives the
  latest change c (not older than the last trusted one) and its set, known from c + 2 up
  to h + 2; the heights skipped over become unknown.

Every byte of a link is used: `signers` must be empty on a sequential link and may not be
the presumed set on a skipping one.
"""

from __future__ import annotations

import bisect
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tianfu.codec import CodecError, decode
from tianfu.contracts.reviewed_admission import validator_set_from_records
from tianfu.crypto import STANDARD, ChainSuite, CryptoError, suite_for_scheme, suite_of
from tianfu.execution.contract_api import state_key
from tianfu.proofs.commit import ONE_THIRD, CommitError, Fraction, check_commit, trusted_power
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.formats import MAX_PART_BYTES, LightBlock, ValidatorLink
from tianfu.proofs.values import decode_value_strict
from tianfu.state import StateProof, check_proof
from tianfu.types import BlockHeader, CommitCertificate, Genesis, ValidatorSet, VoteDomain

VALIDATORS_KEY = state_key("governance", "validators")
ACTIVATION_DELAY = 2  # a set written in state h signs from block h + 2
DEFAULT_TRUSTING_PERIOD_MS = 7 * 24 * 3600 * 1000  # CometBFT's default (168 h)
DEFAULT_CLOCK_DRIFT_MS = 10_000
_GENESIS = -1  # the last change of a history anchored at the genesis (leaf height 0 or none)


class TrustError(VerificationError):
    """A header, certificate or link that does not verify against the trusted history."""


@dataclass(frozen=True)
class TrustOptions:
    """How far a skipping link may reach (CometBFT's trust level and trusting period)."""

    trust_level: Fraction = ONE_THIRD
    trusting_period_ms: int = DEFAULT_TRUSTING_PERIOD_MS
    max_clock_drift_ms: int = DEFAULT_CLOCK_DRIFT_MS
    now_ms: int | None = None  # None: the current time
    allow_skipping: bool = True

    def __post_init__(self) -> None:
        lvl = self.trust_level
        if (
            lvl.denominator <= 0
            or lvl.numerator * 3 < lvl.denominator
            or lvl.numerator > lvl.denominator
        ):
            raise ValueError(f"the trust level must be within [1/3, 1], not {lvl}")

    def now(self) -> int:
        return int(time.time() * 1000) if self.now_ms is None else self.now_ms


@dataclass(frozen=True)
class Change:
    """A proven validator-set change: `validators` sign from `effective` on."""

    changed_in: int  # the state (block) height that wrote the set; 0 for the genesis
    effective: int
    validators: ValidatorSet
    link_height: int  # the certified header that proved it (0: the trust anchor)
    skipped: bool = False  # reached by a skipping link (earlier changes may be unknown)


@dataclass
class _Known:
    """Exact knowledge: heights [lo, hi] are signed by `valset`."""

    lo: int
    hi: int
    valset: ValidatorSet


def decode_part(data: bytes, typ: type[Any], what: str) -> Any:
    try:
        return decode(data, typ)
    except CodecError as exc:
        raise TrustError(f"malformed {what}: {exc}") from None


def check_part_size(data: bytes, what: str) -> None:
    """A part of a bundle held as bytes — a proven value too — has at most 1 MiB
    (proofs.md#bundle), as `decode_part` decodes every other part."""
    if len(data) > MAX_PART_BYTES:
        raise TrustError(f"{what} has {len(data)} bytes, more than a bundle's part may hold")


def validators_value(value: bytes | None, genesis_set: ValidatorSet, where: str) -> ValidatorSet:
    """The set of a `governance/validators` value (None: the genesis set)."""
    if value is None:
        return genesis_set
    try:
        records = decode_value_strict(value)
        check_records(records)
        valset = validator_set_from_records(records)
    except (KeyError, TypeError, ValueError) as exc:
        raise TrustError(f"malformed validator set {where}: {exc}") from None
    if not valset.validators:
        raise TrustError(f"the validator set {where} is empty")
    return valset


RECORD_FIELDS = frozenset({"name", "org", "scheme", "public_key", "power"})
MAX_KEY_BYTES = 65  # a validator's public key, as `Validator.public_key` decodes
MIN_SCHEME = 0  # a validator's scheme id is not negative


def check_records(records: Any) -> None:
    """Raise ValueError unless `records` are validator records as governance writes them:
    a list of maps with exactly the five fields, of their types, each power at least 1."""
    if not isinstance(records, list):
        raise ValueError("validator records must be a list")
    for r in records:
        if not isinstance(r, dict) or set(r) != RECORD_FIELDS:
            raise ValueError(f"a validator record has exactly the fields {sorted(RECORD_FIELDS)}")
        if not (isinstance(r["name"], str) and isinstance(r["org"], str)):
            raise ValueError("a validator's name and organisation are text")
        if not isinstance(r["public_key"], bytes) or len(r["public_key"]) > MAX_KEY_BYTES:
            raise ValueError(f"a validator's public key is at most {MAX_KEY_BYTES} bytes")
        for name in ("scheme", "power"):
            if type(r[name]) is not int:
                raise ValueError(f"a validator's {name} is an integer")
        if r["scheme"] < MIN_SCHEME:
            raise ValueError("a validator's scheme is not negative")
        if r["power"] < 1:
            raise ValueError("a validator's power is at least 1")


@dataclass(frozen=True)
class ValidatorsEntry:
    """The proven `governance/validators` entry of one state."""

    valset: ValidatorSet
    changed_in: int | None  # its leaf height (None: never written — the genesis set)
    prev: int | None


def prove_validators(
    header: BlockHeader, value: bytes | None, proof_bytes: bytes, genesis_set: ValidatorSet
) -> ValidatorsEntry:
    """The validators entry that `proof_bytes` proves in `header`'s state."""
    if value is not None:
        check_part_size(value, "a proven validator set")
    proof = decode_part(proof_bytes, StateProof, "validator-set proof")
    entry = check_proof(header.state_root, VALIDATORS_KEY, proof)
    if entry is None or not entry.holds(value):
        raise TrustError(
            f"the validator-set proof does not match the state of block {header.height}"
        )
    where = f"in the state of block {header.height}"
    valset = validators_value(value, genesis_set, where)
    if entry.height is not None and entry.height > header.height:
        raise TrustError(f"the validator set {where} claims a later change")
    return ValidatorsEntry(valset, entry.height, entry.prev)


@dataclass(frozen=True)
class PreparedLink:
    """A link decoded and checked against its own header, not yet trusted."""

    header: BlockHeader
    cert: CommitCertificate
    entry: ValidatorsEntry
    own: ValidatorSet | None  # the header's set, on a skipping link


def _decode_block(block: LightBlock, what: str) -> tuple[BlockHeader, CommitCertificate]:
    header: BlockHeader = decode_part(block.header, BlockHeader, f"{what} header")
    cert: CommitCertificate = decode_part(
        block.certificate, CommitCertificate, "commit certificate"
    )
    if cert.height != header.height:
        raise TrustError(f"the commit certificate is for height {cert.height}, not {header.height}")
    if cert.block_hash != header.hash:
        raise TrustError(
            f"commit certificate of block {header.height} rejected: the commit certificate "
            "signs a different block hash"
        )
    return header, cert


def decode_target(block: LightBlock, what: str = "block") -> tuple[BlockHeader, CommitCertificate]:
    """Decode a proven (target) block: no `signers`, a certificate of exactly its header."""
    if block.signers:
        raise TrustError(f"the {what} carries a validator set it does not need")
    return _decode_block(block, what)


def prepare_link(link: ValidatorLink, genesis_set: ValidatorSet) -> PreparedLink:
    """Decode a link and check its proof against its own header's state root."""
    header, cert = _decode_block(link.block, "validator-chain")
    own = None
    if link.block.signers:
        own = decode_part(link.block.signers, ValidatorSet, "skipping link's set")
        if not own.validators:
            raise TrustError("a skipping link names an empty validator set")
        if any(v.power < 1 for v in own.validators):
            raise TrustError("a skipping link's set gives a validator a power below 1")
        if any(v.scheme < MIN_SCHEME for v in own.validators):
            raise TrustError("a skipping link's set gives a validator a negative scheme")
        if own.hash != header.validators_hash:
            raise TrustError(f"the skipping link's set is not the one header {header.height} names")
    entry = prove_validators(header, link.value, link.proof, genesis_set)
    return PreparedLink(header, cert, entry, own)


F = TypeVar("F", bound=Callable[..., Any])


def _in_suite(method: F) -> F:
    """Run a `TrustedHistory` method with its chain's hash and signature schemes."""

    @functools.wraps(method)
    def scoped(self: TrustedHistory, *args: Any, **kwargs: Any) -> Any:
        with self.suite.use():
            return method(self, *args, **kwargs)

    return scoped  # type: ignore[return-value]


def suite_of_set(valset: ValidatorSet) -> ChainSuite:
    """The chain suite of a validator set's keys (without a genesis at hand)."""
    try:
        return suite_for_scheme(valset.validators[0].scheme) if valset.validators else STANDARD
    except CryptoError as exc:
        raise TrustError(str(exc)) from None


@dataclass
class TrustedHistory:
    """What a light client knows of the validator sets (see the module docstring).

    Every check runs with the chain's crypto suite (`suite`: the genesis's, or that of the
    trusted set's keys), whatever suite this process otherwise uses.
    """

    chain_id: str
    genesis_set: ValidatorSet
    options: TrustOptions = field(default_factory=TrustOptions)
    known: list[_Known] = field(default_factory=list)
    latest: ValidatorSet | None = None
    last_change: int = _GENESIS
    trusted_time_ms: int = 0
    last_link_height: int = 0
    changes: list[Change] = field(default_factory=list)
    suite: ChainSuite = STANDARD
    genesis_hash: bytes | None = None  # what votes sign besides the chain id (version 2)

    @property
    def vote_domain(self) -> VoteDomain:
        return VoteDomain(self.chain_id, self.genesis_hash)

    @classmethod
    def from_genesis(cls, genesis: Genesis, options: TrustOptions | None = None) -> TrustedHistory:
        gset = genesis.validator_set
        if not gset.validators:
            raise TrustError("the trusted genesis lists no validator")
        try:
            suite = suite_of(genesis)
        except CryptoError as exc:
            raise TrustError(str(exc)) from None
        return cls(
            suite=suite,
            chain_id=genesis.chain_id,
            genesis_hash=genesis.vote_domain.genesis_hash,
            genesis_set=gset,
            options=options or TrustOptions(),
            known=[_Known(1, ACTIVATION_DELAY, gset)],
            latest=gset,
            trusted_time_ms=genesis.time_ms,
            changes=[Change(0, 1, gset, 0)],
        )

    @classmethod
    def from_validator_set(cls, valset: ValidatorSet, chain: VoteDomain | str) -> TrustedHistory:
        """A history that trusts `valset` from height 1 (no genesis at hand) on the chain of
        `chain` (a bare chain id: of a version-1 genesis)."""
        domain = VoteDomain.of(chain)
        if not valset.validators:
            raise TrustError("the trusted validator set is empty")
        return cls(
            suite=suite_of_set(valset),
            chain_id=domain.chain_id,
            genesis_hash=domain.genesis_hash,
            genesis_set=valset,
            known=[_Known(1, ACTIVATION_DELAY, valset)],
            latest=valset,
            changes=[Change(0, 1, valset, 0)],
        )

    @classmethod
    def from_trusted_header(
        cls,
        genesis: Genesis,
        block: LightBlock,
        value: bytes | None,
        proof: bytes,
        header_hash: bytes,
        options: TrustOptions | None = None,
    ) -> TrustedHistory:
        """A history anchored at a header trusted by its hash (obtained out of band): its
        own set (`block.signers`) and the validators entry proven in its state."""
        try:
            suite = suite_of(genesis)
        except CryptoError as exc:
            raise TrustError(str(exc)) from None
        with suite.use():
            return cls._from_trusted_header(
                suite, genesis, block, value, proof, header_hash, options
            )

    @classmethod
    def _from_trusted_header(
        cls,
        suite: ChainSuite,
        genesis: Genesis,
        block: LightBlock,
        value: bytes | None,
        proof: bytes,
        header_hash: bytes,
        options: TrustOptions | None,
    ) -> TrustedHistory:
        header: BlockHeader = decode_part(block.header, BlockHeader, "trusted header")
        if header.hash != header_hash:
            raise TrustError("the trusted header does not have the trusted hash")
        if header.chain_id != genesis.chain_id:
            raise TrustError(f"the trusted header is for chain {header.chain_id!r}")
        own: ValidatorSet = decode_part(block.signers, ValidatorSet, "trusted header's set")
        if own.hash != header.validators_hash:
            raise TrustError("the trusted header's set does not match its validators hash")
        entry = prove_validators(header, value, proof, genesis.validator_set)
        c = 0 if entry.changed_in is None else entry.changed_in
        hist = cls(
            suite=suite,
            chain_id=genesis.chain_id,
            genesis_hash=genesis.vote_domain.genesis_hash,
            genesis_set=genesis.validator_set,
            options=options or TrustOptions(),
            known=[],
            latest=entry.valset,
            last_change=c,
            trusted_time_ms=header.time_ms,
            last_link_height=header.height,
            changes=[Change(c, c + ACTIVATION_DELAY, entry.valset, header.height, skipped=True)],
        )
        hist._learn(header.height, header.height, own)
        hist._learn(max(c + ACTIVATION_DELAY, 1), header.height + ACTIVATION_DELAY, entry.valset)
        return hist

    # -- knowledge ---------------------------------------------------------------------------
    @property
    def proven_until(self) -> int:
        return self.known[-1].hi if self.known else 0

    def _learn(self, lo: int, hi: int, valset: ValidatorSet) -> None:
        """Add [lo, hi] -> valset. `known` is kept sorted and disjoint, with no two touching
        intervals of one set, so only the intervals overlapping or touching [lo, hi] are
        looked at (the cost of a link does not grow with the history)."""
        if lo > hi:
            return
        first = bisect.bisect_left(self.known, lo - 1, key=lambda k: k.hi)
        end = bisect.bisect_right(self.known, hi + 1, key=lambda k: k.lo)
        near = self.known[first:end]
        for k in near:
            a, b = max(lo, k.lo), min(hi, k.hi)
            if a <= b and k.valset.hash != valset.hash:
                raise TrustError(f"the chain contradicts the trusted set of heights {a}..{b}")
        same = [k for k in near if k.valset.hash == valset.hash]
        new = _Known(min([lo, *(k.lo for k in same)]), max([hi, *(k.hi for k in same)]), valset)
        before = [k for k in near if k.hi < lo and k.valset.hash != valset.hash]
        after = [k for k in near if k.lo > hi and k.valset.hash != valset.hash]
        self.known[first:end] = [*before, new, *after]

    def exact_set(self, height: int) -> ValidatorSet | None:
        """The proven set of `height`; None if not proven (beyond or skipped over)."""
        i = bisect.bisect_right(self.known, height, key=lambda k: k.lo) - 1
        if i >= 0 and self.known[i].lo <= height <= self.known[i].hi:
            return self.known[i].valset
        return None

    def skipped_over(self, height: int) -> bool:
        """Whether a skipping link passed over `height` (its set is no longer known)."""
        return 1 <= height <= self.proven_until and self.exact_set(height) is None

    def set_at(self, height: int) -> ValidatorSet:
        """The set that signs `height` as far as this history tells (see the docstring)."""
        if height < 1:
            raise TrustError(f"no block at height {height}")
        exact = self.exact_set(height)
        if exact is not None:
            return exact
        if height > self.proven_until and self.latest is not None:
            return self.latest
        raise TrustError(
            f"the validator set of height {height} is not known: a skipping link passed over it"
        )

    # -- headers ----------------------------------------------------------------------------
    @_in_suite
    def verify_block(self, block: LightBlock, *, what: str = "block") -> BlockHeader:
        """Decode and check a target block (no `signers`) against the set of its height."""
        header, cert = decode_target(block, what)
        self.check_header(header, cert, self.set_at(header.height))
        return header

    @_in_suite
    def check_header(
        self, header: BlockHeader, cert: CommitCertificate, valset: ValidatorSet
    ) -> list[tuple[int, bytes]]:
        if header.chain_id != self.chain_id:
            raise TrustError(f"header is for chain {header.chain_id!r}, not {self.chain_id!r}")
        if header.height < 1:
            raise TrustError(f"no header at height {header.height}")
        if header.validators_hash != valset.hash:
            raise TrustError(
                f"header {header.height} names a validator set other than the trusted one of "
                f"its height (proven up to height {self.proven_until})"
            )
        try:
            return check_commit(cert, header, valset, self.vote_domain)
        except CommitError as exc:
            raise TrustError(
                f"commit certificate of block {header.height} rejected: {exc}"
            ) from None

    # -- links ------------------------------------------------------------------------------
    @_in_suite
    def apply_link(self, link: ValidatorLink) -> Change | None:
        """Check one link and extend the history; returns the change it proves, if new."""
        return self.apply_prepared(prepare_link(link, self.genesis_set))

    @_in_suite
    def apply_prepared(self, link: PreparedLink) -> Change | None:
        """`apply_link` of a link already decoded and checked against its own state root."""
        header, cert, entry = link.header, link.cert, link.entry
        h = header.height
        if h <= self.last_link_height:
            raise TrustError("the validator chain's links must ascend in height")
        if link.own is not None:
            return self._apply_skip(link)
        self.check_header(header, cert, self.set_at(h))
        c, v = entry.changed_in, entry.valset
        latest = self.latest
        assert latest is not None
        last = max(self.last_change, 0)
        new: Change | None = None
        if (c is None and self.last_change <= 0) or c == last:
            # No change since the last trusted one: the latest set, known up to h + 2.
            if v.hash != latest.hash:
                raise TrustError(f"the validator set proven at height {h} is not the trusted one")
            self._learn(max(last + ACTIVATION_DELAY, 1), h + ACTIVATION_DELAY, v)
            if c is not None:
                self.last_change = c
        elif c is not None and c > last:
            if not (
                entry.prev == self.last_change
                or (self.last_change == _GENESIS and entry.prev in (0, None))
            ):
                raise TrustError(
                    f"the validator set changed at height {c} follows a change at "
                    f"{entry.prev}, not the last trusted one: the chain skips a change"
                )
            if c + ACTIVATION_DELAY <= h:
                raise TrustError(
                    f"the set changed at height {c} signs block {h}, but the link's header "
                    f"was checked against the set before it"
                )
            self._learn(max(last + ACTIVATION_DELAY, 1), c + ACTIVATION_DELAY - 1, latest)
            self._learn(c + ACTIVATION_DELAY, h + ACTIVATION_DELAY, v)
            self.last_change = c
            self.latest = v
            new = Change(c, c + ACTIVATION_DELAY, v, h)
            self.changes.append(new)
        else:
            raise TrustError(f"the validator set proven at height {h} goes back in the history")
        self.trusted_time_ms = max(self.trusted_time_ms, header.time_ms)
        self.last_link_height = h
        return new

    def _apply_skip(self, link: PreparedLink) -> Change | None:
        header, cert, entry, own = link.header, link.cert, link.entry, link.own
        assert own is not None
        opts = self.options
        h = header.height
        if not opts.allow_skipping:
            raise TrustError(f"the validator chain skips to block {h}, and skipping is not allowed")
        latest = self.latest
        assert latest is not None
        presumed = self.exact_set(h) or (latest if h > self.proven_until else None)
        if presumed is not None and presumed.hash == own.hash:
            raise TrustError(f"the skipping link at height {h} carries a set it does not need")
        now = opts.now()
        if self.trusted_time_ms + opts.trusting_period_ms <= now:
            raise TrustError(
                "the trusted header is older than the trusting period: skipping is not "
                "allowed (use a chain of every change)"
            )
        if header.time_ms <= self.trusted_time_ms:
            raise TrustError(f"the skipping link's header {h} is not later than the trusted one")
        if header.time_ms >= now + opts.max_clock_drift_ms:
            raise TrustError(f"the skipping link's header {h} is from the future")
        signers = self.check_header(header, cert, own)
        power = trusted_power(signers, latest)
        if not opts.trust_level.exceeded_by(power, latest.total_power):
            raise TrustError(
                f"block {h} is signed by {power} of the trusted set's {latest.total_power} "
                f"voting power; more than {opts.trust_level} is needed to skip to it"
            )
        c = 0 if entry.changed_in is None else entry.changed_in
        last = max(self.last_change, 0)
        if c < last:
            raise TrustError(f"the validator set proven at height {h} goes back in the history")
        if c + ACTIVATION_DELAY <= h and entry.valset.hash != own.hash:
            raise TrustError(f"the set proven in block {h} is not the one that signs it")
        if c == last and entry.valset.hash != latest.hash:
            raise TrustError("the validator chain contradicts the trusted history")
        self._learn(h, h, own)
        self._learn(max(c + ACTIVATION_DELAY, 1), h + ACTIVATION_DELAY, entry.valset)
        new: Change | None = None
        if c != last:
            new = Change(c, c + ACTIVATION_DELAY, entry.valset, h, skipped=True)
            self.changes.append(new)
        self.last_change = max(c, self.last_change)
        self.latest = entry.valset
        self.trusted_time_ms = header.time_ms
        self.last_link_height = h
        return new

    @_in_suite
    def apply_links(self, links: list[ValidatorLink]) -> list[Change]:
        """Apply links in order; stop at the first that fails (raises `TrustError`).

        Every link is decoded and checked against its own header first (cheap), and only
        then are signatures checked, link by link.
        """
        prepared = [prepare_link(link, self.genesis_set) for link in links]
        return self.apply_all(prepared)

    @_in_suite
    def apply_all(self, links: list[PreparedLink]) -> list[Change]:
        return [c for c in (self.apply_prepared(link) for link in links) if c is not None]
