"""Text of the per-test leak section and of the end-of-run summary.

Reporters read ``Leak`` records (plain data, also after crossing from an xdist
worker) and never look at live objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from leakbench.leaks import Leak


def format_leak(leak: Leak) -> list[str]:
    prefix = "[internal error] " if leak.internal_error else ""
    lines = [f"{prefix}[{leak.kind}] {leak.summary}"]
    lines.extend(f"    {line}" for line in leak.details)
    if leak.excused:
        lines.append(f"    ({leak.excused})")
    return lines


def format_section(nodeid: str, leaks: Sequence[Leak]) -> str:
    """The text shown as the teardown error of a leaking test."""
    counted = [leak for leak in leaks if leak.counts]
    kinds = sorted({leak.kind for leak in counted})
    lines = [f"leakbench: {nodeid} leaked {len(counted)} resource(s): {', '.join(kinds)}"]
    for leak in leaks:
        lines.extend(format_leak(leak))
    quoted = ", ".join(f'"{k}"' for k in kinds)
    lines.append(f"Fix the test, or allow it with @pytest.mark.allow_leaks({quoted}, reason=...).")
    return "\n".join(lines)


PER_TEST_LINES = 3
"""Summary lines per test and kind; the teardown error lists them all."""


def summary_lines(results: Iterable[tuple[str, Sequence[Leak]]]) -> list[str]:
    """The end-of-run summary: leaking tests grouped by detector kind."""
    by_kind: dict[str, list[tuple[str, Leak]]] = defaultdict(list)
    internal: list[tuple[str, Leak]] = []
    excused: list[tuple[str, Leak]] = []
    for nodeid, leaks in results:
        for leak in leaks:
            if leak.internal_error:
                internal.append((nodeid, leak))
            elif leak.excused:
                excused.append((nodeid, leak))
            else:
                by_kind[leak.kind].append((nodeid, leak))
    lines: list[str] = []
    for kind in sorted(by_kind):
        entries = by_kind[kind]
        tests = sorted({nodeid for nodeid, _ in entries})
        lines.append(f"{kind}: {len(entries)} leak(s) in {len(tests)} test(s)")
        shown: dict[str, int] = defaultdict(int)
        for nodeid, leak in entries:
            shown[nodeid] += 1
            if shown[nodeid] <= PER_TEST_LINES:
                lines.append(f"  {nodeid}: {leak.summary}")
        for nodeid in tests:
            if shown[nodeid] > PER_TEST_LINES:
                more = shown[nodeid] - PER_TEST_LINES
                lines.append(f"  {nodeid}: ... and {more} more {kind} leak(s)")
    if excused:
        lines.append(f"not counted: {len(excused)}")
        lines.extend(f"  {nodeid}: [{leak.kind}] {leak.summary}" for nodeid, leak in excused)
    if internal:
        lines.append(f"internal errors: {len(internal)}")
        lines.extend(f"  {nodeid}: {leak.summary}" for nodeid, leak in internal)
    return lines
