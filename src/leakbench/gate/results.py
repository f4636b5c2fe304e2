"""The results file: one schema-versioned JSON document per ``leakbench bench`` run.

Public API (consumed by ``leakbench compare``, ``leakbench baseline`` and reports):

- :class:`Results` (``environment``, ``scenarios``, ``created``), :class:`Environment`,
  :class:`ScenarioResult`, :class:`MemoryResult`, :class:`TimeResult`,
  :class:`InstructionsResult`, :class:`TopSite`: frozen dataclasses mirroring the JSON
  (``docs/results-schema.md`` documents every field).
- :func:`load_results` reads, migrates and validates a file; every failure is a
  :class:`ResultsError` subclass whose ``str()`` is one line naming the file and what to do,
  so a CLI can print it and exit 2.
- :func:`parse_results` does the same for an already-decoded document;
  :func:`memory_from_dict` / :func:`time_from_dict` / :func:`instructions_from_dict` for one
  pass's object.
- :meth:`Results.to_dict` / :func:`write_results` serialise; writes are atomic
  (``leakbench._util.atomic``: temp file in the same directory, fsync, ``os.replace``), so
  an interrupted run never leaves a half-written file where a good one was.

Why frozen dataclasses and hand-written validation: the document is small, the schema must
stay stable for stored baselines, and a precise error ("scenarios.x.memory.peak_bytes: expected
an integer >= 0, got -5") is worth more than a dependency. The rules of the values (finite
numbers in range, printable names, an environment key that is a file name) and the JSON text
reader live in ``leakbench.gate.results_checks``; every command reads through them, so a value
one command refuses, all refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from leakbench._util.atomic import write_json_atomic
from leakbench._util.jsonfields import FieldError, get_field
from leakbench.gate import results_checks as checks

_Built = TypeVar("_Built")

SCHEMA = "leakbench-results"
SCHEMA_VERSION = 2

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Environment",
    "InstructionsResult",
    "MemoryResult",
    "Provenance",
    "Results",
    "ResultsCorruptError",
    "ResultsError",
    "ResultsInvalidError",
    "ResultsMissingError",
    "ResultsTooNewError",
    "ScenarioResult",
    "Selection",
    "TimeResult",
    "TopSite",
    "instructions_from_dict",
    "load_results",
    "memory_from_dict",
    "parse_results",
    "time_from_dict",
    "write_results",
]


class ResultsError(Exception):
    """A results or baseline file cannot be used. ``str(err)`` is one line for the user."""

    def __init__(self, path: Path | str, problem: str, hint: str) -> None:
        super().__init__(f"{path}: {problem}; {hint}")
        self.path = Path(path)
        self.problem = problem
        self.hint = hint


class ResultsMissingError(ResultsError):
    """The file does not exist."""


class ResultsCorruptError(ResultsError):
    """The file is not valid JSON (truncated by a crash, edited by hand, ...)."""


class ResultsTooNewError(ResultsError):
    """The file was written by a newer leakbench (higher ``schema_version``)."""


class ResultsInvalidError(ResultsError):
    """Valid JSON, but not a leakbench results document, or a field has the wrong type."""


@dataclass(frozen=True)
class Environment:
    """Where the numbers were measured; ``key`` selects the baseline file."""

    python_version: str
    """Full version, e.g. ``3.11.9``."""
    implementation: str
    """``CPython``, ``PyPy``..."""
    platform: str
    """``linux``, ``darwin``, ``win32`` (``sys.platform``)."""
    machine: str
    """``x86_64``, ``arm64``... (``platform.machine()``)."""
    cpu_model: str
    cpu_count: int
    lock_hash: str
    """sha256 (first 16 hex digits) of ``requirements.lock``; "" when there is none."""
    memray_mode: str
    """``pyalloc`` (Python allocators traced) is the only mode leakbench uses today."""
    git_commit: str
    """Full commit hash, or "" outside a git checkout."""
    git_dirty: bool
    key: str
    """``py<major.minor>-<platform>-<machine>-<memray mode>``: ``py3.11-linux-x86_64-pyalloc``."""

    def time_comparable(self, other: Environment) -> bool:
        """Whether times measured in ``other`` can be compared with ours (same CPU and Python)."""
        return (
            self.key == other.key
            and self.python_version == other.python_version
            and self.implementation == other.implementation
            and self.cpu_model == other.cpu_model
            and self.cpu_count == other.cpu_count
        )


@dataclass(frozen=True)
class TopSite:
    """A call site still holding memory at the end of the tracked run."""

    location: str
    """``path:line function`` of the innermost Python frame."""
    bytes: int
    count: int


@dataclass(frozen=True)
class MemoryResult:
    """The memray pass. All byte counts are integers; see ``docs/results-schema.md``."""

    iterations: int
    """N: iterations in the main tracked run (the 2N run gives the slope)."""
    warmup_iterations: int
    peak_bytes: int
    """High-water mark during the N-iteration run, relative to the tracker's start."""
    total_allocated_bytes: int
    allocations: int
    """Number of allocations (sum of ``n_allocations`` over records)."""
    retained_bytes: int
    """Bytes still allocated at the end of the N-iteration run, after ``gc.collect()``."""
    retained_per_iteration: float
    """Leak signature: (retained(2N) - retained(N)) / N."""
    series: list[tuple[int, int]] = field(default_factory=list)
    """``[iterations, retained_bytes]`` points, ascending; at least the N and 2N runs."""
    top_sites: list[TopSite] = field(default_factory=list)
    """Up to 10 sites retaining the most bytes in the N run, largest first."""
    capture: str | None = None
    """Path of the memray capture of the N run (for ``memray flamegraph``), or null."""


@dataclass(frozen=True)
class TimeResult:
    """The pytest-benchmark pass: seconds per iteration, raw rounds kept."""

    rounds: list[float]
    """Scenario seconds per iteration, one per round, in run order."""
    reference_rounds: list[float]
    """Reference-workload seconds per unit; ``reference_rounds[i]`` ran right after round i."""
    ratios: list[float]
    """``rounds[i] / reference_rounds[i]``: iteration cost in reference units (speed-free)."""
    median: float
    mean: float
    min: float
    stddev: float
    reference_median: float
    ratio_median: float
    unit: str = "seconds"
    iterations_per_round: int = 1
    """Calls of the iteration per round (pytest-benchmark's ``iterations``)."""
    reference_units_per_round: int = 1
    """Reference-workload units run after each scenario round (a similar duration)."""
    process_rounds: list[int] = field(default_factory=list)
    """Rounds contributed by each fresh process, in order (``rounds`` concatenates them);
    empty when unknown. Lets a comparison see between-process variation."""
    cpu: int | None = None
    """The CPU the time processes were pinned to (null: not pinned). Pinned and unpinned
    times are not comparable (pinned is single-core and far steadier)."""
    reference_version: int = 1
    """``leakbench.gate.measure.reference.REFERENCE_VERSION`` of the reference workload the ratios
    are relative to; ratios against different references are not comparable."""


@dataclass(frozen=True)
class InstructionsResult:
    """The instruction pass: CPU instructions per iteration, counted under Valgrind.

    ``per_iteration`` is None when the pass was asked for but gave no figure (Valgrind not
    installed, crashed, killed, timed out); ``reason`` then says why in one line."""

    per_iteration: float | None
    """Instructions of the counted iterations (all threads of the process) / ``iterations``."""
    iterations: int
    """N: iterations counted (instrumentation on only around them)."""
    warmup_iterations: int
    total: int | None = None
    """Instructions counted in the whole window (``per_iteration`` x N)."""
    tool: str = "callgrind"
    tool_version: str = ""
    """``valgrind --version``, e.g. ``valgrind-3.19.0``; counts of other versions differ."""
    seconds: float = 0.0
    """Wall time of the whole Valgrind process (start-up included): the pass's cost."""
    reason: str = ""
    """Why ``per_iteration`` is None ("" when there is a figure)."""


@dataclass(frozen=True)
class Provenance:
    """One scenario's own run: when (``created``) and where (commit, machine, Python)."""

    created: str
    environment: Environment


@dataclass(frozen=True)
class Selection:
    """What a ``leakbench bench`` run was asked to measure, so a comparison can tell a
    scenario that no longer exists ("removed") from one this run did not measure."""

    suites: str
    """The scenario package (``--suites``)."""
    available: list[str]
    """Every scenario the package defined at that run, sorted."""
    requested: list[str] = field(default_factory=list)
    """The SCENARIO arguments (names or classes); empty: all."""
    shards: list[int] = field(default_factory=lambda: [1])
    """The shards K (1-based) of ``--shard K/N`` this document holds; ``[1]`` of 1 unsharded."""
    shard_count: int = 1
    """N of ``--shard K/N`` (1: not sharded)."""

    @property
    def complete(self) -> bool:
        """Whether the document holds every scenario of ``available`` it was asked for: no
        names given and every shard present."""
        return not self.requested and sorted(set(self.shards)) == list(
            range(1, self.shard_count + 1)
        )


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's measurements; a pass is null when skipped (``--memory-only``...)."""

    leak_class: str
    variant: str
    leaks_memory: bool
    memory: MemoryResult | None = None
    time: TimeResult | None = None
    budget: dict[str, Any] | None = None
    """Budget overrides from a test's ``leakbench`` marker (keys as in ``[tool.leakbench]``
    scenario tables); null for suite scenarios, whose budgets live in ``pyproject.toml``."""
    instructions: InstructionsResult | None = None
    """The instruction pass; null when it was not run (``--no-instructions``, ``--memory-only``,
    tests measured with the ``leakbench`` fixture, files of schema version 1)."""
    provenance: Provenance | None = None
    """Where and when this scenario was measured, when that differs from (or may differ from)
    the document's ``created`` and ``environment``: a merged baseline or shards keep each
    scenario's own. Null: the document's."""

    @property
    def instructions_per_iteration(self) -> float | None:
        """``instructions.per_iteration``, or None when there is no figure."""
        return self.instructions.per_iteration if self.instructions else None


@dataclass(frozen=True)
class Results:
    """A whole results document."""

    created: str
    """ISO 8601 UTC timestamp of the run."""
    environment: Environment
    scenarios: dict[str, ScenarioResult]
    selection: Selection | None = None
    """What the run was asked to measure; null in documents of older versions, merged ones of
    mixed selections, and tests measured with the ``leakbench`` fixture."""
    unrecorded: tuple[str, ...] = field(default=(), compare=False)
    """Memory fields (``series``, ``top_sites``, ``capture``) absent from some scenario of
    the file read (an early version-1 file): they read as not recorded. Not written."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema and version first)."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "created": self.created,
            "environment": asdict(self.environment),
            "scenarios": {name: _scenario_dict(s) for name, s in self.scenarios.items()},
            "selection": None if self.selection is None else asdict(self.selection),
        }

    def provenance_of(self, name: str) -> Provenance:
        """Scenario ``name``'s own provenance, else the document's."""
        own = self.scenarios[name].provenance
        return own if own is not None else Provenance(self.created, self.environment)


def _scenario_dict(s: ScenarioResult) -> dict[str, Any]:
    out = asdict(s)
    if s.memory is not None:
        out["memory"]["series"] = [list(p) for p in s.memory.series]
    return out


# ----------------------------------------------------------------------------- loading

_HINT_RERUN = "re-run `leakbench bench` to produce a fresh results file"


def load_results(path: Path | str) -> Results:
    """Read, migrate and validate a results (or baseline) file; raise :class:`ResultsError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsMissingError(p, "no such file", _HINT_RERUN) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsCorruptError(p, f"cannot read ({exc})", _HINT_RERUN) from None
    try:
        doc = checks.decode_json(text)
    except checks.JsonTextError as exc:
        raise ResultsCorruptError(p, exc.problem, _HINT_RERUN) from None
    return parse_results(doc, p)


def parse_results(doc: object, path: Path | str = "<results>") -> Results:
    """Validate a decoded document (migrating older versions) into :class:`Results`."""
    p = Path(path)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsInvalidError(
            p, f"not a {SCHEMA} document", "pass a file `leakbench bench` wrote"
        )
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ResultsInvalidError(p, f"bad schema_version {version!r}", _HINT_RERUN)
    if version > SCHEMA_VERSION:
        raise ResultsTooNewError(
            p,
            f"schema_version {version} is newer than this leakbench reads ({SCHEMA_VERSION})",
            "upgrade leakbench, or re-run `leakbench bench` with this version",
        )
    migrated = _migrate(doc)
    return _checked(p, lambda: _build(migrated))


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added the instruction pass: a version-1 file has no instruction figure."""
    scenarios = doc.get("scenarios")
    if isinstance(scenarios, dict):
        for s in scenarios.values():
            if isinstance(s, dict):
                s.setdefault("instructions", None)
    return doc


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
"""``_MIGRATIONS[v]`` turns a version-``v`` document into version ``v + 1``."""


def _migrate(doc: dict[str, Any]) -> dict[str, Any]:
    version: int = doc["schema_version"]
    while version < SCHEMA_VERSION:
        doc = _MIGRATIONS[version](doc)
        version += 1
        doc["schema_version"] = version
    return doc


def _build(doc: Mapping[str, Any]) -> Results:
    env = Environment(**checks.environment_fields(get_field(doc, "environment", dict, "$")))
    scenarios: dict[str, ScenarioResult] = {}
    unrecorded: set[str] = set()
    for name, value in get_field(doc, "scenarios", dict, "$").items():
        where = f"scenarios.{checks.shown(name)}"
        fields = checks.scenario_fields(name, value, where)
        mem, tim, ins = fields.pop("memory"), fields.pop("time"), fields.pop("instructions")
        if mem is not None:
            unrecorded |= checks.OLDER_MEMORY_FIELDS.keys() - mem.keys()
        scenarios[name] = ScenarioResult(
            **fields,
            memory=None if mem is None else _build_memory(mem, f"{where}.memory"),
            time=None if tim is None else _build_time(tim, f"{where}.time"),
            instructions=None if ins is None else _build_instructions(ins, f"{where}.instructions"),
            provenance=_build_provenance(value, f"{where}.provenance"),
        )
    return Results(
        created=get_field(doc, "created", str, "$"),
        environment=env,
        scenarios=scenarios,
        selection=_build_selection(doc),
        unrecorded=tuple(sorted(unrecorded)),
    )


def _build_provenance(scenario: Mapping[str, Any], where: str) -> Provenance | None:
    """The optional ``provenance`` of a scenario (added in version 2 without a version bump:
    readers that do not know it ignore it and use the document's provenance)."""
    raw = scenario.get("provenance")
    if raw is None:
        return None
    p = checks.object_at(raw, where)
    created = get_field(p, "created", str, where)
    try:
        env = checks.environment_fields(get_field(p, "environment", dict, where))
    except FieldError as exc:
        if exc.where.startswith(where):
            raise
        raise FieldError(f"{where}.{exc.where}", exc.problem) from None
    return Provenance(created=created, environment=Environment(**env))


def _build_selection(doc: Mapping[str, Any]) -> Selection | None:
    """The optional top-level ``selection`` (names printable, shards within 1..N)."""
    raw = doc.get("selection")
    if raw is None:
        return None
    where = "selection"
    s = checks.object_at(raw, where)
    names: dict[str, list[str]] = {}
    for key in ("available", "requested"):
        values = get_field(s, key, list, where)
        names[key] = [
            checks.check_name(v, f"{where}.{key}[{i}]", "a scenario name")
            for i, v in enumerate(values)
        ]
    count = checks.count(s, "shard_count", where, minimum=1)
    shards = get_field(s, "shards", list, where)
    for i, k in enumerate(shards):
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= count:
            raise FieldError(f"{where}.shards[{i}]", f"expected a shard from 1 to {count}")
    return Selection(
        suites=get_field(s, "suites", str, where),
        available=names["available"],
        requested=names["requested"],
        shards=list(shards),
        shard_count=count,
    )


def memory_from_dict(doc: object, path: Path | str = "<memory>") -> MemoryResult:
    """Validate one ``memory`` object (as written by ``dataclasses.asdict``)."""
    return _checked(path, lambda: _build_memory(checks.object_at(doc, "memory"), "memory"))


def time_from_dict(doc: object, path: Path | str = "<time>") -> TimeResult:
    """Validate one ``time`` object (as written by ``dataclasses.asdict``)."""
    return _checked(path, lambda: _build_time(checks.object_at(doc, "time"), "time"))


def instructions_from_dict(doc: object, path: Path | str = "<instructions>") -> InstructionsResult:
    """Validate one ``instructions`` object (as written by ``dataclasses.asdict``)."""
    return _checked(
        path, lambda: _build_instructions(checks.object_at(doc, "instructions"), "instructions")
    )


def _checked(path: Path | str, build: Callable[[], _Built]) -> _Built:
    """``build()``, a bad field a :class:`ResultsInvalidError` naming it (and ``path``)."""
    try:
        return build()
    except FieldError as exc:
        raise ResultsInvalidError(path, f"{exc.where}: {exc.problem}", _HINT_RERUN) from None


def _build_memory(m: Mapping[str, Any], where: str) -> MemoryResult:
    fields = checks.memory_fields(m, where)
    sites = [TopSite(**site) for site in fields.pop("top_sites")]
    return MemoryResult(**fields, top_sites=sites)


def _build_time(t: Mapping[str, Any], where: str) -> TimeResult:
    return TimeResult(**checks.time_fields(t, where))


def _build_instructions(i: Mapping[str, Any], where: str) -> InstructionsResult:
    return InstructionsResult(**checks.instructions_fields(i, where))


# ----------------------------------------------------------------------------- writing


def write_results(results: Results, path: Path | str) -> Path:
    """Atomically write ``results`` to ``path``; return the path."""
    return write_json_atomic(path, results.to_dict())
