"""Every plugin option in one place: command line, ini key and [tool.leakbench].

Each option has one name used everywhere (``--leaks-grace``, ini ``leaks_grace``,
``leaks_grace`` in ``[tool.leakbench]``) and one help text shared by the command
line and the ini declaration. Precedence, highest first: ``allow_leaks`` marker
(per test), command line, ``LEAKBENCH_LEAKS`` environment variable, pytest ini
(``pytest.ini``, ``[tool.pytest.ini_options]``...), ``[tool.leakbench]`` (of the
nearest ``pyproject.toml`` at or above the rootdir; an unreadable one is ignored). The
lookup and the value parsers live in ``leakbench.plugin.sources``: a bad value is a
usage error naming its source.

``[tool.leakbench]`` is shared with the gate's budgets (``leakbench.gate.verdicts.budgets``):
``TABLE_KEYS`` is the one list of the keys both own, and ``check_table`` refuses any other
key (suggesting the closest known one) and any value of a plugin key whose TOML type is
wrong, before anything else is resolved. The gate's commands receive ``TABLE_KEYS`` from the
command line (``leakbench.cli.errors.load_budgets``), so both refuse the same typos.

The leak-check options are resolved into ``Settings`` by the plugin's hooks
(``leakbench.plugin.hooks``); the options of the ``leakbench`` fixture and marker
(``--leaks-bench``, ``--leaks-bench-json``, ``--leaks-bench-iterations``,
``--leaks-bench-seconds``, declared by the separate ``leakbench_bench`` entry point,
``leakbench.plugin.bench``) by ``leakbench.plugin.bench_options``, by the same rules; their
keys are declared here with the others (``BENCH_KEYS``). Their old names
(``--leakbench-bench[=PATH]``, whose optional value swallowed a following test path, and
``--leakbench-iterations``, ``--leakbench-seconds`` with their ini and table keys) are
refused with one line naming the new one (``RENAMED``). Every file an option writes is
checked before any test runs (``sources.check_output``). The detector lists in the help
texts come from the detector registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from leakbench import detectors
from leakbench._util.pyproject import UnknownKeyError, check_keys
from leakbench.detectors.globals_state import resolve_dotted
from leakbench.gate import suites_setting
from leakbench.gate.verdicts import budgets
from leakbench.plugin.memory import Limits
from leakbench.plugin.policy import DEFAULT_ALLOW, allow_matcher, patterns
from leakbench.plugin.record import SCHEMA as TESTS_SCHEMA
from leakbench.plugin.sources import (
    ENV_VAR,
    FALSE,
    TRUE,
    check_output,
    number_wanted,
    parse_bool,
    parse_limit,
    parse_number,
    picker,
    shown,
    table_label,
    tool_table,
)


def _detector_help() -> str:
    """The ``--leaks`` help: every detector of the registry with what it reports."""
    defaults = "; ".join(f"{n}: {detectors.REGISTRY[n].description}" for n in detectors.DEFAULT)
    opt_in = "; ".join(f"{n}: {detectors.REGISTRY[n].description}" for n in detectors.OPT_IN)
    example = f"'default,{detectors.OPT_IN[-1]}'" if detectors.OPT_IN else "'default'"
    return (
        "check every test for leaks. Optionally a comma-separated list of detectors "
        f"(default: {','.join(detectors.DEFAULT)}; opt-in: {', '.join(detectors.OPT_IN)}; "
        f"{example} adds to the defaults). 'all' selects every detector; 'false' turns "
        f"checking off. Default detectors: {defaults}. Opt-in detectors: {opt_in}."
    )


HELP_LEAKS = _detector_help()
HELP_REPORT_ONLY = "report leaks without failing the tests"
MAX_GRACE = 60.0
"""The longest grace period: every leaking test waits it out, so more would hang the run."""
HELP_GRACE = (
    "seconds to wait for finishing threads/processes before calling them leaked "
    f"(0.5; at most {MAX_GRACE:g})"
)
HELP_ALLOW = (
    "allow-list patterns 'kind:glob' (e.g. 'threads:MyPool-*', 'fds:/dev/shm/*') matched "
    "against thread names and targets, task coroutines, command lines, paths, patch targets"
)
HELP_OBJECTS_THRESHOLD = "objects detector: minimum growth of one type's instance count (100)"
HELP_FULL_GC = "always run a full garbage collection at teardown (slower, exact attribution)"
HELP_GLOBALS = (
    "globals detector: a dotted name of module state that tests must leave as they found it "
    "(e.g. pkg.services.Locator._cache), watched besides os.environ, sys.path, cwd and logging"
)
HELP_JSON = (
    "write every test's outcome, duration, leaks and memory, and each worker's RSS, to PATH "
    "as JSON (one file, merged across xdist workers)"
)
HELP_RSS = "measure each test's peak RSS and growth of its worker; list the tests that grow most"
_SIZE_FORMS = "SIZE: 2GB, 512MiB, 1.5GiB, 1048576 or 75% (of RAM)"
HELP_MAX_RSS = (
    "memory guard: fail the test after which this process (each xdist worker) uses more than "
    f"SIZE RSS, and stop the run. {_SIZE_FORMS}"
)
HELP_MAX_TOTAL_RSS = (
    "memory guard: fail the test after which all workers together (the controller's process "
    f"tree) use more than SIZE RSS, and stop the run. {_SIZE_FORMS}"
)

DEFAULT_BENCH_PATH = ".leakbench/results/pytest-latest.json"
HELP_BENCH = (
    "measure the tests that use the leakbench fixture or marker (memray and pytest-benchmark: "
    "pip install 'leakbench[bench]') and write their results to --leaks-bench-json"
)
HELP_BENCH_JSON = (
    "where --leaks-bench writes its results (given on the command line, it turns measuring "
    f"on; default {DEFAULT_BENCH_PATH} under the rootdir). An existing file is replaced only "
    "when it is a leakbench results document"
)
DEFAULT_ITERATIONS = 20
HELP_ITERATIONS = (
    f"tracked iterations per measured test unless its marker says ({DEFAULT_ITERATIONS})"
)
DEFAULT_SECONDS = 1.0
HELP_SECONDS = (
    f"seconds of timed rounds per measured test unless its marker says ({DEFAULT_SECONDS:g})"
)


@dataclass(frozen=True)
class Key:
    """One ini / ``[tool.leakbench]`` key: its help, and which TOML values it takes."""

    help: str
    toml: tuple[type, ...]
    """The TOML types accepted (``bool`` is never an ``int`` here); a list holds strings."""
    expected: str
    """What the value must be, in the words of the error."""
    linelist: bool = False
    """One value per line in the ini file (the values of every source add up)."""


_BOOL = ((bool, str), "true or false")
_SIZE = (
    (int, float, str),
    "a size such as '2GB', '512MiB', '1.5GiB' or '75%' (of RAM), or a number of bytes",
)

KEYS: dict[str, Key] = {
    "leaks": Key(
        HELP_LEAKS,
        (bool, str, list),
        "true, false or detector names (a comma-separated string or a list of strings)",
    ),
    "leaks_report_only": Key(HELP_REPORT_ONLY, *_BOOL),
    "leaks_grace": Key(
        HELP_GRACE, (int, float, str), number_wanted(float, maximum=MAX_GRACE, unit="seconds")
    ),
    "leaks_allow": Key(
        HELP_ALLOW, (str, list), "a pattern 'kind:glob' or a list of them", linelist=True
    ),
    "leaks_objects_threshold": Key(HELP_OBJECTS_THRESHOLD, (int, str), number_wanted(int)),
    "leaks_full_gc": Key(HELP_FULL_GC, *_BOOL),
    "leaks_globals": Key(
        HELP_GLOBALS, (str, list), "a dotted name or a list of them", linelist=True
    ),
    "leaks_json": Key(HELP_JSON, (str,), "a file path (a string)"),
    "leaks_rss": Key(HELP_RSS, *_BOOL),
    "leaks_max_rss": Key(HELP_MAX_RSS, *_SIZE),
    "leaks_max_total_rss": Key(HELP_MAX_TOTAL_RSS, *_SIZE),
}
"""The leak-check keys, in ``--help`` order (declared by ``add_options``)."""

BENCH_KEYS: dict[str, Key] = {
    "leaks_bench": Key(HELP_BENCH, *_BOOL),
    "leaks_bench_json": Key(HELP_BENCH_JSON, (str,), "a file path (a string)"),
    "leaks_bench_iterations": Key(HELP_ITERATIONS, (int, str), number_wanted(int, above_zero=True)),
    "leaks_bench_seconds": Key(
        HELP_SECONDS, (int, float, str), number_wanted(float, above_zero=True, unit="seconds")
    ),
}
"""The ``leakbench`` fixture's keys (declared by ``add_bench_options``)."""

RENAMED: dict[str, str] = {
    "leakbench_bench": "leaks_bench",
    "leakbench_iterations": "leaks_bench_iterations",
    "leakbench_seconds": "leaks_bench_seconds",
}
"""The fixture's old keys and options (``--leakbench-bench``...) -> their new names. Still
declared, so that using one is refused with the new name instead of a bare "unrecognized
argument" (or, in an ini file, silently ignored)."""
_RENAMED_HINTS = {old: f"renamed: {new}" for old, new in RENAMED.items()}

OPTION_KEYS: tuple[str, ...] = (*KEYS, *BENCH_KEYS)
"""Every key the plugin reads from the ini file and ``[tool.leakbench]``."""

TABLE_KEYS: tuple[str, ...] = tuple(
    sorted({*OPTION_KEYS, *budgets.TABLE_KEYS, *suites_setting.TABLE_KEYS})
)
"""The one list of ``[tool.leakbench]`` keys: the plugin's options, the gate's budgets and
``suites`` (the default of ``--suites``).
Any other key is a usage error in ``pytest`` and bad input (exit 2) in ``leakbench``."""


def check_table(config: pytest.Config) -> None:
    """Refuse an unknown ``[tool.leakbench]`` key, and a plugin key whose value has the
    wrong TOML type (the gate checks its budget values itself): one line each, naming the
    file, the key and what is expected."""
    table = tool_table(config)
    label = table_label(config)
    try:
        check_keys(table, TABLE_KEYS, label, {**budgets.TABLE_HINTS, **_RENAMED_HINTS})
    except UnknownKeyError as exc:
        raise pytest.UsageError(f"leakbench: {exc}") from None
    for name, value in table.items():
        key = KEYS.get(name) or BENCH_KEYS.get(name)
        if key is not None and not _has_type(value, key.toml):
            raise pytest.UsageError(
                f"leakbench: {label} {name}: expected {key.expected}, got {shown(value)}"
            )


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, list):
        return list in types and all(isinstance(item, str) for item in value)
    return isinstance(value, tuple(t for t in types if t not in (bool, list)))


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one pytest session."""

    enabled: tuple[str, ...] = ()
    report_only: bool = False
    grace: float = 0.5
    allow: tuple[str, ...] = DEFAULT_ALLOW
    objects_threshold: int = 100
    full_gc: bool = False
    globals_watch: tuple[str, ...] = ()
    watch_warnings_filters: bool = False
    json_path: Path | None = None
    rss: bool = False
    limits: Limits = field(default_factory=Limits)

    @property
    def active(self) -> bool:
        """Leak checking is on (the other options work without it)."""
        return bool(self.enabled)

    @property
    def measures_memory(self) -> bool:
        """Per-test RSS readings are needed: ``--leaks-rss`` or a memory guard."""
        return self.rss or self.limits.active

    def detector_config(self) -> detectors.DetectorConfig:
        return detectors.DetectorConfig(
            grace=self.grace,
            objects_threshold=self.objects_threshold,
            globals_watch=self.globals_watch,
            watch_warnings_filters=self.watch_warnings_filters,
        )


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakbench", "leak checks (leakbench)")
    group.addoption(
        "--leaks",
        dest="leaks",
        nargs="?",
        const="default",
        default=None,
        metavar="DETECTORS",
        help=HELP_LEAKS.replace("%", "%%"),
    )
    group.addoption(
        "--no-leaks",
        dest="leaks",
        action="store_const",
        const="false",
        help="turn leak checks off, whatever the ini file says",
    )
    group.addoption("--leaks-report-only", action="store_true", default=None, help=HELP_REPORT_ONLY)
    group.addoption("--leaks-grace", default=None, metavar="SECONDS", help=HELP_GRACE)
    group.addoption(
        "--leaks-allow", action="append", default=None, metavar="PATTERN", help=HELP_ALLOW
    )
    group.addoption(
        "--leaks-objects-threshold", default=None, metavar="N", help=HELP_OBJECTS_THRESHOLD
    )
    group.addoption("--leaks-full-gc", action="store_true", default=None, help=HELP_FULL_GC)
    group.addoption(
        "--leaks-globals", action="append", default=None, metavar="NAME", help=HELP_GLOBALS
    )
    group.addoption("--leaks-json", default=None, metavar="PATH", help=HELP_JSON)
    group.addoption("--leaks-rss", action="store_true", default=None, help=HELP_RSS)
    # argparse %-formats help texts; the ini help is shown as written.
    group.addoption(
        "--leaks-max-rss", default=None, metavar="SIZE", help=HELP_MAX_RSS.replace("%", "%%")
    )
    group.addoption(
        "--leaks-max-total-rss",
        default=None,
        metavar="SIZE",
        help=HELP_MAX_TOTAL_RSS.replace("%", "%%"),
    )
    add_ini(parser, KEYS)


def add_ini(parser: pytest.Parser, keys: dict[str, Key]) -> None:
    for name, key in keys.items():
        if key.linelist:
            parser.addini(name, key.help, type="linelist", default=[])
        else:
            parser.addini(name, key.help, default="")


def parse_detectors(value: object, source: str) -> tuple[str, ...]:
    """Turn ``true``/``false``/``default``/``all``/``a,b`` (or a list) into names.

    An empty list (``--leaks=``, ``leaks = []``) is a usage error, not "off": checking is
    turned off by saying so (``--no-leaks``, ``leaks = false``)."""
    if isinstance(value, bool):
        return detectors.DEFAULT if value else ()
    items: list[str]
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE or text == "default":
            return detectors.DEFAULT
        if text in FALSE:
            return ()
        if text == "all":
            return detectors.known()
        items = [part.strip() for part in text.split(",") if part.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = [v.strip().lower() for v in value if v.strip()]
    else:
        raise pytest.UsageError(
            f"leakbench: {source}: expected {KEYS['leaks'].expected}, got {shown(value)}"
        )
    if not items:
        raise pytest.UsageError(
            f"leakbench: {source}: empty list of detectors, got {shown(value)}; name them "
            "(threads,tasks), or use default or all; to turn checking off use --no-leaks "
            "or leaks = false"
        )
    groups = {"default": detectors.DEFAULT, "all": detectors.known()}
    items = [name for item in items for name in groups.get(item, (item,))]
    unknown = [name for name in items if name not in detectors.known()]
    if unknown:
        raise pytest.UsageError(
            f"leakbench: {source}: unknown detector {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(detectors.known())}"
        )
    return tuple(dict.fromkeys(items))


def resolve(config: pytest.Config) -> Settings:
    """Read every source in precedence order; raise UsageError naming the bad source."""
    check_table(config)
    table = tool_table(config)
    label = table_label(config)
    pick = picker(config)
    enabled: tuple[str, ...] = ()
    chosen = pick("leaks")
    if chosen is not None:
        enabled = parse_detectors(*chosen)

    report_only = pick("leaks_report_only")
    grace = pick("leaks_grace")
    threshold = pick("leaks_objects_threshold")
    full_gc = pick("leaks_full_gc")
    allow: list[str] = list(DEFAULT_ALLOW)
    allow += patterns(config.getini("leaks_allow"), "ini option leaks_allow")
    allow += patterns(table.get("leaks_allow", []), f"{label} leaks_allow")
    allow += patterns(config.getoption("leaks_allow") or [], "--leaks-allow")
    watch = _globals_watch(config, table) if "globals" in enabled else ()
    json_path = pick("leaks_json")
    rss = pick("leaks_rss")
    max_rss = pick("leaks_max_rss")
    max_total = pick("leaks_max_total_rss")
    return Settings(
        enabled=enabled,
        report_only=parse_bool(*report_only) if report_only else False,
        grace=(
            float(parse_number(*grace, float, maximum=MAX_GRACE, unit="seconds")) if grace else 0.5
        ),
        allow=tuple(allow),
        objects_threshold=int(parse_number(threshold[0], threshold[1], int)) if threshold else 100,
        full_gc=parse_bool(*full_gc) if full_gc else False,
        globals_watch=watch,
        # pytest's warnings plugin and our warnings detector restore the filters
        # after each test: then a test's filter change cannot reach the next test.
        watch_warnings_filters=not (
            config.pluginmanager.has_plugin("warnings") or "warnings" in enabled
        ),
        json_path=output_path(config, *json_path, TESTS_SCHEMA) if json_path else None,
        rss=parse_bool(*rss) if rss else False,
        limits=Limits(
            *(parse_limit(*max_rss) if max_rss else (None, "")),
            *(parse_limit(*max_total) if max_total else (None, "")),
        ),
    )


def _globals_watch(config: pytest.Config, table: dict[str, Any]) -> tuple[str, ...]:
    """Dotted names from every source (they add up); each must resolve now."""
    sources = [
        (config.getini("leaks_globals"), "ini option leaks_globals"),
        (table.get("leaks_globals", []), f"{table_label(config)} leaks_globals"),
        (config.getoption("leaks_globals") or [], "--leaks-globals"),
    ]
    names: dict[str, None] = {}
    for values, source in sources:
        items = [values] if isinstance(values, str) else values
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise pytest.UsageError(
                f"leakbench: {source}: expected {KEYS['leaks_globals'].expected}, "
                f"got {shown(values)}"
            )
        for raw in items:
            name = raw.strip()
            if not name:
                continue
            try:
                resolve_dotted(name)
            except ValueError as exc:
                raise pytest.UsageError(f"leakbench: {source}: {exc}") from None
            names[name] = None
    return tuple(names)


def output_path(config: pytest.Config, value: object, source: str, schema: str) -> Path:
    """A file an option writes: relative to where pytest was started (command line) or to the
    rootdir (ini, pyproject), and refused unless it is absent, empty or a ``schema``
    document (``check_output``)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise pytest.UsageError(
            f"leakbench: {source}: expected a file path (a string), got {shown(value)}"
        )
    base = config.invocation_params.dir if source.startswith("--") else config.rootpath
    return check_output(base / text, schema, source, text)


def split_path_from_leaks(args: list[str], namespace: Any = None) -> None:
    """Keep ``pytest --leaks tests/`` meaning "check tests/ for leaks".

    ``--leaks`` takes an optional value, so argparse would take the path as the
    list of detectors. When the word after a bare ``--leaks`` is not a detector
    list but names a path, rewrite ``args`` (in place, before pytest parses them)
    to ``--leaks=default tests/``; ``namespace`` is pytest's early parse, fixed the
    same way so that the path's conftest files load early as usual.
    """
    for i, arg in enumerate(args[:-1]):
        if arg == "--":
            return
        if arg != "--leaks":
            continue
        value = args[i + 1]
        if value.startswith("-") or _is_detector_list(value) or not _looks_like_path(value):
            continue
        args[i] = "--leaks=default"
        if namespace is not None and getattr(namespace, "leaks", None) == value:
            namespace.leaks = "default"
            paths = getattr(namespace, "file_or_dir", None)
            if isinstance(paths, list):
                paths.insert(0, value)


def _is_detector_list(value: str) -> bool:
    try:
        parse_detectors(value, "--leaks")
    except pytest.UsageError:
        return False
    return True


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.endswith(".py") or "::" in value or os.path.exists(value)


__all__ = [
    "BENCH_KEYS",
    "DEFAULT_ALLOW",
    "DEFAULT_BENCH_PATH",
    "ENV_VAR",
    "KEYS",
    "MAX_GRACE",
    "OPTION_KEYS",
    "RENAMED",
    "TABLE_KEYS",
    "Key",
    "Settings",
    "add_ini",
    "add_options",
    "allow_matcher",
    "check_table",
    "output_path",
    "resolve",
    "split_path_from_leaks",
]
