"""Turning the checks on, choosing detectors, allowing leaks, and where settings come from.

Precedence, highest first: the ``allow_leaks`` marker (per test), the command
line, the ``LEAKBENCH_LEAKS`` environment variable, the pytest ini file, the
``[tool.leakbench]`` table of pyproject.toml.
"""

from __future__ import annotations

import pytest

from conftest import PLUGIN_INI, Run
from leakbench.detectors import REGISTRY

TWO_LEAKS = """
import threading
from unittest import mock

STOP = threading.Event()


def test_thread_leak():
    threading.Thread(target=STOP.wait, name="leaky-worker", daemon=True).start()


def test_patch_leak():
    mock.patch("os.getcwd").start()
"""
"""One test leaking a thread, one leaking a patch: which are reported tells which
detectors were on."""


def reported_kinds(result: pytest.RunResult) -> set[str]:
    kinds = set()
    for line in result.outlines:
        for kind in ("threads", "patches"):
            if line.startswith(f"{kind}: 1 leak(s) in 1 test(s)"):
                kinds.add(kind)
    return kinds


@pytest.mark.parametrize(
    ("pyproject", "ini", "env", "args", "expected"),
    [
        pytest.param("leaks = true", "", "", [], {"threads", "patches"}, id="pyproject-on"),
        pytest.param("", "leaks = true", "", [], {"threads", "patches"}, id="ini-on"),
        pytest.param("", "leaks = threads,tasks", "", [], {"threads"}, id="ini-chooses"),
        pytest.param(
            'leaks = ["threads"]', "leaks = patches", "", [], {"patches"}, id="ini-beats-pyproject"
        ),
        pytest.param("", "leaks = patches", "threads", [], {"threads"}, id="env-beats-ini"),
        pytest.param("", "", "threads", ["--leaks=patches"], {"patches"}, id="cli-beats-env"),
        pytest.param("leaks = true", "leaks = true", "", ["--no-leaks"], set(), id="no-leaks"),
        pytest.param("", "", "", [], set(), id="off-by-default"),
    ],
)
def test_the_detectors_come_from_the_highest_source_that_names_them(
    leak_project: pytest.Pytester,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    pyproject: str,
    ini: str,
    env: str,
    args: list[str],
    expected: set[str],
) -> None:
    leak_project.makeini(PLUGIN_INI + ini + "\n")
    if pyproject:
        leak_project.makepyprojecttoml(f"[tool.leakbench]\n{pyproject}\n")
    if env:
        monkeypatch.setenv("LEAKBENCH_LEAKS", env)
    leak_project.makepyfile(test_two=TWO_LEAKS)
    result = run(*args)
    result.assert_outcomes(passed=2, errors=len(expected))
    assert reported_kinds(result) == expected


def test_the_allow_leaks_marker_allows_the_kinds_it_names_and_only_those(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_marked="""
        import threading
        from unittest import mock

        import pytest

        STOP = threading.Event()


        def start_worker():
            threading.Thread(target=STOP.wait, name="owned-worker", daemon=True).start()


        @pytest.mark.allow_leaks("threads", reason="the worker lives for the whole run")
        def test_allowed_thread():
            start_worker()


        @pytest.mark.allow_leaks("threads", reason="only threads are allowed")
        def test_allowed_thread_but_not_the_patch():
            start_worker()
            mock.patch("os.getcwd").start()


        @pytest.mark.allow_leaks(reason="anything goes")
        def test_allowed_everything():
            start_worker()
            mock.patch("os.getpid").start()


        @pytest.mark.allow_leaks("threads")
        class TestAllowedForTheClass:
            def test_thread_in_a_marked_class(self):
                start_worker()
        """
    )
    result = run("--leaks")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_allowed_thread_but_not_the_patch _*",
            "leakbench: * leaked 1 resource(s): patches",
            "[[]patches[]] patch of os.getcwd was started and never stopped",
        ]
    )
    result.stdout.no_fnmatch_line("*owned-worker*")


def test_report_only_reports_the_leaks_without_failing_the_run(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_two=TWO_LEAKS)
    result = run("--leaks", "--leaks-report-only")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: leaking tests by kind =*",
            "patches: 1 leak(s) in 1 test(s)",
            "  test_two.py::test_patch_leak: patch of os.getcwd was started and never stopped",
            "threads: 1 leak(s) in 1 test(s)",
            "  test_two.py::test_thread_leak: thread 'leaky-worker' *",
        ]
    )


def test_allow_patterns_from_the_command_line_and_the_ini_file_drop_matching_leaks(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeini(PLUGIN_INI + "leaks_allow =\n    patches:os.getcwd\n")
    leak_project.makepyfile(test_two=TWO_LEAKS)
    result = run("--leaks", "--leaks-allow", "threads:leaky-*")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*leakbench: *")


def test_a_path_after_a_bare_leaks_option_is_a_path_not_a_list_of_detectors(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeini(PLUGIN_INI + "testpaths = elsewhere\n")
    leak_project.mkdir("elsewhere")
    leak_project.makepyfile(**{"elsewhere/test_other": "def test_other():\n    pass\n"})
    leak_project.mkdir("checked")
    leak_project.makepyfile(**{"checked/test_two": TWO_LEAKS})
    result = run("--leaks", "checked", "-v")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.no_fnmatch_line("*test_other*")


def test_a_wrong_detector_name_after_leaks_is_still_a_usage_error_not_a_path(
    leak_project: pytest.Pytester,
) -> None:
    leak_project.makepyfile(test_two=TWO_LEAKS)
    result = leak_project.runpytest("--leaks", "thread", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: leakbench: --leaks: unknown detector 'thread'; *"])


def test_the_help_describes_every_detector_and_declares_the_bench_fixture_options(
    leak_project: pytest.Pytester,
) -> None:
    result = leak_project.runpytest("--help", "-p", "no:cacheprovider")
    text = " ".join(result.stdout.str().split())  # argparse wraps the help lines
    for name, cls in REGISTRY.items():
        assert f"{name}: {cls.description}" in text
    for option in (
        "--leaks-bench",
        "--leaks-bench-json",
        "--leaks-bench-iterations",
        "--leaks-bench-seconds",
    ):
        assert option in text
        assert f"{option[2:].replace('-', '_')} (string):" in text  # its ini key


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        pytest.param("[tool.leakbench]\nleaks = 'threads'\n", {"threads"}, id="found"),
        pytest.param("[tool.leakbench\nleaks = 'threads'\n", set(), id="invalid-ignored"),
    ],
)
def test_tool_leakbench_is_read_from_the_nearest_pyproject_at_or_above_the_rootdir(
    leak_project: pytest.Pytester, pyproject: str, expected: set[str]
) -> None:
    # The rootdir is sub/ (its pytest.ini); the project's pyproject.toml is one level up,
    # where ``leakbench bench`` finds its budgets too.
    (leak_project.path / "pyproject.toml").write_text(pyproject)
    sub = leak_project.mkdir("sub")
    (sub / "pytest.ini").write_text(PLUGIN_INI)
    (sub / "test_two.py").write_text(TWO_LEAKS)
    result = leak_project.runpytest_subprocess("-p", "no:cacheprovider", str(sub))
    result.assert_outcomes(passed=2, errors=len(expected))
    assert reported_kinds(result) == expected
