"""Results and baselines land where the docs say, and bad baselines fail with a hint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from leakbench.gate import store
from leakbench.gate.environment import environment_key, fingerprint
from leakbench.gate.results import ResultsCorruptError, load_results
from test_results import make_results


def test_a_run_is_saved_under_its_timestamp_and_as_latest(tmp_path: Path) -> None:
    results = make_results()
    path = store.save_results(results, root=tmp_path)
    assert path.parent == tmp_path / ".leakbench" / "results"
    assert path.name == "20261121T200000Z-aaaaaaaaaaaa.json"
    assert store.load_latest(tmp_path) == results
    assert load_results(path) == results


def test_no_results_yet_says_to_run_bench(tmp_path: Path) -> None:
    with pytest.raises(store.ResultsMissingError, match="leakbench bench"):
        store.load_latest(tmp_path)


def test_a_baseline_is_stored_under_its_environment_key(tmp_path: Path) -> None:
    results = make_results("py3.11-linux-x86_64-pyalloc")
    path = store.save_baseline(results, root=tmp_path)
    assert path == tmp_path / "baselines" / "py3.11-linux-x86_64-pyalloc.json"
    assert store.load_baseline("py3.11-linux-x86_64-pyalloc", tmp_path) == results


def test_a_missing_baseline_hints_at_baseline_save(tmp_path: Path) -> None:
    with pytest.raises(store.BaselineMissingError, match="leakbench baseline save"):
        store.load_baseline("py3.11-linux-x86_64-pyalloc", tmp_path)


def test_a_baseline_renamed_to_another_key_is_refused(tmp_path: Path) -> None:
    path = store.save_baseline(make_results("py3.12-linux-x86_64-pyalloc"), root=tmp_path)
    path.rename(path.with_name("py3.11-linux-x86_64-pyalloc.json"))
    with pytest.raises(store.BaselineKeyMismatchError, match=r"py3\.12"):
        store.load_baseline("py3.11-linux-x86_64-pyalloc", tmp_path)


def test_list_shows_good_and_broken_baselines(tmp_path: Path) -> None:
    store.save_baseline(make_results("py3.11-linux-x86_64-pyalloc"), root=tmp_path)
    (tmp_path / "baselines" / "py3.12-linux-x86_64-pyalloc.json").write_text("{")
    infos = store.list_baselines(tmp_path)
    assert [i.key for i in infos] == ["py3.11-linux-x86_64-pyalloc", "py3.12-linux-x86_64-pyalloc"]
    assert infos[0].scenarios == 2 and infos[0].error is None
    assert infos[1].error is not None and "not valid JSON" in infos[1].error
    with pytest.raises(ResultsCorruptError):
        store.load_baseline("py3.12-linux-x86_64-pyalloc", tmp_path)


def test_saving_a_baseline_replaces_the_old_one_whole(tmp_path: Path) -> None:
    first = make_results()
    store.save_baseline(first, root=tmp_path)
    second = replace(first, created="2026-11-22T00:00:00+00:00")
    store.save_baseline(second, root=tmp_path)
    assert store.load_baseline(first.environment.key, tmp_path) == second
    assert len(list((tmp_path / "baselines").iterdir())) == 1


def test_the_environment_key_names_python_platform_and_memray_mode() -> None:
    assert environment_key((3, 11), "linux", "x86_64") == "py3.11-linux-x86_64-pyalloc"
    env = fingerprint()
    assert env.key == environment_key()
    assert env.key.startswith(f"py{env.python_version.rsplit('.', 1)[0]}-")
