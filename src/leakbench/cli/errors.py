"""Bad input as one line and exit code 2, and the loaders that turn bad files into it.

Exit 1 means "regression" to a CI job, so every unusable input (a missing, corrupt or too-new
results file, a bad budget) must end as :class:`BadInputError` (exit 2) with one line naming
the file and what to do. Every subcommand loads results and budgets through these functions,
so the wording and the exit code cannot differ between commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click

from leakbench._util.output_guard import Owned, refusal
from leakbench.gate.results import Results, ResultsError, ResultsMissingError, load_results
from leakbench.gate.store import FileStore
from leakbench.gate.verdicts import budgets
from leakbench.plugin.options import TABLE_KEYS


class BadInputError(click.ClickException):
    """A one-line error for unusable input; exits 2 (click's default would be 1).

    Exit 1 means "regression" to a CI job, so bad input must never share it.
    """

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``leakbench: error: <message>`` on one line to stderr."""
        click.echo(f"leakbench: error: {self.format_message()}", file=file, err=True)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, caught by a command that can say what it left (``note``); the
    group in ``leakbench.cli.main`` prints it and exits 130 like every other interrupt."""

    def __init__(self, note: str = "") -> None:
        super().__init__(note)
        self.note = note


def load_head(path: Path | None) -> tuple[Results, Path]:
    """RESULTS, or the latest results of the project in the current directory; bad files
    become :class:`BadInputError`."""
    try:
        if path is None:
            store = FileStore(Path.cwd())
            return store.load_latest(), store.latest_results_path()
        return load_results(path), path
    except ResultsError as exc:
        raise BadInputError(str(exc)) from exc


def load_base(path: Path | None, key: str) -> tuple[Results, Path]:
    """BASELINE, or the project's stored baseline for ``key``; bad files become
    :class:`BadInputError`."""
    try:
        if path is None:
            store = FileStore(Path.cwd())
            return store.load_baseline(key), store.baseline_path(key)
        return load_results(path), path
    except ResultsMissingError as exc:
        if path is None:
            raise BadInputError(str(exc)) from exc
        raise BadInputError(
            f"{path}: no such baseline file; run `leakbench baseline save` to create one "
            "or `leakbench baseline show` to list the stored ones"
        ) from exc
    except (ResultsError, ValueError) as exc:
        raise BadInputError(str(exc)) from exc


def refuse_foreign(path: Path, owned: Owned, source: str) -> None:
    """Bad input when writing ``path`` (given as ``source``) would replace a file leakbench
    did not write (``leakbench._util.output_guard``, the rule of every writing option)."""
    refused = refusal(path, owned, source, str(path))
    if refused is not None:
        raise BadInputError(refused)


def load_budgets(path: Path | None) -> budgets.BudgetConfig:
    """Budgets from ``path`` or the nearest ``pyproject.toml``; a bad one is bad input, and so
    is a key of ``[tool.leakbench]`` that neither the gate nor the plugin knows (a typo)."""
    try:
        return budgets.load(path, TABLE_KEYS)
    except budgets.BudgetError as exc:
        raise BadInputError(f"{exc}; fix the budget in [tool.leakbench]") from exc
