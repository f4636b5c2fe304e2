"""The results file round-trips, and every kind of bad file gives a one-line, specific error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leakbench.gate import results as R


def make_results(key: str = "py3.11-linux-x86_64-pyalloc") -> R.Results:
    env = R.Environment(
        python_version="3.11.7",
        implementation="CPython",
        platform="linux",
        machine="x86_64",
        cpu_model="Test CPU",
        cpu_count=2,
        lock_hash="0123456789abcdef",
        memray_mode="pyalloc",
        git_commit="a" * 40,
        git_dirty=False,
        key=key,
    )
    memory = R.MemoryResult(
        iterations=50,
        warmup_iterations=2,
        peak_bytes=600_000,
        total_allocated_bytes=1_000_000,
        allocations=1234,
        retained_bytes=512_000,
        retained_per_iteration=10240.0,
        series=[(50, 512_000), (100, 1_024_000)],
        top_sites=[R.TopSite("suites/x.py:12 work", 512_000, 50)],
        capture=".leakbench/captures/x.bin",
    )
    time = R.TimeResult(
        rounds=[1e-3, 1.1e-3],
        reference_rounds=[1e-3, 1e-3],
        ratios=[1.0, 1.1],
        median=1.05e-3,
        mean=1.05e-3,
        min=1e-3,
        stddev=7e-5,
        reference_median=1e-3,
        ratio_median=1.05,
        iterations_per_round=3,
        process_rounds=[2],
    )
    return R.Results(
        created="2026-11-21T20:00:00+00:00",
        environment=env,
        scenarios={
            "demo.leaky": R.ScenarioResult(
                "demo", "leaky", True, memory, time, instructions=COUNTED
            ),
            "demo.clean": R.ScenarioResult("demo", "clean", False, None, None),
        },
    )


COUNTED = R.InstructionsResult(
    per_iteration=129_530.5,
    iterations=20,
    warmup_iterations=2,
    total=2_590_610,
    tool="callgrind",
    tool_version="valgrind-3.19.0",
    seconds=4.2,
)


def test_a_written_file_loads_back_equal(tmp_path: Path) -> None:
    original = make_results()
    path = R.write_results(original, tmp_path / "r.json")
    assert R.load_results(path) == original
    doc = json.loads(path.read_text())
    assert doc["schema"] == "leakbench-results"
    assert doc["schema_version"] == R.SCHEMA_VERSION
    assert doc["scenarios"]["demo.leaky"]["memory"]["series"] == [[50, 512_000], [100, 1_024_000]]


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(R.ResultsMissingError) as err:
        R.load_results(tmp_path / "nope.json")
    assert "nope.json" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_truncated_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = R.write_results(make_results(), tmp_path / "r.json")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(R.ResultsCorruptError) as err:
        R.load_results(path)
    assert str(path) in str(err.value)
    assert "leakbench bench" in str(err.value)


def test_a_newer_schema_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    doc = make_results().to_dict()
    doc["schema_version"] = R.SCHEMA_VERSION + 1
    path = tmp_path / "new.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(R.ResultsTooNewError, match="upgrade leakbench"):
        R.load_results(path)


@pytest.mark.parametrize("doc", [[], {"schema": "other"}, {"schema": "leakbench-results"}])
def test_another_document_is_rejected(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(R.ResultsInvalidError):
        R.load_results(path)


def test_a_wrong_field_type_names_the_field(tmp_path: Path) -> None:
    doc = make_results().to_dict()
    doc["scenarios"]["demo.leaky"]["memory"]["peak_bytes"] = "big"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(R.ResultsInvalidError, match=r"scenarios\.demo\.leaky\.memory\.peak_bytes"):
        R.load_results(path)


def test_a_boolean_is_not_accepted_as_a_count() -> None:
    doc = make_results().to_dict()
    doc["scenarios"]["demo.leaky"]["memory"]["allocations"] = True
    with pytest.raises(R.ResultsInvalidError, match="allocations"):
        R.parse_results(doc)


def test_a_failed_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = R.write_results(make_results(), tmp_path / "r.json")
    before = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        R.write_results(
            R.Results("2026-11-22T00:00:00+00:00", make_results().environment, {}), path
        )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"], "temp file left behind"


def test_time_is_comparable_only_on_the_same_cpu() -> None:
    env = make_results().environment
    other = R.Environment(**{**env.__dict__, "cpu_model": "Other CPU"})
    assert env.time_comparable(env)
    assert not env.time_comparable(other)


def test_process_rounds_must_add_up_to_the_rounds() -> None:
    doc = make_results().to_dict()
    doc["scenarios"]["demo.leaky"]["time"]["process_rounds"] = [1, 5]
    with pytest.raises(R.ResultsInvalidError, match=r"process_rounds: adds up to 6, not 2"):
        R.parse_results(doc)


def test_fields_added_within_version_1_are_optional() -> None:
    doc = make_results().to_dict()
    for field in ("reference_units_per_round", "process_rounds"):
        del doc["scenarios"]["demo.leaky"]["time"][field]
    del doc["scenarios"]["demo.leaky"]["budget"]
    time = R.parse_results(doc).scenarios["demo.leaky"].time
    assert time is not None and time.process_rounds == [] and time.reference_units_per_round == 1


def test_a_version_1_file_migrates_to_no_instruction_figure(tmp_path: Path) -> None:
    """Committed baselines of version 1 keep loading; they have no instruction counts."""
    doc = make_results().to_dict()
    doc["schema_version"] = 1
    for scenario in doc["scenarios"].values():
        del scenario["instructions"]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    loaded = R.load_results(path)
    leaky = loaded.scenarios["demo.leaky"]
    assert leaky.instructions is None and leaky.instructions_per_iteration is None
    assert leaky.memory == make_results().scenarios["demo.leaky"].memory
    assert R.SCHEMA_VERSION == 2


def test_the_committed_baseline_loads() -> None:
    baseline = (
        Path(__file__).resolve().parents[1] / "baselines" / "py3.11-linux-x86_64-pyalloc.json"
    )
    loaded = R.load_results(baseline)
    assert len(loaded.scenarios) >= 20


def test_an_instruction_figure_round_trips_and_an_absent_one_needs_its_reason() -> None:
    doc = make_results().to_dict()
    counted = doc["scenarios"]["demo.leaky"]["instructions"]
    assert counted["per_iteration"] == 129_530.5 and counted["reason"] == ""
    assert R.parse_results(doc).scenarios["demo.leaky"].instructions_per_iteration == 129_530.5
    counted["per_iteration"] = None
    with pytest.raises(R.ResultsInvalidError, match=r"instructions\.reason: an absent figure"):
        R.parse_results(doc)
    counted["reason"] = "valgrind is not installed (install it: apt-get install valgrind)"
    absent = R.parse_results(doc).scenarios["demo.leaky"].instructions
    assert absent is not None and absent.per_iteration is None
    counted["iterations"] = True
    with pytest.raises(R.ResultsInvalidError, match=r"instructions\.iterations"):
        R.parse_results(doc)
