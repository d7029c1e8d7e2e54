"""The error every verification failure raises (re-exported by `tianfu.client`)."""

from __future__ import annotations


class VerificationError(Exception):
    """Data that does not verify against the trusted genesis or validator set."""
