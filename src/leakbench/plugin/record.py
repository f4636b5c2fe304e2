"""The tests record of a run and its ``--leaks-json`` results file: the writer and the reader.

One ``TestsRecord`` lives in the process that reports the run: the xdist controller,
or the only pytest process. It reads what every test process measured from the
test reports (the ``leakbench_leaks`` and ``leakbench_memory`` attributes cross
from xdist workers with the report) and from the workers' summaries (sent
through ``workeroutput`` when a worker finishes, see ``leakbench.plugin.xdist``), so
the controller writes ONE document for the whole run. A worker that crashed sends no
summary; its entry is rebuilt from its tests' readings and marked ``crashed``,
and the test it was running keeps xdist's "worker crashed" report as outcome
``crashed``. The file is written atomically at the end of the session, also when
the run was interrupted or a worker died.

``read_tests`` reads the document back (``leakbench workers`` uses it for per-test
RSS), next to the writer so that the two cannot drift apart; ``merge_documents`` joins the
documents of several machines (``leakbench merge``).

Schema (``docs/plugin.md``, "Results file")::

    {"schema": "leakbench-tests", "schema_version": 1,
     "tests": {nodeid: {"worker", "duration", "outcome", "leaks", "peak_rss",
                        "rss_before", "rss_after", "rss_growth", "memory_guard"}},
     "workers": {id: {"start_rss", "end_rss", "peak_rss", "crashed"}}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import pytest

from leakbench._util.atomic import write_json_atomic
from leakbench.gate.results_checks import MAX_COUNT, JsonTextError, decode_json, shown
from leakbench.plugin.text import growth_lines

__all__ = [
    "LEAKS_ATTR",
    "MAIN_WORKER",
    "MEMORY_ATTR",
    "MEMORY_KEY",
    "SCHEMA",
    "SCHEMA_VERSION",
    "RecordedTest",
    "TestsFileError",
    "TestsRecord",
    "merge_documents",
    "read_document",
    "read_tests",
    "worker_id",
]

SCHEMA = "leakbench-tests"
SCHEMA_VERSION = 1
LEAKS_ATTR = "leakbench_leaks"
"""Teardown report attribute: the test's leaks as plain dicts."""
MEMORY_ATTR = "leakbench_memory"
"""Teardown report attribute: the test's RSS readings (see ``leakbench.plugin.memory``)."""
MEMORY_KEY = "leakbench_memory"
"""``workeroutput`` key of a worker's session summary (start, end and peak RSS)."""
MAIN_WORKER = "main"
"""Worker id of the only process of a run without xdist."""


def worker_id(config: pytest.Config) -> str:
    """This process's worker id: ``gw0``... under xdist, else ``main``."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else MAIN_WORKER


def _report_worker(report: pytest.TestReport) -> str:
    worker = getattr(report, "worker_id", None)  # set by xdist on every worker report
    if worker:
        return str(worker)
    gateway = getattr(getattr(report, "node", None), "gateway", None)  # xdist's crash report
    return str(getattr(gateway, "id", MAIN_WORKER))


class TestsRecord:
    """Collects every test's outcome, leaks and memory, and every worker's summary."""

    __test__ = False  # a plugin object, not a test class, whatever pytest's name rules say

    def __init__(self, path: Path | None, show_memory: bool) -> None:
        self.path = path
        self.show_memory = show_memory
        self.tests: dict[str, dict[str, Any]] = {}
        self.workers: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, dict[str, Any]] = {}
        """Per worker, what its tests' readings say (for workers that sent no summary)."""
        self.local_summary: Any = None
        """Callable giving this process's summary when it runs tests itself (no xdist)."""
        self.written: str = ""
        """What the terminal summary says about the results file."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        try:
            self._add_report(report)
        except Exception:  # a malformed attribute must not break the run
            return

    def _add_report(self, report: pytest.TestReport) -> None:
        rec = self.tests.get(report.nodeid)
        if rec is None:
            rec = self.tests[report.nodeid] = {
                "worker": _report_worker(report),
                "duration": 0.0,
                "outcome": "passed",
                "leaks": [],
                "peak_rss": None,
                "rss_before": None,
                "rss_after": None,
                "rss_growth": None,
                "memory_guard": None,
            }
        rec["duration"] += report.duration or 0.0
        when = report.when
        if when != "setup" or not report.passed:
            rec["outcome"] = _outcome(rec["outcome"], report)
        if when == "call" or when == "setup":
            return  # leaks and memory readings ride on the teardown report
        leaks = getattr(report, LEAKS_ATTR, None)
        if leaks:
            rec["leaks"] = list(leaks)
        memory = getattr(report, MEMORY_ATTR, None)
        if memory:
            rec["peak_rss"] = memory.get("peak_rss")
            rec["rss_before"] = memory.get("rss_before")
            rec["rss_after"] = memory.get("rss_after")
            rec["rss_growth"] = memory.get("rss_growth")
            rec["memory_guard"] = memory.get("guard")
            self._note_worker(rec["worker"], memory)

    def _note_worker(self, worker: str, memory: dict[str, Any]) -> None:
        seen = self._seen.setdefault(worker, {"start_rss": memory.get("rss_before")})
        seen["end_rss"] = memory.get("rss_after")
        peaks = [seen.get("peak_rss"), memory.get("peak_rss"), memory.get("rss_after")]
        seen["peak_rss"] = max((p for p in peaks if isinstance(p, int)), default=None)

    def add_worker(self, worker: str, summary: dict[str, Any] | None, crashed: bool) -> None:
        """A worker went down: its own summary, or what its tests' readings say."""
        entry: dict[str, Any] = {"start_rss": None, "end_rss": None, "peak_rss": None}
        entry.update(self._seen.get(worker, {}))
        if summary:
            entry.update({k: summary.get(k) for k in ("start_rss", "end_rss", "peak_rss")})
        entry["crashed"] = crashed
        self.workers[worker] = entry

    def document(self) -> dict[str, Any]:
        workers = dict(self.workers)
        for worker in self._seen.keys() - workers.keys():  # never reported going down
            workers[worker] = {
                "start_rss": None,
                "end_rss": None,
                "peak_rss": None,
                **self._seen[worker],
                "crashed": False,
            }
        tests = {
            nodeid: {**rec, "duration": round(rec["duration"], 6)}
            for nodeid, rec in self.tests.items()
        }
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "tests": tests,
            "workers": dict(sorted(workers.items())),
        }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.local_summary is not None:
            try:
                self.add_worker(MAIN_WORKER, self.local_summary(), crashed=False)
            except Exception:
                self.add_worker(MAIN_WORKER, None, crashed=False)
        if self.path is None:
            return
        try:
            write_json_atomic(self.path, self.document())
            self.written = f"leakbench: results of {len(self.tests)} test(s) written to {self.path}"
        except (OSError, TypeError, ValueError) as exc:
            self.written = f"leakbench: could not write {self.path}: {exc}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.show_memory:
            terminalreporter.write_sep("=", "leakbench: memory per test")
            for line in growth_lines(self.tests, self.document()["workers"]):
                terminalreporter.write_line(line)
        if self.written:
            terminalreporter.write_line(self.written)


def _outcome(current: str, report: pytest.TestReport) -> str:
    """The test's outcome so far, like pytest counts it: errors in setup or teardown
    are ``error``; xfail and xpass are told apart; xdist's crash report is ``crashed``."""
    when = report.when
    if when not in ("setup", "call", "teardown"):  # xdist's "???" for a crashed worker
        return "crashed"
    wasxfail = hasattr(report, "wasxfail")
    if when == "call":
        if report.passed:
            return "xpassed" if wasxfail else "passed"
        if report.skipped:
            return "xfailed" if wasxfail else "skipped"
        return "failed"
    if report.failed:
        return current if current in ("failed", "crashed") else "error"
    if report.skipped and when == "setup":
        return "xfailed" if wasxfail else "skipped"
    return current


class TestsFileError(ValueError):
    """A results file that cannot be read, is not JSON, or is not a ``leakbench-tests``
    document this version reads."""

    __test__ = False


@dataclass(frozen=True)
class RecordedTest:
    """One test of a ``leakbench-tests`` document, as read back. A reading the document
    lacks (no ``--leaks-rss``, an older plugin, a test whose reading failed) is None."""

    nodeid: str
    worker: str
    outcome: str
    duration: float | None = None
    peak_rss: int | None = None
    rss_before: int | None = None
    rss_after: int | None = None
    rss_growth: int | None = None
    memory_guard: str | None = None
    leaks: tuple[dict[str, Any], ...] = ()


def read_tests(path: Path) -> dict[str, RecordedTest]:
    """Every test of the results file at ``path``, by node id.

    Raises :class:`TestsFileError` for a file that cannot be read or parsed (nested too
    deeply, an integer of thousands of digits included), of another schema, of a newer
    ``schema_version``, or with a node id that is not printable text (a lone surrogate, a
    line break: every report shows node ids on one line). Within a document it is tolerant:
    a field that is missing, of the wrong type or out of range (``NaN``, ``Infinity``, a
    negative size, a number beyond 2**63) reads as None, so that documents of older plugin
    versions (which wrote fewer fields) read too.
    """
    tests = read_document(path)["tests"]
    return {
        nodeid: _recorded(nodeid, rec)
        for nodeid, rec in tests.items()
        if isinstance(nodeid, str) and isinstance(rec, dict)
    }


def read_document(path: Path) -> dict[str, Any]:
    """The ``leakbench-tests`` document at ``path`` as decoded JSON, checked as
    :func:`read_tests` checks it (the same :class:`TestsFileError`)."""
    try:
        doc: Any = decode_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TestsFileError(f"{path}: cannot read a results file ({exc})") from exc
    except JsonTextError as exc:
        raise TestsFileError(f"{path}: cannot read a results file ({exc.problem})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise TestsFileError(f"{path}: not a {SCHEMA} document")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise TestsFileError(
            f"{path}: {SCHEMA} schema_version {version!r} is not one this leakbench reads "
            f"(up to {SCHEMA_VERSION})"
        )
    tests = doc.get("tests")
    if not isinstance(tests, dict):
        raise TestsFileError(f"{path}: 'tests' is not a table of tests")
    for nodeid in tests:
        if not nodeid.isprintable():
            raise TestsFileError(
                f"{path}: tests.{shown(nodeid)}: names must be printable text; "
                "re-run pytest --leaks-json to write a fresh file"
            )
    return doc


def merge_documents(inputs: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One ``leakbench-tests`` document of the runs of several machines (``leakbench merge``
    of ``pytest --leaks-json`` shards). A test in two inputs is a :class:`TestsFileError`
    unless its records are identical. Worker ids (``main``, ``gw0``) repeat across machines, so
    each is prefixed with its file's name (``leaks-1:gw0``), in the workers table and in every
    test's ``worker``."""
    labels: list[str] = []
    for index, (path, _doc) in enumerate(inputs, 1):
        label = path.stem
        labels.append(label if label not in labels else f"{label}-{index}")
    tests: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    workers: dict[str, Any] = {}
    for label, (path, doc) in zip(labels, inputs, strict=True):
        for worker, entry in (
            doc.get("workers", {}).items() if isinstance(doc.get("workers"), dict) else ()
        ):
            workers[f"{label}:{worker}"] = entry
        for nodeid, rec in doc["tests"].items():
            if not isinstance(rec, dict):
                continue
            rec = {**rec, "worker": f"{label}:{rec.get('worker') or MAIN_WORKER}"}
            if nodeid in tests:
                if _without_worker(tests[nodeid]) != _without_worker(rec):
                    raise TestsFileError(
                        f"{path}: test {shown(nodeid)} is also in {origin[nodeid]} with another "
                        "outcome or readings; run each test on one machine only"
                    )
                continue
            tests[nodeid], origin[nodeid] = rec, path
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tests": dict(sorted(tests.items())),
        "workers": dict(sorted(workers.items())),
    }


def _without_worker(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "worker"}


def _recorded(nodeid: str, rec: dict[str, Any]) -> RecordedTest:
    leaks = rec.get("leaks")
    duration: object = rec.get("duration")
    growth: object = rec.get("rss_growth")
    guard = rec.get("memory_guard")
    return RecordedTest(
        nodeid=nodeid,
        worker=str(rec.get("worker") or MAIN_WORKER),
        outcome=str(rec.get("outcome") or ""),
        duration=float(duration) if _is_number(duration) and duration >= 0 else None,
        peak_rss=_size(rec.get("peak_rss")),
        rss_before=_size(rec.get("rss_before")),
        rss_after=_size(rec.get("rss_after")),
        rss_growth=int(growth) if _is_number(growth) else None,
        memory_guard=guard if isinstance(guard, str) else None,
        leaks=tuple(d for d in leaks if isinstance(d, dict)) if isinstance(leaks, list) else (),
    )


def _is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number that is finite and within 2**63 (``NaN``, ``Infinity`` and ``10**400``
    are not readings)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return -MAX_COUNT <= value <= MAX_COUNT


def _size(value: object) -> int | None:
    """Bytes (an int >= 0), or None."""
    return int(value) if _is_number(value) and value >= 0 else None
