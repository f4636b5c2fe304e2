"""Count resource-creating events with an audit hook.

Scanning ``/proc`` for child processes costs ~50 us per test and a full garbage
collection costs milliseconds on a large heap. Both are only needed when the test
actually spawned a process or opened a file or socket, which ``sys.addaudithook``
tells us for ~0.3 us per audited event. Audit hooks cannot be removed, so the hook
is installed once and switched off by a flag when the plugin is not active.

multiprocessing's ``spawn`` and ``forkserver`` start methods (and its resource tracker)
start their processes with ``_posixsubprocess.fork_exec`` directly, which raises no
audit event: that function is wrapped too (looked up on its module at each call by
``multiprocessing.util.spawnv_passfds``), so such a child is seen by the test that
started it, not by whichever later test triggers a scan.
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
_fork_exec_wrapped = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    c = counters
    if not c.enabled:
        return
    if event in RESOURCE_EVENTS:
        c.resources += 1
    elif event in SPAWN_EVENTS:
        c.spawns += 1


def _wrap_fork_exec() -> None:
    """Count ``_posixsubprocess.fork_exec`` calls as spawns (no audit event fires)."""
    global _fork_exec_wrapped
    if _fork_exec_wrapped:
        return
    _fork_exec_wrapped = True
    try:
        import _posixsubprocess
    except ImportError:  # pragma: no cover - not POSIX
        return
    original = _posixsubprocess.fork_exec

    def fork_exec(*args: Any, **kwargs: Any) -> Any:
        if counters.enabled:
            counters.spawns += 1
        return original(*args, **kwargs)

    fork_exec.__wrapped__ = original  # type: ignore[attr-defined]
    _posixsubprocess.fork_exec = fork_exec


def enable() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_hook)
        _hook_installed = True
    _wrap_fork_exec()
    counters.enabled = True


def disable() -> None:
    counters.enabled = False
