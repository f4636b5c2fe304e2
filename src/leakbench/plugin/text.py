"""Every text the plugin prints: leak sections and summary, memory-guard errors, memory summary.

The per-test leak section and the end-of-run summary by kind read ``Leak`` records
(plain data, also after crossing from an xdist worker) and never look at live objects.
Both are capped (the ``--leaks-json`` document keeps every leak); the section shows leaks
alike (one site, one creation stack) once with their count.
The memory guard's error and the end-of-run memory summary both read plain numbers
(per-test records, worker summaries), never a live process, so the controller of
an xdist run renders what its workers measured.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leakbench._util.sizes import format_size
from leakbench.detectors.leak import Leak

if TYPE_CHECKING:
    from leakbench.plugin.memory import Breach

__all__ = ["TOP", "format_size", "growth_lines", "guard_message", "guard_reason"]


_NUMBERED = re.compile(r"^(Thread|Task|Dummy)-\d+( \(.*\))?$")
"""Names Python gives unnamed threads and tasks: they change from run to run."""
_INODE = re.compile(r"^(pipe|socket|anon_inode):\[\d+\]$")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_PORT = re.compile(r":\d+$")


def allow_pattern(leak: Leak) -> str:
    """A ``kind:glob`` allow-list pattern that matches ``leak`` and stays valid across runs
    ('' when no key is stable enough): numbered thread/task names, inode numbers and
    object addresses are skipped or globbed, a socket's port is globbed."""
    for key in leak.keys:
        if not key or _NUMBERED.match(key) or _INODE.match(key):
            continue
        glob = _escape(key)
        glob = _ADDRESS.sub("*", glob)
        if key.startswith("socket:") and _PORT.search(key):
            glob = _PORT.sub(":*", glob)
        return f"{leak.kind}:{glob}"
    return ""


def _escape(text: str) -> str:
    """``text`` as an fnmatch glob matching itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def format_leak(leak: Leak, alike: Sequence[Leak] = ()) -> list[str]:
    """One entry of the teardown error. ``alike`` holds the leaks it stands for (see
    ``_group``; ``leak`` first): their count comes under the summary line, which stays as a
    single leak's so that what matches one leak's report matches a group's."""
    prefix = "[internal error] " if leak.internal_error else ""
    lines = [f"{prefix}[{leak.kind}] {leak.summary}"]
    if len(alike) > 1:
        stack = _has_stack(leak)
        lines.append(
            f"    (x{len(alike)}, the same creation stack)" if stack else f"    (x{len(alike)})"
        )
    lines.extend(f"    {line}" for line in leak.details)
    if leak.excused:
        lines.append(f"    ({leak.excused})")
    if leak.by_library and leak.counts:
        pattern = _group_pattern(leak, alike)
        if pattern:
            lines.append(
                f"    created by library code; if it is meant to outlive the test, allow it "
                f"with --leaks-allow='{pattern}' (ini: leaks_allow = {pattern})"
            )
    return lines


def _group_pattern(leak: Leak, alike: Sequence[Leak]) -> str:
    """One allow pattern for all of ``alike`` (``pool_0``, ``pool_1``: ``pool_*``) when its
    numbers globbed cover them all, else ``leak``'s own."""
    pattern = allow_pattern(leak)
    if len({allow_pattern(other) for other in alike}) <= 1:
        return pattern
    globbed = _DIGITS.sub("*", pattern.partition(":")[2])
    if all(any(fnmatch.fnmatchcase(key, globbed) for key in other.keys) for other in alike):
        return f"{leak.kind}:{globbed}"
    return pattern


SECTION_ENTRIES = 20
"""Entries (leaks alike count once) in a test's teardown error; the rest are counted."""
_DIGITS = re.compile(r"\d+")


def _shape(leak: Leak) -> tuple[object, ...]:
    """What leaks must share to be shown as one entry: everything printed except object
    addresses and, when a creation stack says they came from one place, the numbers of the
    description (``Thread-7``, an fd); without one, ``out1.txt`` and ``out2.txt`` are two."""
    summary = _ADDRESS.sub("0x", leak.summary)
    if _has_stack(leak):
        summary = _DIGITS.sub("0", summary)
    return (leak.kind, summary, leak.details, leak.excused, leak.internal_error, leak.by_library)


def _has_stack(leak: Leak) -> bool:
    return any(line.lstrip().startswith('File "') for line in leak.details)


def _group(leaks: Sequence[Leak]) -> list[list[Leak]]:
    """Leaks alike together, in the order their first was found: a test that starts a
    thread in a loop, or once per timed round, leaked one thing many times."""
    groups: dict[tuple[object, ...], list[Leak]] = {}
    for leak in leaks:
        groups.setdefault(_shape(leak), []).append(leak)
    return list(groups.values())


def _full_list(json_path: object) -> str:
    """Where the leaks a capped text leaves out are listed."""
    if json_path:
        return f"the full list is in {json_path} (--leaks-json)"
    return "the full list is in the file --leaks-json=PATH writes"


def format_section(
    nodeid: str, leaks: Sequence[Leak], json_path: object = None, limit: int = SECTION_ENTRIES
) -> str:
    """The text shown as the teardown error of a leaking test: leaks alike shown once with
    a count, at most ``limit`` entries, so that 2,000 threads of one line stay readable."""
    counted = [leak for leak in leaks if leak.counts]
    kinds = sorted({leak.kind for leak in counted})
    lines = [f"leakbench: {nodeid} leaked {len(counted)} resource(s): {', '.join(kinds)}"]
    groups = _group(leaks)
    for alike in groups[:limit]:
        lines.extend(format_leak(alike[0], alike))
    hidden = sum(len(alike) for alike in groups[limit:])
    if hidden:
        lines.append(f"... and {hidden} more leak(s) not shown; {_full_list(json_path)}")
    quoted = ", ".join(f'"{k}"' for k in kinds)
    lines.append(f"Fix the test, or allow it with @pytest.mark.allow_leaks({quoted}, reason=...).")
    return "\n".join(lines)


PER_TEST_LINES = 3
"""Summary lines per test and kind; the teardown error shows more (``SECTION_ENTRIES``)."""
SUMMARY_LINES = 60
"""Leak lines in the end-of-run summary (per-kind headers and counts come on top)."""


def summary_lines(
    results: Iterable[tuple[str, Sequence[Leak]]],
    json_path: object = None,
    limit: int = SUMMARY_LINES,
) -> list[str]:
    """The end-of-run summary: leaking tests grouped by detector kind, at most ``limit``
    leak lines; past that, how many more and where the full list is."""
    shown: list[str] = []
    entries = hidden = 0
    for line in _all_summary_lines(results):
        if line.startswith("  "):  # one leak (or "... and N more") of the kind above
            entries += 1
            if entries > limit:
                hidden += 1
                continue
        shown.append(line)  # the kind headers and their counts are always shown
    if hidden:
        shown.append(f"... and {hidden} more line(s) not shown; {_full_list(json_path)}")
    return shown


def _all_summary_lines(results: Iterable[tuple[str, Sequence[Leak]]]) -> list[str]:
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


TOP = 10
"""Tests listed in the end-of-run summary."""
GUARD_TOP = 5
"""Tests listed in a guard error."""


def _signed(n: int) -> str:
    return ("+" if n >= 0 else "") + format_size(n)


def guard_reason(who: str, breach: Breach) -> str:
    """One line: why the run stops (pytest and xdist print it as the stop reason)."""
    what = f"{who} uses" if breach.scope == "worker" else "the run's processes together use"
    return (
        f"leakbench memory guard: {what} {format_size(breach.rss)}, over "
        f"{breach.option} ({format_size(breach.limit)})"
    )


def guard_message(nodeid: str, who: str, breach: Breach, top: Sequence[tuple[int, str]]) -> str:
    """The error of the test after which a limit was found exceeded.

    ``who`` names this process (``worker gw0``, ``this pytest process``); ``top``
    holds (growth in bytes, test id) of its tests, largest first.
    """
    if breach.scope == "worker":
        where = f"{who} is at {format_size(breach.rss)} RSS"
    else:
        where = f"the run (controller and its process tree) is at {format_size(breach.rss)} RSS"
    lines = [
        f"leakbench memory guard: after {nodeid}, {where}, over the limit "
        f"{breach.option} ({format_size(breach.limit)}).",
    ]
    shown = [(growth, test) for growth, test in top[:GUARD_TOP] if growth > 0]
    if shown:
        lines.append(f"Tests that grew {who} the most (RSS after teardown - before setup):")
        lines.extend(f"  {_signed(growth):>12}  {test}" for growth, test in shown)
    lines.append(
        f"{who[0].upper()}{who[1:]} takes no more tests and the run stops here, "
        "instead of swapping the machine."
    )
    return "\n".join(lines)


def growth_lines(
    tests: Mapping[str, Mapping[str, Any]], workers: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """End-of-run summary: the tests that grew their worker most, then each worker."""
    grown = sorted(
        (
            (int(rec["rss_growth"]), nodeid, rec)
            for nodeid, rec in tests.items()
            if isinstance(rec.get("rss_growth"), int) and rec["rss_growth"] > 0
        ),
        key=lambda entry: -entry[0],  # stable: ties stay in the order tests finished
    )
    lines: list[str] = []
    if grown:
        lines.append(f"tests that grew their worker the most (top {min(TOP, len(grown))}):")
        lines.append(f"  {'growth':>12}  {'peak RSS':>10}  {'worker':<6}  test")
        for growth, nodeid, rec in grown[:TOP]:
            peak = format_size(rec.get("peak_rss"))
            lines.append(
                f"  {_signed(growth):>12}  {peak:>10}  {rec.get('worker', ''):<6}  {nodeid}"
            )
    else:
        lines.append("no test grew its worker's RSS")
    lines.extend(_worker_lines(workers))
    return lines


def _worker_lines(workers: Mapping[str, Mapping[str, Any]]) -> Iterable[str]:
    for worker in sorted(workers):
        data = workers[worker]
        start, end = data.get("start_rss"), data.get("end_rss")
        change = (
            f" ({_signed(end - start)})" if isinstance(start, int) and isinstance(end, int) else ""
        )
        crashed = ", crashed" if data.get("crashed") else ""
        yield (
            f"worker {worker}: start {format_size(start)}, end {format_size(end)}{change}, "
            f"peak {format_size(data.get('peak_rss'))}{crashed}"
        )
