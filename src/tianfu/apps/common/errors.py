"""The two ways an application command fails before or after talking to the chain."""

from __future__ import annotations


class BadInput(ValueError):
    """A command-line value that cannot be used (the command line exits with code 2)."""


class CommandFailed(Exception):
    """A command that ran but did not succeed (the command line exits with code 1)."""
