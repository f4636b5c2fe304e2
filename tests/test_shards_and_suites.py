"""``--shard K/N`` (a deterministic share of the scenarios) and ``[tool.leakbench] suites``
(the default of every ``--suites``)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from cli_support import run
from leakbench.gate.shards import Shard, ShardError, parse_shard, share

INI = """[tool.pytest.ini_options]
filterwarnings = ["error"]
asyncio_default_fixture_loop_scope = "function"

"""


def test_shards_cover_every_scenario_once_whatever_the_order() -> None:
    names = [f"scenario{i}" for i in range(11)]
    shuffled = random.Random(3).sample(names, len(names))
    parts = [share(names, Shard(k, 3)) for k in (1, 2, 3)]
    assert [share(shuffled, Shard(k, 3)) for k in (1, 2, 3)] == parts
    assert sorted(n for part in parts for n in part) == sorted(names)
    assert {len(p) for p in parts} == {3, 4}


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1", "-1/2", ""])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ShardError):
        parse_shard(text)


def test_bench_refuses_a_bad_shard_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("bench", "--shard", "3/2", "--no-compare")
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "--shard" in result.output and "1 <= K <= N" in result.output


def project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f"[project]\nname = 'demo'\n\n[tool.leakbench]\n{table}\n", encoding="utf-8"
    )
    return tmp_path


def test_the_suites_key_is_the_default_of_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project(tmp_path, 'suites = "workloads"'))
    result = run("bench", "--no-compare")
    assert result.exit_code == 2
    assert "--suites 'workloads': no such package" in result.output
    # the command line wins
    result = run("bench", "--no-compare", "--suites", "elsewhere")
    assert "--suites 'elsewhere': no such package" in result.output


def test_the_suites_key_is_the_default_of_compare_branches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project(tmp_path, 'suites = "not a name"'))
    result = run("compare-branches", "main")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "[tool.leakbench] suites" in lines[0], result.output
    assert "'not a name'" in lines[0]


def test_the_plugin_knows_the_suites_key(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI + '[tool.leakbench]\nsuites = "benchmarks"\nleaks = true\n')
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "unknown key" not in result.stdout.str() + result.stderr.str()


def test_a_misspelt_suites_key_is_called_unknown(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(INI + '[tool.leakbench]\nsuite = "benchmarks"\n')
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "did you mean 'suites'" in result.stderr.str() + result.stdout.str()


def test_the_suites_key_finds_the_scenarios_and_an_empty_shard_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = "workloads_for_shard_test"
    monkeypatch.chdir(project(tmp_path, f'suites = "{package}"'))
    (tmp_path / package).mkdir()
    (tmp_path / package / "one.py").write_text(
        "from contextlib import contextmanager\n\nfrom leakbench import Scenario\n\n\n"
        "@contextmanager\ndef session():\n    yield lambda: None\n\n\n"
        'SCENARIOS = [Scenario(name="only.one", session=session)]\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(sys, "path", list(sys.path))  # discovery puts the project first
    for name in [m for m in sys.modules if m.startswith(package)]:
        monkeypatch.delitem(sys.modules, name)
    result = run("bench", "--no-compare", "--shard", "2/2")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == ["leakbench: error: --shard 2/2: holds no scenario (1 selected); use at most "
                     "1 shards"], result.output  # fmt: skip
    for name in [m for m in sys.modules if m.startswith(package)]:  # imported by this test
        del sys.modules[name]
