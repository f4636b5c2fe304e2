"""``ResourceWarning``s and unraisable exceptions raised by objects a test dropped.

Both surface from ``__del__``: an unclosed socket, file, subprocess or event loop
warns when it is collected, and an exception inside ``__del__`` goes to
``sys.unraisablehook``. Python ignores ResourceWarning by default and pytest only
collects garbage at session end, so without help they are invisible or land on a
later test. The plugin feeds this detector from a per-phase warnings capture and
a chained unraisable hook, and collects garbage at teardown before ``find``.

The project's own warning filters decide: the plugin records every ResourceWarning
(an ``always`` filter in front, so that none is raised inside ``__del__`` under
``-W error``) and hands this detector the filter list as the test saw it (pytest's
``filterwarnings`` ini option and marks, ``-W``, ``PYTHONWARNINGS``). A warning those
filters ignore is dropped; one they turn into an error, show or leave alone is
reported. Python's own default ``ignore::ResourceWarning`` (release builds outside
``-X dev``) is the one filter not followed: seeing those warnings is the point.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leakbench.detectors.base import AllowFn, Detector, DetectorConfig
from leakbench.detectors.leak import Leak

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_PYTHON_DEFAULT = ("ignore", None, ResourceWarning, None, 0)
"""The filter Python adds at start-up in release builds outside development mode."""
_PYTHON_ADDS_DEFAULT = not hasattr(sys, "gettotalrefcount") and not sys.flags.dev_mode


def project_filters(filters: Sequence[Any]) -> tuple[Any, ...]:
    """``filters`` (``warnings.filters`` as a test sees it) without Python's own default
    ResourceWarning ignore: the last entry equal to it, which start-up appended after
    every other filter (an identical filter of the project's comes earlier and stays)."""
    entries = tuple(filters)
    if _PYTHON_ADDS_DEFAULT:
        for i in range(len(entries) - 1, -1, -1):
            if entries[i] == _PYTHON_DEFAULT:
                return entries[:i] + entries[i + 1 :]
    return entries


def filter_action(
    filters: Sequence[Any], message: str, category: type[Warning], filename: str, lineno: int
) -> str:
    """The action ``filters`` take for a warning, matched as ``warnings.warn_explicit`` does
    (message regex at the start, category subclass, module regex, line number)."""
    module = _module_name(filename)
    for entry in filters:
        try:
            action, msg, cat, mod, line = entry
            if (
                (msg is None or msg.match(message))
                and issubclass(category, cat)
                and (mod is None or mod.match(module))
                and (line == 0 or lineno == line)
            ):
                return str(action)
        except Exception:  # a filter of an unexpected shape: skip it, as a non-match
            continue
    return str(getattr(warnings, "defaultaction", "default"))


def _module_name(filename: str) -> str:
    """The module a warning was attributed to: the one loaded from ``filename``, else
    the file name without ``.py`` (what ``warn_explicit`` uses when it has no module)."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return filename[:-3] if filename.lower().endswith(".py") else filename


@dataclass
class Event:
    summary: str
    details: tuple[str, ...]
    key: str
    adopted: bool = False


class WarningsDetector(Detector[int]):
    name = "warnings"
    description = "ResourceWarnings and unraisable exceptions from objects the test dropped"
    kept_by_traceback = True
    receives_warnings = True

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self.events: list[Event] = []
        self.log: list[warnings.WarningMessage] | None = None
        """The test's warnings capture list, set by the plugin for each test."""
        self._raw_filters: Sequence[Any] = ()
        self._filters: tuple[Any, ...] | None = None
        self._pulled = 0

    def attach(
        self, log: list[warnings.WarningMessage] | None, filters: Sequence[Any] = ()
    ) -> None:
        """Read ResourceWarnings from ``log`` (the capture of the current test), judged by
        ``filters`` (the test's filter list before the plugin's own ``always``)."""
        self._pull()
        self.log = log
        self._raw_filters = filters if log is not None else ()
        self._filters = None  # computed on the first ResourceWarning only
        self._pulled = 0

    @property
    def filters(self) -> tuple[Any, ...]:
        """The project's filters for the current test (Python's default ignore removed)."""
        if self._filters is None:
            self._filters = project_filters(self._raw_filters)
        return self._filters

    def _pull(self) -> None:
        log = self.log
        if log is None:
            return
        for msg in log[self._pulled :]:
            if issubclass(msg.category, ResourceWarning):
                text = str(msg.message)
                action = filter_action(self.filters, text, msg.category, msg.filename, msg.lineno)
                if action == "ignore":  # the project's filterwarnings say so
                    continue
                source = ""
                if msg.source is not None:
                    try:
                        source = repr(msg.source)[:200]
                    except Exception:
                        source = object.__repr__(msg.source)
                self.record_warning(str(msg.message), msg.filename, msg.lineno, source)
        self._pulled = len(log)

    def record_warning(self, message: str, filename: str, lineno: int, source: str) -> None:
        if filename.startswith(_PACKAGE_DIR):  # emitted by __del__ during our collection
            details: tuple[str, ...] = ("  raised when leakbench collected garbage at teardown",)
        else:
            details = (f"  at {filename}:{lineno}",)
        if source:
            details += (f"  object: {source}",)
        first = message.splitlines()[0] if message else "ResourceWarning"
        self.events.append(Event(f"ResourceWarning: {first}", details, first))

    def record_unraisable(self, summary: str, traceback_lines: list[str]) -> None:
        self.events.append(Event(summary, tuple(traceback_lines), summary))

    def snapshot(self) -> int:
        self._pull()
        return len(self.events)

    def adopt(self, baseline: int, before: int, after: int) -> int:
        for event in self.events[before:after]:
            event.adopted = True
        return baseline

    def find(self, baseline: int, allowed: AllowFn) -> list[Leak]:
        self._pull()
        leaks = []
        for event in self.events[baseline:]:
            if event.adopted:
                continue
            leak = Leak(self.name, event.summary, event.details, keys=(event.key,))
            if not allowed(leak):
                leaks.append(leak)
        return leaks
