"""The README's SDK example: its first lines (the imports and the genesis it loads) run as
written, from the directory a newcomer runs them in."""

import re
from pathlib import Path

from tianfu.node.dev import init_dev, load_genesis

README = Path(__file__).resolve().parents[2] / "README.md"


def _sdk_example() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## The Python SDK")
    [block] = re.findall(r"```python\n(.*?)```", text[start : text.index("\n## ", start + 3)], re.S)
    return block


def test_the_readme_sdk_example_loads_the_dev_genesis_from_a_string_path(tmp_path, monkeypatch):
    """`load_genesis(".tianfu/dev")`, as the README writes it, failed with TypeError
    (str / str): it took only a Path."""
    init_dev(tmp_path / ".tianfu" / "dev")
    monkeypatch.chdir(tmp_path)
    lines = _sdk_example().splitlines()
    head = [ln for ln in lines if ln.startswith(("from ", "import ", "genesis = "))]
    assert any("load_genesis(" in ln for ln in head), head
    names: dict[str, object] = {}
    exec("\n".join(head), names)  # noqa: S102 (the README's own lines)
    assert names["genesis"] == load_genesis(tmp_path / ".tianfu" / "dev")
    assert load_genesis(str(tmp_path / ".tianfu" / "dev")) == names["genesis"]
