"""The bootstrap interval behind the time verdict, kept apart so it can be tested alone.

Why a bootstrap of the ratio of medians: per-round times on a shared machine are
skewed and multi-modal (preemptions add long rounds), so a normal-theory interval
of the mean would be wrong; medians shrug off the long rounds, and resampling the
rounds gives an interval without assuming a distribution. The seed is fixed so the
same two files always give the same interval, hence the same verdict.

Why hierarchical (:func:`grouped_change_interval`): the time pass runs each scenario in
several fresh processes at different moments, and the busy phases of a shared machine
shift a whole process (its rounds are not independent of each other). Resampling rounds
alone pretends they are, and gives intervals far narrower than the drift between two runs
of unchanged code. So each side's statistic is the mean of its processes' median ratios,
and a bootstrap replicate resamples processes with replacement, then rounds within each
chosen process (two-stage cluster bootstrap): the spread between processes is in the
interval. With one process per side it is exactly the round bootstrap of the median.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "SEED",
    "bootstrap_medians",
    "grouped_change_interval",
    "grouped_statistic",
    "median_interval",
    "percentile_interval",
    "ratio_change_interval",
    "split_groups",
]

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 20261121
"""Fixed, so the same two files always give the same interval and verdict."""


def bootstrap_medians(values: Sequence[float], resamples: int, rng: random.Random) -> list[float]:
    """Medians of ``resamples`` bootstrap resamples of ``values``, in O(1) each.

    Resampling n values with replacement and taking the k-th smallest is the same as
    taking the k-th smallest of n uniform draws mapped onto the sorted data, and that
    order statistic is Beta(k, n - k + 1). For even n the next order statistic is the
    minimum of the n - k remaining draws above it. So the result has exactly the
    distribution of the textbook bootstrap, at a cost independent of the round count
    (thousands of rounds would otherwise take seconds per scenario).
    """
    data = sorted(values)
    return [_median_draw(data, rng) for _ in range(resamples)]


def _median_draw(data: Sequence[float], rng: random.Random) -> float:
    """The median of one bootstrap resample of the sorted ``data`` (see above)."""
    n = len(data)
    k = (n + 1) // 2  # 1-based rank of the (lower) median
    u = rng.betavariate(k, n - k + 1)
    low = data[min(int(u * n), n - 1)]
    if n % 2:
        return low
    u2 = u + (1 - u) * rng.betavariate(1, n - k)
    return (low + data[min(int(u2 * n), n - 1)]) / 2


def split_groups(values: Sequence[float], counts: Sequence[int]) -> list[list[float]]:
    """``values`` cut into consecutive groups of ``counts`` (one group when ``counts`` is
    empty or does not add up, e.g. results written before processes were recorded)."""
    if not counts or sum(counts) != len(values) or min(counts) < 1:
        return [list(values)]
    groups: list[list[float]] = []
    start = 0
    for c in counts:
        groups.append(list(values[start : start + c]))
        start += c
    return groups


def grouped_statistic(groups: Sequence[Sequence[float]]) -> float:
    """Mean of the groups' medians (the plain median for one group)."""
    return statistics.fmean(statistics.median(g) for g in groups)


def _grouped_draws(
    groups: Sequence[Sequence[float]], resamples: int, rng: random.Random
) -> list[float]:
    """Replicates of :func:`grouped_statistic`: groups resampled, then rounds within them."""
    data = [sorted(g) for g in groups]
    if len(data) == 1:
        return bootstrap_medians(data[0], resamples, rng)
    g = len(data)
    return [
        sum(_median_draw(data[rng.randrange(g)], rng) for _ in range(g)) / g
        for _ in range(resamples)
    ]


def grouped_change_interval(
    base: Sequence[Sequence[float]],
    head: Sequence[Sequence[float]],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(point, low, high) of ``stat(head) / stat(base) - 1`` where ``stat`` is
    :func:`grouped_statistic` and the interval a two-stage (process, then round)
    percentile bootstrap. One group per side gives :func:`ratio_change_interval`."""
    point = grouped_statistic(head) / grouped_statistic(base) - 1
    rng = random.Random(seed)
    b = _grouped_draws(base, resamples, rng)
    h = _grouped_draws(head, resamples, rng)
    return (
        point,
        *percentile_interval([hh / bb - 1 for hh, bb in zip(h, b, strict=True)], confidence),
    )


def percentile_interval(draws: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap ``draws`` (sorted in place): the one
    percentile rule every interval leakbench prints is read with."""
    draws.sort()
    n = len(draws)
    tail = (1 - confidence) / 2
    return draws[math.floor(tail * (n - 1))], draws[math.ceil((1 - tail) * (n - 1))]


def median_interval(
    values: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(median, low, high): the median of ``values`` and its percentile bootstrap interval."""
    draws = bootstrap_medians(values, resamples, random.Random(seed))
    return (statistics.median(values), *percentile_interval(draws, confidence))


def ratio_change_interval(
    base: Sequence[float],
    head: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(point, low, high) of ``median(head) / median(base) - 1`` (percentile bootstrap of
    rounds, all treated as independent; see :func:`grouped_change_interval`)."""
    return grouped_change_interval(
        [base], [head], resamples=resamples, confidence=confidence, seed=seed
    )
