"""Example contracts shipped as source files (read them with `example_source`)."""

from __future__ import annotations

from importlib import resources


def example_source(name: str) -> str:
    """The source text of the example contract `name` (e.g. "asset")."""
    return resources.files(__package__).joinpath(f"{name}.py").read_text(encoding="utf-8")
