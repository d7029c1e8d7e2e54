"""Human output of the command line: tables of fields and of rows.

A value is shown as written: text from the chain is never read as Rich markup (`[red]`,
`[/x]` are characters of a name, not styles). A hash, address, key, signature or id (a run
of 16 or more hex digits) is never folded across lines: it is shown whole when it fits and
otherwise cut to the width it has, ending in `…`, and a note under the table says that
`--json` prints every value in full. Nested data (an event's fields, a record) is shown a
field a line, Chinese as written. A table of rows too wide for the terminal without
breaking its words is shown a record after another, a field a line. Output that is not a
terminal (a pipe, a file) with COLUMNS unset has no width to fit: its tables are as wide as
their values, nothing cut or folded, so that `grep` and scripts see every value whole.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterator
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from tianfu.api.render import jsonable

HEXLIKE = re.compile(r"(0x)?[0-9a-fA-F]{16,}")
NESTED_DEPTH = 4  # deeper data is shown as one JSON text
ID_WIDTH = 17  # the least width of a column of hex ids in a squeezed table (16 digits and …)
LIST_ITEMS = 50  # items of a list (entries of a mapping) shown; the rest are counted
PIPE_WIDTH = 1_000_000  # "no limit": a table in a pipe is as wide as its values
SHORTENED_NOTE = "… marks a value shortened to fit the terminal: --json prints it in full"
# (a record's own hashes, ids and keys that were cut are printed whole below the note)


class Event:
    """One event of a receipt: its contract.name on the first line, its data below."""

    def __init__(self, name: str, data: Any) -> None:
        self.name = name
        self.data = data


def _scalar(value: Any) -> str:
    value = jsonable(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Cells:
    """Builds the renderables of table cells, remembering every hex value it shows."""

    def __init__(self) -> None:
        self.hexes: list[str] = []

    def text(self, value: str) -> Text:
        if HEXLIKE.fullmatch(value):
            self.hexes.append(value)
            return Text(value, no_wrap=True, overflow="ellipsis")
        return Text(value, overflow="fold")

    def cell(self, value: Any, depth: int = 0) -> RenderableType:
        if isinstance(value, Event):
            return Group(Text(value.name, style="bold"), self.cell(value.data, depth + 1))
        value = jsonable(value)
        if isinstance(value, dict) and value and depth < NESTED_DEPTH:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="dim", overflow="fold")
            grid.add_column(overflow="fold")
            for k, v in list(value.items())[:LIST_ITEMS]:
                grid.add_row(Text(str(k)), self.cell(v, depth + 1))
            if len(value) > LIST_ITEMS:
                grid.add_row(Text("…"), Text(f"{len(value) - LIST_ITEMS} more (--json prints all)"))
            return grid
        if isinstance(value, list) and value and depth < NESTED_DEPTH:
            items: list[RenderableType] = [self.cell(v, depth + 1) for v in value[:LIST_ITEMS]]
            if len(value) > LIST_ITEMS:
                items.append(Text(f"… {len(value) - LIST_ITEMS} more (--json prints all)"))
            if not any(isinstance(v, dict | list) for v in value):
                return Group(*items)
            bulleted = Table.grid(padding=(0, 1))  # records of a list, each after a dash
            bulleted.add_column(no_wrap=True)
            bulleted.add_column(overflow="fold")
            for item in items:
                bulleted.add_row("-", item)
            return bulleted
        if isinstance(value, str):
            return self.text(value)
        return Text(_scalar(value), overflow="fold")  # a number is never cut


class Screen(Console):
    """A Rich console for a command's own lines. A reader that closed the pipe raises
    BrokenPipeError, for `handle_errors` to answer as for every other line (Rich's own
    answer was `SystemExit(1)`, as if the command had failed); what is printed after it
    goes nowhere."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def _console() -> Console:
    """The console tables are laid out for: COLUMNS or the terminal's width; output that is
    not a terminal, with COLUMNS unset, is not limited (Rich would take 80 columns, or the
    width of a terminal on stdin, and cut hashes in `tianfu block list | grep`)."""
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=PIPE_WIDTH)


def _print(table: Table, cells: _Cells, fields: dict[str, Any] | None = None) -> None:
    """Print `table`; when a hex value was cut, the note, and each of `fields` (a record's
    own values) that was cut, whole on a line of its own after it, to copy."""
    console = _console()
    with console.capture() as capture:
        console.print(table)
    out = capture.get()
    print(out, end="")
    if any(h not in out for h in cells.hexes):
        print(SHORTENED_NOTE)
        for k, v in (fields or {}).items():
            values = v if isinstance(v, list) else [v]
            for h in values[:LIST_ITEMS]:
                if _is_hex(h) and h not in out:  # on one line, or the value on the next
                    line = f"  {k}: {h}"
                    print(line if len(line) <= console.width else f"  {k}:\n    {h}")


def print_fields(title: str, fields: dict[str, Any]) -> None:
    """A two-column table of readable fields."""
    cells = _Cells()
    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column("field", style="bold", overflow="fold")
    table.add_column("value", overflow="fold")
    for k, v in fields.items():
        table.add_row(Text(k), cells.cell(v))
    _print(table, cells, fields)


def print_rows(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table of `rows` under `title`; with no rows, the line `title: none`."""
    if not rows:
        print(f"{title}: none")
        return
    cells = _Cells()
    rendered = [list(_row_cells(cells, row)) for row in rows]
    console = _console()
    widths = _widths(console, columns, rows, rendered)
    if widths is None:
        _print(_records(title, columns, rows, cells), cells)
        return
    table = Table(title=Text(title), title_justify="left")
    for c, width in zip(columns, widths, strict=True):
        table.add_column(Text(c), overflow="fold", width=width)
    for row in rendered:
        table.add_row(*row)
    _print(table, cells)


def _widths(
    console: Console, columns: list[str], rows: list[list[Any]], rendered: list[list[Any]]
) -> list[int] | None:
    """Each column's width: at least its widest word (a column of hex ids: ID_WIDTH), at
    most its widest value or its whole heading; the room left goes to the columns of text first (the narrowest wants first, so short values
    stay on one line), then to the columns of ids. None when the terminal is too narrow for
    the least widths (padding and borders take 3 a column and 1)."""
    least, most, ids = [], [], []
    for i, c in enumerate(columns):
        low = max((cell_len(w) for w in c.split()), default=1)  # 名称: 4 cells
        high = max(low, cell_len(c))  # the whole heading on one line, given the room
        for row, cells in zip(rows, rendered, strict=True):
            if i < len(cells):
                m = Measurement.get(console, console.options, cells[i])
                hexed = _is_hex(row[i])
                low = max(low, min(m.minimum, ID_WIDTH) if hexed else m.minimum)
                high = max(high, m.maximum)
        least.append(low)
        most.append(max(low, high))
        ids.append(any(i < len(row) and _is_hex(row[i]) for row in rows))
    room = console.width - 3 * len(columns) - 1 - sum(least)
    if room < 0:
        return None
    widths = list(least)
    for i in sorted(range(len(columns)), key=lambda i: (ids[i], most[i] - least[i])):
        more = min(most[i] - least[i], room)
        widths[i] += more
        room -= more
    return widths


def _records(title: str, columns: list[str], rows: list[list[Any]], cells: _Cells) -> Table:
    """`rows` one record after another, a field a line (empty fields left out): the table
    for a terminal too narrow for a column each without breaking words."""
    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column("field", style="bold", overflow="fold")
    table.add_column("value", overflow="fold")
    for row in rows:
        shown = [(c, v) for c, v in zip(columns, row, strict=False) if v not in ("", None)]
        for n, (c, v) in enumerate(shown, 1):
            table.add_row(Text(c), cells.cell(v), end_section=n == len(shown))
    return table


def _is_hex(value: Any) -> bool:
    return isinstance(value, str) and HEXLIKE.fullmatch(value) is not None


def _row_cells(cells: _Cells, row: list[Any]) -> Iterator[RenderableType]:
    for v in row:
        yield cells.cell(v)
