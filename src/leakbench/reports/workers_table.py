"""The ``leakbench workers`` table, group table and JSON document, from records only.

Measure, then render: nothing here runs pytest, samples memory or reads the machine; it
reads :class:`~leakbench.workers.choose.LevelSummary`, the group advice and the
:class:`~leakbench.workers.run.Machine` record (RAM, swap, CPUs), so the output can be
tested with synthetic records.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from leakbench._util.sizes import format_size
from leakbench.workers.choose import LevelSummary, Recommendation, result_label
from leakbench.workers.groups import GROUP_NAMES, RSS_OPTION, GroupAdvice, Groups
from leakbench.workers.run import Machine, Outcome, RunOptions, pytest_command

__all__ = [
    "SCHEMA",
    "budget_label",
    "command_line",
    "document",
    "groups_json",
    "print_groups",
    "recommendation_line",
    "swap_note",
    "table",
]

SCHEMA = "leakbench.workers/1"


def budget_label(budget: int, text: str, machine: Machine) -> str:
    """``17.7 GiB (75% of 23.5 GiB RAM)``: the bytes, and where they came from."""
    if text.strip().endswith("%"):
        return f"{format_size(budget)} ({text.strip()} of {format_size(machine.ram)} RAM)"
    return format_size(budget)


def swap_note(machine: Machine) -> str:
    """What the swap column means here; on a machine without swap it cannot say much."""
    if machine.swap == 0:
        return "this machine has no swap, so the swap column stays 0"
    return (
        "swap = growth of the system's used swap during the run "
        f"({format_size(machine.swap)} total)"
    )


def _workers_cell(level: LevelSummary) -> str:
    return "0 (no workers)" if level.workers == 0 else str(level.workers)


def _time_cell(level: LevelSummary) -> str:
    times = level.times
    if not times:
        return "—"
    median = f"{level.median:.2f}s"
    if len(times) == 1:
        return median
    return f"{median} ({min(times):.2f}-{max(times):.2f})"


def _note(level: LevelSummary, recommendation: Recommendation) -> str:
    notes: list[str] = []
    if level.workers == recommendation.workers:
        notes.append("◀ recommended")
    if level.skipped:
        notes.append(level.skipped)
    elif level.over_budget:
        notes.append("over budget")
    crashed = sorted({t for run in level.runs for t in run.crashed})
    failed = sorted({t for run in level.runs for t in run.failed})
    if crashed:
        notes.append("crashed in " + _few(crashed))
    elif failed:
        notes.append("failed: " + _few(failed))
    details = sorted({run.detail for run in level.runs if run.detail and not run.crashed})
    notes.extend(details[:1])
    return "; ".join(notes)


def _few(items: Sequence[str], limit: int = 2) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def table(
    levels: Sequence[LevelSummary],
    recommendation: Recommendation,
    tests: int,
) -> Table:
    """One row per level: workers / result / time (median, min-max) / peak RSS / swap / note.

    Peak RSS and swap are the worst run's: a budget must hold on the bad run too.
    """
    grid = Table(title=Text(f"leakbench workers ({tests} tests)"), title_justify="left")
    grid.add_column("workers", justify="right")
    grid.add_column("result")
    grid.add_column("time (median, min-max)", justify="right")
    grid.add_column("peak RSS", justify="right")
    grid.add_column("swap", justify="right")
    grid.add_column("note")
    for level in levels:
        style = "bold green" if level.workers == recommendation.workers else ""
        rss = format_size(level.peak_rss) if level.runs else "—"
        grid.add_row(
            Text(_workers_cell(level), style=style),
            Text(result_label(level), style="" if level.passed_all else "red"),
            Text(_time_cell(level)),
            Text(rss, style="red" if level.over_budget else ""),
            Text(format_size(level.swap) if level.runs else "—"),
            Text(_note(level, recommendation)),  # Text: node ids are never rich markup
        )
    return grid


def command_line(options: RunOptions) -> str:
    """``command: pytest -n N -p no:cacheprovider <args>``: what each level ran."""
    return "command: " + shlex.join(["pytest", *pytest_command("N", options)[3:]])


def recommendation_line(recommendation: Recommendation) -> str:
    """``recommendation: -n 2 (why)`` or ``no recommendation: why``."""
    if recommendation.workers is None:
        return f"no recommendation: {recommendation.reason}"
    level = "-n 0, no workers" if recommendation.workers == 0 else f"-n {recommendation.workers}"
    return f"recommendation: {level} ({recommendation.reason})"


def print_groups(
    out: Console,
    split: Groups,
    advice: dict[str, GroupAdvice],
    paths: Sequence[Path],
) -> None:
    """The group table (tests, time, peak, advised -n, file) and what it could not measure."""
    table = Table(title=Text(f"groups ({split.rules.describe()})"), title_justify="left")
    for column in ("group", "tests", "total time", "max peak RSS", "-n", "file", "why this -n"):
        table.add_column(column, justify="right" if column in ("tests", "-n") else "left")
    for name, path in zip(GROUP_NAMES, paths, strict=True):
        peak = split.peak(name)
        workers = advice[name].workers
        table.add_row(
            name,
            str(len(split.tests[name])),
            f"{split.seconds(name):.2f}s",
            _peak_cell(peak, split.rise(name)),
            "—" if workers is None else str(workers),
            Text(str(path)),
            Text(advice[name].reason),
        )
    out.print(table)
    if not split.rss_measured:
        out.print(
            Text(
                "note: per-test memory was not measured (the leakbench plugin of this "
                f"pytest has no {RSS_OPTION}, or it reported nothing), so the groups "
                "are by time only and 'heavy' stays empty"
            )
        )
    if split.run is not None and split.run.outcome is not Outcome.PASS:
        out.print(
            Text(
                f"note: the measuring run ended {split.run.outcome}; groups cover "
                "the tests it timed"
            )
        )
    out.print(Text("run a group with: pytest -n <N> @.leakbench/groups/<group>.txt"))


def _peak_cell(peak: int | None, rise: int | None) -> str:
    if peak is None:
        return "not measured"
    return format_size(peak) + (f" (rise {format_size(rise)})" if rise is not None else "")


def document(
    levels: Sequence[LevelSummary],
    recommendation: Recommendation,
    options: RunOptions,
    budget: int,
    budget_text: str,
    tests: int,
    machine: Machine,
) -> dict[str, Any]:
    """The ``--json`` document: settings, one entry per level with every run, the verdict.

    Plain data with a ``schema`` tag, so scripts can read it and a future change of shape
    is visible. Sizes are bytes, times seconds.
    """
    return {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": pytest_command("<workers>", options),
        "cwd": str(Path.cwd()),
        "tests": tests,
        "cpus": machine.cpus,
        "ram": machine.ram,
        "memory_budget": budget,
        "memory_budget_text": budget_text,
        "guard": options.limit is not None,
        "interval": options.interval,
        "levels": [level.to_json() for level in levels],
        "recommendation": recommendation.to_json(),
    }


def groups_json(split: Groups | None, advice: dict[str, GroupAdvice]) -> dict[str, Any] | None:
    """The ``groups`` member of the JSON document (None without ``--groups``)."""
    if split is None:
        return None
    return {
        "rss_measured": split.rss_measured,
        "heavy_rss": split.rules.heavy_rss,
        "long_seconds": split.rules.long_seconds,
        "groups": {
            name: {
                "tests": list(split.tests[name]),
                "seconds": split.seconds(name),
                "peak_rss": split.peak(name),
                "rss_rise": split.rise(name),
                "advice": advice[name].to_json(),
            }
            for name in GROUP_NAMES
        },
    }
