"""Store faults for integration tests: a small real filesystem to fill, damaged database files,
and what the chain shows afterwards (who signed each certificate, reports of double signs).

`SmallDisk` mounts a tmpfs of a given size (the process must be allowed to mount: root in
a container with CAP_SYS_ADMIN); `SmallDisk.available()` says whether it can, so a test
can skip with the reason rather than fail where mounting is not permitted.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tianfu.client.transport import http_get


class SmallDisk:
    """A tmpfs of `size_mb` MiB mounted on `path`; what `path` held before (e.g. the signer
    file a node's initialisation wrote) is copied onto it."""

    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = Path(path)
        self.size_mb = size_mb
        self.mounted = False

    @staticmethod
    def available() -> str | None:
        """None if a tmpfs can be mounted here, else why not."""
        if shutil.which("mount") is None or shutil.which("umount") is None:
            return "no mount/umount command"
        probe = Path(tempfile.mkdtemp(prefix="tianfu-mount-probe-"))
        try:
            r = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if r.returncode != 0:
                return f"mounting a tmpfs is not permitted here: {r.stderr.strip()}"
            subprocess.run(["umount", str(probe)], capture_output=True, timeout=10)
            return None
        finally:
            probe.rmdir()

    def mount(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        held = Path(tempfile.mkdtemp(prefix="tianfu-mount-held-"))
        shutil.copytree(self.path, held, dirs_exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs", str(self.path)],
            check=True,
            capture_output=True,
            timeout=10,
        )
        self.mounted = True
        shutil.copytree(held, self.path, dirs_exist_ok=True)
        shutil.rmtree(held)
        return self

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=10)
            self.mounted = False

    def fill(self, name: str = "filler") -> Path:
        """Write a file until the filesystem has no byte left; returns it (delete to free)."""
        filler = self.path / name
        chunk = 1 << 20
        with open(filler, "wb", buffering=0) as f:
            while chunk >= 512:
                try:
                    f.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
        return filler

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize


def damage_pages(db: Path, pages: int, seed: int, page_size: int = 4096) -> list[int]:
    """Overwrite `pages` random pages (never page 1, the header) with random bytes."""
    rng = random.Random(seed)
    count = db.stat().st_size // page_size
    picked = sorted(rng.sample(range(1, count), min(pages, count - 1)))
    with open(db, "r+b") as f:
        for p in picked:
            f.seek(p * page_size)
            f.write(rng.randbytes(page_size))
    return [p + 1 for p in picked]  # SQLite's page numbers start at 1


def truncate(db: Path, nbytes: int) -> None:
    size = db.stat().st_size
    os.truncate(db, max(0, size - nbytes))


def certificate_signers(url: str, height: int) -> set[str]:
    """The validator keys (hex) that signed the commit certificate of `height` on `url`."""
    r = http_get(f"{url}/v1/blocks/{height}/commit", timeout=5)
    r.raise_for_status()
    return {s["validator"] for s in r.json()["certificate"]["signatures"]}


_DOUBLE_SIGN = re.compile(r"submitted double-sign evidence")


def double_sign_reports(logs: list[Path]) -> int:
    """Lines of the node logs that report double-sign evidence (a node saw two different
    votes of one validator for one height, round and type, and submitted them)."""
    n = 0
    for p in logs:
        if p.exists():
            n += sum(
                1
                for line in p.read_text(errors="replace").splitlines()
                if _DOUBLE_SIGN.search(line)
            )
    return n
