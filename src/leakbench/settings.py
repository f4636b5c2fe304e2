"""Every plugin option in one place: command line, ini key and [tool.leakbench].

Each option has one name used everywhere (``--leaks-grace``, ini ``leaks_grace``,
``leaks_grace`` in ``[tool.leakbench]``) and one help text shared by the command
line and the ini declaration. Precedence, highest first: ``allow_leaks`` marker
(per test), command line, ``LEAKBENCH_LEAKS`` environment variable, pytest ini
(``pytest.ini``, ``[tool.pytest.ini_options]``...), ``[tool.leakbench]``.
"""

from __future__ import annotations

import fnmatch
import math
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from leakbench import detectors
from leakbench.leaks import Leak

HELP_LEAKS = (
    "check every test for leaks. Optionally a comma-separated list of detectors "
    "(default: threads,tasks,processes,fds,patches,warnings; opt-in: objects). "
    "'all' selects every detector; 'false' turns checking off."
)
HELP_REPORT_ONLY = "report leaks without failing the tests"
HELP_GRACE = "seconds to wait for finishing threads/processes before calling them leaked (0.5)"
HELP_ALLOW = (
    "allow-list patterns 'kind:glob' (e.g. 'threads:MyPool-*', 'fds:/dev/shm/*') matched "
    "against thread names and targets, task coroutines, command lines, paths, patch targets"
)
HELP_OBJECTS_THRESHOLD = "objects detector: minimum growth of one type's instance count (100)"
HELP_FULL_GC = "always run a full garbage collection at teardown (slower, exact attribution)"

ENV_VAR = "LEAKBENCH_LEAKS"

DEFAULT_ALLOW: tuple[str, ...] = (
    # trio keeps idle worker threads for reuse by trio.to_thread.
    "threads:Trio thread *",
    # anyio's worker threads for to_thread.run_sync are pooled per event loop.
    "threads:AnyIO worker thread",
    # asyncio's default executor belongs to a long-lived (session/module) loop.
    "threads:asyncio_*",
    # pytest-timeout's per-test timer thread (--timeout-method=thread) is
    # cancelled after the test protocol ends, after leakbench's check.
    "threads:pytest_timeout *",
    # anyio's pytest plugin runs tests and fixtures inside one runner task per
    # event loop, and cancels it when it closes the loop.
    "tasks:TestRunner._run_tests_and_fixtures",
)
"""Thread pools and tasks that libraries own and reuse on purpose across tests."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one pytest session."""

    enabled: tuple[str, ...] = ()
    report_only: bool = False
    grace: float = 0.5
    allow: tuple[str, ...] = DEFAULT_ALLOW
    objects_threshold: int = 100
    full_gc: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.enabled)

    def detector_config(self) -> detectors.DetectorConfig:
        return detectors.DetectorConfig(
            grace=self.grace, objects_threshold=self.objects_threshold, full_gc=self.full_gc
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
        help=HELP_LEAKS,
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
    parser.addini("leaks", HELP_LEAKS, default="")
    parser.addini("leaks_report_only", HELP_REPORT_ONLY, default="")
    parser.addini("leaks_grace", HELP_GRACE, default="")
    parser.addini("leaks_allow", HELP_ALLOW, type="linelist", default=[])
    parser.addini("leaks_objects_threshold", HELP_OBJECTS_THRESHOLD, default="")
    parser.addini("leaks_full_gc", HELP_FULL_GC, default="")


def parse_detectors(value: object, source: str) -> tuple[str, ...]:
    """Turn ``true``/``false``/``default``/``all``/``a,b`` (or a list) into names."""
    if isinstance(value, bool):
        return detectors.DEFAULT if value else ()
    items: list[str]
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text == "default":
            return detectors.DEFAULT
        if text in _FALSE:
            return ()
        if text == "all":
            return detectors.known()
        items = [part.strip() for part in text.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = [str(v).strip().lower() for v in value]
    else:
        raise pytest.UsageError(f"leakbench: {source}: expected true/false or detector names")
    unknown = [name for name in items if name not in detectors.known()]
    if unknown:
        raise pytest.UsageError(
            f"leakbench: {source}: unknown detector {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(detectors.known())}"
        )
    return tuple(dict.fromkeys(items))


def _bool(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise pytest.UsageError(f"leakbench: {source}: expected true or false, got {value!r}")


def _number(value: object, source: str, kind: type[float] | type[int]) -> float:
    try:
        number = kind(str(value).strip())
    except ValueError:
        raise pytest.UsageError(
            f"leakbench: {source}: expected a {kind.__name__} number, got {value!r}"
        ) from None
    if number < 0 or not math.isfinite(number):
        raise pytest.UsageError(
            f"leakbench: {source}: expected a finite number >= 0, got {value!r}"
        )
    return number


def read_tool_table(rootpath: Path) -> dict[str, Any]:
    """The ``[tool.leakbench]`` table of the project's pyproject.toml, or {}."""
    path = rootpath / "pyproject.toml"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    table = data.get("tool", {}).get("leakbench", {})
    return table if isinstance(table, dict) else {}


def resolve(config: pytest.Config) -> Settings:
    """Read every source in precedence order; raise UsageError naming the bad source."""
    table = read_tool_table(config.rootpath)

    def pick(option: str, ini: str) -> tuple[object, str] | None:
        value = config.getoption(option)
        if value is not None:
            return value, f"--{option.replace('_', '-')}"
        if ini == "leaks" and os.environ.get(ENV_VAR):
            return os.environ[ENV_VAR], f"environment variable {ENV_VAR}"
        ini_value = config.getini(ini)
        if ini_value not in ("", [], None):
            return ini_value, f"ini option {ini}"
        if ini in table:
            return table[ini], f"[tool.leakbench] {ini}"
        return None

    enabled: tuple[str, ...] = ()
    chosen = pick("leaks", "leaks")
    if chosen is not None:
        enabled = parse_detectors(*chosen)

    report_only = pick("leaks_report_only", "leaks_report_only")
    grace = pick("leaks_grace", "leaks_grace")
    threshold = pick("leaks_objects_threshold", "leaks_objects_threshold")
    full_gc = pick("leaks_full_gc", "leaks_full_gc")
    allow: list[str] = list(DEFAULT_ALLOW)
    allow += _patterns(config.getini("leaks_allow"), "ini option leaks_allow")
    allow += _patterns(table.get("leaks_allow", []), "[tool.leakbench] leaks_allow")
    allow += _patterns(config.getoption("leaks_allow") or [], "--leaks-allow")
    return Settings(
        enabled=enabled,
        report_only=_bool(*report_only) if report_only else False,
        grace=float(_number(grace[0], grace[1], float)) if grace else 0.5,
        allow=tuple(allow),
        objects_threshold=int(_number(threshold[0], threshold[1], int)) if threshold else 100,
        full_gc=_bool(*full_gc) if full_gc else False,
    )


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


def _patterns(values: Iterable[object], source: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    patterns = []
    for raw in values:
        text = str(raw).strip()
        if not text:
            continue
        kind, sep, _ = text.partition(":")
        if (sep and kind in detectors.known()) or not sep:
            patterns.append(text)
        else:
            raise pytest.UsageError(
                f"leakbench: {source}: pattern {text!r} must be 'kind:glob' with kind one of "
                f"{', '.join(detectors.known())}"
            )
    return patterns


def allow_matcher(patterns: Iterable[str]) -> Any:
    """A predicate telling whether a leak is covered by one of ``patterns``."""
    compiled: list[tuple[str | None, str]] = []
    for pattern in patterns:
        kind, sep, glob = pattern.partition(":")
        if sep and kind in detectors.known():
            compiled.append((kind, glob))
        else:
            compiled.append((None, pattern))

    def allowed(leak: Leak) -> bool:
        for kind, glob in compiled:
            if kind is not None and kind != leak.kind:
                continue
            if any(fnmatch.fnmatchcase(key, glob) for key in leak.keys):
                return True
        return False

    return allowed


def allow_leaks_marker(*kinds: str, reason: str = "") -> tuple[tuple[str, ...], str]:
    """allow_leaks(*kinds, reason=""): let this test leak these kinds (all when none)."""
    return kinds, reason


def marker_kinds(item: pytest.Item) -> tuple[str, ...] | None:
    """Kinds allowed by ``@pytest.mark.allow_leaks`` on ``item`` (None: no marker)."""
    allowed: list[str] = []
    found = False
    for mark in item.iter_markers("allow_leaks"):
        found = True
        try:
            kinds, _ = allow_leaks_marker(*mark.args, **mark.kwargs)
        except TypeError as exc:
            raise pytest.UsageError(
                f"leakbench: {item.nodeid}: bad allow_leaks marker: {exc}; "
                "use @pytest.mark.allow_leaks('threads', ..., reason='...')"
            ) from None
        if not kinds:
            return detectors.known()
        for kind in kinds:
            if kind not in detectors.known():
                raise pytest.UsageError(
                    f"leakbench: {item.nodeid}: allow_leaks: unknown detector {kind!r}; "
                    f"valid names: {', '.join(detectors.known())}"
                )
        allowed.extend(kinds)
    return tuple(allowed) if found else None


MARKERS = (
    "allow_leaks(*kinds, reason=''): leakbench: let this test leak the named kinds "
    "(threads, tasks, processes, fds, patches, warnings, objects); all kinds when none named.",
)

__all__ = [
    "DEFAULT_ALLOW",
    "Settings",
    "add_options",
    "allow_matcher",
    "resolve",
    "split_path_from_leaks",
]
