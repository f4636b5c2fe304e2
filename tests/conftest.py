"""Shared set-up of the plugin tests (``test_plugin_*.py``): a pytester project."""

from __future__ import annotations

from collections.abc import Callable

import pytest

PLUGIN_INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""
"""Warnings are errors in the projects under test too: the plugin must not warn."""

Run = Callable[..., pytest.RunResult]


@pytest.fixture
def leak_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester project with warnings as errors and no leakbench setting from outside."""
    monkeypatch.delenv("LEAKBENCH_LEAKS", raising=False)
    pytester.makeini(PLUGIN_INI)
    return pytester


@pytest.fixture
def run(leak_project: pytest.Pytester) -> Run:
    """Run pytest on the project in a fresh process (threads, fds and processes
    of the project must not mix with this one's)."""

    def run(*args: str, timeout: float = 60) -> pytest.RunResult:
        return leak_project.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=timeout)

    return run
