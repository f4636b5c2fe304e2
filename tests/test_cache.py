"""compare-branches' BASE cache: its key, a round trip, and leniency with bad files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from leakbench.gate.cache import BaseCache, Probe, base_key, engine_hash, key_parts
from test_compare_support import counted, memory

PARTS = {"trees": {"suites": "abc", "fixtures": ""}, "engine": "e1", "valgrind": "v3.19"}


def test_the_key_depends_on_every_part_and_not_on_their_order() -> None:
    assert base_key(PARTS) == base_key(dict(reversed(list(PARTS.items()))))
    assert base_key(PARTS) != base_key({**PARTS, "engine": "e2"})
    assert base_key(PARTS) != base_key({**PARTS, "trees": {"suites": "abd", "fixtures": ""}})
    assert len(base_key(PARTS)) == 16


def test_the_engine_hash_is_stable() -> None:
    assert engine_hash() == engine_hash() and len(engine_hash()) == 16


def test_a_saved_cache_loads_back_and_hides_itself_from_git(tmp_path: Path) -> None:
    key = base_key(PARTS)
    cache = BaseCache.load(tmp_path, key, PARTS, "a" * 40)
    assert not cache.loaded and not cache.scenarios
    entry = cache.get("s")
    entry.memory = memory(1024, iterations=20)
    entry.instructions = counted(2e6)
    entry.probe = Probe([1e-3, 1.1e-3], [0.9e-3, 1e-3], 3, 2)
    cache.get("no-figure").instructions = counted(None, reason="valgrind is not installed")
    path = cache.save()
    assert path.parent == tmp_path / ".leakbench" / "cache"
    assert (path.parent / ".gitignore").read_text() == "*\n"
    again = BaseCache.load(tmp_path, key, PARTS, "a" * 40)
    assert again.loaded
    assert again.scenarios["s"].memory == entry.memory
    assert again.scenarios["s"].instructions == entry.instructions
    assert again.scenarios["s"].probe == entry.probe
    assert again.scenarios["no-figure"].instructions is None  # measured again next time


def test_an_unusable_cache_is_ignored_part_by_part(tmp_path: Path) -> None:
    key = base_key(PARTS)
    cache = BaseCache.load(tmp_path, key, PARTS, "")
    cache.get("s").memory = memory(0, iterations=20)
    cache.get("s").instructions = counted(1e6)
    path = cache.save()
    doc = json.loads(path.read_text())
    doc["scenarios"]["s"]["memory"]["peak_bytes"] = "many"
    path.write_text(json.dumps(doc))
    partly = BaseCache.load(tmp_path, key, PARTS, "")
    assert partly.scenarios["s"].memory is None and partly.scenarios["s"].instructions is not None
    path.write_text("{ truncated")
    assert not BaseCache.load(tmp_path, key, PARTS, "").loaded
    path.write_text(json.dumps({**doc, "key": "another"}))
    assert not BaseCache.load(tmp_path, key, PARTS, "").loaded


def _git(repo: Path, *args: str) -> str:
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **identity, "GIT_CONFIG_NOSYSTEM": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for relative, text in files.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


def _key(repo: Path, sha: str, suites: str = "benchmarks") -> str:
    parts = key_parts(
        repo,
        sha,
        running_root=repo,
        suites=suites,
        valgrind="valgrind-3.19.0",
        memory_iterations=None,
        instruction_iterations=None,
        pinned=True,
    )
    return base_key(parts)


def _project(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    return repo


def test_the_key_changes_with_a_root_level_package_and_only_with_the_commit(
    tmp_path: Path,
) -> None:
    # A project without src/: its code is `shop/` beside `benchmarks/`, and the root is on
    # every child's path, so a commit changing only shop/ changes what BASE measures.
    repo = _project(tmp_path)
    first = _commit(
        repo,
        {"benchmarks/__init__.py": "", "shop/__init__.py": "PRICE = 1\n", "README.md": "x\n"},
        "shop",
    )
    second = _commit(repo, {"shop/__init__.py": "PRICE = 2\n"}, "only shop changes")
    assert _key(repo, first) == _key(repo, first)
    assert _key(repo, first) != _key(repo, second)


def test_the_key_names_the_suites_package(tmp_path: Path) -> None:
    # The same scenario name in another suites package is another figure.
    repo = _project(tmp_path)
    sha = _commit(repo, {"a/__init__.py": "", "b/__init__.py": ""}, "two suites")
    assert _key(repo, sha, suites="a") != _key(repo, sha, suites="b")
