"""ScopedSetting: a process default that a `with` block overrides in its own thread or task."""

from __future__ import annotations

import threading

from tianfu.scoped import ScopedSetting


def test_the_default_holds_until_a_scope_is_entered_and_again_after_it() -> None:
    setting = ScopedSetting("test_setting", "a")
    assert setting.get() == "a" and not setting.scoped
    with setting.scope("b"):
        assert setting.get() == "b"
        with setting.scope("c"):
            assert setting.get() == "c"
        assert setting.get() == "b"
    assert setting.get() == "a" and setting.scoped
    setting.default = "d"
    assert setting.get() == "d"


def test_a_scope_holds_in_its_own_thread_only() -> None:
    setting = ScopedSetting("test_setting", "a")
    seen: list[str] = []
    with setting.scope("b"):
        thread = threading.Thread(target=lambda: seen.append(setting.get()))
        thread.start()
        thread.join()
        assert setting.get() == "b"
    assert seen == ["a"]


def test_the_first_scope_entered_calls_the_hook_once_and_a_value_in_force_enters_none() -> None:
    calls: list[bool] = []
    setting = ScopedSetting("test_setting", "a", lambda: calls.append(setting.scoped))
    with setting.scope("a"):  # in force already: no scope
        assert not setting.scoped
    assert calls == []
    with setting.scope("b"), setting.scope("c"):
        pass
    with setting.scope("b"):
        pass
    assert calls == [True]  # once, with `scoped` already set (so `get()` reads the scope)
