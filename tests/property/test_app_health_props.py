"""Properties of health, under random sequences of operations by random actors:

- a prescription is dispensed at most once — also when two pharmacies try in one block —
  never more than prescribed, never after cancellation, never by anyone but a pharmacy it
  was presented to; the statistics agree;
- no organisation reads a record without a grant: after every consent, withdrawal, share,
  revocation, amendment and purge, the chain's reader lists equal a model's, and a clinician
  of an organisation gets a version's content from its node exactly when the model grants
  that organisation the record (a revoked one gets neither the old versions nor new ones,
  and no clinician shares the record with it again: only the patient does).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tianfu.apps.common.private_data import ensure_private_data
from tianfu.apps.common.scenario import Member, cast, handles
from tianfu.apps.health import NAME, source
from tianfu.apps.health.sdk import Health
from tianfu.client import ApiError, TxFailed
from tianfu.identity import Identity
from tianfu.testing.appchain import AppChain

DAY_MS = 86_400_000
CAST = (
    Member("doctor", 0, "hp-doctor", ("doctor", "clinician")),  # org1: the patient's home
    Member("ph_a", 2, "hp-pharmacy-a", ("pharmacy",)),
    Member("ph_b", 1, "hp-pharmacy-b", ("pharmacy",)),  # a hospital pharmacy of org2
    Member("nurse", 2, "hp-nurse", ("clinician",)),  # org3, no pharmacy role
    Member("c2", 1, "hp-clinician-2", ("clinician",)),
    Member("c3", 2, "hp-clinician-3", ("clinician",)),
    Member("c4", 3, "hp-clinician-4", ("clinician",)),
    Member("insurer", 3, "hp-insurer", ("insurer",)),  # org4
)
CLINICIANS = ("doctor", "c2", "c3", "c4")
OTHERS = ("org2", "org3", "org4")
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_n = iter(range(1, 1_000_000))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppChain, Any, Any]]:
    chain = AppChain(tmp_path_factory.mktemp("healthprops"))
    ensure_private_data(chain)
    chain.deploy(NAME, source())
    people = cast(chain, CAST)
    yield chain, people, handles(chain, people, Health)
    chain.close()


def _new_patient(chain: AppChain) -> tuple[Identity, Health]:
    who = chain.identity("org1", f"hp-patient-{next(_n)}")
    h = Health(chain.client(who))
    h.register_patient()
    return who, h


def _outcome(ok: bool, action: Any, *args: Any) -> None:
    """Run `action(*args)`; it must succeed exactly when `ok` (a refusal: a failed receipt)."""
    try:
        action(*args)
    except TxFailed as exc:
        assert not ok, f"refused although allowed: {exc.error}"
        return
    assert ok, "a forbidden action was accepted"


# -- a prescription is dispensed at most once --------------------------------------------------
rx_op = st.tuples(
    st.sampled_from(["present", "dispense", "dispense", "both", "cancel", "claim", "dismiss"]),
    st.sampled_from(["ph_a", "ph_b", "nurse", "doctor", "patient"]),
    st.integers(0, 2),  # which prescription
    st.integers(-1, 12),  # quantity (each prescription is for 10)
)


@SETTINGS
@given(ops=st.lists(rx_op, min_size=1, max_size=14))
def test_a_prescription_is_dispensed_at_most_once(world: Any, ops: list[Any]) -> None:
    chain, people, h = world
    patient, pat = _new_patient(chain)
    me = patient.info.address
    ids = {**people, "patient": patient}
    actors = {**h, "patient": pat}
    org = {k: v.info.org for k, v in ids.items()}
    expires = int(time.time() * 1000) + DAY_MS
    rxs = [h["doctor"].prescribe(me, f"drug {i}", "daily", 10, expires) for i in range(3)]
    model = {
        rx: {"status": "issued", "presented": set(), "dispensed": 0, "listed": True} for rx in rxs
    }
    # The first is presented to pharmacy A, the second to both: dispensing races are likely.
    for rx, orgs in ((rxs[0], ("ph_a",)), (rxs[1], ("ph_a", "ph_b"))):
        for k in orgs:
            pat.present(rx, org[k])
            model[rx]["presented"].add(org[k])
    before = h["doctor"].statistics()

    for kind, who, which, qty in ops:
        rx = rxs[which]
        m = model[rx]
        if kind == "present":
            to = org["ph_a"] if qty % 2 else org["ph_b"]
            ok = who == "patient" and m["status"] == "issued" and to not in m["presented"]
            wrapped = pat.private.wrap(NAME, pat.prescription(rx)["details"], to)
            _outcome(ok, actors[who]._invoke, "present", rx, to, wrapped)
            if ok:
                m["presented"].add(to)
        elif kind in ("dispense", "both"):
            # "both": two pharmacies try in the same block.
            tries = [(who, qty)] if kind == "dispense" else [("ph_a", qty), ("ph_b", 10)]
            receipts = chain.call_many([(ids[w], NAME, "dispense", (rx, q)) for w, q in tries])
            for (w, q), r in zip(tries, receipts, strict=True):
                ok = (
                    w in ("ph_a", "ph_b")
                    and org[w] in m["presented"]
                    and m["status"] == "issued"
                    and 1 <= q <= 10
                )
                assert r.ok == ok, (w, q, m, r.error)
                if ok:
                    m["status"], m["dispensed"] = "dispensed", q
        elif kind == "cancel":  # the prescriber withdraws it, or the patient declines it
            ok = who in ("doctor", "patient") and m["status"] == "issued"
            _outcome(ok, actors[who].cancel, rx, "changed")
            if ok:
                m["status"] = "cancelled"
        elif kind == "dismiss":  # off her list once it is no longer issued (none expires here)
            ok = who == "patient" and m["status"] != "issued" and m["listed"]
            _outcome(ok, actors[who]._invoke, "dismiss", rx)
            if ok:
                m["listed"] = False
        elif m["status"] == "dispensed" and who == "patient":  # a claim to the insurer
            pat.share_claim(rx, "org4")
            m["status"] = "claimed"
        listed = [x["id"] for x in pat.prescriptions_of(me)]
        assert listed == [x for x in rxs if model[x]["listed"]]
        for rx_id, mm in model.items():
            onchain = pat.prescription(rx_id)
            assert onchain["status"] == ("dispensed" if mm["status"] == "claimed" else mm["status"])
            done = onchain["dispensed"]
            assert (done is None) == (mm["dispensed"] == 0)
            if done is not None:
                assert done["quantity"] == mm["dispensed"] <= onchain["quantity"]
    # The insurer's claimable ones are exactly the claimed and not reimbursed; a reimbursed
    # claim leaves the list.
    claimed = {rx for rx, mm in model.items() if mm["status"] == "claimed"}
    assert {x["id"] for x in h["insurer"].claimable("org4")} & set(rxs) == claimed
    if claimed:
        paid = sorted(claimed)[0]
        h["insurer"].reimburse(paid, 100)
        assert {x["id"] for x in h["insurer"].claimable("org4")} & set(rxs) == claimed - {paid}
    after = h["doctor"].statistics()
    dispensed = [mm["dispensed"] for mm in model.values() if mm["dispensed"]]
    assert after.get("rx_dispensed", 0) - before.get("rx_dispensed", 0) == len(dispensed)
    assert after.get("units_dispensed", 0) - before.get("units_dispensed", 0) == sum(dispensed)


# -- no reader without a grant ----------------------------------------------------------------
rec_op = st.tuples(
    st.sampled_from(
        ["consent", "withdraw", "share", "share", "share_by", "revoke", "amend", "purge", "read"]
    ),
    st.sampled_from(OTHERS),
    st.sampled_from(CLINICIANS),
)


@SETTINGS
@given(ops=st.lists(rec_op, min_size=1, max_size=12))
@example(ops=[("revoke", "org2", "doctor"), ("share_by", "org2", "doctor"), ("read", "", "c2")])
def test_no_organisation_reads_without_a_grant(world: Any, ops: list[Any]) -> None:
    chain, people, h = world
    patient, pat = _new_patient(chain)
    me = patient.info.address
    org = {k: people[k].info.org for k in CLINICIANS}
    rec = h["doctor"].add_record(me, "lab", b"version 1")
    pat.consent("org2")  # a second reader from the start: revocations have work to do
    pat.share(rec, "org2")
    readers, consented, purged = {"org1", "org2"}, {"org2"}, False
    revoked: set[str] = set()  # revoked from the record and not shared again by the patient
    versions = [pat.record(rec)["versions"][-1]]

    def wrapped(target: str) -> bytes:
        latest = pat.record(rec)["versions"][-1]
        return h["doctor"].private.wrap(NAME, latest, target) if not purged else b"w" * 80

    for kind, target, who in ops:
        if kind == "consent":
            _outcome(target not in consented, pat.consent, target)
            consented.add(target)
        elif kind == "withdraw":
            _outcome(target in consented, pat.withdraw_consent, target)
            consented.discard(target)
        elif kind in ("share", "share_by"):
            sharer = pat if kind == "share" else h[who]
            ok = not purged and target not in readers
            if kind == "share_by":  # a clinician of a reading organisation that still has
                # the patient's consent (the home organisation, org1, always has it)
                ok = ok and org[who] in readers and target in consented
                ok = ok and (org[who] == "org1" or org[who] in consented)
                ok = ok and target not in revoked  # only the patient undoes her revocation
            w = wrapped(target)
            _outcome(ok, sharer._invoke, "share", rec, target, w)
            if ok:
                readers.add(target)
                revoked.discard(target)
        elif kind == "revoke":
            ok = not purged and target in readers
            _outcome(ok, pat.revoke, rec, target)
            if ok:
                revoked.add(target)
            readers.discard(target)
        elif kind == "amend":
            if purged:  # refused by the contract (the SDK has no readers to seal for)
                args = ("cd" * 32, 100, {"org1": b"w" * 80})
                _outcome(False, h["doctor"]._invoke, "amend", rec, *args)
            else:
                h["doctor"].amend(rec, f"version {len(versions) + 1}".encode())
                versions.append(pat.record(rec)["versions"][-1])
        elif kind == "purge":
            _outcome(not purged, pat.purge, rec)
            purged, readers = True, set()
        else:
            _check_read(h[who], rec, versions, org[who] in readers and not purged)
        onchain = pat.record(rec)
        assert onchain["readers"] == sorted(readers) and onchain["purged"] == purged
        assert [r["id"] for r in pat.records_of(me)] == ([] if purged else [rec])  # purge: off
        assert onchain["versions"] == versions
        for i, v in enumerate(versions):
            pd = chain.service.private.chain.record(NAME, v)
            assert pd is not None and pd.purged == purged
            if i == len(versions) - 1:
                assert set(pd.readers) == readers
            else:  # shares reach the latest version only; revocations reach every one
                assert set(pd.readers) <= readers
    for who in CLINICIANS:
        _check_read(h[who], rec, versions, org[who] in readers and not purged)


def _check_read(reader: Health, rec: str, versions: list[str], granted: bool) -> None:
    """A clinician reads the latest version through its node exactly when granted; no
    version at all once its organisation is no longer a reader."""
    if granted:
        assert reader.read(rec, "care", wait_s=0) == f"version {len(versions)}".encode()
    else:
        with pytest.raises(TxFailed):
            reader.read(rec, "care", wait_s=0)
    for i, v in enumerate(versions):
        latest = i == len(versions) - 1
        try:
            content = reader.private.read(NAME, v)
        except ApiError as exc:
            assert exc.status in (403, 410), exc
            assert not (granted and latest), f"a granted reader was refused: {exc}"
        else:
            assert granted, "content served to an organisation without a grant"
            assert content == f"version {i + 1}".encode()
