"""Demo data for health: a lab result shared between two hospitals by the patient's consent,
and a prescription dispensed by a pharmacy and reimbursed by an insurer."""

from __future__ import annotations

import time
from typing import Any

from tianfu.apps.common.private_data import ensure_private_data
from tianfu.apps.common.readable import counted, yuan
from tianfu.apps.common.scenario import Member, cast, ensure_deployed, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.health import NAME, source
from tianfu.apps.health.sdk import Health

DAY_MS = 24 * 3600 * 1000
MEMBERS = (  # key, organisation index, certificate name, roles, who it plays
    Member("patient", 0, "hl-patient-wang-fang", (), "Wang Fang (patient, registered at WCH)"),
    Member("lab", 0, "hl-wch-laboratory", ("clinician",), "West China Hospital laboratory"),
    Member("doctor", 0, "hl-wch-dr-li", ("clinician", "doctor"), "Dr Li, West China Hospital"),
    Member(
        "hospital_b",
        1,
        "hl-cd2-dr-zhang",
        ("clinician", "doctor"),
        "Dr Zhang, Chengdu Second People's Hospital",
    ),
    Member("pharmacy", 2, "hl-tianfu-pharmacy", ("pharmacy",), "Tianfu Pharmacy, Jinjiang"),
    Member("insurer", 3, "hl-sichuan-insurance", ("insurer",), "Sichuan Medical Insurance"),
    Member("regulator", 3, "hl-health-commission", ("regulator",), "Sichuan Health Commission"),
)
LAB_RESULT = (
    b"Complete blood count, 2024-06-03, West China Hospital laboratory\n"
    b"Haemoglobin 141 g/L (130-175); WBC 6.2 x10^9/L (3.5-9.5); Platelets 232 x10^9/L\n"
    b"Conclusion: within reference ranges.\n"
)


def setup(env: AppEnv, members: tuple[Member, ...] = MEMBERS, suffix: str = "") -> Any:
    """Private data ready (registry, keys), `health` deployed, the cast enrolled."""
    ensure_private_data(env)
    people = cast(env, members, suffix=suffix)
    h = handles(env, people, Health)
    ensure_deployed(env, next(iter(h.values())).client, NAME, source())
    return people, h


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `health`; a patient's blood count written by hospital A, shared with hospital B
    by consent and read there; a prescription presented to a pharmacy, dispensed once,
    shared with the insurer and reimbursed. Idempotent: the data found is described."""
    people, h = setup(env)
    patient = people["patient"].info.address
    _create(env, h, patient)
    records = h["patient"].records_of(patient)
    rx = h["patient"].prescriptions_of(patient)[0]
    return {
        "contract": NAME,
        "patient": patient,
        "record": records[0]["id"],
        "record_readers": records[0]["readers"],
        "accesses": len(h["patient"].access_log(records[0]["id"])),
        "prescription": rx["id"],
        "prescription_status": rx["status"],
        "reimbursed_fen": (rx["reimbursed"] or {}).get("amount_fen", 0),
        "participants": {
            k: f"{who.info.org}/{who.info.name} {who.info.address}" for k, who in people.items()
        },
    }


def _create(env: AppEnv, h: dict[str, Health], patient: str) -> None:
    """Each part of the story that is not on chain yet (a run cut short is completed)."""
    hospital_b = env.orgs[1 % len(env.orgs)]
    pharmacy, insurer = env.orgs[2 % len(env.orgs)], env.orgs[3 % len(env.orgs)]
    if h["patient"].patient(patient) is None:
        h["patient"].register_patient()
    if not h["patient"].records_of(patient):
        rec = h["lab"].add_record(patient, "lab", LAB_RESULT)
        h["patient"].consent(hospital_b)
        h["patient"].share(rec, hospital_b)
        h["hospital_b"].read(rec, "second opinion: no need to repeat the blood count")
    if h["patient"].prescriptions_of(patient):
        return
    rx = h["doctor"].prescribe(
        patient,
        "Amoxicillin capsules 500 mg",
        "1 capsule three times a day for 7 days",
        21,
        int(time.time() * 1000) + 30 * DAY_MS,
    )
    h["patient"].present(rx, pharmacy)
    h["pharmacy"].details(rx, "dispensing")
    h["pharmacy"].dispense(rx, 21)
    h["patient"].share_claim(rx, insurer)
    h["insurer"].details(rx, "reimbursement claim")
    h["insurer"].reimburse(rx, 3_560)


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    return [
        f"patient {summary['patient'][:12]}…: lab record {summary['record']} (private data, "
        f"read by {', '.join(summary['record_readers'])}; "
        f"{counted(summary['accesses'], 'access', 'accesses')} logged)",
        f"prescription {summary['prescription']} {summary['prescription_status']}, "
        f"reimbursed {yuan(summary['reimbursed_fen'])} yuan",
        f"try: tianfu app health record {summary['record']}",
        f"     tianfu app health log {summary['record']}",
        f"     tianfu app health prescription {summary['prescription']}",
        "     tianfu app health stats",
    ]
