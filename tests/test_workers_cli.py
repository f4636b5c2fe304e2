"""``leakbench workers`` end to end on a tiny generated suite, and its bad-input exits.

Real runs go through a subprocess (the command starts pytest process trees and a sampler
thread, which must not mix with this test process); argument errors that stop before
any run use click's runner. No assertion depends on how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from leakbench._util.proc import total_ram
from leakbench.cli import workers as workers_command
from leakbench.cli.main import cli

MiB = 1024**2

SUITE = """
import time

def test_allocates_20_mib():
    block = b"x" * (20 * 1024 * 1024)
    time.sleep(0.3)  # held long enough for a 0.1 s sampler to see it
    assert len(block)

def test_slow():
    time.sleep(0.3)

def test_light_one():
    pass

def test_light_two():
    pass
"""

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Path:
    """Four tests in a project of their own: one allocates 20 MiB, one sleeps."""
    pytester.makeini(INI)
    pytester.makepyfile(test_tiny=SUITE)
    return pytester.path


def leakbench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m leakbench workers ARGS`` in ``cwd``, free of this run's pytest settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LEAKBENCH_"))}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "leakbench", "workers", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["workers", *args])


def one_line_error(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("leakbench: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_levels_are_measured_tabled_written_as_json_and_one_is_recommended(suite: Path) -> None:
    proc = leakbench(
        suite,
        "--levels", "1,2", "--repeat", "1", "--json", "out.json",
        "--groups", "--long-seconds", "0.25",
        "--", "-q", "-p", "no:randomly",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for header in ("workers", "result", "time (median, min-max)", "peak RSS", "swap"):
        assert header in out
    assert "(4 tests)" in out and "◀ recommended" in out

    doc = json.loads((suite / "out.json").read_text())
    assert doc["schema"] == "leakbench.workers/1" and doc["tests"] == 4
    one, two = doc["levels"]
    assert (one["workers"], two["workers"]) == (1, 2)
    for level in (one, two):
        assert level["passed_all"] and level["result"] == "pass"
        (run,) = level["runs"]
        assert run["outcome"] == "pass" and run["exit_code"] == 0
        assert run["peak_rss"] >= 20 * MiB and run["peak_rss"] >= run["controller_rss"]
        assert "4 passed" in run["summary"]
    assert two["runs"][0]["processes"] >= 3  # the controller and its two workers
    assert doc["memory_budget"] > 0
    assert doc["ram"] == total_ram() and doc["cpus"] >= 1  # the Machine record

    # Which level wins is timing; the rule (fastest, near ties to fewer workers) is tested
    # on synthetic runs in test_workers.py. Here: a level the rule allows, said alike twice.
    chosen = doc["recommendation"]["workers"]
    fastest = min(one["time_median"], two["time_median"])
    assert {1: one, 2: two}[chosen]["time_median"] <= fastest * 1.01
    assert f"recommendation: -n {chosen} (" in out

    groups = suite / ".leakbench" / "groups"
    assert (groups / "long.txt").read_text().splitlines() == [
        "test_tiny.py::test_allocates_20_mib",
        "test_tiny.py::test_slow",
    ]
    assert (groups / "light.txt").read_text().splitlines() == [
        "test_tiny.py::test_light_one",
        "test_tiny.py::test_light_two",
    ]
    assert (groups / "heavy.txt").read_text() == ""  # 20 MiB is under the 100MB default
    assert doc["groups"]["groups"]["long"]["advice"]["workers"] == chosen
    assert doc["groups"]["rss_measured"] or "by time only" in out


def test_the_guard_stops_a_level_over_budget_and_skips_the_higher_ones(suite: Path) -> None:
    proc = leakbench(suite, "--levels", "1,2", "--repeat", "2", "--memory-budget", "1MB")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "over budget" in proc.stdout and "stopped by the guard" in proc.stdout
    assert "-n 1 exceeded the memory budget" in proc.stdout
    assert "no recommendation: every level that ran exceeded the memory budget" in proc.stdout


def test_no_tests_collected_is_a_one_line_error(suite: Path) -> None:
    proc = leakbench(suite, "--levels", "1", "--", "-k", "nothing_matches")
    assert proc.returncode == 2
    one_line_error(proc.stderr, "no tests", "deselected")
    assert proc.stdout == ""


def test_a_pytest_usage_error_is_a_one_line_error_with_pytests_message(suite: Path) -> None:
    proc = leakbench(suite, "--levels", "1", "--", "--no-such-option")
    assert proc.returncode == 2
    one_line_error(proc.stderr, "pytest exit 4", "unrecognized arguments: --no-such-option")


def test_collecting_longer_than_the_timeout_is_a_one_line_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makeconftest("import time\ntime.sleep(60)\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    proc = leakbench(pytester.path, "--levels", "1", "--timeout", "1")
    assert proc.returncode == 2
    one_line_error(proc.stderr, "collecting the tests took over 1s")


def test_a_test_module_that_does_not_import_is_a_one_line_error(suite: Path) -> None:
    (suite / "test_broken.py").write_text("import no_such_module_here\n")
    proc = leakbench(suite, "--levels", "1")
    assert proc.returncode == 2
    one_line_error(proc.stderr, "test_broken.py", "No module named 'no_such_module_here'")


@pytest.mark.parametrize("option", ["--memory-budget", "--heavy-rss"])
@pytest.mark.parametrize("value", ["2G", "lots", "0", "101%"])
def test_bad_sizes_are_usage_errors_showing_the_accepted_forms(option: str, value: str) -> None:
    result = invoke(option, value)
    assert result.exit_code == 2, result.output
    one_line_error(result.output, f"Invalid value for '{option}'", repr(value))
    if value != "101%":
        assert "512MiB" in result.output and "75%" in result.output


@pytest.mark.parametrize("arg", ["-n", "-n4", "--numprocesses=2"])
def test_passing_n_yourself_is_refused(arg: str) -> None:
    result = invoke("--", arg, "4")
    assert result.exit_code == 2
    one_line_error(result.output, "leakbench workers sets -n per level")


def test_missing_xdist_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_command, "_xdist_installed", lambda: False)
    result = invoke("--levels", "1")
    assert result.exit_code == 2
    one_line_error(result.output, "pytest-xdist is not installed", "pip install pytest-xdist")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--levels", "one,two"], "such as 1,2,4"),
        (["--levels", "1", "--max", "4"], "exclude each other"),
        (["--repeat", "0"], "--repeat"),
    ],
)
def test_bad_levels_and_counts_are_usage_errors(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    one_line_error(result.output, message)


def test_the_command_is_listed_in_leakbench_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "workers" in result.output
