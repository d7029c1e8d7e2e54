"""Fixtures that run real `tianfu dev` node processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tianfu.testing.devchain import DevChain
from tianfu.testing.processes import NodeProcess


@pytest.fixture(scope="module")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    home: Path = tmp_path_factory.mktemp("dev") / "home"
    node = NodeProcess(home).start()
    try:
        yield DevChain(node)
    finally:
        node.stop()
