"""Health on the in-process chain: the scenario, contract refusals that change nothing, the
read policy, and the command line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tianfu.apps.common.private_data import ensure_private_data
from tianfu.apps.common.scenario import cast, handles
from tianfu.apps.health import NAME, source
from tianfu.apps.health.demo import DAY_MS, MEMBERS
from tianfu.apps.health.scenario import run_scenario
from tianfu.apps.health.sdk import Health
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import ApiError, Client, TxFailed
from tianfu.execution.sandbox import compile_contract
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("health")
_n = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppChain, Any, Any]]:
    chain = AppChain(tmp_path_factory.mktemp("health"))
    ensure_private_data(chain)
    chain.deploy(NAME, source())
    people = cast(chain, MEMBERS, suffix="-t")
    yield chain, people, handles(chain, people, Health)
    chain.close()


def _patient(chain: AppChain) -> tuple[Any, Health]:
    who = chain.identity("org1", f"hl-p{next(_n)}")
    h = Health(chain.client(who))
    h.register_patient()
    return who, h


def test_contract_compiles_with_expected_api() -> None:
    c = compile_contract(source())
    assert {"register_patient", "add_record", "share", "revoke", "purge", "access"} <= c.methods
    assert {"prescribe", "present", "dispense", "cancel", "share_claim", "reimburse"} <= c.methods
    assert "private_can_read" in c.views and "statistics" in c.views


def test_scenario(world: Any) -> None:
    run_scenario(world[0])


def test_refusals_change_no_contract_state(world: Any) -> None:
    chain, p, h = world
    who, pat = _patient(chain)
    me = who.info.address
    rec = h["lab"].add_record(me, "lab", b"glucose 5.1 mmol/L")
    rx = h["doctor"].prescribe(me, "Metformin", "500 mg bd", 60, int(time.time() * 1000) + DAY_MS)
    wrapped = h["lab"].private.wrap(NAME, h["lab"].record(rec)["versions"][-1], "org3")
    before = chain.contract_state(NAME)
    cases = [
        (h["insurer"], "add_record", (me, "lab", "00" * 32, 10, {}), "lacks role"),
        (h["lab"], "share", (rec, "org3", wrapped), "has not consented"),
        (h["hospital_b"], "share", (rec, "org2", wrapped), "only the patient, or a clinician"),
        (h["lab"], "revoke", (rec, "org1"), "only the patient"),
        (pat, "revoke", (rec, "org1"), "keeps it"),
        (h["lab"], "purge", (rec,), "only the patient"),
        (h["regulator"], "access", (rec, "audit"), "may not access"),
        (h["insurer"], "access", (rx, "claim"), "may not access"),
        (h["pharmacy"], "dispense", (rx, 1), "not presented"),
        (h["hospital_b"], "cancel", (rx, "no"), "only the prescribing doctor"),
        (h["insurer"], "reimburse", (rx, 100), "not shared"),
        (pat, "share_claim", (rx, "org4", wrapped), "not dispensed"),
        (h["doctor"], "suspend_doctor", (h["doctor"].address, "self"), "lacks role"),
        (pat, "present", (rx, "org3", b"short"), "80 bytes"),
        (pat, "present", ("RX999999", "org3", wrapped), "unknown prescription"),
        (pat, "access", ("REC999999", "x"), "unknown record"),
        (pat, "access", (rec, ""), "purpose must not be empty"),
    ]
    for sdk, method, args, needle in cases:
        with pytest.raises(TxFailed, match=needle):
            sdk._invoke(method, *args)
    assert chain.contract_state(NAME) == before


def test_the_read_policy_needs_a_fresh_logged_access(world: Any) -> None:
    chain, p, h = world
    who, pat = _patient(chain)
    rec = h["lab"].add_record(who.info.address, "imaging", b"MRI: normal")
    latest = h["lab"].record(rec)["versions"][-1]
    lab_address = p["lab"].info.address
    assert not h["lab"].can_read(latest, lab_address)
    with pytest.raises(ApiError, match="private_can_read"):
        h["lab"].private.read(NAME, latest)
    assert h["lab"].read(rec, "report") == b"MRI: normal"
    assert h["lab"].can_read(latest, lab_address)
    assert [e["purpose"] for e in pat.access_log(rec)] == ["report"]
    # Within the window the lab reads again without a new entry; the log shows one access.
    assert h["lab"].private.read(NAME, latest) == b"MRI: normal"


def test_a_new_record_is_readable_only_by_its_readers(world: Any) -> None:
    """Hospital B, never consented to, gets nothing; the patient's home organisation and the
    writer read it."""
    chain, p, h = world
    who, pat = _patient(chain)
    rec = h["lab"].add_record(who.info.address, "lab", b"TSH 2.1 mU/L")
    assert pat.read(rec, "mine") == b"TSH 2.1 mU/L"
    latest = pat.record(rec)["versions"][-1]
    with pytest.raises(ApiError) as info:
        h["hospital_b"].private.read(NAME, latest)
    assert info.value.status == 403 and "not granted" in info.value.message
    with pytest.raises(TxFailed, match="may not access"):
        h["hospital_b"].read(rec, "curious")


def test_cli_flow(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chain, p, h = world
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=chain.genesis, http=chain.http
        ),
    )
    monkeypatch.setenv("TIANFU_TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "200")
    patient = chain.identity("org1", f"hl-cli-patient{next(_n)}")
    patient.save(tmp_path / "patient")
    for key in ("lab", "hospital_b", "doctor", "pharmacy", "insurer"):
        p[key].save(tmp_path / key)

    def run(*args: Any, who: str | None = None) -> Any:
        extra = ["--identity", str(tmp_path / who)] if who else []
        return runner.invoke(app, [*map(str, args), *extra])

    r = run("register-patient", who="patient")
    assert r.exit_code == 0, r.output
    assert run("consent", "org2", who="patient").exit_code == 0
    report = tmp_path / "report.txt"
    report.write_bytes(b"ECG: sinus rhythm, 72 bpm\n")
    r = run("add-record", tmp_path / "patient", "lab", report, "--json", who="lab")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)["id"]
    r = run("add-record", "not-an-address", "lab", report, who="lab")
    assert r.exit_code == 2 and "neither an address" in r.output
    r = run("add-record", tmp_path / "patient", "x-ray", report, who="lab")
    assert r.exit_code == 1 and "kind must be one of" in r.stderr
    r = run("read", rec, "--purpose", "second opinion", who="hospital_b")
    assert r.exit_code == 1 and "may not access" in r.stderr
    assert run("share", rec, "org2", who="patient").exit_code == 0
    out = tmp_path / "copy.txt"
    r = run("read", rec, "--purpose", "second opinion", "--out", out, who="hospital_b")
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == report.read_bytes()
    r = run("read", rec, "--purpose", "check", who="patient")
    assert r.exit_code == 0 and "sinus rhythm" in r.stdout
    r = run("log", rec)
    assert r.exit_code == 0 and "second opinion" in r.stdout and "org2" in r.stdout
    r = run("record", rec, "--json")
    assert json.loads(r.stdout)["result"]["readers"] == ["org1", "org2"]
    r = run(
        "prescribe",
        tmp_path / "patient",
        "--drug",
        "Atorvastatin 20 mg",
        "--dose",
        "once nightly",
        "--quantity",
        "30",
        "--expires",
        "+30d",
        "--json",
        who="doctor",
    )
    assert r.exit_code == 0, r.output
    rx = json.loads(r.stdout)["id"]
    assert run("present", rx, "org3", who="patient").exit_code == 0
    r = run("details", rx, "--purpose", "dispensing", "--json", who="pharmacy")
    assert r.exit_code == 0 and json.loads(r.stdout)["drug"] == "Atorvastatin 20 mg"
    assert run("dispense", rx, 30, who="pharmacy").exit_code == 0
    r = run("dispense", rx, 30, who="pharmacy")
    assert r.exit_code == 1 and "is dispensed" in r.stderr
    assert run("share-claim", rx, "org4", who="patient").exit_code == 0
    r = run("claimable", "org4", "--json")
    assert rx in [c["id"] for c in json.loads(r.stdout)["result"]]
    assert run("reimburse", rx, 1_250, who="insurer").exit_code == 0
    r = run("prescription", rx)
    flat = " ".join(r.stdout.split())
    assert r.exit_code == 0 and "12.50 yuan" in flat and "dispensed" in flat, r.stdout
    r = run("stats", "--json")
    assert json.loads(r.stdout)["result"]["rx_reimbursed"] >= 1
    r = run("prescription", "RX999999")
    assert r.exit_code == 1 and "unknown prescription" in r.stderr
    assert run("purge", rec, who="patient").exit_code == 0
    r = run("read", rec, "--purpose", "after", who="patient")
    assert r.exit_code == 1 and "purged" in r.stderr


def test_a_withdrawn_consent_stops_that_organisations_amends_and_shares(world: Any) -> None:
    """Hospital B keeps reading what it wrote, but once the patient withdraws her consent its
    clinicians can neither write a new version nor pass the record on, even to an
    organisation she still consents to."""
    chain, p, h = world
    who, pat = _patient(chain)
    pat.consent("org2")
    pat.consent("org3")
    rec = h["hospital_b"].add_record(who.info.address, "diagnosis", b"hypertension")
    pat.withdraw_consent("org2")
    before = chain.contract_state(NAME)
    with pytest.raises(TxFailed, match="has not consented to org2"):
        h["hospital_b"].share(rec, "org3")
    with pytest.raises(TxFailed, match="has not consented to org2"):
        h["hospital_b"].amend(rec, b"hypertension, stage 2")
    assert chain.contract_state(NAME) == before
    assert h["hospital_b"].read(rec, "follow-up") == b"hypertension"
    pat.consent("org2")
    h["hospital_b"].share(rec, "org3")
    assert "org3" in pat.record(rec)["readers"]


def test_a_prescription_is_sealed_for_the_prescriber_and_the_patient_only(world: Any) -> None:
    """When the doctor works at the patient's home organisation, the two required readers are
    one; a second, unconsented reader organisation must still be refused."""
    chain, p, h = world
    who, pat = _patient(chain)
    doctor = h["doctor"]
    assert doctor.org == pat.org
    sealed = doctor.private.seal(b'{"drug": "Metformin"}', {doctor.org, "org3"})
    expires = int(time.time() * 1000) + DAY_MS
    before = chain.contract_state(NAME)
    with pytest.raises(TxFailed, match="prescriber and the patient only"):
        doctor._invoke(
            "prescribe", who.info.address, 30, expires, sealed.hash, sealed.size, sealed.readers
        )
    assert chain.contract_state(NAME) == before


def test_claims_shared_with_an_insurer_do_not_make_later_claims_dearer(world: Any) -> None:
    """Every patient's claim to an insurer used to read and rewrite the list of all claims
    ever shared with it (and was refused after 10,000): the claims are an indexed set of the
    outstanding ones, so a claim costs the same however many others shared before."""
    chain, p, h = world

    def dispensed() -> tuple[Any, Health, str]:
        who, pat = _patient(chain)
        me = who.info.address
        rx = h["doctor"].prescribe(me, "Aspirin", "100 mg od", 30, int(time.time() * 1000) + DAY_MS)
        pat.present(rx, "org3")
        h["pharmacy"].dispense(rx, 30)
        return who, pat, rx

    def claim_gas() -> tuple[str, int]:
        who, pat, rx = dispensed()
        r = chain.call(who, NAME, "share_claim", rx, "org4", pat._wrap_details(rx, "org4"))
        assert r.ok, r.error
        return rx, r.gas_used

    first_rx, first = claim_gas()
    for _ in range(20):
        claim_gas()
    rx, later = claim_gas()
    assert later - first <= 8, (first, later)
    waiting = [x["id"] for x in h["insurer"].claimable("org4")]
    assert {first_rx, rx} <= set(waiting)
    h["insurer"].reimburse(first_rx, 100)
    assert first_rx not in [x["id"] for x in h["insurer"].claimable("org4")]
    assert len(h["insurer"].claimable("org4")) == len(waiting) - 1


def test_a_reimbursed_prescription_shared_again_is_no_claim(world: Any) -> None:
    """Sharing a reimbursed prescription with another insurer added it to that insurer's
    claims for good (no reimbursement would remove it): it enters no insurer's set now."""
    chain, p, h = world
    who, pat = _patient(chain)
    rx = h["doctor"].prescribe(
        who.info.address, "Aspirin", "100 mg od", 30, int(time.time() * 1000) + DAY_MS
    )
    pat.present(rx, "org3")
    h["pharmacy"].dispense(rx, 30)
    pat.share_claim(rx, "org4")
    h["insurer"].reimburse(rx, 100)
    before = h["insurer"].claim_count("org2")
    pat.share_claim(rx, "org2")  # the reader is added (the prescription is shared) ...
    assert "org2" in h["insurer"].prescription(rx)["insurers"]
    assert h["insurer"].claim_count("org2") == before  # ... but it is no claim


def test_a_reader_the_patient_revoked_is_not_shared_the_record_again_by_a_clinician(
    world: Any,
) -> None:
    """The patient revokes hospital B from one record while still consenting to it for
    others: a clinician of another reader organisation (the lab that wrote it) shared the
    record with hospital B again, on the per-organisation consent, so hospital B read the
    record, and every later version, that the patient had revoked it from. Only the patient
    now shares it again."""
    chain, p, h = world
    who, pat = _patient(chain)
    pat.consent("org2")
    rec = h["lab"].add_record(who.info.address, "lab", b"HbA1c 6.9%", readers=["org2"])
    pat.revoke(rec, "org2")
    before = chain.contract_state(NAME)
    with pytest.raises(TxFailed, match="revoked org2 from"):
        h["lab"].share(rec, "org2")
    assert chain.contract_state(NAME) == before
    assert "org2" not in pat.record(rec)["readers"]
    with pytest.raises(TxFailed, match="may not access"):
        h["hospital_b"].read(rec, "curious")
    pat.share(rec, "org2")  # the patient's own choice
    assert h["hospital_b"].read(rec, "follow-up") == b"HbA1c 6.9%"
    # a reader she shares with again is revocable again, and stays revoked after
    pat.revoke(rec, "org2")
    with pytest.raises(TxFailed, match="revoked org2 from"):
        h["lab"].share(rec, "org2")
