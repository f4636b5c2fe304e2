"""``ResourceWarning``s and unraisable exceptions raised by objects a test dropped.

Both surface from ``__del__``: an unclosed socket, file, subprocess or event loop
warns when it is collected, and an exception inside ``__del__`` goes to
``sys.unraisablehook``. Python ignores ResourceWarning by default and pytest only
collects garbage at session end, so without help they are invisible or land on a
later test. The plugin feeds this detector from a per-phase warnings capture and
a chained unraisable hook, and collects garbage at teardown before ``find``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from leakbench.detectors.base import AllowFn, Detector, DetectorConfig
from leakbench.detectors.leak import Leak

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


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
        self._pulled = 0

    def attach(self, log: list[warnings.WarningMessage] | None) -> None:
        """Read ResourceWarnings from ``log`` (the capture of the current test)."""
        self._pull()
        self.log = log
        self._pulled = 0

    def _pull(self) -> None:
        log = self.log
        if log is None:
            return
        for msg in log[self._pulled :]:
            if issubclass(msg.category, ResourceWarning):
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
