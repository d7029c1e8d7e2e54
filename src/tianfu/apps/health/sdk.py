"""SDK for the health contract: patients and consent, medical records kept as private data,
prescriptions, claims and supervision.

Record content and prescription details never go on chain: `add_record`, `amend` and
`prescribe` encrypt them for the reader organisations' registered data keys, commit the
hash, size and wrapped keys, and hand the content to the caller's own node; `read` logs the
access on chain and then fetches the plaintext through the caller's node. Granting another
organisation (`share`, `present`, `share_claim`) wraps the content key for it through the
caller's node, which holds it only if the caller's organisation is a reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, view, walk_log, walk_pages
from tianfu.apps.health import NAME
from tianfu.client import Client, ClientError
from tianfu.client.private import PrivateData, Sealed
from tianfu.identity import CertInfo


def _known(record: dict[str, Any] | None, missing: str) -> dict[str, Any]:
    """A view's record; ClientError(missing) when the view found none."""
    if record is None:
        raise ClientError(missing)
    return record


class Health(ContractSDK):
    """Operations and queries of the `health` contract; a refused call raises
    `tianfu.client.errors.TxFailed`, a refused private-data request `ApiError`."""

    CONTRACT = NAME

    def __init__(self, client: Client, contract: str | None = None) -> None:
        super().__init__(client, contract)
        self.private = PrivateData(client)

    @property
    def _signer(self) -> CertInfo:
        """Who this client signs as."""
        if self.client.identity is None:
            raise ClientError("this operation is signed: give the client an identity")
        return self.client.identity.info

    @property
    def org(self) -> str:
        return str(self._signer.org)

    @property
    def address(self) -> str:
        return str(self._signer.address)

    def _home(self, patient: str) -> str:
        return str(_known(self.patient(patient), f"{patient} is not a registered patient")["org"])

    # -- patients -----------------------------------------------------------------------------
    def register_patient(self) -> dict[str, Any]:
        return dict(self._invoke("register_patient"))

    def consent(self, org: str) -> None:
        self._invoke("consent", org)

    def withdraw_consent(self, org: str) -> None:
        self._invoke("withdraw_consent", org)

    # -- records ------------------------------------------------------------------------------
    def add_record(
        self, patient: str, kind: str, content: bytes, readers: Iterable[str] = ()
    ) -> str:
        """Write a record for `patient` (role clinician): readable by this organisation, the
        patient's home organisation and `readers` (each one the patient consented to)."""
        sealed = self.private.seal(content, {self.org, self._home(patient), *readers})
        return self.write_record(patient, kind, sealed)

    def write_record(self, patient: str, kind: str, sealed: Sealed) -> str:
        """`add_record` with content already sealed (`self.private.seal`) for its readers."""
        rec_id = str(
            self._invoke("add_record", patient, kind, sealed.hash, sealed.size, sealed.readers)
        )
        self.private.put(self.contract, sealed)
        return rec_id

    def amend(self, rec_id: str, content: bytes) -> int:
        """A new version of a record, for its current readers only; its version number."""
        rec = _known(self.record(rec_id), f"unknown record {rec_id}")
        sealed = self.private.seal(content, rec["readers"])
        version = int(self._invoke("amend", rec_id, sealed.hash, sealed.size, sealed.readers))
        self.private.put(self.contract, sealed)
        return version

    def share(self, rec_id: str, org: str) -> None:
        """Let `org` read a record's latest version (the patient; or a clinician of a reader
        organisation when the patient consented to `org`)."""
        rec = _known(self.record(rec_id), f"unknown record {rec_id}")
        wrapped = self.private.wrap(self.contract, rec["versions"][-1], org)
        self._invoke("share", rec_id, org, wrapped)

    def revoke(self, rec_id: str, org: str) -> None:
        self._invoke("revoke", rec_id, org)

    def purge(self, rec_id: str) -> None:
        self._invoke("purge", rec_id)

    def read(self, ref: str, purpose: str, *, wait_s: float = 30.0) -> bytes:
        """Log an access to a record or a prescription's details, then read the content
        through this client's node (waiting up to `wait_s` while the node fetches it)."""
        content_hash = str(self._invoke("access", ref, purpose))
        return self.private.read(self.contract, content_hash, wait_s=wait_s)

    # -- prescriptions --------------------------------------------------------------------------
    def prescribe(
        self,
        patient: str,
        drug: str,
        dose: str,
        quantity: int,
        expires_ms: int,
        note: str = "",
    ) -> str:
        """Issue a prescription (role doctor); its details are private to this organisation
        and the patient's until the patient presents it to a pharmacy."""
        details = json.dumps(
            {"drug": drug, "dose": dose, "quantity": quantity, "note": note},
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        sealed = self.private.seal(details, {self.org, self._home(patient)})
        rx_id = str(
            self._invoke(
                "prescribe", patient, quantity, expires_ms, sealed.hash, sealed.size, sealed.readers
            )
        )
        self.private.put(self.contract, sealed)
        return rx_id

    def _wrap_details(self, rx_id: str, org: str) -> bytes:
        rx = _known(self.prescription(rx_id), f"unknown prescription {rx_id}")
        return self.private.wrap(self.contract, rx["details"], org)

    def present(self, rx_id: str, org: str) -> None:
        """As the patient: let pharmacy organisation `org` read and dispense it."""
        self._invoke("present", rx_id, org, self._wrap_details(rx_id, org))

    def details(self, rx_id: str, purpose: str, *, wait_s: float = 30.0) -> dict[str, Any]:
        """A prescription's private details (logged as an access)."""
        return dict(json.loads(self.read(rx_id, purpose, wait_s=wait_s)))

    def dispense(self, rx_id: str, quantity: int) -> dict[str, Any]:
        return dict(self._invoke("dispense", rx_id, quantity))

    def cancel(self, rx_id: str, reason: str) -> None:
        self._invoke("cancel", rx_id, reason)

    def dismiss(self, rx_id: str) -> None:
        """As the patient: take a dispensed, cancelled or expired prescription off her list,
        freeing its prescriber organisation's slot there."""
        self._invoke("dismiss", rx_id)

    def share_claim(self, rx_id: str, org: str) -> None:
        """Let insurer organisation `org` read a dispensed prescription for reimbursement."""
        self._invoke("share_claim", rx_id, org, self._wrap_details(rx_id, org))

    def reimburse(self, rx_id: str, amount_fen: int) -> None:
        self._invoke("reimburse", rx_id, amount_fen)

    # -- supervision --------------------------------------------------------------------------
    def suspend_doctor(self, address: str, reason: str) -> None:
        self._invoke("suspend_doctor", address, reason)

    def reinstate_doctor(self, address: str) -> None:
        self._invoke("reinstate_doctor", address)

    # -- views --------------------------------------------------------------------------------
    patient = view("address")
    record = view("rec_id")
    records_of = view("address", returns=list)
    records_of_page = view("address", returns=dict, start=1, limit=40)

    def all_records_of(self, address: str, limit: int = 40) -> list[dict[str, Any]]:
        """Every record of a patient, oldest first, read a page (`records_of_page`) at a
        time."""
        return walk_pages(lambda s: self.records_of_page(address, start=s, limit=limit), "records")

    access_log = view("ref", returns=list)
    access_log_page = view("ref", returns=dict, start=1, limit=150)

    def all_access_log(self, ref: str, limit: int = 150) -> list[dict[str, Any]]:
        """Every logged access to `ref`, oldest first, read a page (`access_log_page`) at a
        time."""
        return walk_log(lambda s: self.access_log_page(ref, start=s, limit=limit), "entries")

    prescription = view("rx_id")
    prescriptions_of = view("address", returns=list)
    prescriptions_of_page = view("address", returns=dict, start=1, limit=40)

    def all_prescriptions_of(self, address: str, limit: int = 40) -> list[dict[str, Any]]:
        """Every prescription of a patient, oldest first, a page at a time."""
        return walk_pages(
            lambda s: self.prescriptions_of_page(address, start=s, limit=limit), "prescriptions"
        )

    claimable = view("org", returns=list)
    claim_count = view("org", returns=int)
    claimable_page = view("org", returns=dict, start=1, limit=40)

    def all_claimable(self, org: str, limit: int = 40) -> list[dict[str, Any]]:
        """Every claim `org` may still reimburse, read a page (`claimable_page`) at a time."""
        return walk_pages(
            lambda start: self.claimable_page(org, start=start, limit=limit), "claimable"
        )

    suspended = view("address")
    statistics = view(returns=dict)

    def can_read(self, content_hash: str, address: str) -> bool:
        return bool(self._query("private_can_read", content_hash, address))
