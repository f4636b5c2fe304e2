"""Measure ordinary tests like scenarios: the ``leakbench`` fixture and marker.

::

    def test_parse(leakbench):
        leakbench(parse, payload)          # parse(payload) is the measured iteration

    @pytest.mark.leakbench(iterations=20, memory_budget=0.5)
    def test_client(server):
        Client(server.url).get("/")        # the whole test body is the iteration

With ``pytest --leakbench-bench[=PATH]`` each such test gets the memory pass (memray, in this
process: the test's fixtures live here) and the time pass (pytest-benchmark's ``benchmark``
fixture, interleaved with the reference workload), and one results file (the format of
``leakbench bench``, scenario name = test node id) is written at the end of the session.
Without the option the fixture calls the function once and marked tests run as usual, so the
same tests stay cheap in a normal run.

pytest-benchmark disables itself under pytest-xdist; there the time pass is skipped (the
summary says so) and each worker writes its own file, ``PATH`` with ``.<worker>`` added.
Marker arguments are checked against :func:`_marker_arguments`, so the ``--markers`` help and
the parser cannot drift apart; budget keys are checked by ``leakbench.gate.verdicts.budgets``.

The options (``--leakbench-bench``, ``--leakbench-iterations``, ``--leakbench-seconds``, with
ini and ``[tool.leakbench]`` keys ``leakbench_bench``...) are declared and resolved in
``leakbench.plugin.options`` like every plugin option; this entry point only registers them,
so that it keeps working on its own.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leakbench.gate.environment import fingerprint
from leakbench.gate.measure.memory import measure as measure_memory
from leakbench.gate.measure.timing import time_interleaved, time_result_of
from leakbench.gate.results import MemoryResult, Results, ScenarioResult, TimeResult, write_results
from leakbench.gate.verdicts.budgets import BudgetConfig, BudgetError
from leakbench.plugin import options
from leakbench.plugin.options import BenchSettings

MARKER_HELP = (
    "leakbench(iterations=None, warmup=2, seconds=None, memory=True, time=True, **budget): "
    "measure this test's body with `pytest --leakbench-bench` (memray + pytest-benchmark); "
    "budget keys as in [tool.leakbench] scenario tables."
)
SETTINGS = pytest.StashKey[BenchSettings]()
RESULTS = pytest.StashKey[dict[str, ScenarioResult]]()
NOTES = pytest.StashKey[set[str]]()
XDIST_NOTE = "time pass skipped: pytest-benchmark disables itself under pytest-xdist"


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
    options.add_bench_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = options.resolve_bench(config)  # a bad value: a usage error naming its source
    config.stash[SETTINGS] = settings
    if settings.results is not None:
        config.stash[RESULTS] = {}
        config.stash[NOTES] = set()


def _enabled(config: pytest.Config) -> bool:
    return RESULTS in config.stash


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every marker now (a typo is a usage error even in a normal run); marked tests
    need pytest-benchmark's fixture for their time pass."""
    for item in items:
        if item.get_closest_marker("leakbench") is None:
            continue
        _settings(item)
        if not _enabled(config) or not isinstance(item, pytest.Function):
            continue
        if "benchmark" not in item.fixturenames:
            item.fixturenames.append("benchmark")


class Measure:
    """What the ``leakbench`` fixture returns: call it with the function to measure."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self.result: ScenarioResult | None = None

    def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Measure ``function(*args, **kwargs)`` (when enabled), then return one call's value."""
        if _enabled(self._request.config):
            item = self._request.node
            benchmark = self._request.getfixturevalue("benchmark")
            self.result = _measure_item(item, lambda: function(*args, **kwargs), benchmark)
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

    iteration()  # the test's own assertions run (and fail) once, unmeasured
    _measure_item(pyfuncitem, iteration, pyfuncitem.funcargs["benchmark"])
    return True


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
        try:
            memory = measure_memory(
                iteration, iterations, args["warmup"], capture, root=config.rootpath
            )
        except RuntimeError as exc:
            if "Tracker" not in str(exc):
                raise
            pytest.fail(f"leakbench: memray is already tracking this process ({exc})")
    if args["time"]:
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
    return re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid)[:150] + ".bin"


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
