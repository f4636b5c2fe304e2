"""Bad settings are usage errors that say what is valid; the plugin's own bugs are not fatal."""

from __future__ import annotations

import pytest

from conftest import PLUGIN_INI, Run

VALID = "valid names: threads, tasks, processes, fds, patches, warnings, objects, globals"


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        pytest.param(
            ["--leaks=threads,thread"], "", f"--leaks: unknown detector 'thread'; {VALID}", id="cli"
        ),
        pytest.param(
            [],
            "leaks = tasks, fd",
            f"ini option leaks: unknown detector 'fd'; {VALID}",
            id="ini",
        ),
        pytest.param(
            ["--leaks", "--leaks-grace", "soon"],
            "",
            "--leaks-grace: expected a number of seconds from 0 to 60, got 'soon'",
            id="grace-word",
        ),
        pytest.param(
            ["--leaks", "--leaks-grace=-1"],
            "",
            "--leaks-grace: expected a number of seconds from 0 to 60, got '-1'",
            id="grace-negative",
        ),
        pytest.param(
            ["--leaks"],
            "leaks_grace = nan",
            "ini option leaks_grace: expected a number of seconds from 0 to 60, got 'nan'",
            id="grace-nan",
        ),
        pytest.param(
            ["--leaks"],
            "leaks_report_only = maybe",
            "ini option leaks_report_only: expected true or false, got 'maybe'",
            id="report-only",
        ),
        pytest.param(
            ["--leaks", "--leaks-allow", "thread:worker-*"],
            "",
            "--leaks-allow: pattern 'thread:worker-*' must be 'kind:glob' with kind one of *",
            id="allow-pattern",
        ),
    ],
)
def test_a_bad_setting_is_a_usage_error_naming_its_source_and_the_valid_values(
    leak_project: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    leak_project.makeini(PLUGIN_INI + ini + "\n")
    leak_project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = leak_project.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: leakbench: {message}"])


def test_a_bad_pyproject_value_is_a_usage_error(leak_project: pytest.Pytester) -> None:
    leak_project.makepyprojecttoml("[tool.leakbench]\nleaks = 3\n")
    leak_project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = leak_project.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: leakbench: pyproject.toml [[]tool.leakbench[]] leaks: expected true, false or "
            "detector names (a comma-separated string or a list of strings), got 3"
        ]
    )


@pytest.mark.parametrize(
    ("args", "ini", "pyproject", "message"),
    [
        pytest.param(
            ["--leaks-bench-iterations=many"],
            "",
            "",
            "--leaks-bench-iterations: expected a whole number above 0, got 'many'",
            id="cli",
        ),
        pytest.param(
            [],
            "leaks_bench_seconds = 0",
            "",
            "ini option leaks_bench_seconds: expected a number of seconds above 0, got '0'",
            id="ini",
        ),
        pytest.param(
            [],
            "",
            "leaks_bench_iterations = -3",
            "pyproject.toml [[]tool.leakbench[]] leaks_bench_iterations: "
            "expected a whole number above 0, got -3",
            id="pyproject",
        ),
    ],
)
def test_a_bad_bench_fixture_option_is_a_one_line_usage_error(
    leak_project: pytest.Pytester, args: list[str], ini: str, pyproject: str, message: str
) -> None:
    leak_project.makeini(PLUGIN_INI + ini + "\n")
    if pyproject:
        leak_project.makepyprojecttoml(f"[tool.leakbench]\n{pyproject}\n")
    leak_project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    # In this process: the value is refused before anything starts, and each pytest
    # start-up would cost seconds.
    result = leak_project.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: leakbench: {message}"])
    assert len([line for line in result.errlines if line.strip()]) == 1  # no traceback


def test_a_bad_allow_leaks_marker_is_a_usage_error_before_any_test_runs(
    leak_project: pytest.Pytester,
) -> None:
    leak_project.makepyfile(
        test_marked="""
        import pytest


        def test_runs_first():
            raise AssertionError("no test may run")


        @pytest.mark.allow_leaks("threads", "thread", reason="typo")
        def test_unknown_kind():
            pass


        @pytest.mark.allow_leaks("threads", reasons="typo")
        def test_unknown_argument():
            pass
        """
    )
    # In this process: no test body runs, so nothing of the project can outlive the run.
    result = leak_project.runpytest_inprocess("-p", "no:cacheprovider", "--leaks")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: leakbench: test_marked.py::test_unknown_kind: allow_leaks: unknown detector "
            f"'thread'; {VALID}"
        ]
    )
    result.stdout.no_fnmatch_line("*no test may run*")


def test_a_detector_that_raises_is_reported_as_an_internal_error_and_the_run_goes_on(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeconftest(
        """
        from leakbench.detectors.threads import ThreadsDetector


        def broken_find(self, baseline, allowed):
            raise RuntimeError("the threads detector is broken")


        ThreadsDetector.find = broken_find
        """
    )
    leak_project.makepyfile(
        test_run_goes_on="""
        from unittest import mock


        def test_clean():
            pass


        def test_patch_leak():
            mock.patch("os.getcwd").start()
        """
    )
    result = run("--leaks", "-W", "error")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_patch_leak _*",
            "[[]internal error[]] [[]threads[]] internal error in the threads detector: "
            "RuntimeError: the threads detector is broken",
            "*",
            "[[]patches[]] patch of os.getcwd was started and never stopped",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: leaking tests by kind =*",
            "patches: 1 leak(s) in 1 test(s)",
            "*",
            "internal errors: 2",
            "  test_run_goes_on.py::test_clean: internal error in the threads detector: *",
            "  test_run_goes_on.py::test_patch_leak: internal error in the threads detector: *",
        ]
    )
