"""The load generator: the names of `tianfu.bench.loadgen`, kept under this name while
branches that import it are merged (new code imports `tianfu.bench.loadgen`)."""

from tianfu.bench.loadgen import *  # noqa: F403
