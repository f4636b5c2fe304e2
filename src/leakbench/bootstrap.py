"""The bootstrap interval behind the time verdict, kept apart so it can be tested alone.

Why a bootstrap of the ratio of medians: per-round times on a shared machine are
skewed and multi-modal (preemptions add long rounds), so a normal-theory interval
of the mean would be wrong; medians shrug off the long rounds, and resampling the
rounds gives an interval without assuming a distribution. The seed is fixed so the
same two files always give the same interval, hence the same verdict.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

__all__ = ["CONFIDENCE", "RESAMPLES", "SEED", "bootstrap_medians", "ratio_change_interval"]

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
    n = len(data)
    k = (n + 1) // 2  # 1-based rank of the (lower) median
    out: list[float] = []
    for _ in range(resamples):
        u = rng.betavariate(k, n - k + 1)
        low = data[min(int(u * n), n - 1)]
        if n % 2:
            out.append(low)
            continue
        u2 = u + (1 - u) * rng.betavariate(1, n - k)
        out.append((low + data[min(int(u2 * n), n - 1)]) / 2)
    return out


def ratio_change_interval(
    base: Sequence[float],
    head: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(point, low, high) of ``median(head) / median(base) - 1`` (percentile bootstrap)."""
    point = statistics.median(head) / statistics.median(base) - 1
    rng = random.Random(seed)
    b = bootstrap_medians(base, resamples, rng)
    h = bootstrap_medians(head, resamples, rng)
    changes = sorted(hh / bb - 1 for hh, bb in zip(h, b, strict=True))
    tail = (1 - confidence) / 2
    low = changes[math.floor(tail * (resamples - 1))]
    high = changes[math.ceil((1 - tail) * (resamples - 1))]
    return point, low, high
