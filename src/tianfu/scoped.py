"""A process-wide setting that a `with` block may override in its own thread or task.

The hash in force (`tianfu.codec.hash_scope`) and the chain suite in force
(`tianfu.crypto.suite.ChainSuite.use`) are such settings: a node sets its chain's once, and
code that checks another chain's data enters a scope for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

T = TypeVar("T")


class ScopedSetting(Generic[T]):
    """A value with a process default (`default`) that `scope(value)` overrides inside a block,
    in this thread or task only. Until a scope is first entered in the process, `get()` reads
    the default alone (no context-variable lookup on hot paths); `on_first_scope()` is called
    then, once, for hot paths that keep what `get()` would give in a variable of their own."""

    __slots__ = ("default", "scoped", "_var", "_on_first_scope")

    def __init__(
        self, name: str, default: T, on_first_scope: Callable[[], None] | None = None
    ) -> None:
        self.default = default
        self.scoped = False  # True once any scope was entered in this process
        self._var: ContextVar[T | None] = ContextVar(name, default=None)
        self._on_first_scope = on_first_scope

    def get(self) -> T:
        """The value in force here: the enclosing scope's, else the process default."""
        if self.scoped:
            value = self._var.get()
            if value is not None:
                return value
        return self.default

    @contextmanager
    def scope(self, value: T) -> Iterator[None]:
        """`value` in force inside the block (nothing changes where it is in force already)."""
        if self.get() is value:
            yield
            return
        if not self.scoped:
            self.scoped = True
            if self._on_first_scope is not None:
                self._on_first_scope()
        token = self._var.set(value)
        try:
            yield
        finally:
            self._var.reset(token)
