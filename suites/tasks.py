"""asyncio tasks that outlive the call that created them.

**tasks.leaky** models a request handler that starts a heartbeat task (``asyncio.
create_task(self._heartbeat())``, "keep the upstream session alive while we
work") and forgets it: the handler returns, the heartbeat runs on forever, one
more per request. Under pytest-asyncio the loop's teardown silently cancels such
tasks, so the suite stays green while production accumulates them. The fix
(**tasks.clean**): cancel the heartbeat in ``finally`` and await it.

**tasks.leaky.fire_and_forget** models "fire-and-forget" side effects (audit
writes, cache warm-ups) launched with ``create_task`` and never awaited: the call
returns before they finish, their errors are never seen ("Task exception was
never retrieved"), and the next test inherits them. The fix
(**tasks.clean.taskgroup**): an ``asyncio.TaskGroup`` that the call waits for.

The session owns one event loop (an ``asyncio.Runner``, like pytest-asyncio) and
each iteration runs one request on it, so a leaked task is still pending when
the iteration returns, where the ``tasks`` detector looks for it. Closing the
session cancels what is left, as ``asyncio.Runner`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

from leakbench import Iteration, Scenario

HEARTBEAT_INTERVAL = 30.0
"""Keep-alive every 30 s. (Irrelevant to the leak; a short one made leaked heartbeats fire
inside the instruction pass's counted window on the wall clock's schedule: 3% spread.)"""
AUDIT_DELAY = 0.02
"""How long an audit write takes (the clean variant's call waits for it)."""
FORGOTTEN_AUDIT_DELAY = 30.0
"""How long a forgotten audit write takes: a slow store, so the forgotten tasks are still
pending when the session ends (with 20 ms they finished in later iterations, at moments set
by the wall clock, which made the instruction count of the counted window move 2-8%)."""


class Handler:
    """Serves requests; counts heartbeats and audit writes so the work is observable."""

    def __init__(self) -> None:
        self.beats = 0
        self.audited = 0

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            self.beats += 1

    async def _audit(self, request_id: int, part: int, delay: float = AUDIT_DELAY) -> None:
        await asyncio.sleep(delay if part else 0)
        self.audited += 1

    async def with_heartbeat(self, request_id: int, cancel: bool) -> int:
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"heartbeat-{request_id}")
        try:
            await asyncio.sleep(0)
            return request_id * 2
        finally:
            if cancel:  # the fix
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    async def with_audit(self, request_id: int, group: bool) -> int:
        if group:  # the fix
            async with asyncio.TaskGroup() as tg:
                for part in range(3):
                    tg.create_task(self._audit(request_id, part), name=f"audit-{request_id}-{part}")
        else:
            for part in range(3):
                name = f"audit-{request_id}-{part}"
                forgotten = self._audit(request_id, part, FORGOTTEN_AUDIT_DELAY)
                asyncio.create_task(forgotten, name=name)  # noqa: RUF006
        return request_id * 2


@contextmanager
def _session(kind: str, fixed: bool) -> Iterator[Iteration]:
    handler = Handler()
    count = 0
    with asyncio.Runner() as runner:

        def iteration() -> None:
            nonlocal count
            count += 1
            if kind == "heartbeat":
                result = runner.run(handler.with_heartbeat(count, cancel=fixed))
            else:
                result = runner.run(handler.with_audit(count, group=fixed))
            assert result == count * 2

        yield iteration


SCENARIOS: list[Scenario] = [
    Scenario(
        name="tasks.leaky",
        leak_class="tasks",
        variant="leaky",
        detectors=("tasks",),
        session=lambda: _session("heartbeat", fixed=False),
        description="a heartbeat task created per request and never cancelled",
    ),
    Scenario(
        name="tasks.clean",
        leak_class="tasks",
        variant="clean",
        detectors=(),
        session=lambda: _session("heartbeat", fixed=True),
        description="the heartbeat is cancelled and awaited in finally",
    ),
    Scenario(
        name="tasks.leaky.fire_and_forget",
        leak_class="tasks",
        variant="leaky",
        detectors=("tasks",),
        session=lambda: _session("audit", fixed=False),
        description="audit writes launched with create_task and never awaited",
    ),
    Scenario(
        name="tasks.clean.taskgroup",
        leak_class="tasks",
        variant="clean",
        detectors=(),
        session=lambda: _session("audit", fixed=True),
        description="audit writes run in a TaskGroup the call waits for",
    ),
]
