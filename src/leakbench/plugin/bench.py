"""Measure ordinary tests like scenarios: the ``leakbench`` fixture and marker.

::

    def test_parse(leakbench):
        leakbench(parse, payload)          # parse(payload) is the measured iteration

    @pytest.mark.leakbench(iterations=20, memory_budget=0.5)
    def test_client(server):
        Client(server.url).get("/")        # the whole test body is the iteration

With ``pytest --leaks-bench`` (results to ``--leaks-bench-json PATH``) each such test gets the
memory pass (memray, in this process: the test's fixtures live here) and the time pass
(pytest-benchmark's ``benchmark`` fixture, interleaved with the reference workload), and one
results file (the format of ``leakbench bench``, scenario name = test node id) is written at
the end of the session. Without the option the fixture calls the function once and marked
tests run as usual, so the same tests stay cheap in a normal run.

memray and pytest-benchmark come with the ``bench`` extra (``pip install 'leakbench[bench]'``);
this module imports neither, so a project that installs only the plugin loads it (it is a
``pytest11`` entry point) at no cost. Measuring without them is a one-line usage error naming
the extra, before any test runs.

pytest-benchmark disables itself under pytest-xdist; there the time pass is skipped (the
summary says so) and each worker writes its own file, ``PATH`` with ``.<worker>`` added.
Marker arguments are checked against :func:`_marker_arguments`, so the ``--markers`` help and
the parser cannot drift apart; budget keys are checked by ``leakbench.gate.verdicts.budgets``.

The options (``--leaks-bench``, ``--leaks-bench-json``, ``--leaks-bench-iterations``,
``--leaks-bench-seconds``, with ini and ``[tool.leakbench]`` keys ``leaks_bench``...) are
declared and resolved in
``leakbench.plugin.bench_options`` (their keys in ``leakbench.plugin.options``) like every
plugin option; this entry point only registers them,
so that it keeps working on its own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leakbench._util.safe_names import safe_file_name
from leakbench.gate.environment import fingerprint
from leakbench.gate.measure.timing import time_interleaved, time_result_of
from leakbench.gate.results import SCHEMA as RESULTS_SCHEMA
from leakbench.gate.results import (
    MemoryResult,
    Results,
    ScenarioResult,
    TimeResult,
    write_results,
)
from leakbench.gate.verdicts.budgets import BudgetConfig, BudgetError
from leakbench.plugin import bench_options
from leakbench.plugin.bench_options import BenchSettings
from leakbench.plugin.sources import check_output

MARKER_HELP = (
    "leakbench(iterations=None, warmup=2, seconds=None, memory=True, time=True, **budget): "
    "measure this test's body with `pytest --leaks-bench` (memray + pytest-benchmark); "
    "budget keys as in [tool.leakbench] scenario tables."
)
SETTINGS = pytest.StashKey[BenchSettings]()
RESULTS = pytest.StashKey[dict[str, ScenarioResult]]()
NOTES = pytest.StashKey[set[str]]()
XDIST_NOTE = "time pass skipped: pytest-benchmark disables itself under pytest-xdist"
EXTRA = {"memray": "memray", "pytest_benchmark": "pytest-benchmark"}
"""What measuring imports (module -> distribution): the ``bench`` extra's share of it."""


def _marker_arguments(
    iterations: int | None = None,
    warmup: int = 2,
    seconds: float | None = None,
    memory: bool = True,
    time: bool = True,
    **budget: Any,
) -> dict[str, Any]:
    """The marker's signature (validated by calling this with the marker's arguments)."""
    return {
        "iterations": iterations,
        "warmup": warmup,
        "seconds": seconds,
        "memory": memory,
        "time": time,
        "budget": budget,
    }


def pytest_addoption(parser: pytest.Parser) -> None:
    bench_options.add_bench_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = bench_options.resolve_bench(config)  # a bad value: a usage error naming its source
    config.stash[SETTINGS] = settings
    if settings.results is not None:
        _check_extra(config)
        if hasattr(config, "workerinput"):  # each worker writes its own file: check it too
            path = _results_path(config)
            check_output(path, RESULTS_SCHEMA, "--leaks-bench-json", str(path))
        config.stash[RESULTS] = {}
        config.stash[NOTES] = set()


def _check_extra(config: pytest.Config) -> None:
    """Measuring needs memray and pytest-benchmark's plugin: say in one line what to do."""
    missing = [dist for module, dist in EXTRA.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise pytest.UsageError(
            f"leakbench: --leaks-bench needs {' and '.join(missing)}: "
            "pip install 'leakbench[bench]'"
        )
    if not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError(
            "leakbench: --leaks-bench times tests with pytest-benchmark's plugin, which is "
            "disabled here (-p no:benchmark?); enable it, or measure without --leaks-bench"
        )


def _enabled(config: pytest.Config) -> bool:
    return RESULTS in config.stash


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every marker now (a typo is a usage error even in a normal run); marked tests
    need pytest-benchmark's fixture for their time pass (only those with one: an unused
    ``benchmark`` fixture is a warning, an error under ``filterwarnings = error``); memray
    is set up before the first test when one will be measured (:func:`_set_up_memray`)."""
    memory = False
    for item in items:
        if item.get_closest_marker("leakbench") is None:
            memory = memory or "leakbench" in getattr(item, "fixturenames", ())
            continue
        args = _settings(item)
        if not _enabled(config) or not isinstance(item, pytest.Function):
            continue
        memory = memory or args["memory"]
        if args["time"] and "benchmark" not in item.fixturenames:
            item.fixturenames.append("benchmark")
    if memory and _enabled(config):
        _set_up_memray()


_memray_set_up = False


def _set_up_memray() -> None:
    """Do memray's one-time, process-wide set-up now, before the first test's leak baseline.

    memray's first ``Tracker`` in a process initialises libunwind, which opens a pipe (to
    check addresses while unwinding) and keeps it for the life of the process; the test
    measured first was reported as leaking it (``pytest --leaks --leaks-bench``). One empty
    tracked run here, into a file removed at once, makes that pipe part of every baseline,
    whatever memray or libunwind version sets up what: a measured test is judged only on
    what it leaves open itself (every measurement closes its own capture file and thread).
    A failure here is the measurement's to report (memray already tracking this process)."""
    global _memray_set_up
    if _memray_set_up:
        return
    _memray_set_up = True
    from leakbench.gate.measure.memory import track  # memray

    with contextlib.suppress(OSError, RuntimeError), tempfile.TemporaryDirectory() as folder:
        track(lambda: None, 0, Path(folder) / "set-up.bin")


class Measure:
    """What the ``leakbench`` fixture returns: call it with the function to measure."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self.result: ScenarioResult | None = None

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Measure ``function(*args, **kwargs)`` (when enabled), then return one call's value."""
        if _enabled(self._request.config):
            item = self._request.node
            timed = _settings(item)["time"]
            benchmark = self._request.getfixturevalue("benchmark") if timed else None
            self.result = _measure_item(item, lambda: function(*args, **kwargs), benchmark)
            return _call_once(benchmark, function, *args, **kwargs)
        return function(*args, **kwargs)


@pytest.fixture
def leakbench(request: pytest.FixtureRequest) -> Measure:
    """Measure a function like a leakbench scenario (see ``leakbench.plugin.bench``)."""
    return Measure(request)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Marked tests that do not use the fixture: the test body is the iteration."""
    config = pyfuncitem.config
    if not _enabled(config) or "leakbench" in pyfuncitem.funcargs:
        return None
    if pyfuncitem.get_closest_marker("leakbench") is None:
        return None
    names = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {k: v for k, v in pyfuncitem.funcargs.items() if k in names}

    def iteration() -> None:
        pyfuncitem.obj(**kwargs)

    benchmark = pyfuncitem.funcargs.get("benchmark")
    _call_once(benchmark, iteration)  # the test's own assertions run (and fail) once, unmeasured
    _measure_item(pyfuncitem, iteration, benchmark)
    return True


def _call_once(benchmark: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One plain call, made through a disabled ``benchmark`` fixture (under xdist), which just
    calls it: a fixture never called makes pytest-benchmark warn "not used at all" at
    teardown, an error under ``filterwarnings = error``."""
    if benchmark is not None and benchmark.disabled:
        return benchmark(function, *args, **kwargs)
    return function(*args, **kwargs)


def _settings(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker("leakbench")
    try:
        args = _marker_arguments(*marker.args, **marker.kwargs) if marker else _marker_arguments()
    except TypeError as exc:
        raise pytest.UsageError(f"{item.nodeid}: bad leakbench marker: {exc}") from None
    if args["budget"]:
        try:
            BudgetConfig().for_scenario(item.nodeid, args["budget"])
        except BudgetError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
    return args


def _measure_item(
    item: pytest.Item, iteration: Callable[[], Any], benchmark: Any
) -> ScenarioResult:
    config = item.config
    args = _settings(item)
    memory: MemoryResult | None = None
    timing: TimeResult | None = None
    if args["memory"]:
        iterations = args["iterations"] or config.stash[SETTINGS].iterations
        capture = config.rootpath / ".leakbench" / "captures" / "pytest" / _slug(item.nodeid)
        from leakbench.gate.measure.memory import CaptureError  # memray
        from leakbench.gate.measure.memory import measure as measure_memory

        try:
            memory = measure_memory(
                iteration, iterations, args["warmup"], capture, root=config.rootpath
            )
        except CaptureError as exc:  # an incomplete capture (a full disk): no numbers
            pytest.fail(f"leakbench: {exc}", pytrace=False)
        except RuntimeError as exc:
            if "Tracker" not in str(exc):
                raise
            pytest.fail(f"leakbench: memray is already tracking this process ({exc})")
    if args["time"] and benchmark is not None:
        if benchmark.disabled:
            config.stash[NOTES].add(XDIST_NOTE)
        else:
            seconds = args["seconds"] or config.stash[SETTINGS].seconds
            time_interleaved(benchmark, iteration, seconds)
            timing = time_result_of(benchmark, f"time pass of {item.nodeid}")
    result = ScenarioResult(
        leak_class="pytest",
        variant="test",
        leaks_memory=False,
        memory=memory,
        time=timing,
        budget=args["budget"] or None,
    )
    config.stash[RESULTS][item.nodeid] = result
    return result


def _slug(nodeid: str) -> str:
    """The capture's file name: the one safe encoding of a name (``a/b`` and ``a_b`` differ)."""
    return safe_file_name(nodeid, ".bin")


def _results_path(config: pytest.Config) -> Path:
    path = config.stash[SETTINGS].results
    assert path is not None  # only called when measuring
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker:
        path = path.with_suffix(f".{worker}{path.suffix}")
    return path


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not _enabled(config) or not config.stash[RESULTS]:
        return
    results = Results(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        environment=fingerprint(config.rootpath),
        scenarios=dict(sorted(config.stash[RESULTS].items())),
    )
    write_results(results, _results_path(config))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _enabled(config):
        return
    measured = len(config.stash[RESULTS])
    if hasattr(config, "workerinput"):
        return
    writer = terminalreporter
    if measured:
        writer.write_line(f"leakbench: measured {measured} tests -> {_results_path(config)}")
    notes: set[str] = config.stash[NOTES]
    for note in sorted(notes):
        writer.write_line(f"leakbench: {note}")
    if getattr(config.option, "dist", "no") not in (None, "no"):
        writer.write_line(f"leakbench: {XDIST_NOTE}; results are written per worker")
