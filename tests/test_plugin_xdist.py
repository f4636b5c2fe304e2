"""Under pytest-xdist the workers check the tests and the controller sums them up."""

from __future__ import annotations

import pytest

from conftest import Run
from leakbench.detectors.leak import Leak
from leakbench.plugin.hooks import REPORT_ATTR


def test_leak_records_survive_the_report_serialisation_that_xdist_uses(
    pytestconfig: pytest.Config,
) -> None:
    leak = Leak(
        kind="threads",
        summary="thread 'x' (daemon=True, target=f) is still running",
        details=("started at:", '  File "t.py", line 3, in test_x'),
        keys=("x", "f"),
    )
    report = pytest.TestReport(
        nodeid="t.py::test_x",
        location=("t.py", 2, "test_x"),
        keywords={},
        outcome="failed",
        longrepr="leakbench: t.py::test_x leaked 1 resource(s): threads",
        when="teardown",
    )
    setattr(report, REPORT_ATTR, [leak.to_dict()])
    hook = pytestconfig.hook
    data = hook.pytest_report_to_serializable(config=pytestconfig, report=report)
    back = hook.pytest_report_from_serializable(config=pytestconfig, data=data)
    assert [Leak.from_dict(d) for d in getattr(back, REPORT_ATTR)] == [leak]


def test_leaks_are_reported_per_test_on_the_workers_and_summed_up_by_the_controller(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_one="""
        import threading

        STOP = threading.Event()


        def test_thread_leak():
            threading.Thread(target=STOP.wait, name="leaky-worker", daemon=True).start()


        def test_clean():
            pass
        """,
        test_two="""
        from unittest import mock


        def test_patch_leak():
            mock.patch("os.getcwd").start()


        def test_clean_too():
            pass
        """,
    )
    result = run("--leaks", "-n", "2", "-W", "error", timeout=120)
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*_ ERROR at teardown of test_thread_leak _*",
            "*_ ERROR at teardown of test_patch_leak _*",
            "[[]threads[]] thread 'leaky-worker' *",
            "[[]patches[]] patch of os.getcwd was started and never stopped",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: leaking tests by kind =*",
            "patches: 1 leak(s) in 1 test(s)",
            "  test_two.py::test_patch_leak: patch of os.getcwd was started and never stopped",
            "threads: 1 leak(s) in 1 test(s)",
            "  test_one.py::test_thread_leak: thread 'leaky-worker' *",
        ]
    )


def test_a_bad_marker_under_xdist_stops_the_run_with_the_usage_message(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_marked="""
        import pytest


        @pytest.mark.allow_leaks("thread")
        def test_marked():
            pass
        """
    )
    result = run("--leaks", "-n", "2", timeout=120)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*allow_leaks: unknown detector 'thread'; valid names: *"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
