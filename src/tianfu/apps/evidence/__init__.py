"""The `evidence` application: its contract source, SDK, CLI, demo data and scenario."""

from __future__ import annotations

from pathlib import Path

NAME = "evidence"


def source() -> str:
    """The contract's source text (deployed as is; never imported as a module)."""
    return (Path(__file__).parent / "contract.py").read_text(encoding="utf-8")
