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
from collections.abc import Callable, Iterator
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


class UnknownScenarioError(LookupError):
    """Asked for a scenario name that no suite defines."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown scenario {name!r}; known scenarios: {', '.join(sorted(known))}")
        self.name = name
        self.known = known


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


def select(scenarios: dict[str, Scenario], names: list[str]) -> list[Scenario]:
    """The named scenarios (a leak class selects all its variants); all when empty."""
    if not names:
        return list(scenarios.values())
    chosen: list[Scenario] = []
    for name in names:
        matches = [s for s in scenarios.values() if name in (s.name, s.leak_class)]
        if not matches:
            raise UnknownScenarioError(name, list(scenarios))
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def run_iterations(scenario: Scenario, n: int) -> Iterator[int]:
    """Run ``n`` iterations inside the scenario's session, yielding after each."""
    with scenario.session() as iteration:
        for i in range(n):
            iteration()
            yield i
