"""Argument kinds the applications' command tables share: addresses, amounts in fen, documents
given by their SHA-256 or as a file, and local files."""

from __future__ import annotations

from pathlib import Path

from tianfu.apps.common import inputs
from tianfu.apps.common.commands import Param, arg, opt


def address(
    name: str,
    help: str = "Address or identity directory.",  # noqa: A002
    *,
    option: bool = False,
) -> Param:
    """An account: a 40-hex address, or an identity directory whose address is used (an
    option if `option`)."""
    return (opt if option else arg)(name, help=help, parse=inputs.address)


def fen(name: str = "amount", help: str = "Amount in fen.") -> Param:  # noqa: A002
    """An amount argument, typed in integer fen (the contracts' unit; printed in yuan)."""
    return arg(name, int, help)


AMOUNT = fen()


def document(name: str, what: str, *, option: bool = False) -> Param:
    """A document by its SHA-256, or a file whose SHA-256 is taken here (an option if
    `option`); `what` is how its help names it: "The delivery note"."""
    return (opt if option else arg)(
        name, help=f"{what}: its SHA-256 or the file.", parse=inputs.hash_or_file
    )


def local_file(help: str) -> Param:  # noqa: A002
    """The FILE argument: a file on this machine, read here."""
    return arg("file", Path, help)
