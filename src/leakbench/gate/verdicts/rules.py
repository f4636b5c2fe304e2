"""Verdicts: is HEAD within budget of BASE, per scenario and metric?

Pure logic: two :class:`~leakbench.gate.results.Results` and a
:class:`~leakbench.gate.verdicts.budgets.BudgetConfig` in, a :class:`Comparison` record out. It
never measures and never prints; reporters in ``leakbench.reports`` render it.

Memory (deterministic to ~2% under memray, see FIELD-NOTES) is compared point to
point: a gated metric regresses when it grows by more than the budget *and* the
extra bytes exceed the absolute floor. For ``retained_per_iteration`` the floor is
compared with the extra bytes over the whole run (difference x iterations), so the
floor always means "bytes of memory", whatever the metric.

Time is judged on **instructions per iteration** (the instruction pass, counted under
Valgrind): they do not depend on the machine's load, so they are compared point to point
like memory. Instructions regress when they grow by more than the time budget *and* by more
than the instructions floor per iteration, and improve symmetrically. They are "not
comparable" when either side has no count (Valgrind missing, a baseline of schema version 1),
when the Valgrind or Python versions differ, or when the sides counted different iteration
numbers.

Wall time (pytest-benchmark) is still compared and shown, but against a stored baseline it
never fails the gate: separate runs on a shared machine cannot be compared across load
regimes (``docs/gate.md``). Its row is informational, or "inconclusive" (a warning) when the
whole interval lies beyond the budget, with the reason in plain words: instructions grew too,
or did not (then the extra time is waiting or load), or there is no count to tell.
The wall-time statistics below are those of that row.

Wall time is noisy (40-140% between runs on this machine), so it is compared on the
reference-normalised ratio (scenario/reference per round) with a bootstrap
confidence interval of the relative change of each side's mean of per-process
median ratios, resampling processes and then rounds within them
(:func:`leakbench.gate.verdicts.bootstrap.grouped_change_interval`), so that drift between the
time pass's fresh processes is inside the interval. It fails only when the whole
interval is beyond the budget, is "inconclusive" when the interval straddles the
budget, and is "not comparable" across CPUs/Pythons, between pinned and unpinned
runs (``time.cpu``), and across versions of the reference workload.
Time is also "inconclusive" when either side's reference did not run about as
long as its rounds (:func:`pairing`): then the ratio no longer cancels load.
An improvement is a change as large as a regression would be, in the other
direction; smaller changes read "ok" (their change is still shown).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from leakbench._util.sizes import format_size
from leakbench.gate.results import (
    Environment,
    InstructionsResult,
    MemoryResult,
    Results,
    ScenarioResult,
    TimeResult,
)
from leakbench.gate.scenarios import UnknownScenarioError, matching
from leakbench.gate.verdicts.bootstrap import (
    grouped_change_interval,
    ratio_change_interval,
    split_groups,
)
from leakbench.gate.verdicts.budgets import MEMORY_METRICS, Budget, BudgetConfig
from leakbench.gate.verdicts.records import (
    SEVERITY,
    Comparison,
    MetricComparison,
    ScenarioComparison,
    Verdict,
    metric_order,
)

__all__ = [
    "Comparison",
    "EnvironmentKeyError",
    "MetricComparison",
    "ScenarioComparison",
    "UnknownScenarioError",
    "Verdict",
    "acknowledge",
    "compare",
    "instructions_verdict",
    "memory_verdict",
    "pairing",
    "ratio_change_interval",
    "time_incomparability",
    "time_verdict",
]

MIN_ROUNDS_TO_JUDGE = 5
"""Below this many rounds per side a median's interval means little: inconclusive.

Not ``leakbench.gate.measure.plan.MIN_ROUNDS`` (the fewest rounds a process *runs*, 10): this
is the fewest a stored result may *have* and still be judged, whatever produced it (a results
file of an older leakbench, a test's ``leakbench`` marker, an edited baseline)."""
PAIRING_LIMITS = (0.5, 2.0)
"""Reference/round duration ratios outside this range make the time ratio unreliable."""
ENV_TIME_FIELDS = ("cpu_model", "cpu_count", "python_version", "implementation")
"""Fingerprint fields that must match for times to be comparable."""
PER_ITERATION = "retained_per_iteration"
COUNT_METRICS = frozenset({"allocations"})


class EnvironmentKeyError(ValueError):
    """BASE and HEAD were measured in environments with different keys."""


# --------------------------------------------------------------------------- statistics


def pairing(t: TimeResult) -> float:
    """Median of (reference seconds after a round) / (the round's seconds).

    The ratio cancels machine slow-downs only when the reference runs about as long
    as the round it follows: under load, a 0.2 ms reference burst after a 6 ms round
    escapes the preemptions the round suffers, and the ratio doubles on unchanged
    code (seen in bench/gate_proof.py when the reference calibration misfired).
    """
    spans = [
        (ref * t.reference_units_per_round) / (r * t.iterations_per_round)
        for r, ref in zip(t.rounds, t.reference_rounds, strict=True)
        if r > 0
    ]
    return statistics.median(spans) if spans else 0.0


def time_incomparability(base: TimeResult, head: TimeResult) -> str:
    """Why two time passes cannot be compared even on one machine ("" when they can).

    A pinned run is single-core and far steadier than an unpinned one (FIELD-NOTES:
    thread scenarios moved up to +400% unpinned), and a ratio is only meaningful
    against the same reference workload.
    """
    reasons: list[str] = []
    if (base.cpu is None) != (head.cpu is None):
        reasons.append(f"BASE {_pinning(base)}, HEAD {_pinning(head)}")
    if base.reference_version != head.reference_version:
        versions = f"v{base.reference_version} -> v{head.reference_version}"
        reasons.append(f"reference workload changed ({versions})")
    return "; ".join(reasons)


def _pinning(t: TimeResult) -> str:
    return "unpinned" if t.cpu is None else f"pinned to CPU {t.cpu}"


def time_verdict(low: float, high: float, budget: float) -> Verdict:
    """Regression only when the whole interval is beyond the budget."""
    if low > budget:
        return Verdict.REGRESSION
    if high > budget:
        return Verdict.INCONCLUSIVE
    if high < -budget:
        return Verdict.IMPROVED
    return Verdict.OK


def memory_verdict(
    base: float, head: float, budget: float, floor: float, scale: float = 1.0
) -> Verdict:
    """Regression when growth exceeds ``budget`` and the extra bytes exceed ``floor``.

    ``scale`` turns the difference into bytes over the run (iterations, for a
    per-iteration metric). A BASE at or below zero has no meaningful relative
    change, so only the floor decides.
    """
    extra = (head - base) * scale
    if base <= 0:
        change = math.inf if extra > 0 else -math.inf if extra < 0 else 0.0
    else:
        change = (head - base) / base
    if extra > floor and change > budget:
        return Verdict.REGRESSION
    if -extra > floor and change < -budget:
        return Verdict.IMPROVED
    return Verdict.OK


def instructions_verdict(base: float, head: float, budget: float, floor: float) -> Verdict:
    """Regression when instructions per iteration grow by more than ``budget`` *and* by more
    than ``floor`` per iteration; improved when they fall by as much."""
    extra = head - base
    change = extra / base if base > 0 else (math.inf if extra > 0 else 0.0)
    if extra > floor and change > budget:
        return Verdict.REGRESSION
    if -extra > floor and change < -budget:
        return Verdict.IMPROVED
    return Verdict.OK


def acknowledge(
    effective: Verdict, default: Verdict, budget: Budget, note: str
) -> tuple[Verdict, str]:
    """The verdict and note to show when ``budget`` may be a reasoned override.

    ``effective`` is the verdict under ``budget``, ``default`` the one the global budget
    would give. A pass that only the override allowed (the default would fail or be
    inconclusive) is ACCEPTED, its note starting ``accepted: <reason>`` (reporters show that
    note instead of the verdict word); a failure despite the override says it exceeds even
    the acknowledged budget. Every gate (memory, time, ABBA time pairs) goes through here, so
    an acknowledged regression reads the same everywhere.
    """
    if not budget.reason:
        return effective, note
    if effective is Verdict.REGRESSION:
        return effective, _join(note, f"exceeds even the acknowledged budget ({budget.reason})")
    failing = default in (Verdict.REGRESSION, Verdict.INCONCLUSIVE)
    if failing and SEVERITY[default] > SEVERITY[effective]:
        return Verdict.ACCEPTED, _join(f"accepted: {budget.reason}", note)
    return effective, note


def _join(*parts: str) -> str:
    """Note parts, the empty ones left out, separated by ``; ``."""
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------- per metric


def _unavailable(
    metric: str, kind: str, unit: str, budget: float | None, note: str
) -> MetricComparison:
    """A metric one side did not measure: shown, never gating."""
    return MetricComparison(
        metric, kind, unit, None, None, None, budget, Verdict.NOT_COMPARABLE, False, note=note
    )


def _compare_memory(
    base: MemoryResult | None,
    head: MemoryResult | None,
    budget: Budget,
    default: Budget,
    gated: Sequence[str],
) -> list[MetricComparison]:
    out: list[MetricComparison] = []
    for metric in MEMORY_METRICS:
        unit = "count" if metric in COUNT_METRICS else "bytes"
        is_gated = metric in gated
        if base is None or head is None:
            missing = "BASE" if base is None else "HEAD"
            out.append(_unavailable(metric, "memory", unit, None, f"no memory pass in {missing}"))
            continue
        b = float(getattr(base, metric))
        h = float(getattr(head, metric))
        change = (h - b) / b if b > 0 else None
        note = ""
        if metric != PER_ITERATION and base.iterations != head.iterations:
            verdict = Verdict.NOT_COMPARABLE
            note = (
                f"iterations differ ({base.iterations} vs {head.iterations}); totals scale with N"
            )
        elif not is_gated:
            verdict = Verdict.INFO
        else:
            scale = float(head.iterations) if metric == PER_ITERATION else 1.0
            floor = 0.0 if unit == "count" else float(budget.memory_floor)
            verdict = memory_verdict(b, h, budget.memory, floor, scale)
            default_floor = 0.0 if unit == "count" else float(default.memory_floor)
            default_verdict = memory_verdict(b, h, default.memory, default_floor, scale)
            if verdict is Verdict.OK and change is not None and change > budget.memory:
                note = f"below the {format_size(budget.memory_floor)} floor"
            verdict, note = acknowledge(verdict, default_verdict, budget, note)
        out.append(
            MetricComparison(
                metric,
                "memory",
                unit,
                b,
                h,
                change,
                budget.memory if is_gated else None,
                verdict,
                is_gated and verdict is not Verdict.NOT_COMPARABLE,
                note=note,
            )
        )
    return out


def _instructions_missing(side: str, i: InstructionsResult | None) -> str:
    """Why ``side`` has no instruction figure ("" when it has one)."""
    if i is None:
        return f"no instruction count in {side} (not counted: an older file or --no-instructions)"
    if i.per_iteration is None:
        return f"no instruction count in {side}: {i.reason}"
    return ""


def _compare_instructions(
    base: InstructionsResult | None,
    head: InstructionsResult | None,
    budget: Budget,
    default: Budget,
    why_not: str,
) -> MetricComparison | None:
    """The ``instructions`` row (None when neither side counted: nothing to show)."""
    if base is None and head is None:
        return None

    def row(verdict: Verdict, note: str, change: float | None = None) -> MetricComparison:
        return MetricComparison(
            "instructions", "instructions", "instructions",
            base.per_iteration if base else None, head.per_iteration if head else None,
            change, budget.time, verdict, verdict is not Verdict.NOT_COMPARABLE, note=note,
        )  # fmt: skip

    missing = _join(_instructions_missing("BASE", base), _instructions_missing("HEAD", head))
    if missing:
        return row(Verdict.NOT_COMPARABLE, missing)
    assert base is not None and head is not None
    assert base.per_iteration is not None and head.per_iteration is not None
    b, h = base.per_iteration, head.per_iteration
    change = (h - b) / b if b > 0 else None
    if why_not:
        return row(Verdict.NOT_COMPARABLE, why_not, change)
    if (base.tool, base.tool_version) != (head.tool, head.tool_version):
        versions = f"{base.tool_version or base.tool} -> {head.tool_version or head.tool}"
        return row(Verdict.NOT_COMPARABLE, f"counted by {versions}: counts differ", change)
    if base.iterations != head.iterations:
        note = f"iterations differ ({base.iterations} vs {head.iterations}): averages depend on N"
        return row(Verdict.NOT_COMPARABLE, note, change)
    verdict = instructions_verdict(b, h, budget.time, budget.instructions_floor)
    by_default = instructions_verdict(b, h, default.time, default.instructions_floor)
    note = ""
    if verdict is Verdict.OK and change is not None and change > budget.time:
        note = f"below the floor of {budget.instructions_floor:,} per iteration"
    verdict, note = acknowledge(verdict, by_default, budget, note)
    return row(verdict, note, change)


def _wall_note(old: Verdict, instructions: MetricComparison | None) -> tuple[Verdict, str]:
    """Wall time against a stored baseline never gates: the verdict and the plain-words reason.

    Inconclusive (a warning) only when the whole interval is beyond the budget, saying whether
    instructions explain it; otherwise informational."""
    counted = instructions is not None and instructions.verdict is not Verdict.NOT_COMPARABLE
    if old is not Verdict.REGRESSION:
        if counted:
            return Verdict.INFO, "not gating: instructions decide"
        return Verdict.INFO, "not gating: separate runs' wall time moves with the machine's load"
    if not counted:
        why = "no instruction count to tell slower code from a busier machine"
    elif instructions is not None and instructions.verdict is Verdict.REGRESSION:
        return Verdict.INFO, "slower beyond the budget; instructions grew too (that row gates)"
    else:
        why = (
            "instructions within budget: the extra time is waiting (sleep, I/O, locks, child "
            "processes) or the machine's load; `leakbench compare-branches` times both sides "
            "together"
        )
    return Verdict.INCONCLUSIVE, f"slower beyond the budget, but wall time does not gate: {why}"


def _compare_time(
    base: TimeResult | None,
    head: TimeResult | None,
    budget: Budget,
    default: Budget,
    comparable: bool,
    why_not: str,
    instructions: MetricComparison | None = None,
) -> MetricComparison:
    """The wall-time row: never gating (see :func:`_wall_note`)."""
    if base is None or head is None:
        missing = "BASE" if base is None else "HEAD"
        return _unavailable("time", "time", "ratio", None, f"no time pass in {missing}")
    change = head.ratio_median / base.ratio_median - 1 if base.ratio_median > 0 else None

    def row(
        verdict: Verdict,
        note: str,
        change: float | None = change,
        interval: tuple[float, float] | None = None,
    ) -> MetricComparison:
        """The time row: both sides' median ratio and seconds; never gated."""
        return MetricComparison(
            "time", "time", "ratio", base.ratio_median, head.ratio_median, change, None,
            verdict, False, interval=interval,
            base_seconds=base.median, head_seconds=head.median, note=note,
        )  # fmt: skip

    if comparable:
        why_not = time_incomparability(base, head)
        comparable = not why_not
    if not comparable:
        return row(Verdict.NOT_COMPARABLE, why_not)
    if min(len(base.ratios), len(head.ratios)) < MIN_ROUNDS_TO_JUDGE or base.ratio_median <= 0:
        return row(Verdict.INFO, f"not judged: fewer than {MIN_ROUNDS_TO_JUDGE} rounds")
    mismatch = [
        f"{side} reference ran {p:.2g}x as long as its rounds"
        for side, p in (("BASE", pairing(base)), ("HEAD", pairing(head)))
        if not PAIRING_LIMITS[0] <= p <= PAIRING_LIMITS[1]
    ]
    if mismatch:
        return row(Verdict.INFO, "not judged: " + "; ".join(mismatch) + " (load during the run)")
    point, low, high = grouped_change_interval(
        split_groups(base.ratios, base.process_rounds),
        split_groups(head.ratios, head.process_rounds),
    )
    verdict, note = _wall_note(time_verdict(low, high, budget.time), instructions)
    return row(verdict, note, change=point, interval=(low, high))


def _compare_scenario(
    name: str,
    base: ScenarioResult,
    head: ScenarioResult,
    config: BudgetConfig,
    comparable: bool,
    why_not: str,
    instructions_why_not: str = "",
) -> ScenarioComparison:
    # A test's marker budget travels in its results; HEAD's is the code under review.
    budget = config.for_scenario(name, head.budget if head.budget else base.budget)
    metrics = _compare_memory(
        base.memory, head.memory, budget, config.default, config.gated_metrics
    )
    counted = _compare_instructions(
        base.instructions, head.instructions, budget, config.default, instructions_why_not
    )
    if counted is not None:
        metrics.append(counted)
    metrics.append(
        _compare_time(base.time, head.time, budget, config.default, comparable, why_not, counted)
    )
    metrics.sort(key=metric_order)
    sites = head.memory.top_sites if head.memory else []
    return ScenarioComparison(
        name,
        tuple(metrics),
        budget,
        tuple({"location": s.location, "bytes": s.bytes, "count": s.count} for s in sites),
    )


def instructions_incomparability(base: Environment, head: Environment) -> str:
    """Why instruction counts of these environments cannot be compared ("" when they can):
    another Python build executes other instructions. (Another CPU model may shift counts a
    little, where glibc picks CPU-specific routines; that is shown, not refused.)"""
    fields = ("python_version", "implementation")
    changed = [f"{f} {getattr(base, f)} -> {getattr(head, f)}" for f in fields
               if getattr(base, f) != getattr(head, f)]  # fmt: skip
    return f"{', '.join(changed)}: counts differ" if changed else ""


def _instruction_notes(base: Results, head: Results, names: Sequence[str]) -> tuple[str, ...]:
    """One note per side that has no instruction count for any compared scenario, when
    counts were asked for on some side (nothing to say when neither side counted)."""
    sides = {"BASE": base, "HEAD": head}
    counted = {tag: [r.scenarios[n].instructions for n in names] for tag, r in sides.items()}
    if not any(i is not None for found in counted.values() for i in found):
        return ()
    notes: list[str] = []
    for tag, found in counted.items():
        if not names or any(i is not None and i.per_iteration is not None for i in found):
            continue
        reasons = sorted({i.reason for i in found if i is not None and i.reason})
        if not reasons:
            notes.append(
                f"{tag} has no instruction counts (written by a leakbench that did not count "
                "them, or --no-instructions): instructions not compared; re-measure it "
                "(for a baseline: `leakbench bench`, then `leakbench baseline save`)"
            )
        else:
            why = reasons[0] if len(reasons) == 1 else "see each scenario's row"
            notes.append(f"{tag} has no instruction counts ({why}): instructions not compared")
    if base.environment.cpu_model != head.environment.cpu_model:
        notes.append("CPU models differ: instruction counts may differ slightly")
    return tuple(notes)


def environment_differences(base: Environment, head: Environment) -> tuple[str, ...]:
    """Human-readable fingerprint differences that make times incomparable."""
    return tuple(
        f"{name}: {getattr(base, name)!s} -> {getattr(head, name)!s}"
        for name in ENV_TIME_FIELDS
        if getattr(base, name) != getattr(head, name)
    )


def absent(
    base: Results, head: Results, wanted: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """BASE's scenarios that HEAD lacks, as ``(removed, not measured)``.

    A scenario is removed only when it no longer exists: HEAD's run lists what its suites
    defined (``Results.selection``) and the name is not there. One that still exists but was
    not selected (``bench NAME``, ``--shard``) is "not measured in this run". A HEAD document
    without a selection (older versions, merged runs of mixed selections) cannot tell: every
    missing scenario reads as removed, as before. ``wanted``: only these names count."""
    missing = sorted(
        n for n in base.scenarios if n not in head.scenarios and (not wanted or n in wanted)
    )
    if head.selection is None:
        return missing, []
    exists = set(head.selection.available)
    return [n for n in missing if n not in exists], [n for n in missing if n in exists]


def compare(
    base: Results,
    head: Results,
    config: BudgetConfig | None = None,
    *,
    base_label: str = "BASE",
    head_label: str = "HEAD",
    scenarios: Sequence[str] = (),
    allow_other_environment: bool = False,
) -> Comparison:
    """Compare HEAD with BASE under ``config``; see the module docstring for the rules.

    Raises :class:`EnvironmentKeyError` when the environment keys differ (memory is not
    comparable across Python minors or memray modes) unless ``allow_other_environment``,
    and :class:`UnknownScenarioError` for a ``scenarios`` entry found in neither file.
    """
    config = config or BudgetConfig()
    if base.environment.key != head.environment.key and not allow_other_environment:
        raise EnvironmentKeyError(
            f"baseline environment {base.environment.key} is not {head.environment.key}"
        )
    everything = {**base.scenarios, **head.scenarios}
    wanted = (
        set(matching(scenarios, {n: s.leak_class for n, s in everything.items()}))
        if scenarios
        else None
    )
    differences = environment_differences(base.environment, head.environment)
    comparable = base.environment.time_comparable(head.environment)
    changed = [d.split(":", 1)[0] for d in differences] or ["environment key"]
    why_not = f"{', '.join(changed)} differ{'s' if len(changed) == 1 else ''}"
    counted_why_not = instructions_incomparability(base.environment, head.environment)
    compared = [
        _compare_scenario(
            name,
            base.scenarios[name],
            head.scenarios[name],
            config,
            comparable,
            why_not,
            counted_why_not,
        )
        for name in head.scenarios
        if name in base.scenarios and (wanted is None or name in wanted)
    ]
    compared.sort(key=ScenarioComparison.sort_key)
    new = sorted(
        n for n in head.scenarios if n not in base.scenarios and (not wanted or n in wanted)
    )
    removed, unmeasured = absent(base, head, wanted)
    notes = tuple(
        f"budget override for {name!r} matches no scenario (typo?)"
        for name in sorted(config.scenarios)
        if name not in everything
    )
    if unmeasured:
        shown = ", ".join(unmeasured[:5]) + (
            f" and {len(unmeasured) - 5} more" if len(unmeasured) > 5 else ""
        )
        notes += (
            f"not measured in this run: {len(unmeasured)} scenario(s) of the baseline "
            f"({shown}); not compared",
        )
    if not comparable:
        details = ", ".join(differences) or f"{base.environment.key} -> {head.environment.key}"
        notes += (f"wall time not comparable ({details}); memory still gates",)
    notes += _instruction_notes(base, head, [s.name for s in compared])
    return Comparison(
        base_label=base_label,
        head_label=head_label,
        base_environment=base.environment,
        head_environment=head.environment,
        time_comparable=comparable,
        environment_differences=differences,
        scenarios=tuple(compared),
        new=tuple(new),
        removed=tuple(removed),
        notes=notes,
    )
