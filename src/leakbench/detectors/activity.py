"""Count resource-creating events with an audit hook.

Scanning ``/proc`` for child processes costs ~50 us per test and a full garbage
collection costs milliseconds on a large heap. Both are only needed when the test
actually spawned a process or opened a file or socket, which ``sys.addaudithook``
tells us for ~0.3 us per audited event. Audit hooks cannot be removed, so the hook
is installed once and switched off by a flag when the plugin is not active.
"""

from __future__ import annotations

import sys
from typing import Any

SPAWN_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.exec",
    }
)
RESOURCE_EVENTS = frozenset({"socket.__new__", "open", "os.open"})


class _Counters:
    enabled = False
    spawns = 0
    resources = 0


counters = _Counters()
_hook_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    c = counters
    if not c.enabled:
        return
    if event in RESOURCE_EVENTS:
        c.resources += 1
    elif event in SPAWN_EVENTS:
        c.spawns += 1


def enable() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_hook)
        _hook_installed = True
    counters.enabled = True


def disable() -> None:
    counters.enabled = False
