"""Which leaks a test may have: the ``allow_leaks`` marker and the allow-list patterns.

The ``allow_leaks`` marker: its signature, its help line and its parsing. The
marker's arguments are checked against a real function signature
(``allow_leaks_marker``), so the ``--markers`` help and the parser cannot drift
apart; an unknown kind is a usage error listing the valid ones (the detector
registry's names, also in the help line).

Allow-list patterns: ``kind:glob`` or a bare ``glob``, matched against a leak's keys.
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
from leakbench.detectors.leak import Leak

__all__ = [
    "DEFAULT_ALLOW",
    "MARKERS",
    "allow_leaks_marker",
    "allow_matcher",
    "marker_kinds",
    "patterns",
]


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
            kinds, reason = allow_leaks_marker(*mark.args, **mark.kwargs)
        except TypeError as exc:
            raise pytest.UsageError(
                f"leakbench: {item.nodeid}: bad allow_leaks marker: {exc}; "
                "use @pytest.mark.allow_leaks('threads', ..., reason='...')"
            ) from None
        if not isinstance(reason, str):
            raise pytest.UsageError(
                f"leakbench: {item.nodeid}: allow_leaks: reason must be text, got {reason!r}; "
                "use @pytest.mark.allow_leaks('threads', ..., reason='...')"
            )
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
    f"({', '.join(detectors.known())}); all kinds when none named.",
)
"""The ``--markers`` help lines (kinds from the detector registry)."""


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


def patterns(values: object, source: str) -> list[str]:
    """The non-empty patterns of one source (a string or a list of strings); anything else,
    and a ``kind:`` that names no detector, is a usage error naming the source."""
    items = [values] if isinstance(values, str) else values
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        shown = repr(values)
        shown = shown if len(shown) <= 60 else f"{shown[:60]}..."
        raise pytest.UsageError(
            f"leakbench: {source}: expected a pattern 'kind:glob' or a list of them, got {shown}"
        )
    patterns = []
    for raw in items:
        text = raw.strip()
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
