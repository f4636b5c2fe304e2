"""Where results and baselines live on disk.

Layout (``root`` is the project directory, default the current directory):

- ``.leakbench/results/<YYYYmmddTHHMMSSZ>-<commit12>.json``: every run (git-ignored), plus
  ``.leakbench/results/latest.json``, a copy of the newest one.
- ``baselines/<environment key>.json``: the committed baseline per environment, e.g.
  ``baselines/py3.11-linux-x86_64-pyalloc.json``.

Public API: :func:`save_results`, :func:`latest_results_path`, :func:`load_latest`,
:func:`save_baseline`, :func:`load_baseline`, :func:`baseline_path`, :func:`list_baselines`
(-> :class:`BaselineInfo`). Every write goes through ``results.write_json_atomic``, so a
Ctrl-C or kill during ``baseline save`` leaves the previous baseline intact. Every load failure
is a ``results.ResultsError`` subclass with a one-line message (CLI: print it, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leakbench.gate.environment import environment_key
from leakbench.gate.results import (
    Results,
    ResultsError,
    ResultsMissingError,
    load_results,
    write_results,
)

RESULTS_DIR = Path(".leakbench") / "results"
BASELINES_DIR = Path("baselines")
LATEST = "latest.json"

__all__ = [
    "BASELINES_DIR",
    "RESULTS_DIR",
    "BaselineInfo",
    "BaselineKeyMismatchError",
    "BaselineMissingError",
    "baseline_path",
    "latest_results_path",
    "list_baselines",
    "load_baseline",
    "load_latest",
    "save_baseline",
    "save_results",
]


class BaselineMissingError(ResultsMissingError):
    """No baseline is stored for the environment key."""


class BaselineKeyMismatchError(ResultsError):
    """A baseline file holds results of another environment than its name (or the caller) says."""


@dataclass(frozen=True)
class BaselineInfo:
    """One stored baseline, for ``leakbench baseline show``."""

    key: str
    path: Path
    created: str
    """"" when the file could not be read (see ``error``)."""
    git_commit: str
    scenarios: int
    error: str | None = None
    """One-line reason when the file is unreadable; listed rather than hidden."""


def _root(root: Path | None) -> Path:
    return root if root is not None else Path.cwd()


def save_results(results: Results, root: Path | None = None, out: Path | None = None) -> Path:
    """Write a run to ``out`` (or a timestamped file in the results dir) and to ``latest.json``.

    Returns the path of the run's own file. ``latest.json`` is written last, so it always
    points at a complete document.
    """
    directory = _root(root) / RESULTS_DIR
    if out is None:
        stamp = _stamp(results.created)
        commit = results.environment.git_commit[:12] or "nogit"
        out = directory / f"{stamp}-{commit}.json"
    write_results(results, out)
    write_results(results, directory / LATEST)
    return out


def _stamp(created: str) -> str:
    try:
        when = datetime.fromisoformat(created).astimezone(UTC)
    except ValueError:
        when = datetime.now(UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")


def latest_results_path(root: Path | None = None) -> Path:
    """``.leakbench/results/latest.json`` under ``root`` (it may not exist)."""
    return _root(root) / RESULTS_DIR / LATEST


def load_latest(root: Path | None = None) -> Results:
    """The newest results; :class:`ResultsMissingError` with a hint when there are none."""
    path = latest_results_path(root)
    if not path.exists():
        raise ResultsMissingError(path, "no results yet", "run `leakbench bench` first")
    return load_results(path)


_KEY = re.compile(r"^[A-Za-z0-9._-]+$")


def baseline_path(key: str | None = None, root: Path | None = None) -> Path:
    """``baselines/<key>.json`` (key defaults to this environment's)."""
    key = key or environment_key()
    if not _KEY.match(key):
        raise ValueError(f"bad environment key {key!r}")
    return _root(root) / BASELINES_DIR / f"{key}.json"


def save_baseline(results: Results, root: Path | None = None) -> Path:
    """Store ``results`` as the baseline for its own environment key, atomically."""
    return write_results(results, baseline_path(results.environment.key, root))


def load_baseline(key: str | None = None, root: Path | None = None) -> Results:
    """The baseline for ``key`` (default: this environment).

    Raises :class:`BaselineMissingError` (hint: ``leakbench baseline save``) when absent,
    :class:`BaselineKeyMismatchError` when the file's environment key is not ``key``, and the
    other ``ResultsError`` subclasses for corrupt or too-new files.
    """
    key = key or environment_key()
    path = baseline_path(key, root)
    if not path.exists():
        raise BaselineMissingError(
            path,
            f"no baseline for environment {key}",
            "run `leakbench bench` then `leakbench baseline save` to create one",
        )
    results = load_results(path)
    if results.environment.key != key:
        raise BaselineKeyMismatchError(
            path,
            f"holds results for environment {results.environment.key}, not {key}",
            "re-create it with `leakbench baseline save` in this environment",
        )
    return results


def list_baselines(root: Path | None = None) -> list[BaselineInfo]:
    """Every ``baselines/*.json``, sorted by key; unreadable files carry ``error``."""
    directory = _root(root) / BASELINES_DIR
    infos: list[BaselineInfo] = []
    for path in sorted(directory.glob("*.json")):
        key = path.stem
        try:
            r = load_results(path)
        except ResultsError as exc:
            infos.append(BaselineInfo(key, path, "", "", 0, error=str(exc)))
            continue
        infos.append(BaselineInfo(key, path, r.created, r.environment.git_commit, len(r.scenarios)))
    return infos
