"""What a scenario is, and how to find the scenarios of a suites package.

A scenario performs one unit of work per call ("one iteration") so that the
benchmark can run it N times and see whether memory grows per iteration. Its
resources (a loopback server, a temporary Chroma directory) are started and
stopped by a context manager around the iterations, never inside them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Variant = Literal["leaky", "clean"]
Iteration = Callable[[], None]


@dataclass(frozen=True)
class Scenario:
    """One leaky or clean workload of a leak class."""

    name: str
    """Unique dotted name, ``<leak_class>.<variant>[.<detail>]``, e.g. ``httpx.leaky``."""
    leak_class: str
    """threads, tasks, httpx, chroma, mocks, learning, locator, subprocesses, ..."""
    variant: Variant
    detectors: tuple[str, ...]
    """Detector kinds that catch the leaky variant (empty for clean variants)."""
    session: Callable[[], AbstractContextManager[Iteration]]
    """Enter: start the resources and return the iteration function; exit: stop them."""
    description: str = ""
    leaks_memory: bool = False
    """True when retained memory grows per iteration (checked by the benchmark)."""
    bench_iterations: int = 50
    """Tracked iterations in ``leakbench bench``'s memory pass (lower it for heavy workloads)."""
    time_max_iterations: int | None = None
    """Most iterations the time pass may run; None: 200 for leaky variants (their leftovers,
    such as a polling thread per call, slow every later call, so the timing would measure the
    pile-up), 2000 for clean ones."""
    instruction_iterations: int | None = None
    """Iterations the instruction pass counts under Valgrind (None: 20). Fixed, because the
    per-iteration average of another N differs slightly; lower it for heavy workloads (an
    iteration costs 50-100x its native time there)."""


DEFAULT_INSTRUCTION_ITERATIONS = 20
"""The instruction pass's N for a scenario that sets no ``instruction_iterations``."""


def instruction_iterations_for(scenario: Scenario, override: int | None = None) -> int:
    """The instruction pass's N: ``override``, else the scenario's own, else 20."""
    if override is not None:
        return override
    return scenario.instruction_iterations or DEFAULT_INSTRUCTION_ITERATIONS


class UnknownScenarioError(LookupError):
    """Asked for a scenario that is neither a name nor a leak class of those at hand.

    The one error of every selection (``leakbench bench``'s names, ``--scenario`` of
    ``compare`` and ``compare-branches``): its message lists the known names."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown scenario {name!r} (known: {', '.join(self.known) or 'none'})")


def discover(package: str = "suites", root: Path | None = None) -> dict[str, Scenario]:
    """Import every module of ``package`` and collect their ``SCENARIOS`` lists.

    ``root`` (default: the current directory) is put on ``sys.path`` so that the
    repository's ``suites/`` package imports without being installed.
    """
    root = (root or Path.cwd()).resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    pkg = importlib.import_module(package)
    found: dict[str, Scenario] = {}
    modules = [pkg]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        modules.append(importlib.import_module(info.name))
    for module in modules:
        for scenario in getattr(module, "SCENARIOS", ()):
            if scenario.name in found:
                raise ValueError(f"scenario {scenario.name!r} is defined twice")
            found[scenario.name] = scenario
    return dict(sorted(found.items()))


def module_of(scenario: Scenario) -> str | None:
    """The module that defines ``scenario``'s session (its ``SCENARIOS`` list, in the usual
    layout), or None when the session does not say (a ``functools.partial``...)."""
    module = getattr(scenario.session, "__module__", None)
    return module if isinstance(module, str) and module else None


def find(package: str, name: str, root: Path | None = None, module: str | None = None) -> Scenario:
    """Scenario ``name`` of ``package``: from ``module``'s ``SCENARIOS`` when given and found
    there (a measurement child under Valgrind then imports one module, not the whole suite:
    ~1.4 s less start-up each), else by :func:`discover`. ``KeyError`` when it is nowhere."""
    if module and (module == package or module.startswith(package + ".")):
        root = (root or Path.cwd()).resolve()
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        for scenario in getattr(importlib.import_module(module), "SCENARIOS", ()):
            if isinstance(scenario, Scenario) and scenario.name == name:
                return scenario
    return discover(package, root)[name]


def matching(wanted: Sequence[str], leak_classes: Mapping[str, str]) -> list[str]:
    """The names (keys of ``leak_classes``: name -> leak class) that ``wanted`` asks for.

    Each entry is a scenario name or a leak class (which selects all its variants); the
    result follows ``wanted``, then ``leak_classes``' order, without repeats; all names when
    ``wanted`` is empty. Callers pass what they have (discovered scenarios, the scenarios of
    two results files, what each compare-branches side listed), so one rule serves them all.
    Raises :class:`UnknownScenarioError` for an entry that matches nothing.
    """
    if not wanted:
        return list(leak_classes)
    chosen: dict[str, None] = {}
    for entry in wanted:
        hits = [n for n, leak_class in leak_classes.items() if entry in (n, leak_class)]
        if not hits:
            raise UnknownScenarioError(entry, leak_classes)
        chosen.update(dict.fromkeys(hits))
    return list(chosen)


def select(scenarios: Mapping[str, Scenario], names: Sequence[str]) -> list[Scenario]:
    """The named scenarios (see :func:`matching`); all when ``names`` is empty."""
    return [scenarios[n] for n in matching(names, {n: s.leak_class for n, s in scenarios.items()})]


def run_iterations(scenario: Scenario, n: int) -> Iterator[int]:
    """Run ``n`` iterations inside the scenario's session, yielding after each."""
    with scenario.session() as iteration:
        for i in range(n):
            iteration()
            yield i
