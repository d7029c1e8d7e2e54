"""An application contract's deployed source, kept in several files: the parts are joined in
order into the one text the chain runs, the shared contract library (`contract_library.py`,
docs/adr/0031-shared-contract-library.md) right after the contract's main part, so that the
parts after it can declare views with its helpers at their top level (docs/adr/0029).

Each part after the first starts with a header of comment lines (the linters' directives and
a line saying which contract it belongs to) ended by a blank line; the header is left out of
the join. The parts' code is joined with two blank lines between parts (as between top-level
definitions), so the deployed text does not depend on how a formatter ends or starts a file.
"""

from __future__ import annotations

from pathlib import Path


def _without_header(text: str) -> str:
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    if start == 0 or start == len(lines) or lines[start].strip():
        raise ValueError("a contract part must start with comment lines and a blank line")
    return "".join(lines[start:])


def joined_source(package_file: str, *parts: str) -> str:
    """The source of the contract whose parts are the files `parts` (names beside
    `package_file`, or absolute paths of shared parts)."""
    folder = Path(package_file).parent
    texts = [(folder / name).read_text(encoding="utf-8") for name in parts]
    code = [texts[0], *(_without_header(t) for t in texts[1:])]
    return "\n\n\n".join(c.strip("\n") for c in code) + "\n"


LIBRARY = str(Path(__file__).with_name("contract_library.py"))
# Shared parts a contract may name among its own: parties enrolled under a display name
# (the `enrol` method and the `party` view).
PARTIES = str(Path(__file__).with_name("contract_parties.py"))


def contract_source(package_file: str, main: str, *parts: str) -> str:
    """The deployed source of an application contract, as one text (the chain hashes and
    runs all of it): its main part `main` (its docstring, state and methods), the shared
    contract library, then its other parts (file names beside `package_file`, or a shared
    part such as `PARTIES`), whose top level may use the library (a table of views)."""
    return joined_source(package_file, main, LIBRARY, *parts)
