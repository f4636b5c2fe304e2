"""The fixed reference workload timed next to every scenario.

Absolute times on a shared 2-core machine move 40-140% between runs; a workload timed
interleaved with the scenario, in the same process, suffers the same slow-downs, so the ratio
scenario/reference is what ``leakbench compare`` gates on. For that the reference must never
change: DO NOT EDIT :func:`reference_unit`. A different reference makes every stored ratio
incomparable; if it must change, bump ``REFERENCE_VERSION`` (it is stored in results).

It is pure Python (no I/O, no hashing of str, so ``PYTHONHASHSEED`` cannot matter) and mixes
what scenarios do: integer arithmetic, small allocations, list/dict operations, string
formatting. One unit takes roughly 10-20 us here.
"""

from __future__ import annotations

REFERENCE_VERSION = 1


def reference_unit() -> int:
    """One unit of reference work; returns a checksum so nothing can be optimised away."""
    table: dict[int, list[int]] = {}
    total = 0
    for i in range(48):
        row = [i, i * 3, i * i % 11]
        table[i] = row
        total += sum(row) % 7
    parts = [f"{k}:{v[2]}" for k, v in table.items() if v[1] % 2 == 0]
    total += len(",".join(parts))
    stack = list(range(32))
    while stack:
        total ^= stack.pop() << 1
    return total


def run_reference(units: int) -> int:
    """Run ``units`` reference units back to back."""
    total = 0
    for _ in range(units):
        total ^= reference_unit()
    return total
