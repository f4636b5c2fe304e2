"""How a timed process lays out its rounds: one :class:`Plan` and one calibration.

Two kinds of process time a scenario: the time pass of ``leakbench bench`` (rounds under
pytest-benchmark, the reference workload after each, see ``leakbench.gate.measure.timing``)
and the ABBA pair processes of ``leakbench compare-branches`` (plain rounds, no reference:
the other side of the pair is what cancels the machine's load, see
``leakbench.gate.verdicts.abba``). Both follow pytest-benchmark's own rule, so both are laid
out here, by the same arithmetic: a few pilot iterations give the cost of one, then
``iterations`` makes a round last at least ``MIN_ROUND_SECONDS`` and ``rounds`` fills the
process's budget within [``MIN_ROUNDS``, ``MAX_ROUNDS``], never running more than the
scenario's iteration cap (:func:`time_iterations_for`). A pair process differs only in its
budget (``PAIR_BUDGET``) and in running no reference (``Plan.reference_units == 0``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from math import ceil

from leakbench.gate.measure.reference import reference_unit, run_reference
from leakbench.gate.results import TimeResult
from leakbench.gate.scenarios import Iteration, Scenario

__all__ = [
    "CLEAN_TIME_ITERATIONS",
    "DEFAULT_BUDGET",
    "LEAKY_TIME_ITERATIONS",
    "MAX_ROUNDS",
    "MIN_ROUNDS",
    "MIN_ROUND_SECONDS",
    "PAIR_BUDGET",
    "Plan",
    "calibrate",
    "plan_of",
    "plan_rounds",
    "time_iterations_for",
]

MIN_ROUND_SECONDS = 0.001
"""A round lasts at least this long, so timer resolution and per-round overhead stay negligible."""
MIN_ROUNDS = 10
"""Fewest rounds a process runs, even when that exceeds its budget (a median needs rounds)."""
MAX_ROUNDS = 200
"""Most rounds a process runs: with budget to spare, rounds get longer rather than more."""
DEFAULT_BUDGET = 2.0
"""Seconds of scenario rounds per scenario in the time pass (the reference takes as long again)."""
PAIR_BUDGET = 0.2
"""Seconds of rounds per ABBA pair process: a pair gives one ratio, so each process can be
short, and a busy phase of the machine (seconds long) then covers both of a pair."""
LEAKY_TIME_ITERATIONS = 200
"""Iteration cap of a leaky variant (see ``Scenario.time_max_iterations``)."""
CLEAN_TIME_ITERATIONS = 2000
"""Iteration cap of a clean variant, and the default cap of a timed callable."""
UNIT_BURSTS = 7
"""Bursts of reference units timed to estimate one unit's cost (their median is used)."""


@dataclass(frozen=True)
class Plan:
    """How the rounds of one scenario are laid out, the same for every process timing it."""

    iterations: int
    """Calls of the iteration per round."""
    rounds: int
    reference_units: int = 0
    """Reference units timed after each round, about a round's duration; 0 in an ABBA pair
    process, which runs no reference."""


def time_iterations_for(scenario: Scenario) -> int:
    """Cap on a timed process's iterations: the scenario's own, else by variant (see Scenario)."""
    if scenario.time_max_iterations is not None:
        return scenario.time_max_iterations
    return LEAKY_TIME_ITERATIONS if scenario.variant == "leaky" else CLEAN_TIME_ITERATIONS


def calibrate(
    iteration: Iteration,
    budget: float,
    max_iterations: int = CLEAN_TIME_ITERATIONS,
    *,
    reference: bool = True,
) -> Plan:
    """Time a few pilot iterations (they double as warm-up) and lay out the rounds.

    The rounds together last about ``budget`` seconds and run at most ``max_iterations``
    iterations (see :func:`plan_rounds`). ``reference=False`` (an ABBA pair process) skips
    timing the reference workload and plans no reference units.
    """
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < 3 or (len(samples) < 20 and time.perf_counter() - start < budget / 10):
        t0 = time.perf_counter()
        iteration()
        samples.append(time.perf_counter() - t0)
    unit = _unit_seconds() if reference else None
    return plan_rounds(statistics.median(samples), budget, max_iterations, unit)


def plan_rounds(
    per_iteration: float, budget: float, max_iterations: int, unit_seconds: float | None
) -> Plan:
    """The arithmetic of :func:`calibrate` (separate so that it can be tested exactly).

    ``unit_seconds`` is one reference unit's cost (None: no reference, 0 units)."""
    per_iteration = max(per_iteration, 1e-7)
    iterations = max(1, ceil(MIN_ROUND_SECONDS / per_iteration))
    wanted = max(1, min(int(budget / per_iteration), max_iterations))
    rounds = wanted // iterations
    if rounds > MAX_ROUNDS:
        iterations = ceil(wanted / MAX_ROUNDS)
        rounds = MAX_ROUNDS
    elif rounds < MIN_ROUNDS:
        rounds = MIN_ROUNDS
        iterations = max(1, min(iterations, max_iterations // MIN_ROUNDS))
    if unit_seconds is None:
        return Plan(iterations=iterations, rounds=rounds)
    units = max(1, round(iterations * per_iteration / unit_seconds))
    return Plan(iterations=iterations, rounds=rounds, reference_units=units)


def _unit_seconds() -> float:
    """Seconds per reference unit: the median of a few short bursts.

    One burst (~0.3 ms) is often preempted on a loaded machine (a time slice is ms long):
    seen in bench/gate_proof.py, a single-burst estimate 12x too high gave a reference 12x
    shorter than the rounds, and such results can only be "inconclusive".
    """
    reference_unit()
    bursts = []
    for _ in range(UNIT_BURSTS):
        t0 = time.perf_counter()
        run_reference(20)
        bursts.append((time.perf_counter() - t0) / 20)
    return max(statistics.median(bursts), 1e-7)


def plan_of(result: TimeResult) -> Plan:
    """The plan for the next processes of a scenario, from the first process's result.

    Same iterations and rounds, so all processes' rounds are alike and can be pooled. The
    reference units are re-derived from what the rounds and the reference actually took
    (medians), so that a calibration misfire in the first process (its pilot timings are
    a few ms, easily preempted) does not carry over: ratios do not depend on the units, but
    the reference must run about as long as a round (``leakbench.gate.verdicts.rules.pairing``).
    """
    round_seconds = statistics.median(result.rounds) * result.iterations_per_round
    unit = statistics.median(result.reference_rounds)
    units = max(1, round(round_seconds / unit)) if unit > 0 else result.reference_units_per_round
    return Plan(result.iterations_per_round, len(result.rounds), units)
