"""``leakbench workers --groups``: split a suite into heavy, long and light tests.

A few memory-hungry tests decide how many workers a whole suite can afford, and a few
slow ones decide how long the last worker runs. Splitting them out lets the light bulk
run at the fastest level and the heavy ones at the level the memory budget allows.

Per-test times come from pytest's own ``--durations=0 --durations-min=0`` lines (setup,
call and teardown summed per node id; 10 ms resolution, exact node ids, which
``--junitxml`` cannot give back). Per-test peak RSS comes from the leakbench plugin's
``--leaks-rss`` with ``--leaks-json`` when the installed plugin has it; without it the
split is by time only and the output says so. The measuring run is a separate ``-n 0``
pass, so neither the instrumentation nor worker contention colours the timed levels.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakbench._util.atomic import write_text_atomic
from leakbench.plugin.record import TestsFileError, read_tests
from leakbench.workers.run import PytestInputError, PytestRun, RunOptions, run_pytest_with_output

__all__ = [
    "GROUP_NAMES",
    "GroupAdvice",
    "GroupRules",
    "Groups",
    "TestCost",
    "TestRss",
    "advise",
    "classify",
    "groups_problem",
    "measure",
    "measure_tests",
    "parse_durations",
    "read_test_rss",
    "write_groups",
]

GROUP_NAMES = ("heavy", "long", "light")
GROUPS_DIR = Path(".leakbench") / "groups"
RSS_OPTION = "--leaks-rss"

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown)\s+(\S.*?)\s*$")


@dataclass(frozen=True)
class TestRss:
    """The plugin's reading of one test: its process's peak RSS while the test ran (setup
    to teardown), and that process's RSS just before, if the plugin reported it."""

    __test__ = False  # not a pytest test class, whatever its name

    peak: int
    before: int | None = None

    @property
    def own(self) -> int:
        """What the test needed on top of its process: ``peak - before`` (else the peak).

        The absolute peak of a worker that imported a large library is high for every
        test it runs; the rise is what singles out the heavy ones.
        """
        return self.peak - self.before if self.before is not None else self.peak


@dataclass(frozen=True)
class TestCost:
    """One test's measured cost: seconds of setup+call+teardown, and its RSS if known."""

    __test__ = False

    nodeid: str
    seconds: float
    rss: TestRss | None = None

    @property
    def peak_rss(self) -> int | None:
        return self.rss.peak if self.rss is not None else None


@dataclass(frozen=True)
class GroupRules:
    """The thresholds of ``--groups``, with the size as the user typed it (for the title)."""

    heavy_rss: int
    long_seconds: float
    heavy_text: str = ""

    def describe(self) -> str:
        heavy = self.heavy_text or f"{self.heavy_rss} B"
        return f"heavy: RSS rise >= {heavy}; long: >= {self.long_seconds:g}s; light: the rest"


@dataclass(frozen=True)
class Groups:
    """Node ids per group, each sorted; ``rss_measured`` says whether "heavy" was possible."""

    tests: Mapping[str, tuple[str, ...]]
    costs: Mapping[str, TestCost]
    rss_measured: bool
    rules: GroupRules
    run: PytestRun | None = None
    """The measuring run (its outcome qualifies the groups)."""

    def peak(self, name: str) -> int | None:
        values = [self.costs[n].peak_rss for n in self.tests[name]]
        known = [v for v in values if v is not None]
        return max(known) if known else None

    def rise(self, name: str) -> int | None:
        """The largest :attr:`TestRss.own` in group ``name`` (None if none was measured)."""
        known = [c.rss.own for n in self.tests[name] if (c := self.costs[n]).rss is not None]
        return max(known) if known else None

    def seconds(self, name: str) -> float:
        return sum(self.costs[n].seconds for n in self.tests[name])


def parse_durations(stdout: str) -> dict[str, float]:
    """Seconds per node id from ``--durations=0 --durations-min=0`` lines (phases summed)."""
    seconds: dict[str, float] = {}
    for line in stdout.splitlines():
        match = _DURATION.match(line)
        if match:
            nodeid = match.group(3)
            seconds[nodeid] = seconds.get(nodeid, 0.0) + float(match.group(1))
    return seconds


def read_test_rss(path: Path) -> dict[str, TestRss]:
    """Per-test RSS from the plugin's ``--leaks-json`` file (schema ``leakbench-tests``),
    read with the plugin's own reader, ``leakbench.plugin.record.read_tests``: its
    ``peak_rss`` and ``rss_before`` per test.

    Tolerant on purpose: the file belongs to the plugin, and a test without a reading only
    means "not measured", never an error (an unreadable file: nothing measured). Without
    ``rss_before`` (plugin versions that did not write it), a test's starting RSS is
    estimated as the lowest peak of any test in the same process (``worker``): what that
    process held with the lightest test running.
    """
    try:
        measured = [(t, t.peak_rss) for t in read_tests(path).values() if t.peak_rss is not None]
    except TestsFileError:
        return {}
    lowest: dict[str, int] = {}
    for test, peak in measured:
        lowest[test.worker] = min(lowest.get(test.worker, peak), peak)
    return {
        test.nodeid: TestRss(
            peak, lowest[test.worker] if test.rss_before is None else test.rss_before
        )
        for test, peak in measured
    }


def measure(options: RunOptions, rules: GroupRules) -> Groups:
    """Measure every test in one ``-n 0`` run and split them by ``rules``.

    Raises :class:`~leakbench.workers.run.PytestInputError` like any run.
    """
    costs, rss_measured, run = measure_tests(options)
    tests = classify(costs, rules.heavy_rss, rules.long_seconds, rss_measured)
    return Groups(tests, costs, rss_measured, rules, run)


def measure_tests(options: RunOptions) -> tuple[dict[str, TestCost], bool, PytestRun]:
    """One ``-n 0`` run with durations and per-test RSS: costs per test.

    The run asks for ``--leaks-rss``; a pytest whose leakbench plugin predates it refuses
    the option (exit 4, naming it), and the run is repeated without, by time only. The
    arguments themselves were already checked by the collection before the levels ran,
    so that refusal can only be about the added option.
    """
    durations = ["--durations=0", "--durations-min=0"]
    with tempfile.TemporaryDirectory(prefix="leakbench-groups-") as tmp:
        leaks_json = Path(tmp) / "leaks.json"
        try:
            rss_options = [RSS_OPTION, f"--leaks-json={leaks_json}"]
            run, stdout = run_pytest_with_output(0, options, [*durations, *rss_options])
            rss = True
        except PytestInputError as exc:
            if RSS_OPTION not in str(exc):
                raise
            run, stdout = run_pytest_with_output(0, options, durations)
            rss = False
        readings = read_test_rss(leaks_json) if rss else {}
    seconds = parse_durations(stdout)
    costs = {n: TestCost(n, secs, readings.get(n)) for n, secs in seconds.items()}
    return costs, rss and bool(readings), run


def classify(
    costs: Mapping[str, TestCost], heavy_rss: int, long_seconds: float, rss_measured: bool
) -> dict[str, tuple[str, ...]]:
    """heavy: the test's rise of RSS (:attr:`TestRss.own`) >= ``heavy_rss``; long: not
    heavy, time >= ``long_seconds``; light: the rest. Heavy wins over long because memory,
    not time, is what crashes machines."""
    groups: dict[str, list[str]] = {name: [] for name in GROUP_NAMES}
    for nodeid, cost in costs.items():
        if rss_measured and cost.rss is not None and cost.rss.own >= heavy_rss:
            groups["heavy"].append(nodeid)
        elif cost.seconds >= long_seconds:
            groups["long"].append(nodeid)
        else:
            groups["light"].append(nodeid)
    return {name: tuple(sorted(ids)) for name, ids in groups.items()}


def groups_problem(directory: Path = GROUPS_DIR) -> str | None:
    """Why the group files cannot be written under ``directory`` (checked before any run, so
    minutes of measuring do not end in a traceback), or None."""
    for folder in (directory, *directory.parents):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is not a folder; remove it or run from another folder"
    for name in GROUP_NAMES:
        path = directory / f"{name}.txt"
        if path.is_dir():
            return f"{path} is a folder, where the {name} group file goes; remove it"
    return None


def write_groups(tests: Mapping[str, Sequence[str]], directory: Path = GROUPS_DIR) -> list[Path]:
    """``<directory>/{heavy,long,light}.txt``, one node id per line, sorted; every file is
    written (empty if need be) so a stale group from an earlier run cannot linger."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in GROUP_NAMES:
        path = directory / f"{name}.txt"
        text = "".join(f"{nodeid}\n" for nodeid in sorted(tests.get(name, ())))
        write_text_atomic(path, text)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class GroupAdvice:
    """The ``-n`` for one group, and how it was chosen."""

    workers: int | None
    reason: str
    estimate: int | None = None
    """Estimated peak tree RSS at ``workers`` (heavy group only)."""

    def to_json(self) -> dict[str, Any]:
        return {"workers": self.workers, "reason": self.reason, "estimated_rss": self.estimate}


@dataclass(frozen=True)
class LevelFacts:
    """What the group advice needs from a measured level."""

    workers: int
    passed_all: bool
    controller_rss: int
    median: float | None


def advise(
    groups: Groups, levels: Sequence[LevelFacts], fastest: int | None, budget: int
) -> dict[str, GroupAdvice]:
    """light and long: the fastest level (the overall recommendation). heavy: the most
    workers, up to that level, for which ``controller + workers x the heaviest test's
    peak RSS`` stays in budget, the case of every worker running a heavy test at once.
    That is an estimate from per-test peaks, labelled as one, not a measured level."""
    fast = GroupAdvice(
        fastest,
        "the recommended level (fastest in budget)"
        if fastest is not None
        else "no level qualified",
    )
    advice = {"light": fast, "long": fast}
    heavy_peak = groups.peak("heavy")
    if not groups.rss_measured:
        advice["heavy"] = GroupAdvice(None, "per-test memory not measured")
    elif heavy_peak is None or not groups.tests["heavy"]:
        advice["heavy"] = GroupAdvice(None, "no heavy tests")
    else:
        advice["heavy"] = _heavy(levels, fastest, budget, heavy_peak)
    return advice


def _heavy(
    levels: Sequence[LevelFacts], fastest: int | None, budget: int, heavy_peak: int
) -> GroupAdvice:
    passing = sorted((lv for lv in levels if lv.passed_all), key=lambda lv: lv.workers)
    cap = fastest if fastest is not None else max((lv.workers for lv in passing), default=1)
    controller = max((lv.controller_rss for lv in levels), default=0)
    best: GroupAdvice | None = None
    for level in passing:
        # -n 0 runs the tests in the controller itself; -n N adds N workers to it
        estimate = heavy_peak if level.workers == 0 else controller + level.workers * heavy_peak
        if level.workers <= cap and estimate <= budget:
            best = GroupAdvice(
                level.workers,
                "most workers that fit the budget, estimated as every worker on a heavy test",
                estimate,
            )
    if best is None:
        estimate = controller + heavy_peak
        return GroupAdvice(1, "even one worker on a heavy test may exceed the budget", estimate)
    return best
