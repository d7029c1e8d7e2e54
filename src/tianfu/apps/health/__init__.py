"""Health care: patients, medical records kept as private data, consent to share them between
hospitals, prescriptions dispensed at most once, insurance claims, supervision."""

from __future__ import annotations

from tianfu.apps.common.source import contract_source

NAME = "health"
ROLES = ("clinician", "doctor", "pharmacy", "insurer", "regulator")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return contract_source(__file__, "contract.py", "contract_views.py")
