"""unittest.mock misuses that leak: call history, live patches, un-awaitable mocks.

**mocks.leaky.history** models a module-level ``Mock`` shared by a whole suite
(a fake metrics client installed once in a conftest) that the code under test
calls on every request. A mock records every call in ``call_args_list`` and
``mock_calls`` and never forgets: a suite that pushes 1e5 requests through it
holds ~80 MiB of call history. The fix (**mocks.clean.history**): ``reset_mock()``
after each test (a fixture), or a fresh mock per test.

**mocks.leaky.patch** models ``patcher.start()`` in a ``setUp``/fixture without the
matching ``stop()`` (or ``addCleanup(patcher.stop)``): the fake stays installed for
every later test, which then passes or fails depending on order, and each
forgotten patch keeps its ``MagicMock`` alive. The fix (**mocks.clean.patch**):
``patch`` as a context manager (or ``stop()`` in a cleanup).

**mocks.leaky.await** models an async service whose dependency was replaced by a
plain ``Mock`` in tests. Its ``close()`` does ``await self.audit.flush()`` first,
which raises ``TypeError: object Mock can't be used in 'await' expression``; the
cleanup path logs and swallows the error, so the socket it was about to close
stays open. The fix (**mocks.clean.await**): ``AsyncMock`` for async
dependencies, here via ``create_autospec(AuditLog, instance=True)``, which makes
every ``async def`` method an ``AsyncMock``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from leakbench import Iteration, Scenario

log = logging.getLogger(__name__)

CALLS_PER_ITERATION = 500

# The suite-wide fake metrics client of mocks.*.history.
metrics: Any = mock.Mock(name="metrics")


def handle_request(request_id: int) -> int:
    """Code under test: reports a timing and a counter per request."""
    metrics.timing("request.latency", request_id % 97, tags={"route": "/v1/complete"})
    metrics.increment("request.count")
    return request_id


def fetch_rate(currency: str) -> float:
    """The real exchange-rate lookup that tests patch out."""
    raise RuntimeError(f"no network in tests: fetch_rate({currency!r})")


def price_in(amount: float, currency: str) -> float:
    return round(amount * fetch_rate(currency), 2)


class AuditLog:
    """The real async dependency."""

    async def flush(self) -> None:
        raise RuntimeError("the real audit log is not available in the scenario")


# Uploaders whose connection is open; close() removes them ("closed at shutdown").
ACTIVE_UPLOADERS: set[Uploader] = set()


class Uploader:
    """Holds a real OS socket; must flush the audit log, then close the socket."""

    def __init__(self, audit: Any) -> None:
        self.audit = audit
        self.sock, self._peer = socket.socketpair()
        self.close_error: BaseException | None = None
        ACTIVE_UPLOADERS.add(self)

    async def close(self) -> None:
        try:
            await self.audit.flush()
            self.sock.close()
            self._peer.close()
            ACTIVE_UPLOADERS.discard(self)
        except Exception as err:  # the cleanup path that swallows the TypeError
            self.close_error = err
            log.warning("uploader cleanup failed: %s", f"{type(err).__name__}: {err}")


@contextmanager
def _history_session(reset: bool) -> Iterator[Iteration]:
    count = 0

    def iteration() -> None:
        nonlocal count
        for _ in range(CALLS_PER_ITERATION):
            count += 1
            assert handle_request(count) == count
        assert metrics.increment.called
        if reset:  # the fix, as a per-test fixture would do it
            metrics.reset_mock()

    yield iteration


@contextmanager
def _patch_session(as_context: bool) -> Iterator[Iteration]:
    def iteration() -> None:
        if as_context:  # the fix
            with mock.patch(f"{__name__}.fetch_rate", return_value=1.1):
                assert price_in(10, "EUR") == 11.0
        else:
            mock.patch(f"{__name__}.fetch_rate", return_value=1.1).start()
            assert price_in(10, "EUR") == 11.0

    yield iteration


@contextmanager
def _await_session(autospec: bool) -> Iterator[Iteration]:
    with asyncio.Runner() as runner:

        def iteration() -> None:
            if autospec:  # the fix: async methods become AsyncMock
                audit = mock.create_autospec(AuditLog, instance=True)
            else:
                audit = mock.Mock(name="audit")
            uploader = Uploader(audit)
            runner.run(uploader.close())
            audit.flush.assert_called_once_with()

        yield iteration


# Every leaky call leaves ~1.3 MiB of call history (history) or a socket pair (await)
# behind: ``leakbench bench`` caps their timed iterations (both variants alike) so the
# pile-up stays out of the time.
PILE_UP_CAP = 200

SCENARIOS: list[Scenario] = [
    Scenario(
        name="mocks.leaky.history",
        leak_class="mocks",
        variant="leaky",
        detectors=("objects",),
        session=lambda: _history_session(reset=False),
        description="a suite-wide Mock called on every request and never reset",
        leaks_memory=True,
        time_max_iterations=PILE_UP_CAP,
        instruction_iterations=5,  # ~90 M instructions each: ~6 s per iteration under callgrind
    ),
    Scenario(
        name="mocks.clean.history",
        leak_class="mocks",
        variant="clean",
        detectors=(),
        session=lambda: _history_session(reset=True),
        description="reset_mock() after each test",
        time_max_iterations=PILE_UP_CAP,
        instruction_iterations=5,  # ~90 M instructions each: ~6 s per iteration under callgrind
    ),
    Scenario(
        name="mocks.leaky.patch",
        leak_class="mocks",
        variant="leaky",
        detectors=("patches",),
        session=lambda: _patch_session(as_context=False),
        description="patch(...).start() without stop()",
        leaks_memory=True,
    ),
    Scenario(
        name="mocks.clean.patch",
        leak_class="mocks",
        variant="clean",
        detectors=(),
        session=lambda: _patch_session(as_context=True),
        description="patch(...) as a context manager",
    ),
    Scenario(
        name="mocks.leaky.await",
        leak_class="mocks",
        variant="leaky",
        detectors=("fds",),
        session=lambda: _await_session(autospec=False),
        description="await on a plain Mock in cleanup: TypeError swallowed, socket left open",
        leaks_memory=True,
        time_max_iterations=PILE_UP_CAP,
    ),
    Scenario(
        name="mocks.clean.await",
        leak_class="mocks",
        variant="clean",
        detectors=(),
        session=lambda: _await_session(autospec=True),
        description="create_autospec of the async class (AsyncMock methods)",
        time_max_iterations=PILE_UP_CAP,
    ),
]
