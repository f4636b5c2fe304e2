"""compare-branches' BASE cache: its key, a round trip, and leniency with bad files."""

from __future__ import annotations

import json
from pathlib import Path

from leakbench.gate.cache import BaseCache, Probe, base_key, engine_hash
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
