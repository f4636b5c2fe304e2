"""``pytest --leaks`` on every pytest the package supports, without the ``bench`` extra.

``make test`` runs this file twice: in ``.venv`` (the newest pytest, every extra) and in
``.venv-oldest`` (``requirements-oldest.lock``: the oldest supported pytest, 8.0.x, with only
psutil and pympler, and leakbench installed from its wheel without the extra). So it uses
nothing but pytest and the standard library: threads, fds, patches, asyncio tasks and
ResourceWarnings leaked by ordinary test code are caught, their clean twins pass, and
measuring without memray and pytest-benchmark is a one-line usage error naming the extra.
"""

from __future__ import annotations

import importlib.util

import pytest

PROJECT = """
import asyncio
import gc
import os
import socket
import threading
from unittest import mock

STOP = threading.Event()


def test_leaks_a_thread():
    threading.Thread(target=STOP.wait, name="leaky-worker", daemon=True).start()


def test_leaks_an_fd():
    global KEPT
    KEPT = open(os.devnull)


def test_leaks_a_patch():
    mock.patch("os.getcwd", return_value="/nowhere").start()


def test_leaks_a_task():
    async def serve_forever():
        await asyncio.Event().wait()

    async def main():
        asyncio.get_running_loop().create_task(serve_forever())

    asyncio.run(main())


def test_drops_an_open_socket():
    dropped = socket.socket()
    del dropped
    gc.collect()


def test_clean():
    worker = threading.Thread(target=STOP.wait, args=(0.01,))
    worker.start()
    worker.join()
    with open(os.devnull) as file:
        file.read()
    with mock.patch("os.getcwd", return_value="/nowhere"):
        pass

    async def main():
        task = asyncio.get_running_loop().create_task(asyncio.sleep(0))
        await task

    asyncio.run(main())
"""

INI = "[pytest]\nfilterwarnings = error\n"
if importlib.util.find_spec("pytest_asyncio") is not None:  # its warning when unset
    INI += "asyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The project above, warnings as errors, nothing from this run's environment."""
    monkeypatch.delenv("LEAKBENCH_LEAKS", raising=False)
    pytester.makeini(INI)
    pytester.makepyfile(test_project=PROJECT)
    return pytester


def test_each_leak_kind_is_caught_and_the_clean_twin_passes(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--leaks")
    result.assert_outcomes(passed=6, errors=5)
    result.stdout.fnmatch_lines_random(
        [
            "*test_leaks_a_thread leaked 1 resource(s): threads",
            "*test_leaks_an_fd leaked 1 resource(s): fds",
            "*test_leaks_a_patch leaked 1 resource(s): patches",
            "*test_leaks_a_task leaked 1 resource(s): tasks",
            "*test_drops_an_open_socket leaked 1 resource(s): warnings",
            "[[]threads[]] thread 'leaky-worker' *",
            "[[]patches[]] *os.getcwd*",
            "[[]tasks[]] task * running *serve_forever* was still pending*",
        ]
    )
    assert "test_clean leaked" not in result.stdout.str()


def test_without_leaks_the_same_project_passes(project: pytest.Pytester) -> None:
    # The dropped socket's ResourceWarning is pytest's own error without --leaks.
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "-k", "not socket"
    )
    result.assert_outcomes(passed=5, deselected=1)


NO_EXTRA = all(importlib.util.find_spec(m) is None for m in ("memray", "pytest_benchmark"))


@pytest.mark.skipif(not NO_EXTRA, reason="this environment has the bench extra")
def test_measuring_without_the_extra_says_what_to_install(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_m="def test_m(leakbench):\n    assert leakbench(sum, [1]) == 1\n")
    plain = pytester.runpytest("-p", "no:cacheprovider")
    plain.assert_outcomes(passed=1)  # without --leaks-bench the fixture just calls
    result = pytester.runpytest("-p", "no:cacheprovider", "--leaks-bench")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: leakbench: --leaks-bench needs memray and pytest-benchmark: "
        "pip install 'leakbench[bench]'"
    )
