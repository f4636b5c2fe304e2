"""The ``leakbench`` fixture and marker measure ordinary tests (pytester, in subprocesses).

Their options (``--leaks-bench``, ``--leaks-bench-json``, ``--leaks-bench-iterations``,
``--leaks-bench-seconds``)
come from the command line, the ini file or ``[tool.leakbench]``, like every plugin option;
bad values are in ``test_plugin_bad_input.py``.
"""

from __future__ import annotations

import pytest

from leakbench.gate.results import load_results

TESTS = """
import pytest

HELD = []


def grow():
    HELD.append(bytearray(10240))


def test_fixture_measures_the_function(leakbench):
    assert leakbench(grow) is None


@pytest.mark.leakbench(iterations=6, seconds=0.1, memory_budget=0.5)
def test_marker_measures_the_body():
    [str(i) for i in range(100)]


def test_unmeasured():
    pass
"""

PLUGIN = ("-p", "no:randomly", "-p", "no:cacheprovider")


pytestmark = pytest.mark.usefixtures("not_an_xdist_worker")  # conftest.py


def test_marked_and_fixture_tests_are_measured_into_one_results_file(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_demo=TESTS)
    result = pytester.runpytest_subprocess(
        *PLUGIN,
        "--leaks-bench-json=out.json",
        "--leaks-bench-iterations=5",
        "--leaks-bench-seconds=0.1",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["leakbench: measured 2 tests -> *out.json"])
    results = load_results(pytester.path / "out.json")
    fixture = results.scenarios["test_demo.py::test_fixture_measures_the_function"]
    marker = results.scenarios["test_demo.py::test_marker_measures_the_body"]
    assert set(results.scenarios) == {
        "test_demo.py::test_fixture_measures_the_function",
        "test_demo.py::test_marker_measures_the_body",
    }
    assert fixture.memory is not None and fixture.memory.iterations == 5
    assert fixture.memory.retained_per_iteration >= 10240
    assert fixture.time is not None and len(fixture.time.rounds) >= 10
    assert marker.memory is not None and marker.memory.iterations == 6
    assert abs(marker.memory.retained_per_iteration) < 64
    assert marker.budget == {"memory_budget": 0.5}


MEMORY_ONLY = """
import pytest

HELD = []


@pytest.mark.leakbench(time=False)
def test_grows():
    HELD.append(bytearray(1024))
"""


@pytest.mark.parametrize(
    ("ini", "pyproject", "path", "iterations"),
    [
        pytest.param(
            "leaks_bench = true\nleaks_bench_json = ini.json\nleaks_bench_iterations = 4\n",
            "leaks_bench_iterations = 9\n",
            "ini.json",
            4,
            id="ini-beats-pyproject",
        ),
        pytest.param(
            "",
            "leaks_bench = true\nleaks_bench_iterations = 3\n",
            ".leakbench/results/pytest-latest.json",
            3,
            id="pyproject-default-path",
        ),
    ],
)
def test_the_options_are_read_from_the_ini_file_and_tool_leakbench(
    pytester: pytest.Pytester, ini: str, pyproject: str, path: str, iterations: int
) -> None:
    pytester.makeini(f"[pytest]\n{ini}")
    pytester.makepyprojecttoml(f"[tool.leakbench]\n{pyproject}")
    pytester.makepyfile(test_demo=MEMORY_ONLY)
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1)
    results = load_results(pytester.path / path)
    memory = results.scenarios["test_demo.py::test_grows"].memory
    assert memory is not None and memory.iterations == iterations


def test_without_the_option_the_tests_just_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_demo=TESTS)
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=3)
    assert "leakbench: measured" not in result.stdout.str()
    assert not (pytester.path / ".leakbench").exists()


def test_a_bad_marker_argument_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.leakbench(iteratoins=5)
        def test_typo():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_typo*unknown key(s) iteratoins*"])


def test_under_xdist_memory_is_measured_per_worker_and_time_is_skipped(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_demo=TESTS)
    result = pytester.runpytest_subprocess(
        *PLUGIN, "-n", "2", "--leaks-bench-json=out.json", "--leaks-bench-iterations=5"
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["leakbench: time pass skipped: *xdist*per worker"])
    files = sorted(pytester.path.glob("out.gw*.json"))
    assert files, "no per-worker results"
    measured = {}
    for path in files:
        measured.update(load_results(path).scenarios)
    assert len(measured) == 2
    assert all(r.time is None and r.memory is not None for r in measured.values())
