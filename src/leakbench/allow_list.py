"""Allow-list patterns: ``kind:glob`` or a bare ``glob``, matched against a leak's keys.

Patterns from every source add up (the documented default list, the ini file,
``[tool.leakbench]``, ``--leaks-allow``); an allowed leak is dropped before any
grace period is spent.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

import pytest

from leakbench import detectors
from leakbench.leaks import Leak

__all__ = ["DEFAULT_ALLOW", "allow_matcher", "patterns"]

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


def patterns(values: Iterable[object], source: str) -> list[str]:
    """The non-empty patterns of one source; a ``kind:`` that names no detector is a
    usage error naming the source."""
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
