"""Measured tests are checked for leaks too: ``pytest --leaks --leaks-bench``.

memray's first ``Tracker`` in a process sets up libunwind, which opens a pipe (its memory
validation pipe) and keeps it for the life of the process. Whichever test was measured first
was blamed for it, so a measuring run had to be ``--no-leaks``. The bench fixture now does that
one-time set-up before the first baseline; what a measured test itself leaves open is still
reported. Each run is a fresh pytest process (the set-up is once per process).
"""

from __future__ import annotations

import pytest

CLEAN = """
import pytest


def work():
    return [str(i) for i in range(100)]


def test_fixture_first(leakbench):
    assert len(leakbench(work)) == 100


@pytest.mark.leakbench(iterations=4)
def test_marker():
    work()


def test_fixture_again(leakbench):
    leakbench(work)
"""

LEAKY = """
import pytest

HELD = []
MARKER_HELD = []


def work():
    return [str(i) for i in range(100)]


def test_fixture_leaks_a_file(leakbench):
    HELD.append(open(__file__))
    leakbench(work)


@pytest.mark.leakbench(iterations=4)
def test_marker_leaks_a_file():
    if not MARKER_HELD:  # the body runs once per iteration: one file, once
        MARKER_HELD.append(open(__file__))
"""

QUICK = ("-p", "no:randomly", "--leaks", "--leaks-bench-iterations=4")


pytestmark = pytest.mark.usefixtures("not_an_xdist_worker")  # conftest.py


def test_clean_measured_tests_pass_the_leak_checks(leak_project: pytest.Pytester) -> None:
    result = _run(leak_project, CLEAN, "--leaks-bench", "--leaks-bench-seconds=0.1")
    result.assert_outcomes(passed=3)
    assert "leaked" not in result.stdout.str()
    result.stdout.fnmatch_lines(["leakbench: measured 3 tests -> *pytest-latest.json"])


def test_a_file_a_measured_test_leaves_open_is_still_reported(
    leak_project: pytest.Pytester,
) -> None:
    result = _run(leak_project, LEAKY, "--leaks-bench", "--leaks-bench-seconds=0.1")
    result.assert_outcomes(passed=2, errors=2)
    out = result.stdout.str()
    for name in ("test_fixture_leaks_a_file", "test_marker_leaks_a_file"):
        result.stdout.fnmatch_lines(
            [
                f"*test_demo.py::{name} leaked 1 resource(s): fds",
                "[[]fds[]] fd *: file *test_demo.py (open for read) is still open",
            ]
        )
    assert "pipe" not in out


def test_under_xdist_the_workers_measure_memory_without_a_false_alarm(
    leak_project: pytest.Pytester,
) -> None:
    """As documented: each worker measures memory into its own file, the time pass is skipped
    (pytest-benchmark disables itself under xdist); each worker's first measured test is
    one that the set-up's pipe would have been blamed on. The project's warnings are errors:
    a disabled ``benchmark`` fixture never called warned "not used at all" at teardown."""
    result = _run(leak_project, CLEAN, "-n", "2", "--leaks-bench-json=out.json", timeout=120)
    result.assert_outcomes(passed=3)
    assert "leaked" not in result.stdout.str()
    result.stdout.fnmatch_lines(["leakbench: time pass skipped: *xdist*per worker"])
    assert sorted(leak_project.path.glob("out.gw*.json")), "no per-worker results"


def _run(
    pytester: pytest.Pytester, tests: str, *args: str, timeout: float = 60
) -> pytest.RunResult:
    """``tests`` as ``test_demo.py``, run in a fresh pytest process."""
    pytester.makepyfile(test_demo=tests)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *QUICK, *args, timeout=timeout)
