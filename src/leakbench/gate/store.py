"""Where results and baselines live: a small :class:`Store` interface and the file store.

Commands read and write runs and baselines only through :class:`Store`, so that another
backend (a bucket, a database) is one new class, not edits across the CLI. The one backend
today is :class:`FileStore`, rooted at a project directory, with this layout:

- ``.leakbench/results/<YYYYmmddTHHMMSSZ>-<commit12>-<pid>-<random>.json``: every run
  (git-ignored; unique, so concurrent runs never share a file), plus
  ``.leakbench/results/latest.json``, a copy of the last complete one.
- ``baselines/<environment key>.json``: the committed baseline per environment, e.g.
  ``baselines/py3.11-linux-x86_64-pyalloc.json``.

Every write goes through ``results.write_results`` (temp file, fsync, ``os.replace``), so a
Ctrl-C or kill during ``baseline save`` leaves the previous baseline intact. Every load failure
is a ``results.ResultsError`` subclass with a one-line message (CLI: print it, exit 2).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from leakbench.gate.environment import environment_key
from leakbench.gate.results import (
    Results,
    ResultsCorruptError,
    ResultsError,
    ResultsInvalidError,
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
    "FileStore",
    "Store",
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


class Store(Protocol):
    """Where runs and per-environment baselines are kept; what every command uses."""

    def save_results(self, results: Results, out: Path | None = None) -> Path:
        """Keep a run (at ``out`` if given) and make it the latest; return where it went."""
        ...

    def latest_results_path(self) -> Path:
        """Where the latest run is (it may not exist yet)."""
        ...

    def load_latest(self) -> Results:
        """The latest run; :class:`ResultsMissingError` with a hint when there is none."""
        ...

    def run_paths(self) -> list[Path]:
        """Every kept run's file, newest first (for reusing an earlier measurement)."""
        ...

    def save_baseline(self, results: Results) -> Path:
        """Keep ``results`` as the baseline of its own environment key."""
        ...

    def load_baseline(self, key: str | None = None) -> Results:
        """The baseline of ``key`` (default: this environment's); see :class:`FileStore`."""
        ...

    def baseline_path(self, key: str | None = None) -> Path:
        """Where the baseline of ``key`` is (it may not exist)."""
        ...

    def list_baselines(self) -> list[BaselineInfo]:
        """Every stored baseline, sorted by key; unreadable ones carry ``error``."""
        ...


_KEY = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class FileStore:
    """The :class:`Store` of a project directory: the layout in the module docstring."""

    root: Path

    @property
    def results_dir(self) -> Path:
        """``.leakbench/results`` under the project."""
        return self.root / RESULTS_DIR

    def save_results(self, results: Results, out: Path | None = None) -> Path:
        """Write a run to ``out`` (or a timestamped file in the results dir) and to
        ``latest.json``; return the run's own file. ``latest.json`` is written last, so it
        always points at a complete document."""
        if out is None:
            out = self.results_dir / run_name(results)
        write_results(results, out)
        write_results(results, self.latest_results_path())
        return out

    def latest_results_path(self) -> Path:
        """``.leakbench/results/latest.json`` (it may not exist)."""
        return self.results_dir / LATEST

    def load_latest(self) -> Results:
        """The newest results; :class:`ResultsMissingError` with a hint when there are none."""
        path = self.latest_results_path()
        if not path.exists():
            raise ResultsMissingError(path, "no results yet", "run `leakbench bench` first")
        return load_results(path)

    def run_paths(self) -> list[Path]:
        """Every ``*.json`` in the results dir, newest first (``latest.json``, a copy of the
        newest run, sorts first; then the timestamped files, newest first)."""
        return sorted(self.results_dir.glob("*.json"), reverse=True)

    def baseline_path(self, key: str | None = None) -> Path:
        """``baselines/<key>.json`` (key defaults to this environment's)."""
        key = key or environment_key()
        if not _KEY.match(key):
            raise ValueError(f"bad environment key {key!r}")
        return self.root / BASELINES_DIR / f"{key}.json"

    def save_baseline(self, results: Results) -> Path:
        """Store ``results`` as the baseline for its own environment key, atomically."""
        return write_results(results, self.baseline_path(results.environment.key))

    def load_baseline(self, key: str | None = None) -> Results:
        """The baseline for ``key`` (default: this environment).

        Raises :class:`BaselineMissingError` (hint: ``leakbench baseline save``) when absent,
        :class:`BaselineKeyMismatchError` when the file's environment key is not ``key``, and
        the other ``ResultsError`` subclasses for corrupt or too-new files.
        """
        key = key or environment_key()
        path = self.baseline_path(key)
        if not path.exists():
            if path.is_symlink():  # a loop or a dangling link is not "no baseline"
                raise ResultsCorruptError(path, _broken_link(path), _hint_baseline(path))
            raise BaselineMissingError(
                path,
                f"no baseline for environment {key}",
                "run `leakbench bench` then `leakbench baseline save` to create one",
            )
        try:
            results = load_results(path)
        except (ResultsCorruptError, ResultsInvalidError) as exc:
            # A committed file: re-running bench would not repair it; git or a re-save does.
            raise type(exc)(path, exc.problem, _hint_baseline(path)) from None
        if results.environment.key != key:
            raise BaselineKeyMismatchError(
                path,
                f"holds results for environment {results.environment.key}, not {key}",
                "re-create it with `leakbench baseline save` in this environment",
            )
        return results

    def list_baselines(self) -> list[BaselineInfo]:
        """Every ``baselines/*.json``, sorted by key; unreadable files carry ``error``."""
        infos: list[BaselineInfo] = []
        for path in sorted((self.root / BASELINES_DIR).glob("*.json")):
            key = path.stem
            try:
                r = load_results(path)
            except ResultsError as exc:
                infos.append(BaselineInfo(key, path, "", "", 0, error=str(exc)))
                continue
            infos.append(
                BaselineInfo(key, path, r.created, r.environment.git_commit, len(r.scenarios))
            )
        return infos


def _hint_baseline(path: Path) -> str:
    return (
        f"restore the committed one with `git checkout -- {path}` or re-save it with "
        "`leakbench baseline save`"
    )


def _broken_link(path: Path) -> str:
    """What is wrong with a symlink that does not lead to a file."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop"
        return f"is a symlink to {os.readlink(path)!r}, which does not exist"
    return "is a symlink that cannot be followed"


def run_name(results: Results) -> str:
    """``<time>-<commit12>-<pid>-<random>.json``: unique per run, so that two runs started
    in the same second (or on two machines sharing the folder) never write one file."""
    stamp = _stamp(results.created)
    commit = results.environment.git_commit[:12] or "nogit"
    return f"{stamp}-{commit}-{os.getpid()}-{secrets.token_hex(3)}.json"


def _stamp(created: str) -> str:
    try:
        when = datetime.fromisoformat(created).astimezone(UTC)
    except ValueError:
        when = datetime.now(UTC)
    return when.strftime("%Y%m%dT%H%M%SZ")
