"""Every document loader takes any input and either loads it or refuses it on one line.

Property-based (Hypothesis): arbitrary JSON values, and valid documents mutated the ways files
go bad (a field dropped, replaced, retyped; ``NaN``, ``Infinity``, ``10**400``, a 5,000-digit
integer, deep nesting, a negative count, odd strings, a lone surrogate; text cut short) are
fed to the results loader (``parse_results``, ``load_results``), the plugin's tests document
reader (``read_tests``), compare-branches' BASE cache (``BaseCache.load``), the report's
workers file (``load_workers``) and the budgets (``budgets.from_table``, and a test marker's
budget as a results file stores it). Each either loads or raises its documented error
(``ResultsError``, ``TestsFileError``, ``WorkersError``, ``BudgetError``; the cache reads what
it cannot use as missing), whose message is one writable line: the CLI prints it and exits 2.
Never another exception. What loads is also usable: its numbers are finite and in range, and
its names render.

Examples run in memory except where the loader reads a path: those rewrite one file made
once per property (``tmp_path_factory``). About 2,800 examples in all.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leakbench.gate.cache import BaseCache
from leakbench.gate.results import Results, ResultsError, load_results, parse_results
from leakbench.gate.verdicts.budgets import BudgetConfig, BudgetError, from_table
from leakbench.gate.verdicts.rules import compare
from leakbench.plugin.record import TestsFileError, read_tests
from leakbench.reports import markdown
from leakbench.reports.html.workers import WorkersError, load_workers, render_workers
from test_compare_support import counted, memory, results, scenario, timing

FUZZ = settings(
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The same examples every run, so CI never fails on unchanged code; new ones with
    # LEAKBENCH_FUZZ_RANDOM=1 (then keep what they find as an @example).
    derandomize=os.environ.get("LEAKBENCH_FUZZ_RANDOM") != "1",
)

# --------------------------------------------------------------------------- strategies

SPECIAL_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    10**400,
    -(10**400),
    2**63,
    -1,
    0,
    -0.0,
    1e308,
    True,
]
ODD_STRINGS = ["", "\ud800", "a\nb", "../../x", "/tmp/x", "<img src=x>", "`", "|", "\x00", "ü"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(SPECIAL_NUMBERS)
    | st.sampled_from(ODD_STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _valid_results() -> dict[str, Any]:
    doc = results(
        {
            "s.leaky": scenario(memory(2048.0), timing(1.0, n=6), instructions=counted()),
            "s.clean": scenario(memory(0.0), None, instructions=counted(None, reason="no tool")),
        }
    ).to_dict()
    doc["scenarios"]["s.clean"]["budget"] = {"memory_budget": 0.5, "reason": "known"}
    return doc


VALID_RESULTS = _valid_results()


def _valid_tests() -> dict[str, Any]:
    rec = {
        "worker": "gw0",
        "duration": 0.5,
        "outcome": "passed",
        "leaks": [{"kind": "threads", "what": "t"}],
        "peak_rss": 10_000_000,
        "rss_before": 9_000_000,
        "rss_after": 9_500_000,
        "rss_growth": 500_000,
        "memory_guard": None,
    }
    worker = {"start_rss": 1, "end_rss": 2, "peak_rss": 3, "crashed": False}
    return {
        "schema": "leakbench-tests",
        "schema_version": 1,
        "tests": {"tests/test_a.py::test_b[1/2]": rec, "t::c": dict(rec)},
        "workers": {"gw0": worker},
    }


VALID_TESTS = _valid_tests()


def _valid_cache() -> dict[str, Any]:
    mem = VALID_RESULTS["scenarios"]["s.leaky"]["memory"]
    ins = VALID_RESULTS["scenarios"]["s.leaky"]["instructions"]
    probe = {"rounds": [0.1, 0.2], "cpu_rounds": [0.05, 0.1], "iterations": 3, "rounds_planned": 2}
    return {
        "schema": "leakbench-base-cache",
        "schema_version": 1,
        "key": "k",
        "parts": {},
        "commit": "c",
        "scenarios": {"s.leaky": {"memory": mem, "instructions": ins, "probe": probe}},
    }


VALID_CACHE = _valid_cache()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``doc`` (dict keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``valid`` with one to three values dropped, replaced or retyped, or a key renamed."""
    paths = _paths(valid)
    change = st.tuples(
        st.sampled_from(paths),
        st.sampled_from(["drop", "replace", "retype", "rename"]),
        json_values | st.sampled_from(SPECIAL_NUMBERS) | st.builds(_deep, st.integers(50, 400)),
    )

    def apply(changes: list[tuple[tuple[Any, ...], str, Any]]) -> dict[str, Any]:
        doc = copy.deepcopy(valid)
        for path, how, value in changes:
            parent: Any = doc
            try:
                for step in path[:-1]:
                    parent = parent[step]
                last = path[-1]
                current = parent[last]
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed the way there
            if how == "drop":
                del parent[last]
            elif how == "replace":
                parent[last] = value
            elif how == "retype":
                parent[last] = [current] if not isinstance(current, list) else {"x": current}
            elif isinstance(parent, dict):
                parent[str(value)[:8] if not isinstance(value, str) else value] = parent.pop(last)
        return doc

    return st.lists(change, min_size=1, max_size=3).map(apply)


def as_text(doc: Any) -> st.SearchStrategy[str]:
    """The document's JSON text, cut short or with a huge or deeply nested part spliced in."""
    text = json.dumps(doc)  # NaN and Infinity are written as Python's json writes them
    cut = st.integers(0, max(0, len(text) - 1)).map(lambda n: text[:n])
    splice = st.tuples(
        st.integers(0, len(text)),
        st.sampled_from(["1" + "0" * 5000, "[" * 100_000 + "]" * 100_000, "NaN", "-Infinity"]),
    ).map(lambda p: text[: p[0]] + p[1] + text[p[0] :])
    return st.just(text) | cut | splice


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and "\r" not in text, repr(text)
    # Printable by the CLI: no lone surrogate in the message. Failing, the report itself
    # must be ASCII: xdist cannot send a surrogate from its worker (an INTERNALERROR).
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text), ascii(text)


def _usable(loaded: Results) -> None:
    """What loads holds only finite, in-range numbers and printable names."""
    for name, s in loaded.scenarios.items():
        assert name.isprintable() and s.leak_class.isprintable()
        if s.memory is not None:
            m = s.memory
            assert m.iterations >= 1 and min(m.peak_bytes, m.retained_bytes, m.allocations) >= 0
            assert math.isfinite(m.retained_per_iteration)
            assert all(k >= 0 and b >= 0 for k, b in m.series)
        if s.time is not None:
            assert all(math.isfinite(x) and x >= 0 for x in s.time.rounds + s.time.ratios)
            assert s.time.iterations_per_round >= 1
        if s.instructions is not None and s.instructions.per_iteration is not None:
            assert math.isfinite(s.instructions.per_iteration)
    assert loaded.environment.cpu_count >= 1 and "/" not in loaded.environment.key


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- results


def _parse(doc: Any) -> None:
    try:
        loaded = parse_results(doc, "fuzz.json")
    except ResultsError as exc:
        _one_line(exc)
        assert str(exc).startswith("fuzz.json: "), str(exc)
        return
    _usable(loaded)


@settings(FUZZ, max_examples=500)
@given(json_values)
def test_any_json_value_is_a_results_document_or_refused(doc: Any) -> None:
    _parse(doc)


@settings(FUZZ, max_examples=700)
@given(mutated(VALID_RESULTS))
def test_a_mutated_results_document_loads_or_is_refused(doc: dict[str, Any]) -> None:
    _parse(doc)


@settings(FUZZ, max_examples=40)
@given(mutated(VALID_RESULTS))
def test_what_loads_can_be_compared_and_rendered(doc: dict[str, Any]) -> None:
    """Downstream of the loader nothing trips on a value it let through (each example runs
    a whole comparison with bootstrap intervals, so there are few)."""
    try:
        loaded = parse_results(doc, "fuzz.json")
    except ResultsError:
        return
    base = parse_results(copy.deepcopy(VALID_RESULTS), "base.json")
    comparison = compare(base, loaded, BudgetConfig(), allow_other_environment=True)
    markdown.render(comparison, verbose=True).encode("utf-8")


def test_results_files_load_or_are_refused(scratch: Path) -> None:
    path = scratch / "results.json"

    @settings(FUZZ, max_examples=300)
    @given(st.one_of(mutated(VALID_RESULTS).flatmap(as_text), as_text(VALID_RESULTS)))
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_results(path)
        except ResultsError as exc:
            _one_line(exc)
            assert str(exc).startswith(f"{path}: "), str(exc)
            return
        _usable(loaded)

    check()


# --------------------------------------------------------------------------- tests document


def test_tests_documents_load_or_are_refused(scratch: Path) -> None:
    path = scratch / "tests.json"

    @settings(FUZZ, max_examples=400)
    @given(
        st.one_of(
            mutated(VALID_TESTS).flatmap(as_text),
            json_values.map(json.dumps),
            st.builds(lambda tests: json.dumps({**VALID_TESTS, "tests": tests}), json_values),
        )
    )
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            tests = read_tests(path)
        except TestsFileError as exc:
            _one_line(exc)
            assert str(exc).startswith(f"{path}: "), str(exc)
            return
        for nodeid, test in tests.items():
            assert nodeid.isprintable()
            for reading in (test.peak_rss, test.rss_before, test.rss_after):
                assert reading is None or 0 <= reading < 2**63
            assert test.duration is None or (math.isfinite(test.duration) and test.duration >= 0)

    check()


# --------------------------------------------------------------------------- cache


def test_cache_files_load_what_is_usable(scratch: Path) -> None:
    folder = scratch / ".leakbench" / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "base-k.json"

    @settings(FUZZ, max_examples=400)
    @given(st.one_of(mutated(VALID_CACHE).flatmap(as_text), json_values.map(json.dumps)))
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        cache = BaseCache.load(scratch, "k", {}, "c")  # never raises: the cache only saves time
        for entry in cache.scenarios.values():
            if entry.memory is not None:
                assert math.isfinite(entry.memory.retained_per_iteration)
                assert entry.memory.peak_bytes >= 0
            if entry.probe is not None:
                assert all(math.isfinite(x) and x >= 0 for x in entry.probe.rounds)
                assert entry.probe.iterations >= 1

    check()


# --------------------------------------------------------------------------- workers file

VALID_WORKERS = {
    "levels": [
        {"workers": 1, "result": "ok", "time_median": 12.5, "peak_rss": 10_000_000, "swap": 0},
        {"workers": 2, "result": "ok", "time_median": 7.0, "peak_rss": 20_000_000, "swap": 0},
    ],
    "recommendation": {"workers": 2, "reason": "fastest within memory"},
}


def test_workers_files_load_or_are_refused(scratch: Path) -> None:
    """``report --workers``: a ``leakbench workers --json`` file, read leniently."""
    path = scratch / "workers.json"

    @settings(FUZZ, max_examples=200)
    @given(st.one_of(mutated(VALID_WORKERS).flatmap(as_text), json_values.map(json.dumps)))
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            table = load_workers(path)
        except WorkersError as exc:
            _one_line(exc)
            assert str(exc).startswith(f"{path}: "), str(exc)
            return
        for level in table.levels:
            assert level.workers >= 0  # -n 0 is a level (593a581)
            assert level.time is None or (math.isfinite(level.time) and level.time >= 0)
        render_workers(table, str(path))

    check()


# --------------------------------------------------------------------------- budgets

budget_keys = st.sampled_from(
    [
        "memory_budget",
        "time_budget",
        "memory_floor",
        "instructions_floor",
        "reason",
        "memory_metrics",
    ]
) | st.text(max_size=6)


budget_values = scalars | st.lists(scalars, max_size=3)


@settings(FUZZ, max_examples=300)
@given(
    st.dictionaries(budget_keys, budget_values, max_size=4),
    st.dictionaries(
        st.text(max_size=8), st.dictionaries(budget_keys, budget_values, max_size=3), max_size=3
    ),
)
@example({"memory_metrics": ["\ud800"]}, {})  # was echoed raw in the error (CI, 14:40)
@example({}, {"s": {"memory_metrics": ["\udfff"]}})
def test_budget_tables_and_marker_budgets_load_or_are_refused(
    table: dict[str, Any], marker: dict[str, Any]
) -> None:
    try:
        config = from_table({**table, "scenarios": marker}, "pyproject.toml")
    except BudgetError as exc:
        _one_line(exc)
        config = BudgetConfig()
    for name, budget in marker.items():  # as a test's marker budget stored in results
        try:
            got = config.for_scenario(name, budget)
        except BudgetError as exc:
            _one_line(exc)
            continue
        assert math.isfinite(got.memory) and got.memory >= 0 and got.memory_floor >= 0
