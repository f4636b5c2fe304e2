"""Shared pieces of the async-suite corpus (``tests/test_corpus_*.py``).

Each corpus file builds a small project on the real libraries (uvicorn serving in a
thread with its own loop, uvloop, Starlette, httpx against a real server on
127.0.0.1, multiprocessing spawn, ``logging.config.dictConfig``, mimetypes), runs it
in a fresh pytest process serially and under ``-n 2``, and checks the verdict per
test: every clean case passes and every leaky twin errors at teardown.
"""

from __future__ import annotations

import re

import pytest

from conftest import Run

MODES: dict[str, tuple[str, ...]] = {"serial": (), "xdist": ("-n", "2")}
"""How the corpus project is run: one process, or two xdist workers."""

_FAILED = re.compile(r"^(?:ERROR|FAILED) (\S+::\S+)", re.MULTILINE)

SERVER_CONFTEST = '''
import asyncio
import contextlib
import socket
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("hello")


async def slow(request):
    await asyncio.sleep(float(request.query_params.get("s", "0.3")))
    return PlainTextResponse("late")


@contextlib.asynccontextmanager
async def lifespan(app):
    # A heartbeat like many servers run: a new short-lived task every 100 ms.
    stop = asyncio.Event()

    async def heartbeat():
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    task = asyncio.create_task(heartbeat(), name="heartbeat")
    yield
    stop.set()
    await task


app = Starlette(routes=[Route("/", hello), Route("/slow", slow)], lifespan=lifespan)


@pytest.fixture(scope="session")
def server():
    """uvicorn on its own loop (uvloop) in a background thread, for the whole session."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, loop="uvloop", lifespan="on", log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    srv.should_exit = True
    thread.join(10)
    sock.close()
'''
"""A conftest with a session-scoped uvicorn server (Starlette app) in a thread."""


def run_corpus(run: Run, mode: str, *args: str, timeout: float = 120) -> pytest.RunResult:
    # A short grace: the corpus's finishing threads and closing sockets go in milliseconds.
    return run(
        "-p", "no:randomly", "-rA", "--leaks-grace=0.2", *MODES[mode], *args, timeout=timeout
    )


def failing(result: pytest.RunResult) -> set[str]:
    """Test ids that failed or errored, from pytest's short test summary."""
    return set(_FAILED.findall(result.stdout.str()))


def assert_verdicts(result: pytest.RunResult, leaky: set[str], clean: set[str]) -> None:
    """Exactly the leaky twins failed; every clean case ran and passed."""
    failed = failing(result)
    text = result.stdout.str()
    assert failed == leaky, f"failed {sorted(failed)}, expected {sorted(leaky)}\n{text[-6000:]}"
    passed = set(re.findall(r"^(\S+::\S+) PASSED", text, re.MULTILINE)) | set(
        re.findall(r"PASSED (\S+::\S+)", text)
    )
    missing = clean - passed
    assert not missing, f"clean cases not passed: {sorted(missing)}\n{text[-6000:]}"
