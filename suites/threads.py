"""Threads started per call and never stopped.

**threads.leaky** models a metrics/health "poller" that a client starts in its
constructor (``threading.Thread(target=self._poll, daemon=True).start()``) and
that nobody ever stops: every client built by a test, a request handler or a
retry loop adds a thread that polls forever. Real incidents: suites whose thread count grows
into the thousands until ``RuntimeError: can't start new thread``; daemon threads
that crash with ``Fatal Python error`` while touching a torn-down interpreter at
exit. The fix (**threads.clean**): the poller waits on a ``threading.Event``, and
``close()`` sets the event and joins the thread.

**threads.leaky.executor** models a helper that gets its ``ThreadPoolExecutor``
from a cached factory (``functools.cache`` on ``pool_for(settings)``) whose
key differs on every call (the settings carry a request id): a new executor per
call, kept alive by the cache and never shut down, so its idle workers live until
interpreter exit (where non-daemon workers are joined). The fix
(**threads.clean.executor**): one executor shared by the session and shut down
when the session ends, so its workers belong to the session, not to the call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from leakbench import Iteration, Scenario

POLL_INTERVAL = 30.0
"""A health probe every 30 s. (The interval plays no part in the leak or its fix; a long one
keeps leaked pollers from waking inside the instruction pass's counted window, whose
instruction count would otherwise depend on the wall clock: 10-22% here at 50 ms.)"""


class Poller:
    """Polls a health probe in the background; stops only if ``close()`` is called."""

    def __init__(self, name: str) -> None:
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"poller-{name}", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_INTERVAL):
            self.polls += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class Settings:
    workers: int
    request_id: int


@functools.cache
def pool_for(settings: Settings) -> ThreadPoolExecutor:
    """One executor per distinct settings: meant to be shared, keyed per request."""
    return ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="per-call-cpu")


def _checksum(data: bytes) -> int:
    return sum(data) % 65_521


@contextmanager
def _poller_session(stop_it: bool) -> Iterator[Iteration]:
    count = 0

    def iteration() -> None:
        nonlocal count
        count += 1
        poller = Poller(f"{count}")
        if stop_it:  # the fix
            poller.close()

    yield iteration


@contextmanager
def _executor_session(shared: bool) -> Iterator[Iteration]:
    blocks = [bytes(range(256)) * 4] * 8
    if shared:  # the fix: one executor for the whole session, shut down at the end
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="shared-cpu") as pool:

            def iteration() -> None:
                assert len(list(pool.map(_checksum, blocks))) == len(blocks)

            yield iteration
        return

    count = 0

    def leaky_iteration() -> None:
        nonlocal count
        count += 1
        pool = pool_for(Settings(workers=2, request_id=count))
        assert len(list(pool.map(_checksum, blocks))) == len(blocks)

    yield leaky_iteration


# Every leaky call leaves a thread behind: ``leakbench bench``
# caps its timed iterations (both variants alike) so the pile-up stays out of the time.
PILE_UP_CAP = 200

SCENARIOS: list[Scenario] = [
    Scenario(
        name="threads.leaky",
        leak_class="threads",
        variant="leaky",
        detectors=("threads",),
        session=lambda: _poller_session(stop_it=False),
        description="a poller thread started per call and never stopped",
        time_max_iterations=PILE_UP_CAP,
        leaks_memory=True,
    ),
    Scenario(
        name="threads.clean",
        leak_class="threads",
        variant="clean",
        detectors=(),
        session=lambda: _poller_session(stop_it=True),
        description="the poller is stopped with an Event and joined",
        time_max_iterations=PILE_UP_CAP,
    ),
    Scenario(
        name="threads.leaky.executor",
        leak_class="threads",
        variant="leaky",
        detectors=("threads",),
        session=lambda: _executor_session(shared=False),
        description="a ThreadPoolExecutor built per call and never shut down",
        time_max_iterations=PILE_UP_CAP,
        leaks_memory=True,
    ),
    Scenario(
        name="threads.clean.executor",
        leak_class="threads",
        variant="clean",
        detectors=(),
        session=lambda: _executor_session(shared=True),
        description="one executor shared by the session and shut down at its end",
        time_max_iterations=PILE_UP_CAP,
    ),
]
