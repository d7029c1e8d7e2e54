"""End-to-end health flow: a record shared between hospitals by consent, revoked, amended and
purged; prescriptions presented, dispensed at most once, cancelled, expired, claimed; a
regulator who sees statistics and never content — every forbidden action tried and refused
with no state change, and every refused read of private content refused by the node.

Runs on `AppChain` in the tests and on a real 4-validator network (`tianfu up`), where each
organisation's members talk to their own organisation's node.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from tianfu.apps.common.private_data import ensure_private_data
from tianfu.apps.common.scenario import Member, Scenario, ScenarioFailed, check, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.health import NAME, source
from tianfu.apps.health.demo import DAY_MS, MEMBERS
from tianfu.apps.health.sdk import Health
from tianfu.client import ApiError
from tianfu.privdata import REGISTRY, registry_source

OUTSIDER = Member("outsider", 3, "hl-outsider", (), "a member with no health role")


def node_refused(action: Callable[[], Any], status: int, needle: str) -> str:
    """A private-data request the node must refuse with `status`, naming `needle`."""
    try:
        action()
    except ApiError as exc:
        if exc.status != status or needle.lower() not in exc.message.lower():
            raise ScenarioFailed(f"expected HTTP {status} naming {needle!r}, got {exc}") from None
        return exc.message
    raise ScenarioFailed(f"a private-data request was served (expected HTTP {status} {needle!r})")


def found(value: dict[str, Any] | None, what: str) -> dict[str, Any]:
    check(value is not None, f"{what} is not on chain")
    assert value is not None
    return value


def run_scenario(env: AppEnv) -> None:
    ensure_private_data(env)
    tag = "-s" + secrets.token_hex(3)
    contracts = [(REGISTRY, registry_source), (NAME, source)]
    run = Scenario(env, contracts, (*MEMBERS, OUTSIDER), suffix=tag)
    p, refused = run.people, run.refused
    h = handles(env, p, Health)
    pat, lab, dr_a, dr_b = h["patient"], h["lab"], h["doctor"], h["hospital_b"]
    pharmacy, insurer, regulator, outsider = (
        h["pharmacy"],
        h["insurer"],
        h["regulator"],
        h["outsider"],
    )
    addr = {k: who.info.address for k, who in p.items()}
    home, org_b = p["patient"].info.org, p["hospital_b"].info.org
    org_ph, org_ins = p["pharmacy"].info.org, p["insurer"].info.org
    me = addr["patient"]

    # -- a patient ---------------------------------------------------------------------------
    early = lab.private.seal(b"x", [home])
    refused(lambda: lab.write_record(me, "lab", early), "not a registered patient")
    pat.register_patient()
    refused(lambda: pat.register_patient(), "registered patient already")
    refused(lambda: pat.consent(home), "home organisation")
    refused(lambda: pat.consent("no-such-org"), "not a member organisation")
    refused(lambda: outsider.consent(org_b), "not a registered patient")

    # -- a record written by hospital A (the patient's home) ---------------------------------
    result = f"Chest CT {tag}: no nodules; lungs clear.\n".encode()
    refused(lambda: outsider.add_record(me, "imaging", result), "lacks role")
    refused(lambda: lab.add_record(me, "x-ray", result), "kind must be one of")
    refused(lambda: dr_b.add_record(me, "imaging", result), f"not consented to {org_b}")
    refused(lambda: lab.add_record(me, "imaging", result, [org_ph]), f"not consented to {org_ph}")
    rec = lab.add_record(me, "imaging", result)
    first = found(lab.record(rec), rec)
    check(first["readers"] == [home] and first["org"] == home, f"record {first}")

    def rec_state() -> Any:
        return (pat.record(rec), pat.access_log(rec), pat.patient(me))

    run.watch(rec_state)
    latest = first["versions"][-1]
    # Only the patient and the clinicians of a reader read it, after logging the access.
    check(pat.read(rec, "my own results") == result, "the patient reads the record")
    refused(lambda: dr_b.read(rec, "curious"), "may not access")
    refused(lambda: regulator.read(rec, "inspection"), "may not access")
    refused(lambda: insurer.read(rec, "claim"), "may not access")
    node_refused(lambda: dr_b.private.read(NAME, latest), 403, "not granted")
    node_refused(lambda: regulator.private.read(NAME, latest), 403, "not granted")
    node_refused(lambda: dr_a.private.read(NAME, latest), 403, "private_can_read")
    check(not pat.can_read(latest, addr["hospital_b"]), "no grant, no read")

    # -- shared with hospital B by the patient's consent -------------------------------------
    wrapped_b = lab.private.wrap(NAME, latest, org_b)
    refused(lambda: lab._invoke("share", rec, org_b, wrapped_b), "has not consented")
    pat.consent(org_b)
    refused(lambda: pat.consent(org_b), "consented to")
    refused(
        lambda: dr_b._invoke("share", rec, org_b, wrapped_b), "only the patient, or a clinician"
    )
    refused(lambda: lab._invoke("share", rec, org_b, b"short"), "80 bytes")
    lab.share(rec, org_b)  # the hospital, acting on the recorded consent
    refused(lambda: lab._invoke("share", rec, org_b, wrapped_b), "reader already")
    check(dr_b.read(rec, "referral: avoid repeating the CT") == result, "hospital B reads it")
    log = pat.access_log(rec)
    check(
        [(e["org"], e["purpose"]) for e in log][-1] == (org_b, "referral: avoid repeating the CT"),
        f"log {log}",
    )
    check(all(e["by"] in (me, addr["hospital_b"]) for e in log), "every access is logged")

    # -- revocation: hospital B loses it, and gets no newer version ---------------------------
    refused(lambda: lab.revoke(rec, org_b), "only the patient")
    refused(lambda: pat.revoke(rec, home), "keeps it")
    refused(lambda: pat.revoke(rec, org_ph), "not a reader")
    pat.revoke(rec, org_b)
    refused(lambda: dr_b.read(rec, "again"), "may not access")
    node_refused(lambda: dr_b.private.read(NAME, latest), 403, "not granted")
    newer = f"Chest CT {tag}, addendum: a 3 mm nodule, follow up in 12 months.\n".encode()
    refused(lambda: dr_b.amend(rec, newer), f"only {home}")
    sealed = lab.private.seal(newer, [home, org_b])
    refused(
        lambda: lab._invoke("amend", rec, sealed.hash, sealed.size, sealed.readers),
        "current readers only",
    )
    check(lab.amend(rec, newer) == 2, "a second version")
    amended = found(pat.record(rec), rec)
    check(amended["readers"] == [home], "the revoked hospital is not a reader of any version")
    check(pat.read(rec, "the addendum") == newer, "the newest version reads")
    node_refused(lambda: dr_b.private.read(NAME, amended["versions"][-1]), 403, "not granted")

    # -- purge: the content is gone everywhere, the hashes stay ------------------------------
    refused(lambda: lab.purge(rec), "only the patient")
    pat.purge(rec)
    gone = found(pat.record(rec), rec)
    check(gone["purged"] and gone["versions"] == amended["versions"], "hashes stay as proof")
    refused(lambda: pat.read(rec, "after purge"), "purged")
    node_refused(lambda: pat.private.read(NAME, latest), 410, "purged")
    refused(lambda: pat._invoke("share", rec, org_b, wrapped_b), "purged")

    # -- prescriptions -------------------------------------------------------------------------
    now = int(time.time() * 1000)
    rx_state_of = pat.prescription
    refused(lambda: lab.prescribe(me, "Amoxicillin", "tid", 10, now + DAY_MS), "lacks role")
    refused(lambda: dr_a.prescribe(me, "Amoxicillin", "tid", 0, now + DAY_MS), "quantity")
    refused(lambda: dr_a.prescribe(me, "Amoxicillin", "tid", 10, now - DAY_MS), "after the current")
    refused(lambda: dr_a.prescribe(me, "Amoxicillin", "tid", 10, now + 400 * DAY_MS), "366 days")
    rx = dr_a.prescribe(
        me, "Amoxicillin capsules 500 mg", "1 capsule tid, 7 days", 21, now + 30 * DAY_MS
    )
    run.watch(lambda: (rx_state_of(rx), pat.statistics()))
    details_hash = found(pat.prescription(rx), rx)["details"]
    node_refused(lambda: pharmacy.private.read(NAME, details_hash), 403, "not granted")
    refused(lambda: pharmacy.dispense(rx, 21), "not presented")
    refused(lambda: pharmacy.read(rx, "before presentation"), "may not access")
    refused(lambda: dr_b._invoke("present", rx, org_ph, b"x" * 80), "only the patient")
    pat.present(rx, org_ph)
    check(pharmacy.details(rx, "dispensing")["drug"] == "Amoxicillin capsules 500 mg", "details")
    refused(lambda: insurer.dispense(rx, 21), "lacks role")
    refused(lambda: pharmacy.dispense(rx, 22), "1 to the 21")
    refused(lambda: pharmacy.dispense(rx, 0), "1 to the 21")
    refused(lambda: pat.share_claim(rx, org_ins), "not dispensed")
    refused(lambda: dr_b.cancel(rx, "not mine"), "only the prescribing doctor")
    done = pharmacy.dispense(rx, 20)
    check(done["quantity"] == 20 and done["org"] == org_ph, f"dispensed {done}")
    refused(lambda: pharmacy.dispense(rx, 1), "is dispensed")  # at most once
    refused(lambda: dr_a.cancel(rx, "too late"), "is dispensed")
    refused(lambda: insurer.read(rx, "claim"), "may not access")
    node_refused(lambda: insurer.private.read(NAME, details_hash), 403, "not granted")
    w_ins = pat.private.wrap(NAME, details_hash, org_ins)
    refused(lambda: outsider._invoke("share_claim", rx, org_ins, w_ins), "only the patient or the")
    pat.share_claim(rx, org_ins)
    check([c["id"] for c in insurer.claimable(org_ins)].count(rx) == 1, "claimable once shared")
    check(insurer.details(rx, "reimbursement")["quantity"] == 21, "the insurer reads the details")
    refused(lambda: pharmacy.reimburse(rx, 3_560), "lacks role")
    refused(lambda: insurer.reimburse(rx, 0), "positive")
    insurer.reimburse(rx, 3_560)
    refused(lambda: insurer.reimburse(rx, 3_560), "reimbursed already")
    check(rx not in [c["id"] for c in insurer.claimable(org_ins)], "no longer claimable")

    # A cancelled prescription can be neither presented nor dispensed.
    two_txs = time.monotonic()
    rx2 = dr_a.prescribe(me, "Ibuprofen 200 mg", "as needed", 10, now + 30 * DAY_MS)
    run.watch(lambda: rx_state_of(rx2))
    pat.present(rx2, org_ph)
    two_txs = time.monotonic() - two_txs
    dr_a.cancel(rx2, "allergy noted")
    refused(lambda: pharmacy.dispense(rx2, 10), "is cancelled")
    refused(lambda: pat.present(rx2, org_b), "is cancelled")
    refused(lambda: dr_a.cancel(rx2, "again"), "is cancelled")

    # An expired prescription cannot be dispensed. It is presented before it expires: two
    # transactions (prescribe, present), given twice what two took above and at least 3 s.
    soon = int(time.time() * 1000) + max(3_000, int(2_000 * two_txs))
    rx3 = dr_a.prescribe(me, "Loratadine 10 mg", "once a day", 7, soon)
    run.watch(lambda: rx_state_of(rx3))
    pat.present(rx3, org_ph)
    time.sleep(max(0.0, (soon + 300) / 1000 - time.time()))
    # Block time is the validators' agreed time, not this machine's: probe with a quantity
    # refused either way (too small before expiry, expired after) until it says expired.
    deadline = time.monotonic() + 30
    while "has expired" not in refused(lambda: pharmacy.dispense(rx3, 0)):
        check(time.monotonic() < deadline, "the prescription never expired in block time")
        time.sleep(0.2)
    refused(lambda: pharmacy.dispense(rx3, 7), "has expired")

    # -- supervision: the regulator suspends prescribing, sees statistics, never content ------
    run.watch(lambda: (pat.suspended(addr["doctor"]), pat.statistics()))
    refused(lambda: dr_b.suspend_doctor(addr["doctor"], "no"), "lacks role")
    regulator.suspend_doctor(addr["doctor"], "licence under review")
    refused(lambda: regulator.suspend_doctor(addr["doctor"], "again"), "suspended already")
    refused(lambda: dr_a.prescribe(me, "Aspirin", "daily", 1, now + DAY_MS), "suspended")
    refused(lambda: outsider.reinstate_doctor(addr["doctor"]), "lacks role")
    regulator.reinstate_doctor(addr["doctor"])
    refused(lambda: regulator.reinstate_doctor(addr["doctor"]), "not suspended")
    stats = regulator.statistics()
    check(stats.get("rx_dispensed", 0) >= 1 and stats.get("purges", 0) >= 1, f"stats {stats}")
    check(stats["by_org"][org_ph]["units_dispensed"] >= 20, "dispensed units per organisation")
    # The regulator's organisation (the insurer's) reads the claim; the regulator does not.
    refused(lambda: regulator.read(rx, "inspection"), "may not access")
    node_refused(lambda: regulator.private.read(NAME, details_hash), 403, "private_can_read")

    # -- consent withdrawn: hospital B gets nothing new of this patient ----------------------
    pat.withdraw_consent(org_b)
    refused(lambda: pat.withdraw_consent(org_b), "not consented")
    refused(lambda: lab.add_record(me, "lab", b"new result", [org_b]), f"not consented to {org_b}")
    rec2 = lab.add_record(me, "lab", b"HbA1c 5.4 %")
    refused(lambda: lab.share(rec2, org_b), "has not consented")
    refused(lambda: dr_b.prescribe(me, "Aspirin", "daily", 1, now + DAY_MS), "not consented")
    check(all(org_b not in r["readers"] for r in pat.records_of(me)), "B reads nothing now")
