"""Network checks for tests: the names of `tianfu.bench.netcheck`, kept under this name
while branches that import it are merged (new code imports `tianfu.bench.netcheck`)."""

from tianfu.bench.netcheck import *  # noqa: F403
