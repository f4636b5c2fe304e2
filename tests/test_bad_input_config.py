"""The bad-input matrix of the configuration: ``[tool.leakbench]``, the ini file, the plugin's
command line, and ``leakbench workers``' options (issue 14, the plugin and workers part).

Every bad value is refused before anything runs, with one line that names the value or the
key, where it came from and what is expected: a ``pytest.UsageError`` (exit 4) in the plugin,
``leakbench: error: ...`` and exit 2 on the command line; an interrupt of ``leakbench workers``
is exit 130 with the suite's process tree gone. Each bad case sits next to its good neighbour,
which is still accepted. The Hypothesis properties feed arbitrary TOML values for every key to
the plugin's settings resolver and the gate's budget loader: each is accepted or refused with
one line, never another exception.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import PLUGIN_INI
from leakbench._util.pyproject import PyprojectError, read_tool_table
from leakbench._util.sizes import parse_size
from leakbench.cli import workers as workers_command
from leakbench.cli.main import cli
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.budgets import BudgetError, from_table
from leakbench.plugin import bench_options, options, sources
from leakbench.workers.choose import MAX_WORKERS
from leakbench.workers.run import RunOptions
from test_compare_support import KEY, memory, results, scenario, timing, write

PASSING = "def test_passes():\n    pass\n"

# ---------------------------------------------------------------------------------------
# pytest --leaks: [tool.leakbench], the ini file and the command line
# ---------------------------------------------------------------------------------------

TABLE = "pyproject.toml [[]tool.leakbench[]]"
"""How the plugin names the table in its errors (fnmatch: brackets escaped)."""

BAD_PLUGIN_SETTINGS = [
    # Row 16 and the type checks of [tool.leakbench]
    pytest.param(
        "leaks_allow = 3",
        "",
        [],
        f"{TABLE} leaks_allow: expected a pattern 'kind:glob' or a list of them, got 3",
        id="row16-allow-int",
    ),
    pytest.param(
        "leaks_allow = {a = 1}",
        "",
        ["--leaks"],
        f"{TABLE} leaks_allow: expected a pattern * got {{'a': 1}}",
        id="allow-table",
    ),
    pytest.param(
        "leaks_allow = [3]",
        "",
        ["--leaks"],
        f"{TABLE} leaks_allow: expected a pattern * got [[]3[]]",
        id="allow-list-of-int",
    ),
    pytest.param(
        "leaks_globals = 3",
        "",
        [],
        f"{TABLE} leaks_globals: expected a dotted name or a list of them, got 3",
        id="globals-int-even-when-off",
    ),
    pytest.param(
        "leaks_json = 5",
        "",
        [],
        f"{TABLE} leaks_json: expected a file path (a string), got 5",
        id="json-int",
    ),
    pytest.param(
        "leaks_json = ''",
        "",
        [],
        f"{TABLE} leaks_json: expected a file path (a string), got ''",
        id="json-empty",
    ),
    pytest.param(
        "leaks = 3",
        "",
        [],
        f"{TABLE} leaks: expected true, false or detector names * got 3",
        id="leaks-int",
    ),
    pytest.param(
        "leaks = [1]",
        "",
        [],
        f"{TABLE} leaks: expected true, false or detector names * got [[]1[]]",
        id="leaks-list-of-int",
    ),
    pytest.param(
        "leaks_rss = 1",
        "",
        [],
        f"{TABLE} leaks_rss: expected true or false, got 1",
        id="rss-int",
    ),
    pytest.param(
        "leaks_report_only = ''",
        "",
        ["--leaks"],
        f"{TABLE} leaks_report_only: expected true or false, got ''",
        id="report-only-empty",
    ),
    pytest.param(
        "leaks_grace = true",
        "",
        ["--leaks"],
        f"{TABLE} leaks_grace: expected a number of seconds from 0 to 60, got True",
        id="grace-bool",
    ),
    pytest.param(
        "leaks_objects_threshold = 1.5",
        "",
        [],
        f"{TABLE} leaks_objects_threshold: expected a whole number >= 0, got 1.5",
        id="threshold-float",
    ),
    pytest.param(
        "leaks_max_rss = [1]",
        "",
        [],
        f"{TABLE} leaks_max_rss: expected a size such as * got [[]1[]]",
        id="max-rss-list",
    ),
    pytest.param(
        "leaks_bench_json = 5",
        "",
        [],
        f"{TABLE} leaks_bench_json: expected a file path (a string), got 5",
        id="bench-int",
    ),
    pytest.param(
        "leaks_bench_iterations = -3",
        "",
        [],
        f"{TABLE} leaks_bench_iterations: expected a whole number above 0, got -3",
        id="iterations-negative",
    ),
    # Unknown keys and typos, with the closest known key (of the plugin or the gate)
    pytest.param(
        "leak = true",
        "",
        [],
        f"{TABLE}: unknown key 'leak' (did you mean 'leaks'?)",
        id="typo-leak",
    ),
    pytest.param(
        "leaks_grase = 1",
        "",
        [],
        f"{TABLE}: unknown key 'leaks_grase' (did you mean 'leaks_grace'?)",
        id="typo-grace",
    ),
    pytest.param(
        "memory_budjet = 0.3",
        "",
        [],
        f"{TABLE}: unknown key 'memory_budjet' (did you mean 'memory_budget'?)",
        id="typo-gate-key",
    ),
    pytest.param(
        "reason = 'cache'",
        "",
        [],
        f"{TABLE}: unknown key 'reason' (a key of [[]tool.leakbench.scenarios.*[]] tables, *)",
        id="scenario-key-at-top",
    ),
    pytest.param(
        "no_such_thing = 1",
        "",
        [],
        f"{TABLE}: unknown key 'no_such_thing'; known keys: *leaks*memory_budget*",
        id="unknown-no-suggestion",
    ),
    # An empty detector list is not "off"
    pytest.param(
        "leaks = []",
        "",
        [],
        f"{TABLE} leaks: empty list of detectors, got [[]]; * --no-leaks or leaks = false",
        id="leaks-empty-list",
    ),
    pytest.param(
        'leaks = ""',
        "",
        [],
        f"{TABLE} leaks: empty list of detectors, got ''; *",
        id="leaks-empty-string",
    ),
    pytest.param(
        "",
        "",
        ["--leaks="],
        "--leaks: empty list of detectors, got ''; *",
        id="cli-leaks-empty",
    ),
    pytest.param(
        "",
        "leaks = ,",
        [],
        "ini option leaks: empty list of detectors, got ','; *",
        id="ini-leaks-commas",
    ),
    # Ranges and wording
    pytest.param(
        "",
        "",
        ["--leaks", "--leaks-grace", "99999999"],
        "--leaks-grace: expected a number of seconds from 0 to 60, got '99999999'",
        id="grace-too-long",
    ),
    pytest.param(
        "",
        "leaks_grace = inf",
        ["--leaks"],
        "ini option leaks_grace: expected a number of seconds from 0 to 60, got 'inf'",
        id="grace-inf",
    ),
    pytest.param(
        "",
        "",
        ["--leaks-bench-iterations=many"],
        "--leaks-bench-iterations: expected a whole number above 0, got 'many'",
        id="int-wording",
    ),
    pytest.param(
        "",
        "leaks_objects_threshold = 1e3",
        ["--leaks=objects"],
        "ini option leaks_objects_threshold: expected a whole number >= 0, got '1e3'",
        id="threshold-exponent",
    ),
    pytest.param(
        "",
        "",
        ["--leaks-bench-seconds=nan"],
        "--leaks-bench-seconds: expected a number of seconds above 0, got 'nan'",
        id="seconds-nan",
    ),
    pytest.param(
        "",
        "",
        ["--leaks-max-rss=-5 B"],
        "--leaks-max-rss: '-5 B': a size cannot be negative; expected a size such as *",
        id="max-rss-negative",
    ),
    pytest.param(
        "leaks_max_total_rss = '-100%'",
        "",
        [],
        f"{TABLE} leaks_max_total_rss: '-100%': a size cannot be negative; *",
        id="max-total-rss-negative-percent",
    ),
]


def _stderr_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.errlines if line.strip()]


@pytest.mark.parametrize(("table", "ini", "args", "message"), BAD_PLUGIN_SETTINGS)
def test_a_bad_plugin_setting_is_a_one_line_usage_error_naming_key_source_and_expectation(
    leak_project: pytest.Pytester, table: str, ini: str, args: list[str], message: str
) -> None:
    leak_project.makeini(PLUGIN_INI + ini + "\n")
    pyproject = leak_project.makepyprojecttoml(f"[tool.leakbench]\n{table}\n")
    before = pyproject.read_bytes()
    leak_project.makepyfile(test_passes=PASSING)
    files = set(os.listdir(leak_project.path))
    # In this process: the settings are refused before the plugin starts anything (no
    # thread, fd, hook or RSS reading that could outlive the run), and a pytest start-up
    # per case would cost seconds.
    result = leak_project.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"ERROR: leakbench: {message}"])
    assert len(_stderr_lines(result)) == 1, result.stderr.str()  # no traceback, no INTERNALERROR
    result.stdout.no_fnmatch_line("*passed*")
    assert pyproject.read_bytes() == before
    # pytester's own output files, and pytest-benchmark's storage folder (its configure hook
    # may run before leakbench's): nothing of leakbench (no results file, no .leakbench/).
    created = set(os.listdir(leak_project.path)) - files - {"stdout", "stderr", ".benchmarks"}
    assert {name for name in created if not name.startswith("runpytest-")} == set(), created


GOOD_PLUGIN_SETTINGS = [
    pytest.param('leaks_allow = ["threads:pool-*", "fds:/dev/shm/*"]', "", ["--leaks"], id="allow"),
    pytest.param('leaks_allow = "threads:pool-*"', "", ["--leaks"], id="allow-string"),
    pytest.param(
        'leaks_globals = ["os.sep"]\nleaks_allow = ["globals:os.environ"]',
        "",
        ["--leaks=default,globals"],
        id="globals",
    ),
    pytest.param("leaks = false", "", [], id="leaks-false"),
    pytest.param('leaks = ["threads", "tasks"]', "", [], id="leaks-list"),
    pytest.param('leaks = "threads,tasks"', "", [], id="leaks-string"),
    pytest.param("leaks = true", "", ["--no-leaks"], id="no-leaks-turns-it-off"),
    pytest.param("leaks_grace = 60", "", ["--leaks"], id="grace-at-the-maximum"),
    pytest.param("", "leaks_grace = 0", ["--leaks"], id="grace-zero"),
    pytest.param("leaks_rss = true\nleaks_max_rss = 1000000000000", "", [], id="sizes"),
    pytest.param('leaks_max_total_rss = "99%"', "", [], id="percent"),
    pytest.param("leaks_objects_threshold = 5", "", ["--leaks"], id="threshold"),
    pytest.param('leaks_report_only = "yes"', "", ["--leaks"], id="bool-as-text"),
    pytest.param("leaks_bench_iterations = 3\nleaks_bench_seconds = 0.5", "", [], id="bench-keys"),
    pytest.param(
        'memory_budget = 0.3\ntime_budget = "15%"\nmemory_floor = "64KiB"\n'
        'memory_metrics = ["peak_bytes"]\n'
        '[tool.leakbench.scenarios."a.b"]\nreason = "known"\nmemory_budget = 1.0',
        "",
        ["--leaks"],
        id="gate-keys-shared",
    ),
]


MEMORY_KEYS = ("leaks_rss", "leaks_max_rss", "leaks_max_total_rss")
"""Keys whose valid values start RSS readings or a guard: those runs get their own process."""


@pytest.mark.parametrize(("table", "ini", "args"), GOOD_PLUGIN_SETTINGS)
def test_the_valid_neighbours_are_still_accepted(
    leak_project: pytest.Pytester, table: str, ini: str, args: list[str]
) -> None:
    leak_project.makeini(PLUGIN_INI + ini + "\n")
    leak_project.makepyprojecttoml(f"[tool.leakbench]\n{table}\n")
    leak_project.makepyfile(test_passes=PASSING)
    # The memory readings and guards (RSS, the peak reset) need a process of their own; the
    # rest runs one empty test in this process.
    own_process = any(key in table for key in MEMORY_KEYS)
    runpytest = (
        leak_project.runpytest_subprocess if own_process else leak_project.runpytest_inprocess
    )
    result = runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)


def test_leaks_json_from_the_table_is_written_where_it_says(leak_project: pytest.Pytester) -> None:
    leak_project.makepyprojecttoml('[tool.leakbench]\nleaks_json = "out/tests.json"\n')
    leak_project.makepyfile(test_passes=PASSING)
    result = leak_project.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    assert (leak_project.path / "out" / "tests.json").is_file()


def test_a_list_for_a_single_valued_ini_option_is_a_usage_error(
    leak_project: pytest.Pytester,
) -> None:
    # [tool.pytest.ini_options] keeps TOML lists; a string option gets one value.
    (leak_project.path / "tox.ini").unlink()
    leak_project.makepyprojecttoml(
        '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
        "leaks_grace = [1]\n"
    )
    leak_project.makepyfile(test_passes=PASSING)
    # Its own process: reading the list warns (pytest's PytestRemovedIn10Warning), which
    # must not land in this run's warnings.
    result = leak_project.runpytest_subprocess("-p", "no:cacheprovider", "--leaks")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: leakbench: ini option leaks_grace: expected one value, got [[]1[]]"]
    )


# ---------------------------------------------------------------------------------------
# leakbench compare / bench: the same table, the same known keys
# ---------------------------------------------------------------------------------------


@pytest.fixture
def gate_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line(result: Result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("leakbench: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        pytest.param("leak = true", ["unknown key 'leak'", "did you mean 'leaks'?"], id="typo"),
        pytest.param("memory_budjet = 0.3", ["did you mean 'memory_budget'?"], id="gate-typo"),
        pytest.param("reason = 'x'", ["'reason'", "scenarios"], id="reason-at-top"),
        pytest.param(
            '[tool.leakbench.scenarios."s"]\nreason = 5',
            ['scenarios."s"]', "reason must be a string, got 5"],
            id="reason-int",
        ),
        pytest.param(
            '[tool.leakbench.scenarios."s"]\nmemory_budegt = 0.5',
            ["unknown key(s) memory_budegt", "did you mean 'memory_budget'?"],
            id="scenario-typo",
        ),
        pytest.param("memory_floor = '-5 B'", ["memory_floor", "'-5 B'"], id="floor-negative"),
        pytest.param("memory_budget = '-100%'", ["memory_budget", "'-100%'"], id="budget-neg"),
        pytest.param("time_budget = 1" + "0" * 400, ["time_budget", "fraction"], id="huge-int"),
    ],
)
@pytest.mark.parametrize("command", ["compare", "bench"])
def test_the_gate_refuses_the_same_bad_table_in_one_line_before_doing_anything(
    gate_project: Path, command: str, table: str, fragments: list[str]
) -> None:
    pyproject = gate_project / "pyproject.toml"
    pyproject.write_text(f"[tool.leakbench]\n{table}\n", encoding="utf-8")
    before = pyproject.read_bytes()
    one_line(invoke(command), 2, str(pyproject), "[tool.leakbench", *fragments)
    assert pyproject.read_bytes() == before
    assert sorted(p.name for p in gate_project.iterdir()) == ["pyproject.toml"]  # nothing made


def test_the_gate_accepts_the_plugins_keys_in_the_shared_table(gate_project: Path) -> None:
    (gate_project / "pyproject.toml").write_text(
        '[tool.leakbench]\nleaks = true\nleaks_allow = ["threads:x-*"]\nleaks_grace = 1\n'
        'leaks_bench_iterations = 5\nmemory_budget = 0.5\n[tool.leakbench.scenarios."s"]\n'
        'reason = "known"\n',
        encoding="utf-8",
    )
    write(Path("baselines") / f"{KEY}.json", results({"s": scenario(memory(4096), timing(1.0))}))
    write(
        Path(".leakbench") / "results" / "latest.json",
        results({"s": scenario(memory(4096), timing(1.0, seed=2))}),
    )
    result = invoke("compare")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------------------
# leakbench workers: option values (row 17 and the ranges) and Ctrl-C
# ---------------------------------------------------------------------------------------

BAD_WORKERS_OPTIONS = [
    pytest.param(["--timeout", "nan"], ["--timeout", "'nan'", "finite"], id="row17-timeout-nan"),
    pytest.param(["--timeout", "inf"], ["--timeout", "'inf'", "finite"], id="timeout-inf"),
    pytest.param(["--timeout", "0"], ["--timeout", "0"], id="timeout-zero"),
    pytest.param(["--interval", "nan"], ["--interval", "'nan'", "finite"], id="interval-nan"),
    pytest.param(["--interval", "100"], ["--interval", "100", "10"], id="interval-too-long"),
    pytest.param(["--interval", "0.001"], ["--interval", "0.001"], id="interval-too-short"),
    pytest.param(["--long-seconds", "nan"], ["--long-seconds", "'nan'"], id="long-seconds-nan"),
    pytest.param(
        ["--levels", "100000"], ["--levels", "'100000'", f"at most {MAX_WORKERS}"], id="levels-cap"
    ),
    pytest.param(["--levels", "1,1025"], ["'1,1025'", f"at most {MAX_WORKERS}"], id="levels-1025"),
    pytest.param(["--levels", "9" * 5000], ["--levels", "at most"], id="levels-5000-digits"),
    pytest.param(
        ["--levels", "\u00b2"], ["--levels", "'\u00b2'", "such as 1,2,4"], id="superscript"
    ),
    pytest.param(["--levels", "1,,2"], ["'1,,2'", "such as 1,2,4"], id="levels-empty-part"),
    pytest.param(["--levels", "-1"], ["--levels", "'-1'"], id="levels-negative"),
    pytest.param(["--max", "5000"], ["--max", "5000", str(MAX_WORKERS)], id="max-cap"),
    pytest.param(["--memory-budget", "-5B"], ["--memory-budget", "'-5B'", "negative"], id="neg"),
    pytest.param(["--memory-budget", "-100%"], ["'-100%'", "negative"], id="neg-percent"),
    pytest.param(["--heavy-rss", "-5 B"], ["--heavy-rss", "'-5 B'", "negative"], id="heavy-neg"),
    pytest.param(["--memory-budget", "2G"], ["'2G' is not a size", "512MiB"], id="bare-g"),
    pytest.param(["--memory-budget", "1" * 400 + "TB"], ["too large"], id="size-huge"),
    pytest.param(["--levels", "1", "--max", "2"], ["exclude each other"], id="levels-and-max"),
    pytest.param(["--repeat", "0"], ["--repeat", "0"], id="repeat-zero"),
    pytest.param(["--no-such-option"], ["--no-such-option"], id="unknown-option"),
]


@pytest.mark.parametrize(("args", "fragments"), BAD_WORKERS_OPTIONS)
def test_a_bad_workers_option_is_one_line_and_exit_2_before_any_run(
    monkeypatch: pytest.MonkeyPatch, args: list[str], fragments: list[str]
) -> None:
    def no_run(options: RunOptions) -> int:
        raise AssertionError("pytest must not run")

    monkeypatch.setattr(workers_command, "collect", no_run)
    one_line(invoke("workers", *args), 2, *fragments)


GOOD_WORKERS_OPTIONS = [
    pytest.param(["--timeout", "0.5"], "timeout", 0.5, id="timeout"),
    pytest.param(["--interval", "10"], "interval", 10.0, id="interval-at-the-maximum"),
    pytest.param(["--interval", "0.005"], "interval", 0.005, id="interval-at-the-minimum"),
    pytest.param(["--levels", f"0,1,{MAX_WORKERS}"], "levels", None, id="levels-at-the-cap"),
    pytest.param(["--max", str(MAX_WORKERS)], "levels", None, id="max-at-the-cap"),
    pytest.param(["--memory-budget", "512MiB"], "limit", 512 * 1024**2, id="size"),
    pytest.param(["--memory-budget", "50%"], "limit", None, id="percent"),
    pytest.param(["--long-seconds", "0"], "long", None, id="long-seconds-zero"),
]


@pytest.mark.parametrize(("args", "field", "expected"), GOOD_WORKERS_OPTIONS)
def test_the_valid_workers_options_still_reach_the_run(
    monkeypatch: pytest.MonkeyPatch, args: list[str], field: str, expected: object
) -> None:
    seen: list[RunOptions] = []

    def stop_before_running(options: RunOptions) -> int:
        seen.append(options)
        raise SystemExit(0)

    monkeypatch.setattr(workers_command, "collect", stop_before_running)
    result = invoke("workers", *args)
    assert result.exit_code == 0, result.output
    (run_options,) = seen
    if expected is not None:
        assert getattr(run_options, field) == expected


def _alive(pid: int) -> bool:
    """Running, or stopped; a zombie (killed, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_workers_run_exits_130_with_the_suite_killed_and_no_json(
    pytester: pytest.Pytester, signum: signal.Signals
) -> None:
    pytester.makeini(PLUGIN_INI)
    pytester.makepyfile(
        test_slow="""
        import os, time
        from pathlib import Path

        def test_slow():
            Path("running.pid").write_text(str(os.getpid()))
            time.sleep(120)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LEAKBENCH_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakbench", "workers", "--levels", "1", "--repeat", "1",
         "--json", "out.json", "--", "-p", "no:randomly"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C must reach it even when this test process ignores SIGINT (an xdist worker).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    pid_file = pytester.path / "running.pid"
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the test never started"
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    last = err.strip().splitlines()[-1]
    assert last == "leakbench: interrupted; the running pytest and its workers were stopped"
    assert "Aborted!" not in err and "Traceback" not in err
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the xdist worker running the test survived"
    assert not (pytester.path / "out.json").exists()


# ---------------------------------------------------------------------------------------
# The parsers themselves
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["-5 B", "-100%", "-0.5GiB", " - 1"])
def test_a_negative_size_is_refused_as_negative(text: str) -> None:
    with pytest.raises(ValueError, match=r"a size cannot be negative; expected a size such as"):
        parse_size(text, total=1000)


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("5 B", 5), ("100%", 1000), ("1.5KiB", 1536), ("2GB", 2e9)]
)
def test_the_non_negative_sizes_still_parse(text: str, expected: float) -> None:
    assert parse_size(text, total=1000) == expected


@pytest.mark.parametrize(
    ("table", "message"),
    [
        # Without the plugin's keys (the command line passes them), a plugin key is unknown.
        pytest.param({"leaks": True}, r"unknown key 'leaks'; known keys: ", id="plugin-key-alone"),
        pytest.param({"memory_floor": -5}, r"memory_floor: a size must be", id="floor-negative"),
        pytest.param({"memory_floor": "-5 B"}, r"memory_floor: expected a size", id="floor-text"),
        pytest.param({"memory_budget": 10**400}, r"memory_budget: expected a fraction", id="big"),
        pytest.param({"time_budget": "nan%"}, r"time_budget: expected a fraction", id="nan-pct"),
        pytest.param({"memory_metrics": "peak_bytes"}, r"expected a list of metric", id="metrics"),
        pytest.param(
            {"scenarios": {"a\nb": 1}}, r'scenarios\."a\\nb"\]: expected a table$', id="nl"
        ),
    ],
)
def test_the_budget_loader_refuses_in_one_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(BudgetError, match=message) as caught:
        from_table(table)
    assert "\n" not in str(caught.value)


def test_deeply_nested_or_huge_toml_is_an_invalid_pyproject(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    for text in ["a = " + "[" * 50_000 + "]" * 50_000, "a = " + "9" * 5000]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(PyprojectError, match="invalid TOML"):
            read_tool_table(path)


# ---------------------------------------------------------------------------------------
# Properties: arbitrary TOML values for every key
# ---------------------------------------------------------------------------------------

NEAR_VALID = [
    "", " ", "true", "false", "yes", "off", "default", "all", "threads", "threads,tasks",
    "thread", ",", "0", "-1", "0.5", "60", "60.0001", "nan", "inf", "-inf", "1e999", "many",
    "2GB", "2G", "-5 B", "75%", "101%", "0%", "-100%", "512MiB", "threads:x-*", "thread:x",
    "ok.name", "out.json", "a\nb", "\u00b2",
]  # fmt: skip
"""Values close to valid ones, so that both the accepting and the refusing paths are hit."""

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NEAR_VALID),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    st.dates(),
    st.times(),
    st.datetimes(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(NEAR_VALID), inner, max_size=3)
    ),
    max_leaves=6,
)
SCENARIO_KEYS = ["memory_budget", "time_budget", "memory_floor", "reason"]
scenario_tables = st.dictionaries(
    st.text(max_size=10),
    st.dictionaries(st.sampled_from(SCENARIO_KEYS) | st.text(max_size=6), toml_values, max_size=4)
    | toml_values,
    max_size=3,
)
table_keys = st.sampled_from(options.TABLE_KEYS) | st.text(max_size=12)
tables = st.dictionaries(table_keys, toml_values, max_size=4) | st.builds(
    lambda table, scenarios: {**table, "scenarios": scenarios},
    st.dictionaries(st.sampled_from(options.TABLE_KEYS), toml_values, max_size=3),
    scenario_tables,
)

FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The same examples every run, so CI never fails on unchanged code; new ones with
    # LEAKBENCH_FUZZ_RANDOM=1 (then keep what they find as an @example).
    derandomize=os.environ.get("LEAKBENCH_FUZZ_RANDOM") != "1",
)


def _resolve_dotted(name: str) -> object:
    """Stands in for the globals detector's import: fuzzed names must not import anything."""
    if name.startswith("ok."):
        return object()
    raise ValueError(f"cannot resolve {name!r}")


@pytest.fixture
def fuzz_config(
    leak_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.Config]:
    """One parsed config (the plugin's options declared, no command-line value, an empty
    ini) whose ``[tool.leakbench]`` each example replaces in the stash."""
    monkeypatch.setattr(options, "resolve_dotted", _resolve_dotted)
    config = leak_project.parseconfig("-p", "no:cacheprovider")
    yield config


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and "\r" not in text, repr(text)


def test_any_toml_table_is_resolved_or_refused_in_one_line(fuzz_config: pytest.Config) -> None:
    @FUZZ
    @given(tables)
    def check(table: dict[str, Any]) -> None:
        fuzz_config.stash[sources.TOOL_TABLE] = (table, "pyproject.toml [tool.leakbench]")
        for resolver in (options.resolve, bench_options.resolve_bench):
            try:
                resolver(fuzz_config)
            except pytest.UsageError as exc:
                _one_line(exc)
                assert str(exc).startswith("leakbench: "), str(exc)
        try:
            from_table(table, "pyproject.toml", options.TABLE_KEYS)
        except BudgetError as exc:
            _one_line(exc)
            assert str(exc).startswith("pyproject.toml [tool.leakbench"), str(exc)

    check()


@pytest.mark.parametrize("key", options.OPTION_KEYS)
def test_every_plugin_key_takes_any_toml_value_without_another_exception(
    fuzz_config: pytest.Config, key: str
) -> None:
    on = {"leaks": None, "leaks_globals": "default,globals", "leaks_objects_threshold": "objects"}

    @settings(FUZZ, max_examples=60)
    @given(toml_values)
    def check(value: object) -> None:
        table: dict[str, Any] = {key: value}
        if key in on and on[key] is not None:
            table["leaks"] = on[key]
        fuzz_config.stash[sources.TOOL_TABLE] = (table, "pyproject.toml [tool.leakbench]")
        resolver = bench_options.resolve_bench if key in options.BENCH_KEYS else options.resolve
        try:
            resolver(fuzz_config)
        except pytest.UsageError as exc:
            _one_line(exc)
            assert key in str(exc), str(exc)

    check()


@pytest.mark.parametrize("key", sorted(budgets.TABLE_KEYS))
def test_every_budget_key_takes_any_toml_value_without_another_exception(key: str) -> None:
    @settings(FUZZ, max_examples=100)
    @given(toml_values | scenario_tables)
    @example("\u00b2")  # a digit to str.isdigit, not to int(): found by this test in CI
    @example("9" * 5000)  # more digits than int() converts
    def check(value: object) -> None:
        try:
            config = from_table({key: value}, "pyproject.toml", options.TABLE_KEYS)
        except BudgetError as exc:
            _one_line(exc)
            assert key in str(exc) or "scenarios." in str(exc), str(exc)
            return
        for name in config.scenarios:
            budget = config.for_scenario(name)
            assert math.isfinite(budget.memory) and budget.memory >= 0
            assert math.isfinite(budget.time) and budget.time >= 0
            assert budget.memory_floor >= 0

    check()


PYPROJECT_TEXTS = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "[tool.leakbench",
            "[tool]\nleakbench = 3\n",
            "a = " + "[" * 5000,
            "a = " + "{" * 3000,
            "a = " + "9" * 5000,
            "[tool.leakbench]\nleaks = true\n",
        ]
    ),
    st.builds(lambda text: "[tool.leakbench]\n" + text, st.text(max_size=100)),
)


def test_any_pyproject_text_reads_or_is_a_one_line_pyproject_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"

    @FUZZ
    @given(PYPROJECT_TEXTS)
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            table = read_tool_table(path)
        except PyprojectError as exc:
            _one_line(exc)
        else:
            assert isinstance(table, dict)

    check()
