"""The top entries of a py-spy raw profile: each function's share of the samples, inclusive
(anywhere on the stack) and self (the innermost frame).

    py-spy record -p <node pid> --duration 20 --rate 100 --nonblocking --format raw -o prof.txt
    .venv/bin/python benchmarks/profile_top.py prof.txt [--top 25]

A raw profile has one line per distinct stack: its frames joined by ";" (outermost first),
a space, and the number of samples. A function is named with its file below `src/` or
`site-packages/`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def frame_name(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file path below src/ or site-packages/)`."""
    func, sep, where = frame.partition(" (")
    if not sep:
        return frame
    path = where.rsplit(":", 1)[0].rstrip(")")
    path = path.split("/site-packages/")[-1].split("/src/")[-1]
    return f"{func} ({path})"


def shares(lines: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, inclusive samples by function, self samples by function)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    return total, inclusive, own


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path, help="a py-spy --format raw file")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    total, inclusive, own = shares(args.profile.read_text().splitlines())
    print(f"samples {total}")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"{title}:")
        for name, count in counts.most_common(args.top):
            print(f"  {100 * count / max(total, 1):5.1f} %  {name}")


if __name__ == "__main__":
    main()
