"""The worker-sizing table of the HTML report, read from a ``leakbench workers --json`` file.

That document belongs to another command and may grow or change; this reader takes what it
recognises and skips the rest, so a new field (or an older file) never breaks the report.
It accepts the full document (``{"levels": [...], "recommendation": {...}}``) or a bare
list of levels; each level needs ``workers`` and may have ``result``, a time
(``time_median``, ``time`` or ``seconds``), ``peak_rss`` and ``swap``. A reading that is
not a finite number in range (``NaN``, ``Infinity``, ``10**400``, negative) reads as missing;
a file nested too deeply or holding an integer of thousands of digits is a
:class:`WorkersError` like any other unreadable file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from leakbench._util.sizes import format_size
from leakbench.gate.results_checks import MAX_COUNT, JsonTextError, decode_json
from leakbench.reports.cells import seconds

__all__ = ["WorkerLevel", "WorkersError", "WorkersTable", "load_workers", "render_workers"]


class WorkersError(ValueError):
    """The workers file is missing, not JSON, or holds no level; the message is one line."""


@dataclass(frozen=True)
class WorkerLevel:
    """One ``-n`` level as the report shows it."""

    workers: int
    result: str
    time: float | None
    peak_rss: int | None
    swap: int | None


@dataclass(frozen=True)
class WorkersTable:
    """Levels in file order, the recommended level (if any) and lines that were skipped."""

    levels: tuple[WorkerLevel, ...]
    recommended: int | None
    reason: str
    skipped: int


def _number(level: dict[str, Any], *keys: str) -> float | None:
    """The first of ``keys`` holding a finite number >= 0 below 2**63 (``NaN``, ``Infinity``,
    ``10**400`` and negative readings read as missing)."""
    for key in keys:
        value = level.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if 0 <= value <= MAX_COUNT and math.isfinite(value):
            return float(value)
    return None


def load_workers(path: Path) -> WorkersTable:
    """Read ``path``; raise :class:`WorkersError` only when nothing usable is in it."""
    hint = "pass a file written by `leakbench workers --json`"
    try:
        doc = decode_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkersError(f"{path}: no such file; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkersError(f"{path}: cannot read ({exc}); {hint}") from None
    except JsonTextError as exc:  # not JSON, nested too deeply, an integer of 5,000 digits
        raise WorkersError(f"{path}: {exc.problem}; {hint}") from None
    raw = doc.get("levels") if isinstance(doc, dict) else doc
    if not isinstance(raw, list):
        raise WorkersError(f"{path}: no list of levels found; {hint}")
    levels: list[WorkerLevel] = []
    for item in raw:
        workers = item.get("workers") if isinstance(item, dict) else None
        if not isinstance(workers, int) or isinstance(workers, bool) or not 0 <= workers < 2**31:
            continue
        assert isinstance(item, dict)
        result = item.get("result", item.get("outcome", ""))
        peak = _number(item, "peak_rss")
        swap = _number(item, "swap", "tree_swap")
        levels.append(
            WorkerLevel(
                workers=workers,
                result=str(result) if result is not None else "",
                time=_number(item, "time_median", "time", "seconds"),
                peak_rss=None if peak is None else int(peak),
                swap=None if swap is None else int(swap),
            )
        )
    if not levels:
        raise WorkersError(f"{path}: no level with a `workers` count; {hint}")
    rec = doc.get("recommendation") if isinstance(doc, dict) else None
    recommended = rec.get("workers") if isinstance(rec, dict) else None
    reason = rec.get("reason") if isinstance(rec, dict) else None
    return WorkersTable(
        levels=tuple(levels),
        recommended=recommended if isinstance(recommended, int) and recommended >= 0 else None,
        reason=reason if isinstance(reason, str) else "",
        skipped=len(raw) - len(levels),
    )


def render_workers(table: WorkersTable, source: str) -> str:
    """The ``<section>`` with one row per level, the recommended one marked."""
    rows = []
    for level in table.levels:
        mark = " ✔ recommended" if level.workers == table.recommended else ""
        rows.append(
            f"<tr><td class=num>{level.workers}</td><td>{escape(level.result)}"
            f"<b>{mark}</b></td>"
            f"<td class=num>{'—' if level.time is None else seconds(level.time)}</td>"
            f"<td class=num>{'—' if level.peak_rss is None else format_size(level.peak_rss)}</td>"
            f"<td class=num>{'—' if level.swap is None else format_size(level.swap)}</td></tr>"
        )
    extra = ""
    if table.reason:
        extra += f"<p>Recommendation: <b>-n {table.recommended}</b>, {escape(table.reason)}.</p>"
    if table.skipped:
        extra += f"<p class=muted>{table.skipped} unreadable level(s) skipped.</p>"
    return (
        '<section id="workers"><h2>Worker sizing (<code>pytest -n</code>)</h2>'
        f"<p class=muted>From <code>{escape(source)}</code>.</p>"
        "<table><tr><th class=num>workers</th><th>result</th><th class=num>time</th>"
        "<th class=num>peak RSS</th><th class=num>swap</th></tr>"
        f"{''.join(rows)}</table>{extra}</section>"
    )
