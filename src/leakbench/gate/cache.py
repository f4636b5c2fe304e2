"""compare-branches' BASE cache: what BASE measured, kept under ``.leakbench/cache/``.

Instruction counts and memory repeat for the same code, Python, dependencies and instrument,
so a second ``leakbench compare-branches`` against the same BASE need not measure BASE again.
The cache file is named by a key (:func:`base_key`) over everything that determines BASE's
figures (:func:`key_parts`):

- BASE's code as git stores it: the id of BASE's whole root tree. A side's root is always on
  its children's path (``git.side_pythonpath``), so any folder there may be code the scenarios
  import (a project's ``shop/`` package beside ``benchmarks/``, with no ``src/`` layout);
  keying on the root tree is correct by construction, and a commit that changes only docs or
  CI measures BASE again, which costs time, never a wrong figure. It covers BASE's
  ``requirements.lock`` too;
- the suites package measured (the same scenario name in another package is another figure);
- the engine: a hash of the running leakbench's own source files (both sides are measured
  by this installation, so a change to the measurement code invalidates the cache);
- the environment: Python version and build, platform, machine, CPU model and count, the
  running checkout's ``requirements.lock`` (the shared virtualenv);
- the instrument and the options that change figures: Valgrind's version, the memory and
  instruction iteration overrides, pinning.

One JSON document per key (``leakbench-base-cache``, version 1): per scenario the memory
pass, the instruction count and the native probe process (rounds, their CPU times, the
plan); a later run with more scenarios adds to it. Only complete figures are kept (an
instruction pass that gave no count is measured again next time). Writes are atomic
(``leakbench._util.atomic``). An unreadable or foreign file is ignored, never an error: the
cache only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leakbench._util.atomic import write_json_atomic
from leakbench._util.jsonfields import FieldError
from leakbench.gate.environment import fingerprint
from leakbench.gate.git import tree_id
from leakbench.gate.results import (
    InstructionsResult,
    MemoryResult,
    ResultsError,
    instructions_from_dict,
    memory_from_dict,
)
from leakbench.gate.results_checks import count, decode_json, finite_list

__all__ = [
    "CACHE_DIR",
    "SCHEMA",
    "BaseCache",
    "CachedScenario",
    "Probe",
    "base_key",
    "engine_hash",
    "key_parts",
]

CACHE_DIR = Path(".leakbench") / "cache"
SCHEMA = "leakbench-base-cache"
VERSION = 1


@dataclass(frozen=True)
class Probe:
    """One native timing process of a side (``pair-time`` mode): its rounds' seconds and CPU
    seconds per iteration, and the plan it calibrated."""

    rounds: list[float]
    cpu_rounds: list[float]
    iterations: int
    rounds_planned: int


@dataclass
class CachedScenario:
    """What BASE measured for one scenario (any part may be missing)."""

    memory: MemoryResult | None = None
    instructions: InstructionsResult | None = None
    probe: Probe | None = None


@dataclass
class BaseCache:
    """The cache file of one key; :meth:`load` reads it, :meth:`save` writes it atomically."""

    path: Path
    key: str
    parts: Mapping[str, Any] = field(default_factory=dict)
    """What the key was computed from (for a reader wondering why a cache missed)."""
    commit: str = ""
    scenarios: dict[str, CachedScenario] = field(default_factory=dict)
    loaded: bool = False
    """Whether anything was read from an existing file."""

    @classmethod
    def load(cls, root: Path, key: str, parts: Mapping[str, Any], commit: str) -> BaseCache:
        """The cache of ``key`` under ``root`` (empty when there is none or it is unusable)."""
        path = root / CACHE_DIR / f"base-{key}.json"
        cache = cls(path, key, dict(parts), commit)
        try:
            doc = decode_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # JsonTextError: not JSON, nested too deeply, ...
            return cache
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("key") != key:
            return cache
        if doc.get("schema_version") != VERSION or not isinstance(doc.get("scenarios"), dict):
            return cache
        for name, entry in doc["scenarios"].items():
            if isinstance(entry, dict):
                cache.scenarios[name] = _entry(entry)
        cache.loaded = bool(cache.scenarios)
        return cache

    def get(self, name: str) -> CachedScenario:
        """The entry of ``name`` (created empty when absent)."""
        return self.scenarios.setdefault(name, CachedScenario())

    def save(self) -> Path:
        """Write every entry (atomically); return the path."""
        scenarios: dict[str, dict[str, Any]] = {}
        for name, kept in sorted(self.scenarios.items()):
            memory = asdict(kept.memory) if kept.memory else None
            if memory is not None:
                memory["series"] = [list(p) for p in memory["series"]]
            counted = kept.instructions if _complete(kept.instructions) else None
            scenarios[name] = {
                "memory": memory,
                "instructions": asdict(counted) if counted else None,
                "probe": asdict(kept.probe) if kept.probe else None,
            }
        doc = {
            "schema": SCHEMA,
            "schema_version": VERSION,
            "key": self.key,
            "parts": dict(self.parts),
            "commit": self.commit,
            "scenarios": scenarios,
        }
        path = write_json_atomic(self.path, doc)
        ignore = self.path.parent / ".gitignore"
        if not ignore.exists():  # the cache is local state: never shown by `git status`
            ignore.write_text("*\n", encoding="utf-8")
        return path


def _complete(i: InstructionsResult | None) -> bool:
    return i is not None and i.per_iteration is not None


def _entry(entry: Mapping[str, Any]) -> CachedScenario:
    """One scenario's entry; a part that does not validate is dropped (measured again)."""
    out = CachedScenario()
    try:
        if entry.get("memory") is not None:
            out.memory = memory_from_dict(entry["memory"])
    except ResultsError:
        out.memory = None
    try:
        if entry.get("instructions") is not None:
            counted = instructions_from_dict(entry["instructions"])
            out.instructions = counted if _complete(counted) else None
    except ResultsError:
        out.instructions = None
    probe = entry.get("probe")
    if isinstance(probe, dict):
        try:  # finite seconds >= 0 and counts >= 1, as in a results document
            out.probe = Probe(
                rounds=finite_list(probe, "rounds", "probe", minimum=0),
                cpu_rounds=finite_list(probe, "cpu_rounds", "probe", minimum=0),
                iterations=count(probe, "iterations", "probe", minimum=1),
                rounds_planned=count(probe, "rounds_planned", "probe", minimum=1),
            )
        except FieldError:
            out.probe = None
    return out


def engine_hash() -> str:
    """sha256 (16 hex digits) of the running leakbench's source files, path and bytes."""
    package = Path(__file__).resolve().parents[1]  # src/leakbench
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def base_key(parts: Mapping[str, Any]) -> str:
    """The cache key: sha256 (16 hex digits) of ``parts`` as canonical JSON."""
    text = json.dumps(dict(parts), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def key_parts(
    base_root: Path,
    sha: str,
    *,
    running_root: Path,
    suites: str,
    valgrind: str,
    memory_iterations: int | None,
    instruction_iterations: int | None,
    pinned: bool,
) -> dict[str, Any]:
    """What BASE's figures depend on, for :func:`base_key` (and, kept in the file, for a
    reader wondering why a cache missed): BASE's root tree at ``sha`` (read in ``base_root``,
    any checkout of the repository), ``suites``, the engine, the interpreter and machine and
    the virtualenv's lock of ``running_root`` (the checkout the command runs in), Valgrind's
    ``valgrind`` version ("" without it) and the options that change figures."""
    env = fingerprint(running_root)
    return {
        "tree": tree_id(base_root, sha, ""),  # `git rev-parse <sha>:`, the root tree
        "suites": suites,
        "engine": engine_hash(),
        "python": f"{env.implementation} {env.python_version}",
        "machine": f"{env.platform} {env.machine} {env.cpu_model} x{env.cpu_count}",
        "venv_lock": env.lock_hash,
        "valgrind": valgrind,
        "memory_iterations": memory_iterations,
        "instruction_iterations": instruction_iterations,
        "pinned": pinned,
    }
