"""Property: an evidence certificate verifies only untouched — any changed byte of the file
or of any proof field, or any changed readable field, is refused; the deposits of a file
hash are every deposit of it, oldest first, however many and by whomever."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.apps import evidence
from tianfu.apps.evidence.certificate import EvidenceCertificateError, verify_certificate
from tianfu.apps.evidence.demo import cast
from tianfu.apps.evidence.sdk import Evidence
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

FILE = b"minutes of the board meeting, 2024-03-01, signed by all directors"


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("evprops"))
    chain.deploy(evidence.NAME, evidence.source())
    ev = Evidence(chain.client(cast(chain)["depositor"]))
    ev.deposit(b"an earlier deposit", "padding")  # so the state proof has siblings
    did = ev.deposit(FILE, "Board minutes", {"company": "Tianfu Co."})
    ev.deposit(b"a later deposit", "padding")
    cert = ev.certificate(did)
    yield cert, chain.genesis
    chain.close()


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(pos=st.integers(0, 100_000), bit=st.integers(0, 7))
def test_any_flipped_proof_bit_is_refused(issued, pos, bit):
    """Any bit of the proven bundle (tx, receipt, header, certificate, record, proofs,
    validator chain); tests/unit/test_tamper_sweep.py flips every byte of it."""
    cert, genesis = issued
    assert verify_certificate(cert, FILE, genesis).title == "Board minutes"
    bad = copy.deepcopy(cert)
    raw = bytearray(bytes.fromhex(bad["raw"]))
    raw[pos % len(raw)] ^= 1 << bit
    bad["raw"] = raw.hex()
    with pytest.raises(EvidenceCertificateError):
        verify_certificate(bad, FILE, genesis)


@SETTINGS
@given(pos=st.integers(0, len(FILE) - 1), bit=st.integers(0, 7))
def test_any_flipped_file_bit_is_refused(issued, pos, bit):
    cert, genesis = issued
    data = bytearray(FILE)
    data[pos] ^= 1 << bit
    with pytest.raises(EvidenceCertificateError, match="does not match the deposited hash"):
        verify_certificate(cert, bytes(data), genesis)


@SETTINGS
@given(
    name=st.sampled_from(["file_sha256", "title", "org", "height", "time_ms", "block_hash"]),
    value=st.one_of(st.integers(), st.text(max_size=70)),
)
def test_any_changed_readable_field_is_refused(issued, name, value):
    cert, genesis = issued
    if cert[name] == value:
        return
    bad = {**cert, name: value}
    with pytest.raises(EvidenceCertificateError, match="readable part"):
        verify_certificate(bad, FILE, genesis)


class _Ctx:
    """A dict-backed context in which every sender is a depositor."""

    def __init__(self) -> None:
        self.contract, self.height, self.time_ms, self.tx_hash = "evidence", 1, 1, "00" * 32
        self.sender = Caller("a" * 40, "org1", "a", "member")
        self.state: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value

    def emit(self, name: str, **data: Any) -> None:
        pass

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)

    def require_role(self, role: str) -> None:
        self.require(role == "depositor", f"role {role} required")


@settings(max_examples=30, deadline=None)
@given(deposits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), max_size=250))
def test_the_deposits_of_a_hash_are_every_deposit_of_it_oldest_first(deposits):
    """Any number of deposits of one hash, by anyone, are accepted and listed in order."""
    c = compile_contract(evidence.source())
    ctx = _Ctx()
    model: dict[str, list[str]] = {}
    for h, who in deposits:
        ctx.sender = Caller("ab"[who] * 40, f"org{who}", "x", "member")
        file_hash = f"{h:064x}"
        model.setdefault(file_hash, []).append(
            c.call(ctx, "deposit", [file_hash, "t", {}], 10**6)[0]
        )
    for file_hash, ids in model.items():
        assert c.call(ctx, "hash_count", [file_hash], 10**6)[0] == len(ids)
        assert c.call(ctx, "by_hash", [file_hash], 10**6)[0] == ids[:100]
        assert c.call(ctx, "by_hash_page", [file_hash, 101, 200], 10**6)[0] == ids[100:300]
