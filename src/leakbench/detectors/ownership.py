"""Resources that a library's module state holds: process-wide helpers, not a test's leak.

A library that starts one helper for the whole process keeps it in module state: a
singleton bound to a module global holds the helper's pid or fd. multiprocessing's
resource tracker (``multiprocessing.resource_tracker._resource_tracker``: ``_pid``,
``_fd``) and its fork server (``multiprocessing.forkserver._forkserver``) are started
by whichever test first needs them and live until the process exits, by design. The
rule is by ownership, not by name: a new child or fd is the module's when an object
bound directly to a global of a module that is not one of the test files (test
modules, conftest files) holds it as an attribute (an int attribute whose name says
pid / fd / handle, or a socket or file object with that fd). The same child or fd
kept by a test's own object, or by a test module's global, is the test's.

Looked up only for what is new and not allowed after a test (a scan of the module
globals, a few milliseconds); a clean test never pays for it.
"""

from __future__ import annotations

import io
import socket
import sys
import types
from collections.abc import Iterable
from typing import Any

_TEST_FILES: set[str] = set()
"""Files of the test modules and conftest files (filled by the plugin at collection)."""

_SKIP = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)


def add_test_files(paths: Iterable[str]) -> None:
    _TEST_FILES.update(paths)


def is_test_file(path: str | None) -> bool:
    return path is not None and path in _TEST_FILES


def _singletons() -> Iterable[tuple[str, Any]]:
    """(``module.NAME``, object) for instances bound to globals of non-test modules."""
    for module_name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or is_test_file(getattr(module, "__file__", None)):
            continue
        for name, value in list(namespace.items()):
            kind = type(value)  # never isinstance: a proxy's __class__ may run its code
            if issubclass(kind, _SKIP) or value is None or kind.__module__ == "builtins":
                continue
            yield f"{module_name}.{name}", value


def _attributes(obj: Any) -> Iterable[tuple[str, Any]]:
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:  # no instance dict (slots, builtins)
        return ()
    if not isinstance(attrs, dict):
        return ()
    return list(attrs.items())


def held_pids(pids: Iterable[int]) -> dict[int, str]:
    """Which of ``pids`` a library's module state holds, and where."""
    wanted = set(pids)
    found: dict[int, str] = {}
    if not wanted:
        return found
    for where, obj in _singletons():
        for attr, value in _attributes(obj):
            if type(value) is int and value in wanted and "pid" in attr.lower():
                found.setdefault(value, f"{where}.{attr}")
    return found


def held_fds(fds: Iterable[int]) -> dict[int, str]:
    """Which of ``fds`` a library's module state holds, and where."""
    wanted = set(fds)
    found: dict[int, str] = {}
    if not wanted:
        return found
    for where, obj in _singletons():
        for attr, value in _attributes(obj):
            fd = _fd_of(attr, value)
            if fd is not None and fd in wanted:
                found.setdefault(fd, f"{where}.{attr}")
    return found


def _fd_of(attr: str, value: Any) -> int | None:
    if type(value) is int:
        lowered = attr.lower()
        if "fd" in lowered or "fileno" in lowered or "handle" in lowered:
            return value
        return None
    if issubclass(type(value), socket.socket | io.IOBase):
        try:
            return int(value.fileno())
        except (OSError, ValueError):
            return None
    return None
