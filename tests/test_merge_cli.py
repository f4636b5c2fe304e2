"""``leakbench merge``: shards of bench results and ``--leaks-json`` tests documents of several
CI jobs into one document; every refusal one line, exit 2."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cli_support import one_line_error, run
from leakbench.gate.results import Results, Selection, load_results
from leakbench.plugin.record import read_tests
from test_compare_support import env, memory, results, scenario, write


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def shard(k: int, names: tuple[str, ...], n: int = 2, **env_changes: str) -> Results:
    doc = results({name: scenario(memory(10 * k)) for name in names}, env(**env_changes))
    return replace(
        doc,
        created=f"2026-11-2{k}T10:00:00+00:00",
        selection=Selection("benchmarks", ["a", "b", "c"], [], [k], n),
    )


def write_tests_doc(path: str, tests: dict[str, dict[str, object]]) -> Path:
    doc = {
        "schema": "leakbench-tests",
        "schema_version": 1,
        "tests": tests,
        "workers": {"main": {"start_rss": 1, "end_rss": 2, "peak_rss": 3, "crashed": False}},
    }
    Path(path).write_text(json.dumps(doc), encoding="utf-8")
    return Path(path)


def test_two_shards_merge_into_one_complete_document() -> None:
    write(Path("s1.json"), shard(1, ("a", "c")))
    write(Path("s2.json"), shard(2, ("b",), cpu_model="Other CPU"))
    result = run("merge", "s1.json", "s2.json", "-o", "all.json")
    assert result.exit_code == 0, result.output
    assert "3 scenarios, shards 1,2 of 2" in result.output
    merged = load_results("all.json")
    assert sorted(merged.scenarios) == ["a", "b", "c"]
    assert merged.selection is not None and merged.selection.complete
    assert merged.provenance_of("b").environment.cpu_model == "Other CPU"
    assert merged.provenance_of("a").created == "2026-11-21T10:00:00+00:00"
    assert merged.provenance_of("b").created == "2026-11-22T10:00:00+00:00"
    # CPU models differ: the merged document says so, so wall time is not compared as if equal
    assert "Other CPU" in merged.environment.cpu_model
    assert "Test CPU" in merged.environment.cpu_model


def test_one_missing_shard_is_said_incomplete() -> None:
    write(Path("s1.json"), shard(1, ("a", "c"), n=3))
    write(Path("s2.json"), shard(2, ("b",), n=3))
    result = run("merge", "s1.json", "s2.json", "-o", "all.json")
    assert result.exit_code == 0, result.output
    assert "(incomplete)" in result.output
    assert not load_results("all.json").selection.complete  # type: ignore[union-attr]


def test_a_scenario_in_two_shards_must_be_identical() -> None:
    write(Path("s1.json"), shard(1, ("a",)))
    write(Path("same.json"), shard(1, ("a",)))
    assert run("merge", "s1.json", "same.json", "-o", "all.json").exit_code == 0
    write(Path("s2.json"), shard(2, ("a",)))
    one_line_error(
        run("merge", "s1.json", "s2.json", "-o", "all.json"), "s2.json", "'a'", "s1.json"
    )


@pytest.mark.parametrize(
    ("field", "value"), [("git_commit", "b" * 40), ("python_version", "3.11.1"), ("lock_hash", "")]
)
def test_documents_of_another_environment_are_refused(field: str, value: str) -> None:
    write(Path("s1.json"), shard(1, ("a",)))
    write(Path("s2.json"), shard(2, ("b",), **{field: value}))  # type: ignore[arg-type]
    one_line_error(run("merge", "s1.json", "s2.json", "-o", "all.json"), "s2.json", field)
    assert not Path("all.json").exists()


def test_mixed_kinds_and_schema_versions_are_refused() -> None:
    write(Path("s1.json"), shard(1, ("a",)))
    write_tests_doc("t.json", {"t.py::a": {"worker": "main", "outcome": "passed", "leaks": []}})
    one_line_error(run("merge", "s1.json", "t.json", "-o", "all.json"), "t.json", "one kind")
    old = shard(2, ("b",)).to_dict()
    old["schema_version"] = 1
    Path("old.json").write_text(json.dumps(old), encoding="utf-8")
    one_line_error(run("merge", "s1.json", "old.json", "-o", "all.json"), "schema_version 1")
    Path("other.json").write_text('{"schema": "something"}', encoding="utf-8")
    one_line_error(run("merge", "s1.json", "other.json", "-o", "x.json"), "not a leakbench")


def test_the_output_never_overwrites_a_file_leakbench_did_not_write() -> None:
    write(Path("s1.json"), shard(1, ("a",)))
    Path("test_x.py").write_text("def test(): pass\n", encoding="utf-8")
    one_line_error(run("merge", "s1.json", "-o", "test_x.py"), "test_x.py", "will not overwrite")
    assert Path("test_x.py").read_text(encoding="utf-8") == "def test(): pass\n"


def test_tests_documents_merge_with_worker_ids_per_machine() -> None:
    leak = {"kind": "threads", "description": "Thread-1"}
    write_tests_doc(
        "leaks-1.json", {"t.py::a": {"worker": "main", "outcome": "passed", "leaks": []}}
    )
    write_tests_doc(
        "leaks-2.json", {"t.py::b": {"worker": "main", "outcome": "failed", "leaks": [leak]}}
    )
    result = run("merge", "leaks-1.json", "leaks-2.json", "-o", "all.json")
    assert result.exit_code == 0, result.output
    assert "2 tests, 1 with leaks" in result.output
    merged = read_tests(Path("all.json"))
    assert merged["t.py::a"].worker == "leaks-1:main"
    assert merged["t.py::b"].worker == "leaks-2:main" and merged["t.py::b"].leaks == (leak,)
    doc = json.loads(Path("all.json").read_text(encoding="utf-8"))
    assert sorted(doc["workers"]) == ["leaks-1:main", "leaks-2:main"]


def test_a_test_in_two_tests_documents_must_be_identical() -> None:
    write_tests_doc(
        "leaks-1.json", {"t.py::a": {"worker": "main", "outcome": "passed", "leaks": []}}
    )
    write_tests_doc(
        "leaks-2.json", {"t.py::a": {"worker": "gw0", "outcome": "failed", "leaks": []}}
    )
    one_line_error(
        run("merge", "leaks-1.json", "leaks-2.json", "-o", "all.json"), "t.py::a", "leaks-1.json"
    )


def test_a_missing_input_is_one_line() -> None:
    one_line_error(run("merge", "nope.json", "-o", "all.json"), "nope.json", "no such file")
