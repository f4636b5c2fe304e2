"""The pytest plugin: ``pytest --leaks``.

Reading order follows a test's life: options and configuration, the baseline
before setup, fixture adoption, the task check after the call, the checks after
teardown, the report, the end-of-run summary. The hooks only move data; the
detectors (``leakbench.detectors``) and the checker (``leakbench.checker``) do
the work. No hook raises or warns: a failing detector becomes an internal-error
line in the report, and a leak fails the test through its teardown report.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from leakbench import origins, settings
from leakbench.checker import LeakChecker, TestState
from leakbench.leak_report import format_section, summary_lines
from leakbench.leaks import Leak

CHECKER = pytest.StashKey[LeakChecker]()
STATE = pytest.StashKey[TestState]()
RESULTS = pytest.StashKey[list[tuple[str, list[Leak]]]]()
SETTINGS = pytest.StashKey[settings.Settings]()
REPORT_ATTR = "leakbench_leaks"


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # trylast: pytest's own unraisable hook must be installed before we chain to it.
    for line in settings.MARKERS:
        config.addinivalue_line("markers", line)
    resolved = settings.resolve(config)
    config.stash[SETTINGS] = resolved
    config.stash[RESULTS] = []
    if not resolved.active or _is_xdist_controller(config):
        return
    checker = LeakChecker(resolved)
    config.stash[CHECKER] = checker
    checker.start()
    origins.install()
    if checker.warnings is not None:
        previous = sys.unraisablehook
        sys.unraisablehook = _chained_unraisable_hook(checker, previous)
        config.add_cleanup(lambda: setattr(sys, "unraisablehook", previous))
    config.add_cleanup(origins.uninstall)
    config.add_cleanup(checker.stop)


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Under xdist the controller runs no tests; its workers do the checking."""
    is_worker = hasattr(config, "workerinput")
    dist = getattr(config.option, "dist", "no")
    return not is_worker and dist not in (None, "no")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Bad marker arguments are usage errors, found before any test runs.
    for item in items:
        settings.marker_kinds(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    checker = item.config.stash.get(CHECKER, None)
    if checker is None:
        return (yield)
    skip = settings.marker_kinds(item) or ()
    with _capture_warnings(checker) as forward:
        item.stash[STATE] = checker.begin(skip)
        try:
            result = yield
        finally:
            if checker.warnings is not None:
                checker.warnings.attach(None)
            del item.stash[STATE]
    _forward_warnings(forward)
    return result


@contextlib.contextmanager
def _capture_warnings(checker: LeakChecker) -> Generator[list[warnings.WarningMessage]]:
    """Record ResourceWarnings for the warnings detector; pass the others on.

    One capture spans setup, call and teardown, nested inside pytest's own, so
    that fixtures like ``recwarn`` that span phases keep working.
    """
    forward: list[warnings.WarningMessage] = []
    detector = checker.warnings
    if detector is None:
        yield forward
        return
    with warnings.catch_warnings(record=True) as log:
        warnings.filterwarnings("always", category=ResourceWarning)
        detector.attach(log)
        try:
            yield forward
        finally:
            forward.extend(m for m in log if not issubclass(m.category, ResourceWarning))


def _forward_warnings(messages: list[warnings.WarningMessage]) -> None:
    """Re-issue captured non-resource warnings to pytest's own capture."""
    for msg in messages:
        with contextlib.suppress(Exception):
            warnings.warn_explicit(
                msg.message, msg.category, msg.filename, msg.lineno, source=msg.source
            )


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: Any) -> Generator[None]:
    state = _current_state(request)
    if state is None or fixturedef.scope == "function":
        return (yield)
    checker = request.config.stash[CHECKER]
    before = checker.snapshot_all(state)
    try:
        return (yield)
    finally:
        checker.adopt(state, before, checker.snapshot_all(state))


def _current_state(request: Any) -> TestState | None:
    item = getattr(request, "_pyfuncitem", None) or getattr(request, "node", None)
    if item is None:
        return None
    return item.stash.get(STATE, None)  # type: ignore[no-any-return]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    state = item.stash.get(STATE, None)
    try:
        return (yield)
    finally:
        if state is not None:
            item.config.stash[CHECKER].after_call(state)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    # trylast: runs after every fixture finalizer, and before pytest drains the
    # unraisable exceptions our garbage collection may produce.
    state = item.stash.get(STATE, None)
    if state is None:
        return
    checker = item.config.stash[CHECKER]
    with contextlib.suppress(Exception):  # a gc callback raising must not break the run
        checker.collect_garbage(state)
    checker.finish(state)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.stash.get(STATE, None)
    if state is None:
        return report
    if report.failed and call.when in ("setup", "call"):
        state.failed = True
    if call.when == "teardown" and state.leaks:
        _attach(item, report, state.leaks)
    return report


def _attach(item: pytest.Item, report: pytest.TestReport, leaks: list[Leak]) -> None:
    setattr(report, REPORT_ATTR, [leak.to_dict() for leak in leaks])
    text = format_section(item.nodeid, leaks)
    counted = any(leak.counts for leak in leaks)
    fail = counted and not item.config.stash[SETTINGS].report_only
    if fail and report.passed:
        report.outcome = "failed"
        report.longrepr = text
    else:
        report.sections.append(("leakbench", text))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    data = getattr(report, REPORT_ATTR, None)
    if not data:
        return
    config = _config_of(report)
    if config is not None:
        config.stash[RESULTS].append((report.nodeid, [Leak.from_dict(d) for d in data]))


_session_config: list[pytest.Config] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _session_config[:] = [session.config]


def _config_of(report: pytest.TestReport) -> pytest.Config | None:
    return _session_config[0] if _session_config else None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, [])
    resolved = config.stash.get(SETTINGS, None)
    if resolved is None or not resolved.active:
        return
    lines = summary_lines(results)
    if not lines:
        return
    terminalreporter.write_sep("=", "leakbench: leaking tests by kind")
    for line in lines:
        terminalreporter.write_line(line)


def _chained_unraisable_hook(checker: LeakChecker, previous: Any) -> Any:
    """Record unraisable exceptions for the current test, then call pytest's hook."""

    def hook(unraisable: Any) -> None:
        detector = checker.warnings
        if detector is not None:
            with contextlib.suppress(Exception):
                try:
                    where = repr(unraisable.object)[:200]
                except Exception:
                    where = object.__repr__(unraisable.object)
                exc = unraisable.exc_value
                message = unraisable.err_msg or "Exception ignored in"
                summary = f"{message}: {where}: {type(exc).__name__}: {exc}"
                lines = traceback.format_exception(
                    unraisable.exc_type, exc, unraisable.exc_traceback, limit=6
                )
                detector.record_unraisable(
                    summary, [f"  {line}" for chunk in lines for line in chunk.splitlines()]
                )
        previous(unraisable)

    return hook
