"""The ``allow_leaks`` marker: its signature, its help line and its parsing.

The marker's arguments are checked against a real function signature
(``allow_leaks_marker``), so the ``--markers`` help and the parser cannot drift
apart; an unknown kind is a usage error listing the valid ones.
"""

from __future__ import annotations

import pytest

from leakbench import detectors

__all__ = ["MARKERS", "allow_leaks_marker", "marker_kinds"]


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
    "(threads, tasks, processes, fds, patches, warnings, objects, globals); all kinds when "
    "none named.",
)
