"""``baseline save`` merges a run into the stored baseline, keeping each scenario's provenance;
``compare`` of a subset says "not measured in this run" instead of "removed"."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cli_support import run
from leakbench.gate.results import Selection, load_results, parse_results
from test_compare_support import KEY, env, memory, results, scenario, timing, write

BASELINE = Path("baselines") / f"{KEY}.json"
LATEST = Path(".leakbench") / "results" / "latest.json"
OLD_COMMIT, NEW_COMMIT = "a" * 40, "b" * 40


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    return tmp_path


def full_baseline() -> None:
    """A stored baseline of three scenarios with memory and time, from OLD_COMMIT."""
    doc = results(
        {n: scenario(memory(100), timing(1.0, seed=i)) for i, n in enumerate(("a", "b", "c"))},
        env(git_commit=OLD_COMMIT),
    )
    write(BASELINE, doc)


def subset_run(
    *names: str, time: bool = True, available: tuple[str, ...] = ("a", "b", "c")
) -> Path:
    doc = results(
        {n: scenario(memory(200), timing(1.0, seed=9)) for n in names},
        env(git_commit=NEW_COMMIT),
    )
    if not time:  # a --memory-only run
        doc = replace(doc, scenarios={n: replace(s, time=None) for n, s in doc.scenarios.items()})
    doc = replace(
        doc,
        created="2026-11-30T10:00:00+00:00",
        selection=Selection(suites="benchmarks", available=list(available), requested=list(names)),
    )
    return write(LATEST, doc)


def test_a_subset_save_keeps_the_other_scenarios_with_their_own_provenance(project: Path) -> None:
    full_baseline()
    subset_run("b")
    result = run("baseline", "save")
    assert result.exit_code == 0, result.output
    assert "added 0" in result.output
    assert "replaced 1: b" in result.output
    assert "kept 2: a, c" in result.output
    stored = load_results(BASELINE)
    assert sorted(stored.scenarios) == ["a", "b", "c"]
    assert stored.provenance_of("a").environment.git_commit == OLD_COMMIT
    assert stored.provenance_of("a").created == "2026-11-21T20:00:00+00:00"
    assert stored.provenance_of("b").environment.git_commit == NEW_COMMIT
    assert stored.scenarios["a"].time is not None  # the kept time data is still there
    assert stored.scenarios["b"].memory is not None
    assert stored.scenarios["b"].memory.retained_per_iteration == pytest.approx(200)


def test_a_memory_only_save_warns_which_passes_it_drops(project: Path) -> None:
    full_baseline()
    subset_run("a", "d", time=False, available=("a", "b", "c", "d"))
    result = run("baseline", "save")
    assert result.exit_code == 0, result.output
    assert "added 1: d" in result.output and "replaced 1: a" in result.output
    assert "a: time pass is no longer in the baseline" in result.output
    assert sorted(load_results(BASELINE).scenarios) == ["a", "b", "c", "d"]


def test_replace_replaces_the_whole_file(project: Path) -> None:
    full_baseline()
    subset_run("b")
    result = run("baseline", "save", "--replace")
    assert result.exit_code == 0, result.output
    assert "replaced the whole file" in result.output
    assert sorted(load_results(BASELINE).scenarios) == ["b"]


def test_a_run_of_zero_scenarios_is_refused_and_leaves_the_baseline(project: Path) -> None:
    full_baseline()
    before = BASELINE.read_bytes()
    write(LATEST, results({}))
    result = run("baseline", "save")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "0 scenarios" in lines[0], result.output
    assert BASELINE.read_bytes() == before


def test_provenance_survives_a_round_trip_and_older_readers_ignore_it(project: Path) -> None:
    full_baseline()
    subset_run("b")
    assert run("baseline", "save").exit_code == 0
    doc = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert doc["schema_version"] == 2
    assert doc["scenarios"]["a"]["provenance"]["environment"]["git_commit"] == OLD_COMMIT
    assert doc["scenarios"]["b"]["provenance"] is None  # the document's own (the newest run)
    assert doc["environment"]["git_commit"] == NEW_COMMIT
    for s in doc["scenarios"].values():  # a document without the field still reads
        s.pop("provenance")
    assert parse_results(doc).provenance_of("a").environment.git_commit == NEW_COMMIT


def test_a_bad_provenance_is_refused_naming_the_field(project: Path) -> None:
    doc = results({"a": scenario(memory(1))}).to_dict()
    doc["scenarios"]["a"]["provenance"] = {"created": 5, "environment": {}}
    (project / "bad.json").write_text(json.dumps(doc), encoding="utf-8")
    result = run("baseline", "save", "bad.json")
    assert result.exit_code == 2
    assert "scenarios.a.provenance" in result.output


def test_a_subset_compare_does_not_call_the_rest_removed(project: Path) -> None:
    full_baseline()
    subset_run("b", available=("a", "b"))  # c no longer exists in the suites
    result = run("compare", "--format", "markdown")
    assert result.exit_code == 1, result.output  # b retains twice as much per iteration
    assert "not measured in this run: 1 scenario(s) of the baseline (a)" in result.output
    assert "**Removed scenarios**: `c`" in result.output
    assert "`a`" not in result.output.split("Removed scenarios")[1].splitlines()[0]


def test_a_document_without_selection_still_lists_missing_scenarios_as_removed(
    project: Path,
) -> None:
    full_baseline()
    write(LATEST, results({"b": scenario(memory(100), timing(1.0, seed=3))}))
    result = run("compare", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["removed"] == ["a", "c"]
