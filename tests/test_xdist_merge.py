"""One results file for the whole run: per-test leaks and memory from every xdist worker,
merged by the controller; written also when a worker crashes; options that cannot work
under xdist are refused with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import PLUGIN_INI, Run

SUITE = """
import os
import signal
import threading
import time

import pytest

STOP = threading.Event()
KEPT = []


@pytest.mark.parametrize("n", range(4))
def test_grows(n):
    KEPT.append(b"x" * (8 * 2**20))


def test_thread_leak():
    threading.Thread(target=STOP.wait, name="leaky-worker", daemon=True).start()


@pytest.mark.parametrize("n", range(3))
def test_clean(n):
    time.sleep(0.02)


def test_skipped():
    pytest.skip("not here")


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False
"""

CRASH = """
import os
import signal
import time

import pytest


@pytest.mark.parametrize("n", range(6))
def test_fine(n):
    time.sleep(0.05)


def test_dies():
    os.kill(os.getpid(), signal.SIGKILL)
"""


def load(pytester: pytest.Pytester, name: str = "out.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / name).read_text())
    return data


def test_under_xdist_the_controller_writes_one_document_with_every_workers_tests(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_suite=SUITE)
    result = run("-n", "2", "--leaks", "--leaks-rss", "--leaks-json=out.json", timeout=120)
    result.assert_outcomes(passed=8, errors=1, skipped=1, xfailed=1)
    doc = load(leak_project)
    assert (doc["schema"], doc["schema_version"]) == ("leakbench-tests", 1)
    tests = doc["tests"]
    assert len(tests) == 10
    assert {rec["worker"] for rec in tests.values()} == {"gw0", "gw1"}
    assert set(doc["workers"]) == {"gw0", "gw1"}
    for worker in doc["workers"].values():
        assert worker["start_rss"] <= worker["peak_rss"] and not worker["crashed"]
        assert worker["end_rss"] <= worker["peak_rss"]
    outcomes = {nodeid.split("::")[1]: rec["outcome"] for nodeid, rec in tests.items()}
    assert outcomes["test_thread_leak"] == "error"
    assert outcomes["test_skipped"] == "skipped" and outcomes["test_xfail"] == "xfailed"
    [leak] = tests["test_suite.py::test_thread_leak"]["leaks"]
    assert leak["kind"] == "threads" and "leaky-worker" in leak["summary"]
    grown = tests["test_suite.py::test_grows[0]"]
    assert grown["rss_growth"] >= 7 * 2**20 and grown["peak_rss"] > grown["rss_growth"]
    assert grown["duration"] > 0 and grown["memory_guard"] is None
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: memory per test =*",
            "tests that grew their worker the most (top *):",
            "  *+8* MiB  * MiB  gw?     test_suite.py::test_grows[[]?[]]",
            "worker gw0: start * MiB, end * MiB (+*), peak * MiB",
            "worker gw1: start * MiB, end * MiB (+*), peak * MiB",
            "leakbench: results of 10 test(s) written to *out.json",
        ]
    )


def test_without_xdist_the_same_document_has_one_worker_main(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeini(PLUGIN_INI + "leaks_json = results/run.json\n")
    leak_project.makepyfile(test_suite=SUITE)
    result = run("--leaks")
    result.assert_outcomes(passed=8, errors=1, skipped=1, xfailed=1)
    doc = load(leak_project, "results/run.json")
    assert set(doc["workers"]) == {"main"}
    assert {rec["worker"] for rec in doc["tests"].values()} == {"main"}
    assert all(rec["peak_rss"] is None for rec in doc["tests"].values())  # no --leaks-rss
    main = doc["workers"]["main"]
    assert 0 < main["start_rss"] <= main["peak_rss"]
    result.stdout.no_fnmatch_line("*memory per test*")


def test_a_crashed_worker_is_reported_and_the_other_results_are_kept(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_crash=CRASH)
    result = run("-p", "no:randomly", "-n", "2", "--leaks-rss", "--leaks-json=out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*worker 'gw?' crashed while running 'test_crash.py::test_dies'*"])
    doc = load(leak_project)
    dies = doc["tests"]["test_crash.py::test_dies"]
    assert dies["outcome"] == "crashed"
    assert all(
        rec["outcome"] == "passed" for nodeid, rec in doc["tests"].items() if "fine" in nodeid
    )
    crashed = doc["workers"][dies["worker"]]
    assert crashed["crashed"] and crashed["end_rss"] is not None  # from its tests' readings
    assert any(not w["crashed"] for w in doc["workers"].values())


@pytest.mark.parametrize("option", ["--benchmark-json=bench.json", "--benchmark-only"])
def test_a_benchmark_option_with_xdist_is_refused_with_the_reason(
    leak_project: pytest.Pytester, option: str
) -> None:
    leak_project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    # In this process: the option is refused before xdist starts a worker.
    result = leak_project.runpytest_inprocess("-p", "no:cacheprovider", "-n", "2", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    flag = option.split("=")[0]
    result.stderr.fnmatch_lines(
        [
            f"ERROR: leakbench: {flag} cannot work with pytest-xdist (-n/--dist): "
            "pytest-benchmark disables itself when xdist distributes tests and would time "
            "nothing. Run the benchmarks without xdist (-n 0 or -p no:xdist)*"
        ]
    )


def test_an_unwritable_results_path_is_reported_and_the_run_is_not_broken(
    leak_project: pytest.Pytester, run: Run
) -> None:
    # The path is checked before any test runs (a file in the way then is a usage error);
    # here the obstacle appears during the run, so only the final write can fail.
    leak_project.makepyfile(
        test_nothing=(
            "from pathlib import Path\n\n"
            "def test_nothing():\n"
            "    Path('blocked').write_text('a file, not a folder')\n"
        )
    )
    result = run("--leaks-json=blocked/out.json")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["leakbench: could not write *blocked/out.json: *"])


def test_a_results_path_that_cannot_be_written_is_refused_before_any_test_runs(
    leak_project: pytest.Pytester, run: Run
) -> None:
    (leak_project.path / "blocked").write_text("a file, not a folder")
    leak_project.makepyfile(
        test_marks=(
            "from pathlib import Path\n\ndef test_marks():\n    Path('ran').write_text('')\n"
        )
    )
    result = run("--leaks-json=blocked/out.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--leaks-json: blocked/out.json: cannot be written*"])
    assert not (leak_project.path / "ran").exists()  # refused before any test ran
