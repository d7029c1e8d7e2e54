"""Every `tianfu ...` command that the command line's help texts, the README and docs/
tell a newcomer to run exists, with the options named. `node start --observer`'s help
said the observer is "made by `tianfu node init --observer`" (no such option: the command
is `node init-observer`), and docs/apps/city_governance.md named
`tianfu gov propose set-supervisory-roles` (the command is `supervisory-roles`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from tianfu.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
INLINE = re.compile(r"`(?:\.venv/bin/)?tianfu ([^`\n]*)`")
LINE = re.compile(r"^\s*(?:\.venv/bin/)?tianfu ([^\n#]*)", re.M)  # a line of a code block
SUBCOMMAND = re.compile(r"[a-z][a-z0-9-]+")


def _commands() -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        out[path] = cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _commands()


def _problem(ref: str) -> str | None:
    """Why the command line `tianfu <ref>` does not exist, or None."""
    words = re.split(r"&&|\||;", ref)[0].split()
    path: tuple[str, ...] = ()
    for word in words:
        if (*path, word) not in COMMANDS:
            break
        path = (*path, word)
    command, rest = COMMANDS[path], words[len(path) :]
    if hasattr(command, "commands") and rest and SUBCOMMAND.fullmatch(rest[0]):
        return f"no command {' '.join((*path, rest[0]))!r}"
    options = {o for p in command.params for o in getattr(p, "opts", [])} | {"--help"}
    missing = [w for w in rest if w.startswith("--") and w.split("=")[0] not in options]
    return f"{' '.join(path)!r} has no option {missing}" if missing else None


def _help_texts() -> list[tuple[str, str]]:
    return [
        (" ".join(path) or "tianfu", text.replace("\n", " "))
        for path, command in COMMANDS.items()
        for text in [command.help or "", *(getattr(p, "help", "") or "" for p in command.params)]
    ]


def test_the_references_of_the_help_texts_exist() -> None:
    found = [(where, ref) for where, text in _help_texts() for ref in INLINE.findall(text)]
    assert len(found) > 10  # the scan reads the texts
    bad = [(where, ref, why) for where, ref in found if (why := _problem(ref))]
    assert bad == [], bad


def test_the_commands_of_the_readme_and_the_docs_exist() -> None:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = [
        (f.relative_to(ROOT), ref)
        for f in files
        for ref in INLINE.findall(f.read_text()) + LINE.findall(f.read_text())
    ]
    assert len(found) > 200
    bad = [(str(f), ref, why) for f, ref in found if (why := _problem(ref))]
    assert bad == [], bad


def test_a_wrong_reference_is_found() -> None:
    assert _problem("node init --observer") == "'node init' has no option ['--observer']"
    assert _problem("gov propose set-supervisory-roles") == (
        "no command 'gov propose set-supervisory-roles'"
    )
    assert _problem("node init-observer --home obs --genesis g.bin") is None
    assert _problem("gov --help") is None
