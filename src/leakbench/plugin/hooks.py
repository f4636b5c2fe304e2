"""The pytest plugin: ``pytest --leaks``.

Reading order follows a test's life: options and configuration, the baseline
before setup, fixture adoption, the checks after the test's own teardown (a
finalizer at the bottom of the test's own list, so before any wider scope's
finalizers, for every test alike), the report, the end-of-run summary. The hooks
only move data; the detectors (``leakbench.detectors``) and the checker
(``leakbench.plugin.checker``) do the work. No hook raises or warns: a failing
detector becomes an internal-error line in the report, and a leak fails the test
through its teardown report.

This module registers two plugin objects when checking is on: ``LeakCheck`` in
every process that runs tests (not in an xdist controller), and ``LeakSummary``
in every process that prints the terminal summary. With checking off, nothing
is registered and tests run at full speed. ``--leaks-json``, ``--leaks-rss`` and
the memory guard work with or without checking; ``leakbench.plugin.run_setup``
registers their plugin objects (the tests record of ``leakbench.plugin.record``, the
memory readings of ``leakbench.plugin.memory``, the xdist hooks of
``leakbench.plugin.xdist``) only when asked for. The hooks name no concrete detector:
each test's warnings capture and the unraisable exceptions go to every detector with
``Detector.receives_warnings``.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import traceback
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from leakbench.detectors import origins, ownership
from leakbench.detectors.leak import Leak
from leakbench.plugin import options, policy, run_setup, xdist
from leakbench.plugin.checker import FixtureTeardowns, LeakChecker, TestState, unavailable_notes
from leakbench.plugin.record import LEAKS_ATTR
from leakbench.plugin.text import format_section, summary_lines

STATE = pytest.StashKey[TestState]()
ALLOWED_KINDS = pytest.StashKey[tuple[str, ...]]()
REPORT_ATTR = LEAKS_ATTR
"""Attribute of a teardown report holding its leaks as plain dicts (crosses xdist)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # ``pytest --leaks tests/``: keep the path a path, not the option's value.
    options.split_path_from_leaks(args, early_config.known_args_namespace)


def pytest_cmdline_main(config: pytest.Config) -> None:
    # After xdist turned -n into --dist, before pytest-benchmark's configure warns.
    conflict = xdist.benchmark_conflict(config)
    if conflict:
        raise pytest.UsageError(conflict)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # trylast: pytest's own unraisable hook must be installed before we chain to it.
    for line in policy.MARKERS:
        config.addinivalue_line("markers", line)
    resolved = options.resolve(config)
    if resolved.json_path or resolved.measures_memory:
        run_setup.register(config, resolved)
    if not resolved.active:
        return
    summary = LeakSummary(resolved.json_path, unavailable_notes(resolved.enabled))
    config.pluginmanager.register(summary, "leakbench-summary")
    if xdist.is_distributing(config):  # the controller runs no tests: its workers do
        return
    checker = LeakChecker(resolved)
    checker.start()
    origins.install()
    config.add_cleanup(checker.stop)
    config.add_cleanup(origins.uninstall)
    if checker.warning_receivers:
        previous = sys.unraisablehook
        sys.unraisablehook = _chained_unraisable_hook(checker, previous)
        config.add_cleanup(lambda: setattr(sys, "unraisablehook", previous))
    teardowns = FixtureTeardowns(checker) if checker.restores_matter else None
    if teardowns is not None:
        config.pluginmanager.register(teardowns, "leakbench-fixture-teardowns")
    config.pluginmanager.register(LeakCheck(checker, summary, teardowns), "leakbench-check")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # The test files, so that ownership rules can tell a test module's globals from a
    # library's module state.
    with contextlib.suppress(Exception):
        ownership.add_test_files(str(item.path) for item in items)
        ownership.add_test_files(
            str(plugin.__file__)
            for plugin in config.pluginmanager.get_plugins()
            if str(getattr(plugin, "__file__", "")).endswith("conftest.py")
        )
    # Bad marker arguments are usage errors, found before any test runs.
    try:
        for item in items:
            kinds = policy.marker_kinds(item)
            if kinds is not None:
                item.stash[ALLOWED_KINDS] = kinds
    except pytest.UsageError as exc:
        if not hasattr(config, "workerinput"):
            raise
        # A usage error would crash an xdist worker; stopping with the message
        # makes the controller print it and end the run.
        session.shouldstop = str(exc)
        items.clear()


class LeakCheck:
    """Checks every test of this process; its hooks wrap each test's life."""

    def __init__(
        self, checker: LeakChecker, summary: LeakSummary, teardowns: FixtureTeardowns | None
    ) -> None:
        self.checker = checker
        self.summary = summary
        self.teardowns = teardowns
        self.report_only = checker.settings.report_only
        self._item: pytest.Item | None = None
        """The test being run (one at a time per process)."""
        self._state: TestState | None = None
        """Its state (also in ``item.stash``; kept here for the per-report hook)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        checker = self.checker
        skip = item.stash.get(ALLOWED_KINDS, ())
        receivers = checker.warning_receivers
        self._item = item
        if not receivers:
            item.stash[STATE] = self._state = checker.begin(skip)
            try:
                return (yield)
            finally:
                self._end(item)
        # One capture spans setup, call and teardown, nested inside pytest's own,
        # so that fixtures like ``recwarn`` that span phases keep working.
        # The project's filters, as the test sees them: catch_warnings works on a copy,
        # so the list it replaces stays as it is until the capture ends.
        filters = warnings.filters
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always", ResourceWarning)
            for detector in receivers:
                detector.attach(log, filters)
            item.stash[STATE] = self._state = checker.begin(skip)
            try:
                result = yield
            finally:
                self._end(item)
                for detector in receivers:
                    detector.attach(None)
        if log:
            _forward_warnings(log)
        return result

    def _end(self, item: pytest.Item) -> None:
        self._item = self._state = None
        state = item.stash[STATE]
        del item.stash[STATE]
        if not state.finished:
            # A fixture's teardown raised, so pytest skipped our teardown hook:
            # check now; the teardown report is gone, the summary still lists it.
            with contextlib.suppress(Exception):
                leaks = self.checker.finish(state)
                if leaks:
                    self.summary.results.append((item.nodeid, leaks))

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: Any
    ) -> Generator[None, object, object]:
        # What a session/module/class fixture starts belongs to the fixture, not to
        # the test that happened to set it up first.
        if fixturedef.scope == "function":
            return (yield)
        state = _current_state(request)
        if state is None:
            return (yield)
        before = self.checker.snapshot_all(state)
        try:
            return (yield)
        finally:
            self.checker.adopt(state, before, self.checker.snapshot_all(state))
            if self.teardowns is not None:  # runs first among the fixture's finalizers
                fixturedef.addfinalizer(functools.partial(self._teardown_starts, fixturedef))

    def _teardown_starts(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        item = self._item
        state = None if item is None else item.stash.get(STATE, None)
        if state is not None and self.teardowns is not None:
            self.teardowns.starts(fixturedef, state)

    def _install_checkpoint(self, item: pytest.Item, state: TestState) -> None:
        """Put the check after the test's own teardown and before any wider scope's.

        pytest tears a test down by popping nodes off its setup stack: the test's own
        finalizers (function-scoped fixtures, last-added first, then the item's
        teardown), and then, only when the next test does not share them, the class's,
        module's and session's. A finalizer at the bottom of the test's own list runs
        after all of the test's teardown and before any wider one, whichever test is
        the last of its scope: so the verdict does not depend on test order. Where the
        stack cannot be reached (a setup error above the test), the check runs in
        ``pytest_runtest_teardown`` as before.
        """
        stack = getattr(getattr(item.session, "_setupstate", None), "stack", None)
        entry = stack.get(item) if isinstance(stack, dict) else None
        finalizers = entry[0] if isinstance(entry, tuple) and entry else None
        if isinstance(finalizers, list):
            finalizers.insert(0, functools.partial(self._check, item, state))
            state.checkpoint = True

    def _check(self, item: pytest.Item, state: TestState) -> None:
        if state.finished or item.stash.get(STATE, None) is not state:
            return
        if self.checker.held_by_fixture_values and isinstance(item, pytest.Function):
            # Every finalizer has run, but pytest drops its references to the
            # function-scoped fixture values only after the teardown report; without
            # this a detector of live objects would count them as the test's leak.
            item.funcargs = {}
        with contextlib.suppress(Exception):  # a __del__ or gc callback raising
            self.checker.collect_garbage(state)
        with contextlib.suppress(Exception):  # a finalizer must never fail the teardown
            self.checker.finish(state)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # The check normally ran as the test's last finalizer (``_install_checkpoint``).
        # Otherwise here; trylast: after every fixture finalizer, and before pytest
        # drains the unraisable exceptions our garbage collection may produce.
        state = item.stash.get(STATE, None)
        if state is not None and not state.finished:
            self._check(item, state)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # tryfirst: a leak turns the teardown report into an error before the
        # terminal, junitxml or an xdist worker read it. (A makereport wrapper
        # would do the same at three hook calls more per test.)
        item = self._item
        if item is None or report.nodeid != item.nodeid:
            return
        state = self._state
        if state is None:
            return
        if report.when != "teardown":
            if not report.passed:  # it raised: failed, skipped or xfailed
                state.failed = True
            if report.when == "setup" and not state.checkpoint:
                with contextlib.suppress(Exception):
                    self._install_checkpoint(item, state)
        elif state.leaks:
            with contextlib.suppress(Exception):
                self._attach(report, state.leaks)

    def _attach(self, report: pytest.TestReport, leaks: list[Leak]) -> None:
        setattr(report, REPORT_ATTR, [leak.to_dict() for leak in leaks])
        text = format_section(report.nodeid, leaks, json_path=self.summary.json_path)
        counted = any(leak.counts for leak in leaks)
        if counted and not self.report_only and report.passed:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("leakbench", text))


class LeakSummary:
    """Collects the leak reports (also those coming from xdist workers) and
    prints the end-of-run summary."""

    def __init__(self, json_path: object = None, notes: list[str] | None = None) -> None:
        self.results: list[tuple[str, list[Leak]]] = []
        self.json_path = json_path
        """Where ``--leaks-json`` writes the full list (None: not asked for)."""
        self.notes = notes or []
        """What a detector cannot check on this system (no ``/proc``): once per run."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTR, None)
        if data:
            with contextlib.suppress(Exception):
                self.results.append((report.nodeid, [Leak.from_dict(d) for d in data]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = summary_lines(self.results, json_path=self.json_path)
        if lines:
            terminalreporter.write_sep("=", "leakbench: leaking tests by kind")
            for line in lines:
                terminalreporter.write_line(line)
        for note in self.notes:
            terminalreporter.write_line(f"leakbench: {note}")


def _current_state(request: Any) -> TestState | None:
    item = getattr(request, "_pyfuncitem", None) or getattr(request, "node", None)
    stash = getattr(item, "stash", None)
    return None if stash is None else stash.get(STATE, None)


def _forward_warnings(messages: list[warnings.WarningMessage]) -> None:
    """Hand captured warnings other than ResourceWarning to pytest's own capture.

    They already went through the filters once; filtering again would drop those
    under a ``once`` action. ``warnings._showwarnmsg`` is what ``warn`` calls
    after filtering.
    """
    show = getattr(warnings, "_showwarnmsg", None)
    for msg in messages:
        if issubclass(msg.category, ResourceWarning):
            continue
        with contextlib.suppress(Exception):
            if show is not None:
                show(msg)
            else:  # pragma: no cover - other Python implementations
                warnings.warn_explicit(
                    msg.message, msg.category, msg.filename, msg.lineno, source=msg.source
                )


def _chained_unraisable_hook(checker: LeakChecker, previous: Any) -> Any:
    """Record unraisable exceptions for the current test, then call pytest's hook."""

    def hook(unraisable: Any) -> None:
        receivers = checker.warning_receivers
        if receivers:
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
                details = [f"  {line}" for chunk in lines for line in chunk.splitlines()]
                for detector in receivers:
                    detector.record_unraisable(summary, details)
        previous(unraisable)

    return hook
