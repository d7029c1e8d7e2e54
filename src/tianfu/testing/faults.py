"""Fault injection: the names of `tianfu.node.faults`, kept under this name while branches
that import it are merged (new code imports `tianfu.node.faults`)."""

from tianfu.node.faults import *  # noqa: F403
