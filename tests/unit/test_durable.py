"""`tianfu.durable.replace_durably`: the one atomic, durable file write of the node
(signer state, WAL rotation, identities, private-data keys and blobs)."""

from __future__ import annotations

import stat

from tianfu.durable import replace_durably


def test_replaces_the_file_whole_with_the_mode_asked(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"old content that is longer than the new one")
    replace_durably(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # owner-only by default
    replace_durably(path, b"cert", mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_a_stale_temporary_file_does_not_lend_its_permissions(tmp_path) -> None:
    path = tmp_path / "key.pem"
    stale = tmp_path / "key.pem.tmp"
    stale.write_bytes(b"left by a crash")
    stale.chmod(0o666)
    replace_durably(path, b"secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"secret" and not stale.exists()


def test_large_data_is_written_in_full(tmp_path) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB: more than one write(2) may take
    replace_durably(tmp_path / "big", data)
    assert (tmp_path / "big").read_bytes() == data
