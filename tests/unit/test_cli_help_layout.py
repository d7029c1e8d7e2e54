"""Every --help reads well at 80 columns: its prose is wrapped once, at the terminal's width.

Typer kept a docstring's line breaks after the first paragraph and Rich then wrapped each of
those lines again, leaving a word or two alone on a line (`tianfu node start --help`:
"... the chain's hash links," / "recent" / "certificates, ..."). `SummaryGroup` now reflows
each paragraph of every command's and group's help (`common.reflowed`)."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from tianfu.cli.common import reflowed
from tianfu.cli.main import app

WIDTH = 80
TEXT_WIDTH = WIDTH - 2  # Rich pads the help text by one column on each side


def _paths(command, path=()):
    """The path of every command and group under `command`, with its help text."""
    yield list(path), command.help or ""
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from _paths(sub, (*path, name))


def _ragged(output: str) -> list[str]:
    """Lines of the help's prose (between the usage line and the first panel) that end
    although the next line's first word would have fitted on them."""
    lines = output.splitlines()
    usage = next(i for i, line in enumerate(lines) if "Usage:" in line)
    start = next(i for i, line in enumerate(lines) if i > usage and not line.strip())
    end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("╭")), len(lines))
    prose = [line.strip() for line in lines[start:end]]
    return [
        f"{here!r} / {after!r}"
        for here, after in zip(prose, prose[1:], strict=False)
        if here and after and len(here) + 1 + len(after.split()[0]) <= TEXT_WIDTH
    ]


def test_every_help_text_is_wrapped_once_at_80_columns() -> None:
    runner = CliRunner()
    env = {"COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb"}
    every = list(_paths(typer.main.get_command(app)))
    assert len(every) > 250
    # Typer joins the first paragraph's lines itself: the texts of more than one paragraph
    # (and a sample of the others, every 10th) are rendered (all of them take minutes).
    paths = [p for i, (p, text) in enumerate(every) if "\n\n" in text.strip() or i % 10 == 0]
    assert len(paths) > 30
    ragged = {}
    for path in paths:
        r = runner.invoke(app, [*path, "--help"], env=env)
        assert r.exit_code == 0, (path, r.output)
        if bad := _ragged(r.output):
            ragged[" ".join(path)] = bad
    assert ragged == {}


def test_reflowed_joins_prose_lines_and_keeps_marked_paragraphs() -> None:
    text = "Summary\nline.\n\nA long\nparagraph.\n\n\b\nkept\nas is\n\nindented:\n  a\n  b\f\nhidden\nrest"
    assert reflowed(text) == (
        "Summary line.\n\nA long paragraph.\n\n\b\nkept\nas is\n\nindented:\n  a\n  b\f\nhidden\nrest"
    )
