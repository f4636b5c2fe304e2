"""An "AI provider" client on httpx, against a real keep-alive server on loopback.

**httpx.leaky** models the provider SDK wrapper that builds an
``httpx.AsyncClient`` per request ("clients are cheap") and keeps every one in a
registry it meant to close "at shutdown", which never comes. Each client keeps its
pooled HTTP/1.1 connection open: one socket and its buffers per request, until the
process dies with ``Too many open files`` or is OOM-killed. The fix
(**httpx.clean**): one client per provider, opened and closed inside the same
event loop with ``async with`` (or ``await client.aclose()``).

**httpx.leaky.closed_loop** models the sync facade over an async provider:
``asyncio.run(provider.complete(...))`` per call, then a shutdown hook that closes
the client with another ``asyncio.run(provider.aclose())``. The client's pooled
connection belongs to the first loop, which ``asyncio.run`` already closed, so
``aclose()`` fails with ``RuntimeError: Event loop is closed`` (httpcore, anyio,
asyncio transport). The hook logs and swallows the error, so the socket stays open
until the garbage collector finds it and warns ``unclosed transport``. The fix is
the same as for httpx.leaky: open and close the client in one loop.

Every client is given one shared ``ssl.SSLContext``: httpx builds a new one per
client otherwise (~100 ms each), which would make the scenario measure TLS setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fixtures.http_server import KeepAliveServer

from leakbench import Iteration, Scenario

log = logging.getLogger(__name__)

_SSL_CONTEXT: ssl.SSLContext | None = None

# Where the leaky provider keeps its clients "to close them at shutdown".
OPEN_CLIENTS: list[httpx.AsyncClient] = []


def shared_ssl_context() -> ssl.SSLContext:
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


class Provider:
    """A chat-completion provider behind an HTTP API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client: httpx.AsyncClient | None = None
        self.close_errors: list[BaseException] = []

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, verify=shared_ssl_context(), timeout=5)

    async def _post(self, client: httpx.AsyncClient, prompt: str) -> str:
        response = await client.post("/v1/complete", json={"prompt": prompt})
        response.raise_for_status()
        return str(response.json()["completion"])

    async def complete_with_new_client(self, prompt: str) -> str:
        """Leaky: a client per request, kept in a registry and never closed."""
        client = self._new_client()
        OPEN_CLIENTS.append(client)
        return await self._post(client, prompt)

    async def complete(self, prompt: str) -> str:
        """One client per provider, created lazily and reused."""
        if self.client is None:
            self.client = self._new_client()
        return await self._post(self.client, prompt)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def close_sync(self) -> None:
        """The shutdown hook of the sync facade: a new loop to close the client."""
        try:
            asyncio.run(self.aclose())
        except RuntimeError as err:  # "Event loop is closed": logged and swallowed
            self.close_errors.append(err)
            # Formatted now: a record holding ``err`` would keep its traceback, and
            # so the client and its socket, alive as long as the log capture keeps it.
            log.warning("closing the provider client failed: %s", f"{type(err).__name__}: {err}")


async def _complete_and_close(provider: Provider, prompt: str) -> str:
    """The fix: the client is opened and closed inside the same loop."""
    try:
        return await provider.complete(prompt)
    finally:
        await provider.aclose()


@contextmanager
def _session(kind: str) -> Iterator[Iteration]:
    count = 0
    with KeepAliveServer() as server, contextlib.ExitStack() as stack:
        runner = stack.enter_context(asyncio.Runner()) if kind != "closed_loop" else None
        if runner is None:

            def iteration() -> None:
                nonlocal count
                count += 1
                provider = Provider(server.url)
                answer = asyncio.run(provider.complete(f"q{count}"))
                assert answer.startswith("echo")
                provider.close_sync()

        elif kind == "kept_clients":
            provider = Provider(server.url)

            def iteration() -> None:
                nonlocal count
                count += 1
                assert runner.run(provider.complete_with_new_client(f"q{count}")).startswith("echo")

        else:
            provider = Provider(server.url)

            def iteration() -> None:
                nonlocal count
                count += 1
                answer = runner.run(_complete_and_close(provider, f"q{count}"))
                assert answer.startswith("echo")

        yield iteration


# Every leaky call leaves a socket and a server connection thread behind: ``leakbench bench``
# caps its timed iterations (both variants alike) so the pile-up stays out of the time.
PILE_UP_CAP = 200

SCENARIOS: list[Scenario] = [
    Scenario(
        name="httpx.leaky",
        leak_class="httpx",
        variant="leaky",
        detectors=("fds",),
        session=lambda: _session("kept_clients"),
        description="an AsyncClient per request, kept referenced and never closed",
        leaks_memory=True,
        time_max_iterations=PILE_UP_CAP,
    ),
    Scenario(
        name="httpx.leaky.closed_loop",
        leak_class="httpx",
        variant="leaky",
        detectors=("warnings",),
        session=lambda: _session("closed_loop"),
        description="aclose() on a second asyncio.run: RuntimeError: Event loop is closed",
        time_max_iterations=PILE_UP_CAP,
    ),
    Scenario(
        name="httpx.clean",
        leak_class="httpx",
        variant="clean",
        detectors=(),
        session=lambda: _session("clean"),
        description="one client per provider, opened and closed in the same loop",
        time_max_iterations=PILE_UP_CAP,
    ),
]
