"""``leakbench compare`` and ``leakbench baseline``: exit codes, one-line errors, safe saves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import one_line_error, run
from leakbench.gate.results import load_results
from test_compare_support import KEY, env, memory, results, scenario, timing, write

BASELINE = Path("baselines") / f"{KEY}.json"
LATEST = Path(".leakbench") / "results" / "latest.json"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the cwd, with a pyproject.toml holding no budgets."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # whatever the runner's terminal: no wrapped cells
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    return tmp_path


def save_pair(base_per_iteration: float = 4096, head_per_iteration: float = 4096) -> None:
    write(BASELINE, results({"s": scenario(memory(base_per_iteration), timing(1.0, seed=1))}))
    write(LATEST, results({"s": scenario(memory(head_per_iteration), timing(1.0, seed=2))}))


def test_within_budget_exits_zero(project: Path) -> None:
    save_pair()
    result = run("compare")
    assert result.exit_code == 0, result.output
    assert "all within budget" in result.output


def test_a_regression_exits_one_in_every_format(project: Path) -> None:
    save_pair(head_per_iteration=4096 * 1.5)
    for fmt in ("terminal", "markdown", "json"):
        result = run("compare", "--format", fmt)
        assert result.exit_code == 1, (fmt, result.output)
    assert "regression" in run("compare").output
    assert "<details>" in run("compare", "--format", "markdown").output
    doc = json.loads(run("compare", "--format", "json").output)
    assert doc["summary"]["regression"] >= 1


def test_explicit_paths_are_compared(project: Path) -> None:
    save_pair(head_per_iteration=4096 * 1.5)
    other = write(project / "other.json", results({"s": scenario(memory(4096 * 1.5))}))
    assert run("compare", str(LATEST), str(other)).exit_code == 0


def test_a_merged_results_file_is_judged_against_the_stored_baseline_with_results(
    project: Path,
) -> None:
    """The sharded gate job: a fresh checkout (no latest.json), a merged ``bench.json``.
    Before ``--results``, the docs' ``leakbench compare bench.json`` read it as the baseline
    and failed on the missing latest run (or, with one, compared the wrong way round)."""
    write(BASELINE, results({"s": scenario(memory(4096), timing(1.0, seed=1))}))
    merged = write(project / "bench.json", results({"s": scenario(memory(4096 * 1.5))}))
    judged = run("compare", "--results", str(merged))
    assert judged.exit_code == 1, judged.output  # the +50% of bench.json, against the baseline
    assert "regression" in judged.output
    one_line_error(run("compare", "--results", str(merged), str(BASELINE), str(merged)), "once")


def test_a_missing_default_baseline_hints_at_baseline_save(project: Path) -> None:
    write(LATEST, results({"s": scenario()}))
    one_line_error(run("compare"), str(BASELINE), "leakbench baseline save")


def test_a_missing_baseline_file_names_it_and_hints_at_baseline_save(project: Path) -> None:
    write(LATEST, results({"s": scenario()}))
    one_line_error(run("compare", "nowhere.json"), "nowhere.json", "leakbench baseline save")


def test_missing_results_hint_at_bench(project: Path) -> None:
    write(BASELINE, results({"s": scenario()}))
    one_line_error(run("compare"), str(LATEST), "leakbench bench")


@pytest.mark.parametrize("which", ["baseline", "results"])
def test_a_truncated_file_is_named(project: Path, which: str) -> None:
    save_pair()
    broken = BASELINE if which == "baseline" else LATEST
    broken.write_text(broken.read_text()[:200], encoding="utf-8")
    one_line_error(run("compare"), str(broken), "not valid JSON")


def test_a_newer_schema_is_refused(project: Path) -> None:
    save_pair()
    doc = json.loads(BASELINE.read_text())
    doc["schema_version"] = 99
    BASELINE.write_text(json.dumps(doc))
    one_line_error(run("compare"), str(BASELINE), "newer", "upgrade leakbench")


def test_an_unknown_scenario_is_refused(project: Path) -> None:
    save_pair()
    one_line_error(run("compare", "--scenario", "nope"), "unknown scenario 'nope'", "known: s")


def test_a_baseline_of_another_environment_is_refused(project: Path) -> None:
    save_pair()
    other_key = "py3.12-linux-x86_64-pyalloc"
    other = write(
        project / "baselines" / f"{other_key}.json",
        results({"s": scenario(memory(4096))}, env(key=other_key, python_version="3.12.1")),
    )
    one_line_error(run("compare", str(other)), str(other), other_key, "--allow-other-environment")
    allowed = run("compare", str(other), "--allow-other-environment")
    assert allowed.exit_code == 0, allowed.output
    assert "not comparable" in allowed.output


def test_a_default_baseline_holding_another_key_is_refused(project: Path) -> None:
    save_pair()
    write(BASELINE, results({"s": scenario()}, env(key="py3.12-linux-x86_64-pyalloc")))
    one_line_error(run("compare"), str(BASELINE), "py3.12")


def test_a_bad_budget_names_the_pyproject(project: Path) -> None:
    save_pair()
    (project / "pyproject.toml").write_text("[tool.leakbench]\ntime_budget = 'fast'\n")
    one_line_error(run("compare"), "pyproject.toml", "time_budget", "[tool.leakbench]")


def test_an_acknowledged_regression_passes_and_says_why(project: Path) -> None:
    save_pair(head_per_iteration=4096 * 1.4)
    (project / "pyproject.toml").write_text(
        '[tool.leakbench.scenarios."s"]\nmemory_budget = 0.5\nreason = "cache warms up"\n'
    )
    result = run("compare")
    assert result.exit_code == 0, result.output
    assert "accepted: cache warms up" in result.output


def test_baseline_save_writes_the_latest_results_for_their_key(project: Path) -> None:
    head = results({"s": scenario(), "t": scenario()})
    write(LATEST, head)
    result = run("baseline", "save")
    assert result.exit_code == 0, result.output
    assert str(BASELINE) in result.output
    assert load_results(BASELINE) == load_results(LATEST)
    shown = run("baseline", "show")
    assert KEY in shown.output and "aaaaaaaaaaaa" in shown.output
    assert run("compare").exit_code == 0


def test_baseline_save_of_a_corrupt_file_is_a_one_line_error(project: Path) -> None:
    (project / "bad.json").write_text("{", encoding="utf-8")
    one_line_error(run("baseline", "save", "bad.json"), "bad.json", "not valid JSON")
    assert not BASELINE.exists()


def test_baseline_show_without_baselines_says_what_to_run(project: Path) -> None:
    result = run("baseline", "show")
    assert result.exit_code == 0 and "leakbench baseline save" in result.output


def test_an_interrupted_save_leaves_the_old_baseline(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_pair(base_per_iteration=1.0, head_per_iteration=2.0)
    before = BASELINE.read_bytes()

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", interrupted)
        result = run("baseline", "save")
    assert result.exit_code != 0
    assert BASELINE.read_bytes() == before
    assert sorted(p.name for p in BASELINE.parent.iterdir()) == [BASELINE.name]


KILL_MID_WRITE = """
import os, signal
from leakbench.cli.main import main

def dying_fsync(fd):
    # The new document is in the temp file, not yet renamed over the baseline.
    os.kill(os.getpid(), signal.SIGKILL)

os.fsync = dying_fsync
main()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_save_killed_mid_write_leaves_the_old_baseline(project: Path) -> None:
    save_pair(base_per_iteration=1.0, head_per_iteration=2.0)
    before = BASELINE.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", KILL_MID_WRITE, "baseline", "save"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert BASELINE.read_bytes() == before
    assert load_results(BASELINE).scenarios["s"].memory is not None
    assert run("compare", "--scenario", "s").exit_code in (0, 1)  # still readable
