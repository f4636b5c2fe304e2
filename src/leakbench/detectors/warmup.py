"""One-time, process-wide set-up of event-loop implementations, done outside any test.

Some event-loop implementations set up process-wide state with their first loop and
keep it for the life of the process: uvloop (libuv) opens one pipe with its first
loop and never closes it. Whichever test creates the first loop would be blamed for
it, once per process (so once per xdist worker, a different test from run to run).

The rule is by behaviour, not by a list of libraries: before each test's baselines,
when a new direct subclass of ``asyncio.AbstractEventLoop`` has appeared (an
implementation was imported: at collection, or by an earlier test), leakbench creates
and closes one loop of it, once per process. What that first loop leaves behind is
then part of every baseline, and a test is judged only on what its own loops leave:
an unclosed loop still leaks its selector and wake-up fds, and is caught.

asyncio's own loops are not warmed (their first loop sets nothing up for the
process), nor are implementations that cannot be created without arguments. The check
per test is one ``len(AbstractEventLoop.__subclasses__())`` (~0.3 us) once asyncio is
imported.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any

_seen = -1
"""How many direct subclasses there were at the last look."""
_warmed: set[type] = set()


def before_baseline() -> None:
    """Warm every newly imported loop implementation up (once each per process)."""
    global _seen
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return
    base: Any = getattr(asyncio, "AbstractEventLoop", None)
    if base is None:
        return
    subclasses = base.__subclasses__()
    if len(subclasses) == _seen:
        return
    _seen = len(subclasses)
    for cls in subclasses:
        if cls not in _warmed and not cls.__module__.startswith("asyncio"):
            _warmed.add(cls)
            warm(cls)


def warm(cls: type) -> bool:
    """Create and close one loop of ``cls``; False when it cannot be created that way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loop = cls()
        except Exception:
            return False
        with contextlib.suppress(Exception):
            loop.close()
    return True


def warmed() -> frozenset[type]:
    """The implementations warmed so far (for tests)."""
    return frozenset(_warmed)
