"""``--shard K/N``: a deterministic share of the selected scenarios for one CI job of N.

Scenarios are sorted by name and shard K takes every N-th one starting at the K-th
(index mod N == K - 1): the same names give the same shards on every machine, whatever
order the suite modules define them in, and shards differ in size by at most one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Shard", "ShardError", "parse_shard", "share"]

_FORM = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")
T = TypeVar("T")


class ShardError(ValueError):
    """A ``--shard`` value that is not ``K/N`` with ``1 <= K <= N``."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> ``Shard(2, 4)``; anything else is a :class:`ShardError` saying what is
    expected."""
    match = _FORM.match(text)
    if match is None:
        raise ShardError(f"expected K/N such as 1/4 (shard K of N jobs), got {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise ShardError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return Shard(index, count)


def share(names: Sequence[str], shard: Shard) -> list[str]:
    """The names of ``shard``: sorted, then every ``count``-th from position ``index - 1``."""
    return sorted(names)[shard.index - 1 :: shard.count]
