"""Shared set-up of the plugin tests (``test_plugin_*.py``): a pytester project."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PLUGIN_INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""
"""Warnings are errors in the projects under test too: the plugin must not warn."""

Run = Callable[..., pytest.RunResult]


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Every test starts with the SIGINT/SIGTERM handlers the worker had: an in-process
    ``leakbench`` command that was interrupted ignores both from then on (as a process on
    its way out should), which must not leak into the next test of this worker."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        if handler is not None:
            signal.signal(number, handler)


@pytest.fixture
def not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``make test``'s -n 2 an inner pytest (pytester, a subprocess) must not think it
    is an xdist worker: pytest-benchmark reads PYTEST_XDIST_WORKER and would disable itself."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def bytecode_cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path | None:
    """Where the Python processes the tests start keep compiled modules when this
    environment forbids writing them (``PYTHONDONTWRITEBYTECODE``); None when it does not.

    Without it every pytest process the tests start compiles, and assertion-rewrites, every
    installed plugin's modules again: ~2.5 s of CPU of the ~4.4 s a one-test run costs here.
    The folder is pytest's cache (kept between runs), outside the source tree."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return None
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("leakbench-pycache"))
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, bytecode_cache: Path | None
) -> pytest.Pytester:
    """pytest's ``pytester``, whose subprocesses (and theirs) read and write compiled
    modules in :func:`bytecode_cache`, so that only the first run compiles them."""
    if bytecode_cache is not None:
        monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
        monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(bytecode_cache))
    return pytester


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
