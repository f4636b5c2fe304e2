"""What a scenario is, and how to find the scenarios of a suites package.

A scenario performs one unit of work per call ("one iteration") so that the
benchmark can run it N times and see whether memory grows per iteration. Its
resources (a loopback server, a temporary Chroma directory) are started and
stopped by a context manager around the iterations, never inside them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

Variant = Literal["leaky", "clean"]
"""The demo suites' label of a scenario: the leaky workload or its fixed (clean) twin."""
Iteration = Callable[[], None]

_PART = r"[^\s./\\]+"
NAME_PATTERN = re.compile(rf"{_PART}(?:\.{_PART})*")
"""A scenario name: printable dotted parts (``cache.lookup``, ``db.query[large]``), no spaces,
no ``/`` or ``\\`` (the name becomes a file name: ``.leakbench/captures/<name>.bin``)."""

_LABELLED = re.compile(r"[^.]+\.(leaky|clean)(?:\..+)?")
"""The demo suites' ``<leak_class>.leaky|clean[.<detail>]`` names, whose label is implied."""


@dataclass(frozen=True, init=False)
class Scenario:
    """One workload, measured one iteration at a time.

    Only ``name`` and ``session`` are required: a project's scenario is
    ``Scenario(name="cache.lookup", session=...)``. ``leak_class`` (the group that selects
    several scenarios at once) defaults to the name's first part, ``variant`` (the label
    leaky/clean) to what a ``<class>.leaky|clean[.<detail>]`` name says, else none ("").
    The first five fields may also be passed by position, as the demo suites' older callers
    do. A bad name or label raises ``ValueError`` naming it."""

    name: str
    """Unique dotted name, free-form (see :data:`NAME_PATTERN`), e.g. ``cache.lookup`` or the
    demo suites' ``<leak_class>.<variant>[.<detail>]`` such as ``httpx.leaky``."""
    leak_class: str
    """The group a selection by one word picks (``leakbench bench cache``): threads, tasks,
    httpx... in the demo suites; default: the name's first dotted part."""
    variant: Variant | Literal[""]
    """Optional label: ``"leaky"`` (a workload that leaks on purpose), ``"clean"`` (its fixed
    twin), ``""`` (neither: a project's ordinary workload). The HTML report puts a leaky and a
    clean scenario side by side and expects only leaky ones to leak; a leaky one's time pass is
    capped lower (see ``time_max_iterations``)."""
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
    pile-up), 2000 for the others."""
    instruction_iterations: int | None = None
    """Iterations the instruction pass counts under Valgrind (None: 20). Fixed, because the
    per-iteration average of another N differs slightly; lower it for heavy workloads (an
    iteration costs 50-100x its native time there)."""

    def __init__(
        self,
        name: str,
        leak_class: str = "",
        variant: Variant | Literal[""] | None = None,
        detectors: Sequence[str] = (),
        session: Callable[[], AbstractContextManager[Iteration]] | None = None,
        description: str = "",
        leaks_memory: bool = False,
        bench_iterations: int = 50,
        time_max_iterations: int | None = None,
        instruction_iterations: int | None = None,
    ) -> None:
        if not isinstance(name, str) or not (name.isprintable() and NAME_PATTERN.fullmatch(name)):
            raise ValueError(
                f"scenario name {name!r}: expected printable dotted parts such as "
                "'cache.lookup' (no spaces, no '/', no empty part)"
            )
        if session is None or not callable(session):
            raise ValueError(f"scenario {name!r}: session= must be a context-manager factory")
        if variant is None:
            variant = implied_label(name)
        if variant not in ("leaky", "clean", ""):
            raise ValueError(
                f"scenario {name!r}: variant {variant!r} must be 'leaky', 'clean' or ''"
            )
        values = {
            "name": name,
            "leak_class": leak_class or name.split(".", 1)[0],
            "variant": variant,
            "detectors": tuple(detectors),
            "session": session,
            "description": description,
            "leaks_memory": leaks_memory,
            "bench_iterations": bench_iterations,
            "time_max_iterations": time_max_iterations,
            "instruction_iterations": instruction_iterations,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)


def implied_label(name: str) -> Variant | Literal[""]:
    """The label a demo-style name implies: ``x.leaky[.d]`` leaky, ``x.clean[.d]`` clean,
    any other name none (``""``)."""
    found = _LABELLED.fullmatch(name)
    if found is None:
        return ""
    return "leaky" if found[1] == "leaky" else "clean"


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


class SuitesError(ImportError):
    """A suites package that cannot be used: a module whose ``SCENARIOS`` holds a bad
    scenario (a name with a space...), something else than scenarios, or a name defined
    twice. An ``ImportError``, so every caller that reports "cannot import the suites
    package" in one line reports this too, with the module and the scenario named."""


def discover(package: str = "suites", root: Path | None = None) -> dict[str, Scenario]:
    """Import every module of ``package`` and collect their ``SCENARIOS`` lists.

    ``package`` is a dotted name importable with ``root`` (default: the current directory)
    first on ``sys.path``: ``benchmarks`` for ``<root>/benchmarks/`` (a folder with or without
    ``__init__.py``), ``tests.bench`` for ``<root>/tests/bench/``, or an installed package.
    Raises ``ImportError`` (:class:`SuitesError` for a bad definition).
    """
    root = (root or Path.cwd()).resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    pkg = _import(package)
    found: dict[str, Scenario] = {}
    modules = [pkg]
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), prefix=f"{package}."):
        modules.append(_import(info.name))
    for module in modules:
        for scenario in getattr(module, "SCENARIOS", ()):
            if not isinstance(scenario, Scenario):
                raise SuitesError(
                    f"{module.__name__}: SCENARIOS holds {scenario!r}, not a leakbench.Scenario"
                )
            if scenario.name in found:
                raise SuitesError(f"{module.__name__}: scenario {scenario.name!r} is defined twice")
            found[scenario.name] = scenario
    return dict(sorted(found.items()))


def _import(module: str) -> ModuleType:
    """Import one module of a suites package; a bad ``Scenario(...)`` in it (``ValueError``)
    becomes a :class:`SuitesError` naming the module."""
    try:
        return importlib.import_module(module)
    except ValueError as exc:
        raise SuitesError(f"{module}: {exc}") from exc


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
