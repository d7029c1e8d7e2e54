"""A contract kept in several files deploys exactly the source it had as one file."""

import hashlib

import pytest

from tianfu.apps import fund_supervision, supply_finance
from tianfu.apps.common.source import _without_header, joined_source

# sha256 of each contract's single-file source before it was split into parts: a chain that
# deployed it must see the very same text (the source decides consensus).
ONE_FILE_SHA256 = {
    fund_supervision: "9c7e7c341cd9466fc6d7b8ae6fbbcb90ccc391ecff72e169744ae36bd80d74ea",
    supply_finance: "06036a8fcf3c44c08e740ec36ac3b682a2b105c60b057e78add5e93beb4632ab",
}


@pytest.mark.parametrize("app", list(ONE_FILE_SHA256), ids=lambda m: m.NAME)
def test_joined_source_is_the_one_file_source(app):
    assert hashlib.sha256(app.source().encode()).hexdigest() == ONE_FILE_SHA256[app]
    assert "# ruff: noqa" not in app.source().split("\n", 2)[2]  # later parts' headers left out


def test_a_part_without_its_header_is_refused(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("# part\ny = 2\n")  # no blank line after the header
    with pytest.raises(ValueError):
        joined_source(str(tmp_path / "pkg.py"), "a.py", "b.py")
    assert _without_header("# part\n\n# -- views\ny = 2\n").strip("\n") == "# -- views\ny = 2"


def test_parts_are_joined_with_two_blank_lines_whatever_their_edges(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("# part\n\n\n\ny = 2\n\n")
    assert joined_source(str(tmp_path / "pkg.py"), "a.py", "b.py") == "x = 1\n\n\ny = 2\n"
