"""Health care: patients, medical records kept as private data, consent to share them between
hospitals, prescriptions dispensed at most once, insurance claims, supervision."""

from __future__ import annotations

from pathlib import Path

NAME = "health"
ROLES = ("clinician", "doctor", "pharmacy", "insurer", "regulator")


def source() -> str:
    """The sandboxed contract's source text, as it is deployed."""
    return Path(__file__).with_name("contract.py").read_text(encoding="utf-8")
