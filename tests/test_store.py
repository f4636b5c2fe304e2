"""Results and baselines land where the docs say, and bad baselines fail with a hint."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from leakbench.gate.environment import environment_key, fingerprint
from leakbench.gate.results import ResultsCorruptError, ResultsMissingError, load_results
from leakbench.gate.store import (
    BaselineKeyMismatchError,
    BaselineMissingError,
    FileStore,
    Store,
)
from test_results import make_results


def test_a_run_is_saved_under_its_timestamp_and_as_latest(tmp_path: Path) -> None:
    results = make_results()
    path = FileStore(tmp_path).save_results(results)
    assert path.parent == tmp_path / ".leakbench" / "results"
    assert re.fullmatch(r"20261121T200000Z-aaaaaaaaaaaa-\d+-[0-9a-f]{6}\.json", path.name)
    assert FileStore(tmp_path).load_latest() == results
    assert load_results(path) == results


def test_kept_runs_are_listed_latest_copy_first_then_newest_first(tmp_path: Path) -> None:
    store: Store = FileStore(tmp_path)  # the file store is a Store (checked by mypy)
    older = store.save_results(make_results())
    newer = store.save_results(replace(make_results(), created="2026-11-22T00:00:00+00:00"))
    assert store.run_paths() == [store.latest_results_path(), newer, older]


def test_a_run_saved_elsewhere_is_still_the_latest(tmp_path: Path) -> None:
    results = make_results()
    out = tmp_path / "elsewhere" / "run.json"
    assert FileStore(tmp_path).save_results(results, out) == out
    assert load_results(out) == results == FileStore(tmp_path).load_latest()


def test_no_results_yet_says_to_run_bench(tmp_path: Path) -> None:
    with pytest.raises(ResultsMissingError, match="leakbench bench"):
        FileStore(tmp_path).load_latest()


def test_a_baseline_is_stored_under_its_environment_key(tmp_path: Path) -> None:
    results = make_results("py3.11-linux-x86_64-pyalloc")
    path = FileStore(tmp_path).save_baseline(results)
    assert path == tmp_path / "baselines" / "py3.11-linux-x86_64-pyalloc.json"
    assert FileStore(tmp_path).load_baseline("py3.11-linux-x86_64-pyalloc") == results


def test_a_missing_baseline_hints_at_baseline_save(tmp_path: Path) -> None:
    with pytest.raises(BaselineMissingError, match="leakbench baseline save"):
        FileStore(tmp_path).load_baseline("py3.11-linux-x86_64-pyalloc")


def test_a_baseline_renamed_to_another_key_is_refused(tmp_path: Path) -> None:
    path = FileStore(tmp_path).save_baseline(make_results("py3.12-linux-x86_64-pyalloc"))
    path.rename(path.with_name("py3.11-linux-x86_64-pyalloc.json"))
    with pytest.raises(BaselineKeyMismatchError, match=r"py3\.12"):
        FileStore(tmp_path).load_baseline("py3.11-linux-x86_64-pyalloc")


def test_list_shows_good_and_broken_baselines(tmp_path: Path) -> None:
    FileStore(tmp_path).save_baseline(make_results("py3.11-linux-x86_64-pyalloc"))
    (tmp_path / "baselines" / "py3.12-linux-x86_64-pyalloc.json").write_text("{")
    infos = FileStore(tmp_path).list_baselines()
    assert [i.key for i in infos] == ["py3.11-linux-x86_64-pyalloc", "py3.12-linux-x86_64-pyalloc"]
    assert infos[0].scenarios == 2 and infos[0].error is None
    assert infos[1].error is not None and "not valid JSON" in infos[1].error
    with pytest.raises(ResultsCorruptError):
        FileStore(tmp_path).load_baseline("py3.12-linux-x86_64-pyalloc")


def test_saving_a_baseline_replaces_the_old_one_whole(tmp_path: Path) -> None:
    first = make_results()
    FileStore(tmp_path).save_baseline(first)
    second = replace(first, created="2026-11-22T00:00:00+00:00")
    FileStore(tmp_path).save_baseline(second)
    assert FileStore(tmp_path).load_baseline(first.environment.key) == second
    assert len(list((tmp_path / "baselines").iterdir())) == 1


def test_the_environment_key_names_python_platform_and_memray_mode() -> None:
    assert environment_key((3, 11), "linux", "x86_64") == "py3.11-linux-x86_64-pyalloc"
    env = fingerprint()
    assert env.key == environment_key()
    assert env.key.startswith(f"py{env.python_version.rsplit('.', 1)[0]}-")
