"""Run pytest once at one worker count and record what it did: wall time, peak RSS of
the process tree, swap, and the outcome.

``leakbench workers`` answers "which ``-n``?" with measurements, so each run is a fresh
``python -m pytest -n <level>`` process whose whole tree is sampled by
``leakbench._util.process_tree`` from a background thread. A guard makes the measurement safe on
a leaking suite: a run whose tree exceeds the limit is killed at once (its process group
and every descendant seen), so trying ``-n 16`` cannot take the machine down the way the
suite itself would.

This module measures and returns records (:class:`PytestRun` per run, :class:`Machine` for
the host); choosing a level is ``leakbench.workers.choose``'s job, rendering
``leakbench.reports.workers_table``'s, which reads these records and never the machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import psutil

from leakbench._util.proc import total_ram
from leakbench._util.process_tree import DEFAULT_INTERVAL, TreeSampler, kill_tree

__all__ = [
    "DEFAULT_INTERVAL",
    "Machine",
    "Outcome",
    "PytestInputError",
    "PytestRun",
    "RunOptions",
    "collect",
    "cpu_count",
    "pytest_command",
    "read_machine",
    "run_pytest",
]


def cpu_count() -> int:
    """CPUs this process may run on (affinity and cgroup-pinned CI runners included)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Machine:
    """The host the levels ran on, read once so that the table and the JSON document
    report the same numbers and no renderer reads the machine itself."""

    ram: int
    """Total physical memory (bytes): what a percentage budget is a percentage of."""
    swap: int
    """Total swap (bytes; 0 when the machine has none or will not say)."""
    cpus: int
    """CPUs this process may run on (:func:`cpu_count`)."""


def read_machine() -> Machine:
    """RAM, swap and CPUs of this machine now."""
    try:
        swap = int(psutil.swap_memory().total)
    except (OSError, RuntimeError):
        swap = 0
    return Machine(ram=total_ram(), swap=swap, cpus=cpu_count())


class Outcome(StrEnum):
    """How one run ended. Only ``PASS`` runs count towards a recommendation."""

    PASS = "pass"  # pytest exit 0
    FAIL = "fail"  # exit 1: tests failed (order-dependence under xdist shows up here)
    CRASH = "crash"  # exit 2/3, killed by a signal, or an xdist worker crashed mid-test
    OVER_BUDGET = "over budget"  # stopped by the guard: the tree exceeded the memory limit
    TIMEOUT = "timeout"  # stopped after --timeout seconds


class PytestInputError(Exception):
    """pytest refused the arguments (exit 4) or collected nothing (exit 5).

    Either would fail identically at every level, so the command stops at the first run
    and shows pytest's own one-line message instead of a table of identical failures.
    """


@dataclass(frozen=True)
class PytestRun:
    """What one ``pytest -n <workers>`` process did; plain data, JSON-ready via ``to_json``.

    (Not the plugin's tests document, ``leakbench.plugin.record``: this is one whole pytest
    process as ``leakbench workers`` saw it from outside.)
    """

    workers: int
    outcome: Outcome
    exit_code: int
    seconds: float
    peak_rss: int
    """Max over samples of the summed RSS of the process tree (bytes)."""
    controller_rss: int = 0
    """Peak RSS of the pytest process itself (the xdist controller)."""
    hwm_sum: int = 0
    """Sum of every process's own high-water mark: an upper bound that sampling cannot miss."""
    swap: int = 0
    """Peak growth of the system's used swap during the run (bytes)."""
    tree_swap: int = 0
    """Peak summed ``VmSwap`` of the tree (bytes; 0 where the kernel does not say)."""
    processes: int = 0
    """Most processes seen in the tree at once (controller + workers + spawned)."""
    summary: str = ""
    """pytest's last summary line, e.g. ``2 failed, 27 passed in 1.30s``."""
    failed: tuple[str, ...] = ()
    crashed: tuple[str, ...] = ()
    """Tests that were running on an xdist worker when it crashed."""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = str(self.outcome)
        data["failed"] = list(self.failed)
        data["crashed"] = list(self.crashed)
        return data


@dataclass(frozen=True)
class RunOptions:
    """How to run pytest: the arguments after ``--`` and the limits of one run."""

    args: tuple[str, ...] = ()
    cwd: Path | None = None
    python: str = "python"
    interval: float = DEFAULT_INTERVAL
    limit: int | None = None
    """Kill the run when the tree's RSS exceeds this many bytes (None: never)."""
    timeout: float | None = None
    env: dict[str, str] | None = None


def pytest_command(workers: int | str, options: RunOptions, extra: Sequence[str] = ()) -> list[str]:
    """``python -m pytest -n <workers> -p no:cacheprovider [extra] <args>``.

    ``-n 0`` (level 0) loads xdist but runs the tests in the one pytest process: the
    no-xdist reference, robust to ``-n`` in the project's ``addopts`` (``-p no:xdist``
    would turn that into a usage error). The cache provider is off so that runs cannot
    influence each other (``--lf``/``--ff`` state, stepwise).
    """
    return [
        options.python,
        "-m",
        "pytest",
        "-n",
        str(workers),
        "-p",
        "no:cacheprovider",
        *extra,
        *options.args,
    ]


def run_pytest(workers: int, options: RunOptions, extra: Sequence[str] = ()) -> PytestRun:
    """Run pytest at ``workers`` once, sampling its process tree, and classify the result.

    Raises :class:`PytestInputError` on pytest exit 4 or 5. The child gets its own session,
    so Ctrl-C reaches leakbench only, which then kills the whole tree before re-raising.
    """
    run, _ = run_pytest_with_output(workers, options, extra)
    return run


@dataclass(frozen=True)
class _Exited:
    """A finished pytest child: its exit, output, wall time and the tree's sampler."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    sampler: TreeSampler
    stopped: Outcome | None
    """``TIMEOUT`` or ``OVER_BUDGET`` when leakbench stopped the run, else None."""


def _execute(command: Sequence[str], options: RunOptions, limit: int | None) -> _Exited:
    """Run one pytest child the one way every run here is made: in ``options.cwd`` with
    ``options.env``, no stdin, output to temp files (a pipe would fill up and stall a
    chatty suite), its own session, its tree sampled and killed above ``limit``, after
    ``options.timeout`` seconds, and on Ctrl-C/SIGTERM (leave no workers behind)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=options.cwd,
            env=options.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=hasattr(os, "killpg"),
        )
        sampler = TreeSampler(proc.pid, options.interval, limit)
        stopped: Outcome | None = None
        try:
            with sampler:
                try:
                    proc.wait(timeout=options.timeout)
                except subprocess.TimeoutExpired:
                    stopped = Outcome.TIMEOUT
                    kill_tree(proc.pid, sampler.seen)
                    proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM: leave no workers behind
            kill_tree(proc.pid, sampler.seen)
            proc.wait()
            raise
        seconds = time.perf_counter() - start
        stdout, stderr = _read(out), _read(err)
    if sampler.over_limit:
        stopped = Outcome.OVER_BUDGET
    return _Exited(proc.returncode, stdout, stderr, seconds, sampler, stopped)


def run_pytest_with_output(
    workers: int, options: RunOptions, extra: Sequence[str] = ()
) -> tuple[PytestRun, str]:
    """:func:`run_pytest`, also returning pytest's stdout (the groups pass parses it)."""
    done = _execute(pytest_command(workers, options, extra), options, options.limit)
    code, sampler = done.code, done.sampler
    if done.stopped is None and code in (4, 5):
        raise PytestInputError(_input_error(code, done.stdout, done.stderr))
    parsed = parse_output(done.stdout)
    outcome = done.stopped or classify(code, parsed.crashed)
    run = PytestRun(
        workers=workers,
        outcome=outcome,
        exit_code=code,
        seconds=done.seconds,
        peak_rss=sampler.peak_rss,
        controller_rss=sampler.controller_rss,
        hwm_sum=sum(sampler.hwm.values()),
        swap=sampler.swap_growth,
        tree_swap=sampler.tree_swap,
        processes=sampler.most_processes,
        summary=parsed.summary,
        failed=parsed.failed,
        crashed=parsed.crashed,
        detail=_detail(outcome, code, options, done.stderr),
    )
    return run, done.stdout


def collect(options: RunOptions) -> int:
    """How many tests the arguments select, from ``pytest -n 0 --collect-only -q``.

    Run once before any timed run, so that input every level would choke on (a usage
    error, no tests, a test module that does not import) is reported as one line before
    the progress bar starts, instead of after a first full run.
    """
    done = _execute(pytest_command(0, options, ("--collect-only", "-q")), options, None)
    if done.stopped is Outcome.TIMEOUT:
        raise PytestInputError(f"collecting the tests took over {options.timeout:g}s")
    if done.code in (4, 5):
        raise PytestInputError(_input_error(done.code, done.stdout, done.stderr))
    if done.code != 0:
        raise PytestInputError(_collection_error(done.code, done.stdout, done.stderr))
    return _count_collected(done.stdout)


_COLLECTED = re.compile(r"^(\d+)(?:/\d+)? tests? collected", re.MULTILINE)
_PER_FILE = re.compile(r"^\S.*: (\d+)$", re.MULTILINE)


def _count_collected(stdout: str) -> int:
    """``27/29 tests collected``, or with a second ``-q`` from the user (``-qq``) only
    ``path: count`` lines per file, or one node id per line."""
    match = _COLLECTED.search(stdout)
    if match:
        return int(match.group(1))
    per_file = _PER_FILE.findall(stdout)
    if per_file:
        return sum(int(n) for n in per_file)
    return sum("::" in line for line in stdout.splitlines())


def _collection_error(code: int, stdout: str, stderr: str) -> str:
    """``ERROR collecting test_x.py: E   ModuleNotFoundError: ...`` on one line."""
    lines = (stdout + "\n" + stderr).splitlines()
    where = next((ln.strip("_ ") for ln in lines if "ERROR collecting" in ln), "")
    reason = next((ln[1:].strip() for ln in lines if ln.startswith("E ")), "")
    if not where and not reason:
        reason = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    text = ": ".join(part for part in (where, reason) if part)
    return f"pytest could not collect the tests (exit {code}): {text}"


def classify(code: int, crashed: Sequence[str] = ()) -> Outcome:
    """0 pass, 1 fail (a crashed xdist worker also exits 1: crash), other codes crash."""
    if crashed:
        return Outcome.CRASH
    if code == 0:
        return Outcome.PASS
    if code == 1:
        return Outcome.FAIL
    return Outcome.CRASH


@dataclass(frozen=True)
class ParsedOutput:
    """What leakbench reads back from pytest's terminal output."""

    summary: str = ""
    failed: tuple[str, ...] = ()
    crashed: tuple[str, ...] = ()


_SUMMARY = re.compile(
    r"\b\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)\b"
    r"|no tests ran"
)
_FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$")
_CRASHED = re.compile(r"worker '[^']+' crashed while running (['\"])(.+?)\1")


def parse_output(stdout: str) -> ParsedOutput:
    """The last summary line, FAILED/ERROR node ids, and tests a crashed worker was running."""
    summary = ""
    failed: list[str] = []
    crashed: list[str] = []
    for line in stdout.splitlines():
        if _SUMMARY.search(line) and " in " in line:
            summary = line.strip("= \t")
        match = _FAILED.match(line)
        if match and match.group(1) not in failed:
            failed.append(match.group(1))
        match = _CRASHED.search(line)
        if match and match.group(2) not in crashed:
            crashed.append(match.group(2))
    return ParsedOutput(summary, tuple(failed), tuple(crashed))


def _input_error(code: int, stdout: str, stderr: str) -> str:
    """pytest's own complaint, on one line: ``unrecognized arguments: --bogus``."""
    for text in (stderr, stdout):
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("ERROR: usage:"):
                continue
            if stripped.startswith("ERROR: "):
                return f"pytest exit {code}: {stripped.removeprefix('ERROR: ')}"
            if ": error: " in stripped:
                return f"pytest exit {code}: {stripped.split(': error: ', 1)[1]}"
    if code == 5:
        summary = parse_output(stdout).summary or "no tests ran"
        return f"pytest collected no tests (exit 5: {summary})"
    last = next((s for s in reversed((stderr or stdout).splitlines()) if s.strip()), "")
    return f"pytest exit {code}: {last.strip() or 'usage error'}"


def _detail(outcome: Outcome, code: int, options: RunOptions, stderr: str) -> str:
    if outcome is Outcome.TIMEOUT:
        return f"killed after {options.timeout:g}s"
    if outcome is Outcome.OVER_BUDGET:
        return "stopped by the guard"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    if outcome is Outcome.CRASH:
        last = next((s.strip() for s in reversed(stderr.splitlines()) if s.strip()), "")
        return f"exit {code}" + (f": {last[:200]}" if last else "")
    return ""


def _read(fh: IO[bytes]) -> str:
    fh.seek(0)
    return fh.read().decode("utf-8", "replace")
