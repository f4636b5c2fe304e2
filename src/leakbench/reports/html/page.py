"""The self-contained HTML report: which scenarios leak, how fast, since which commit.

Input is plain data (:class:`ReportInput`: HEAD results, optionally a baseline and the
:class:`~leakbench.gate.verdicts.records.Comparison` of the two, each scenario's
:class:`~leakbench.gate.verdicts.leaks.LeakJudgement`, HEAD's median time and its interval,
flame graphs already generated, a worker-sizing table), all computed by ``leakbench report``
(``leakbench.cli.report``) before rendering; :func:`render` only formats it, like the other
reporters, so a verdict or a statistic cannot differ between the page and the gate. The page
reads top-down in the order a reader asks questions: a banner (how many scenarios leak or
regressed, at which commit, in which environment), a table of the leaking scenarios sorted
by bytes per iteration (with "new since" the baseline's commit), regressions, then one card
per scenario grouped by leak class, leaky and clean variants side by side on a shared y
scale so the leaky line climbs next to a flat clean one, the baseline's series dashed
behind HEAD's.

What *leaks* means (growth over the run against the scenario's ``memory_floor``, the floor
``leakbench compare`` uses) is decided in ``leakbench.gate.verdicts.leaks``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from leakbench import __version__
from leakbench._util.sizes import format_size
from leakbench.gate.results import MemoryResult, Results
from leakbench.gate.verdicts.leaks import LeakJudgement
from leakbench.gate.verdicts.records import Comparison, ScenarioComparison, Verdict
from leakbench.reports import cells
from leakbench.reports.html.chart import Line, chart
from leakbench.reports.html.flamegraphs import FlameGraph
from leakbench.reports.html.parts import (
    MedianInterval,
    instructions_text,
    per_iteration,
    time_text,
)
from leakbench.reports.html.template import page
from leakbench.reports.html.workers import WorkersTable, render_workers

__all__ = ["ReportInput", "flame_targets", "render"]

TOP_SITES = 5


@dataclass(frozen=True)
class ReportInput:
    """Everything the page shows, every verdict and statistic already computed; built by
    ``leakbench report`` (``leakbench.cli.report.page_input``) or a test."""

    head: Results
    head_label: str
    leaks: Mapping[str, LeakJudgement]
    """HEAD's scenarios judged by ``leakbench.gate.verdicts.leaks.judge_all``."""
    times: Mapping[str, MedianInterval] = field(default_factory=dict)
    """HEAD's median seconds per iteration and its 95% interval, per scenario timed."""
    base: Results | None = None
    base_label: str = ""
    base_leaks: Mapping[str, LeakJudgement] = field(default_factory=dict)
    """The baseline's scenarios judged the same way (for "new since" / "already in")."""
    comparison: Comparison | None = None
    flames: Mapping[str, FlameGraph] = field(default_factory=dict)
    workers: WorkersTable | None = None
    workers_label: str = ""
    notes: tuple[str, ...] = ()

    def leak(self, name: str) -> LeakJudgement:
        """HEAD's judgement of ``name``; a KeyError means the input was built without it,
        which would otherwise render a leak as "no leak"."""
        return self.leaks[name]


def _regressed(c: Comparison | None) -> dict[str, ScenarioComparison]:
    if c is None:
        return {}
    return {s.name: s for s in c.scenarios if s.verdict is Verdict.REGRESSION}


def flame_targets(inp: ReportInput) -> dict[str, str | None]:
    """``scenario -> capture`` for the scenarios worth a flame graph: leaking or regressed
    (the cards link flame graphs and show top sites for the same scenarios)."""
    regressed = _regressed(inp.comparison)
    return {
        name: s.memory.capture if s.memory else None
        for name, s in inp.head.scenarios.items()
        if inp.leak(name).leaking or name in regressed
    }


class _Page:
    """Renders one :class:`ReportInput`; methods return HTML fragments."""

    def __init__(self, inp: ReportInput, out_dir: Path) -> None:
        self.inp = inp
        self.out_dir = out_dir
        self.head = inp.head
        self.regressed = _regressed(inp.comparison)
        self.compared = {s.name: s for s in inp.comparison.scenarios} if inp.comparison else {}
        self.leaking = [n for n in self.head.scenarios if inp.leak(n).leaking]
        self.leaking.sort(key=self._speed)

    def _speed(self, name: str) -> tuple[float, str]:
        """Fastest leak first: the question is "how fast", and runs differ in length."""
        m = self.head.scenarios[name].memory
        return (-(m.retained_per_iteration if m else 0.0), name)

    # ------------------------------------------------------------------ top of the page
    def banner(self) -> str:
        n = len(self.head.scenarios)
        leaks = len(self.leaking)
        unexpected = [x for x in self.leaking if self.head.scenarios[x].variant != "leaky"]
        regressions = len(self.regressed)
        base = self.inp.base
        if regressions or unexpected:
            tone = "bad"
        elif leaks:
            tone = "warn"
        else:
            tone = "good"
        parts = [f"{leaks} of {n} scenario{'s' if n != 1 else ''} leak memory"]
        if leaks and not unexpected:
            parts[0] += " (all of them leaky demo variants)"
        elif unexpected:
            parts[0] += f" ({len(unexpected)} not a leaky variant: {', '.join(unexpected)})"
        if base is not None:
            word = "regression" if regressions == 1 else "regressions"
            parts.append(
                f"{regressions or 'no'} {word} vs baseline {cells.commit_text(base.environment)}"
            )
        env = self.head.environment
        env_text = (
            f"commit <code>{escape(cells.commit_text(env))}</code> · measured "
            f"{escape(self.head.created)}"
            f" · <code>{escape(env.key)}</code> · {escape(env.implementation)} "
            f"{escape(env.python_version)} · {escape(env.cpu_model)}, {env.cpu_count} CPUs"
            f" · lock <code>{escape(env.lock_hash or 'none')}</code>"
        )
        if base is not None:
            env_text += (
                f"<br>baseline <code>{escape(cells.relative(self.inp.base_label))}</code> "
                f"at commit <code>{escape(cells.commit_text(base.environment))}</code>, measured "
                f"{escape(base.created)}"
            )
        return (
            f'<header class="banner {tone}"><h1>leakbench report</h1>'
            f'<div class="headline">{escape(" · ".join(parts))}</div>'
            f'<div class="env">{env_text}</div></header>'
        )

    def counts(self) -> str:
        c = self.inp.comparison
        tiles = [
            ("scenarios", len(self.head.scenarios), False),
            ("leaking", len(self.leaking), bool(self.leaking)),
        ]
        if c is not None:
            tiles.append(("regressions", len(self.regressed), bool(self.regressed)))
            tiles.append(("inconclusive", c.count(Verdict.INCONCLUSIVE), False))
        tiles.append(
            ("flame graphs", sum(f.path is not None for f in self.inp.flames.values()), False)
        )
        return (
            '<div class="counts">'
            + "".join(
                f'<div class="count{" bad" if bad else ""}"><b>{value}</b>{label}</div>'
                for label, value, bad in tiles
            )
            + "</div>"
        )

    def notes(self) -> str:
        notes = list(self.inp.notes)
        sides = [(self.inp.head_label, self.head), (self.inp.base_label, self.inp.base)]
        for label, results in dict(sides).items():
            if results is not None and results.unrecorded:
                notes.append(
                    f"{cells.relative(label)} has no {', '.join(results.unrecorded)} (written "
                    "by an older leakbench): charts and flame graphs are missing where it "
                    "lacks them; re-run `leakbench bench`"
                )
        if self.inp.comparison is not None:
            notes += self.inp.comparison.notes
        if not notes:
            return ""
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        return f'<div class="notes"><b>Notes</b><ul>{items}</ul></div>'

    def since(self, name: str) -> str:
        base = self.inp.base
        head_commit = cells.commit_text(self.head.environment)
        if base is None:
            return f"at {head_commit} (no baseline)"
        before = base.scenarios.get(name)
        if before is None:
            return f"new scenario since {cells.commit_text(base.environment)}"
        if self.inp.base_leaks[name].leaking:
            return f"already in baseline {cells.commit_text(base.environment)}"
        return f"new since {cells.commit_text(base.environment)} → {head_commit}"

    def flame_link(self, name: str) -> str:
        flame = self.inp.flames.get(name)
        if flame is None:
            return ""
        if flame.path is None:
            return f'<span class="note">no flame graph: {escape(flame.note)}</span>'
        href = Path(os.path.relpath(flame.path, self.out_dir)).as_posix()
        return f'<a class="flame" href="{escape(href)}">flame graph of retained memory</a>'

    def leak_table(self) -> str:
        if not self.leaking:
            return "<h2>Leaking scenarios</h2><p>None: no scenario grows past its memory floor.</p>"
        rows = []
        for name in self.leaking:
            s = self.head.scenarios[name]
            grown = self.inp.leak(name).growth
            assert s.memory is not None and grown is not None
            rows.append(
                f'<tr><td><a href="#s-{escape(name)}">{escape(name)}</a></td>'
                f"<td class=num><b>{per_iteration(s.memory.retained_per_iteration)}</b></td>"
                f"<td class=num>{format_size(grown)} / {s.memory.iterations}</td>"
                f"<td class=num>{format_size(s.memory.peak_bytes)}</td>"
                f"<td>{escape(self.since(name))}</td><td>{self.flame_link(name)}</td></tr>"
            )
        return (
            "<h2>Leaking scenarios</h2><table><tr><th>scenario</th>"
            "<th class=num>retained / iteration</th><th class=num>over the run / iterations</th>"
            "<th class=num>peak</th><th>since</th><th>where</th></tr>" + "".join(rows) + "</table>"
        )

    def regression_table(self) -> str:
        if not self.regressed:
            return ""
        rows = [
            f'<tr><td><a href="#s-{escape(s.name)}">{escape(s.name)}</a></td>'
            f"<td>{escape(cells.LABEL.get(m.metric, m.metric))}</td>"
            f"<td class=num>{escape(cells.value(m, 'base'))}</td>"
            f"<td class=num>{escape(cells.value(m, 'head'))}</td>"
            f"<td class=num>{escape(cells.change(m))} {escape(cells.interval(m))}</td>"
            f"<td class=num>{escape(cells.budget(m))}</td></tr>"
            for s in self.regressed.values()
            for m in s.metrics
            if m.verdict is Verdict.REGRESSION
        ]
        return (
            "<h2>Regressions against the baseline</h2><table><tr><th>scenario</th>"
            "<th>metric</th><th class=num>baseline</th><th class=num>HEAD</th>"
            "<th class=num>change</th><th class=num>budget</th></tr>" + "".join(rows) + "</table>"
        )

    # ------------------------------------------------------------------ scenario cards
    def lines(self, name: str) -> list[Line]:
        s = self.head.scenarios[name]
        css = "leaky" if self.inp.leak(name).leaking else "clean"
        out = []
        if self.inp.base is not None:
            before = self.inp.base.scenarios.get(name)
            if before is not None and before.memory is not None and before.memory.series:
                label = f"baseline {cells.commit_text(self.inp.base.environment)}"
                out.append(Line(label, before.memory.series, "base"))
        if s.memory is not None and s.memory.series:
            label = f"HEAD {cells.commit_text(self.head.environment)}"
            out.append(Line(label, s.memory.series, css))
        return out

    def card(self, name: str, y_range: tuple[float, float] | None) -> str:
        s = self.head.scenarios[name]
        m = s.memory
        cmp = self.compared.get(name)
        judgement = self.inp.leak(name)
        leaking = judgement.leaking
        classes = (
            "card"
            + (" leaking" if leaking else "")
            + (" regressed" if name in self.regressed else "")
        )
        if cmp is not None and cmp.verdict not in (Verdict.OK, Verdict.INFO):
            badge = f'<span class="badge {cmp.verdict.name.lower()}">{escape(cmp.verdict)}</span>'
        elif leaking:
            badge = '<span class="badge leak">leaks</span>'
        else:
            badge = '<span class="badge ok">no leak</span>'
        stats = [
            ("instructions / iteration", *instructions_text(cmp, s.instructions), False),
            ("wall time / iteration", *time_text(cmp, self.inp.times.get(name)), False),
        ]
        if m is not None:
            assert judgement.growth is not None  # judged from this memory pass
            stats[:0] = [
                ("retained / iteration", per_iteration(m.retained_per_iteration), "", leaking),
                (f"over {m.iterations} iterations", format_size(judgement.growth), "", leaking),
                ("peak", format_size(m.peak_bytes), "", False),
            ]
        stat_html = "".join(
            f'<div class="stat{" hot" if hot else ""}"><span>{escape(label)}</span>'
            f"<b>{escape(value)}</b><small>{escape(sub)}</small></div>"
            for label, value, sub, hot in stats
        )
        lines = self.lines(name)
        if any(line.points for line in lines):
            legend = "".join(
                f'<i class="{escape(line.css)}"></i>{escape(line.label)}' for line in lines
            )
            body = chart(name, lines, y_range) + f'<div class="legend">{legend}</div>'
        elif m is None:
            body = '<div class="nochart">no memory pass in these results (--time-only)</div>'
        else:
            body = (
                '<div class="nochart">no per-iteration series in this results file (written '
                "before series were recorded); re-run <code>leakbench bench</code> to chart it. "
                f"Retained at the end: {format_size(m.retained_bytes)}</div>"
            )
        detail = [self.verdict_text(name, cmp)]
        if leaking or name in self.regressed:
            link = self.flame_link(name)
            if link:
                detail.append(link)
        sites = self.sites(m) if (leaking or name in self.regressed) and m else ""
        return (
            f'<div class="{classes}" id="s-{escape(name)}"><h3><span>{escape(name)}</span>'
            f'{badge}</h3><div class="stats">{stat_html}</div>{body}'
            f'<div class="detail">{"<br>".join(d for d in detail if d)}</div>{sites}</div>'
        )

    def verdict_text(self, name: str, cmp: ScenarioComparison | None) -> str:
        floor = f"memory floor {format_size(self.inp.leak(name).floor)} over the run"
        if cmp is None:
            why = "no baseline" if self.inp.base is None else "not in the baseline"
            return f"Verdict: {why}; leak judged against the {floor}."
        gated = [m for m in cmp.metrics if m.gated]
        parts = [
            f"{cells.LABEL.get(m.metric, m.metric)} {cells.change(m)} "
            f"(budget {cells.budget(m)}): {cells.verdict(m)}"
            for m in gated
        ]
        return f"Verdict vs budget: <b>{escape(cmp.verdict)}</b> — " + escape("; ".join(parts))

    @staticmethod
    def sites(m: MemoryResult) -> str:
        if not m.top_sites:
            return ""
        rows = "".join(
            f"<tr><td><code>{escape(site.location)}</code></td>"
            f"<td class=num>{format_size(site.bytes)}</td><td class=num>{site.count}</td></tr>"
            for site in m.top_sites[:TOP_SITES]
        )
        return (
            '<table class="sites"><tr><th>top call sites still holding memory</th>'
            f"<th class=num>bytes</th><th class=num>blocks</th></tr>{rows}</table>"
        )

    def rows(self, names: list[str]) -> list[list[str]]:
        """Cards two per row: variants with the same detail (``x.leaky.d``, ``x.clean.d``)
        together, leaky first, so each row compares like with like."""
        groups: dict[str, list[str]] = {}
        for name in names:
            s = self.head.scenarios[name]
            prefix = f"{s.leak_class}.{s.variant}"
            detail = name[len(prefix) + 1 :] if name.startswith(prefix + ".") else ""
            groups.setdefault(detail, []).append(name)
        order = {"leaky": 0, "clean": 1}
        out: list[list[str]] = []
        for members in groups.values():
            members.sort(key=lambda n: (order.get(self.head.scenarios[n].variant, 2), n))
            out += [members[i : i + 2] for i in range(0, len(members), 2)]
        return out

    def y_range(self, row: list[str]) -> tuple[float, float] | None:
        values = [p[1] for name in row for line in self.lines(name) for p in line.points]
        return (min(0, *values), max(values)) if values else None

    def scenarios(self) -> str:
        by_class: dict[str, list[str]] = {}
        for name in sorted(self.head.scenarios):
            by_class.setdefault(self.head.scenarios[name].leak_class, []).append(name)
        out = []
        for leak_class, names in by_class.items():
            out.append(f'<h2 id="class-{escape(leak_class)}">{escape(leak_class)}</h2>')
            for row in self.rows(names):
                shared = self.y_range(row)
                out.append(
                    '<div class="row">' + "".join(self.card(n, shared) for n in row) + "</div>"
                )
        return "<section id=scenarios>" + "".join(out) + "</section>"

    def document(self) -> str:
        workers = ""
        if self.inp.workers is not None:
            workers = render_workers(self.inp.workers, cells.relative(self.inp.workers_label))
        footer = (
            f"<footer>leakbench {escape(__version__)} · results "
            f"<code>{escape(cells.relative(self.inp.head_label))}</code> · retained bytes "
            "after each iteration and a garbage collection, measured under memray · "
            f"{escape(cells.LEGEND)} See docs/report.md</footer>"
        )
        body = (
            self.banner()
            + "<main>"
            + self.counts()
            + self.notes()
            + self.leak_table()
            + self.regression_table()
            + self.scenarios()
            + workers
            + footer
            + "</main>"
        )
        return page(f"leakbench report · {cells.commit_text(self.head.environment)}", body)


def render(inp: ReportInput, out_dir: Path) -> str:
    """The HTML document; links (flame graphs) are made relative to ``out_dir``.

    Every text is escaped; a lone surrogate (which no encoder writes) would still reach the
    page from a string loaded without the name checks, so the page is made encodable here
    (``\\ud800`` shown as text) rather than failing when it is written."""
    text = _Page(inp, out_dir).document()
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
