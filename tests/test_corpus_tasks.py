"""Corpus, pattern 1: tasks of another thread's event loop are that thread's owner's.

A session-scoped uvicorn server (Starlette app, uvloop) runs on its own loop in a
background thread: a lifespan heartbeat makes a new short-lived task every 100 ms,
and a request handler goes on running after its client timed out. asyncio's task
registry is process-wide; the tasks detector must blame none of that on the test
that happens to run, while a test's own leaks (a pending task of its own loop, an
unclosed client's socket, a thread blocking on a queue, a patch never stopped) stay
caught.
"""

from __future__ import annotations

import pytest

from conftest import Run
from corpus import MODES, SERVER_CONFTEST, assert_verdicts, run_corpus

TESTS = """
import asyncio
import queue
import threading
import time
from unittest import mock

import httpx
import pytest

CLIENTS = []
JOBS = queue.Queue()


def test_get(server):
    with httpx.Client() as client:
        assert client.get(server).text == "hello"


def test_client_times_out_while_the_handler_runs(server):
    with httpx.Client(timeout=0.05) as client, pytest.raises(httpx.ReadTimeout):
        client.get(f"{server}/slow?s=0.3")
    time.sleep(0.15)  # the server's heartbeat makes new tasks meanwhile


@pytest.mark.asyncio
async def test_async_client(server):
    async with httpx.AsyncClient() as client:
        assert (await client.get(server)).text == "hello"
    await asyncio.sleep(0.15)


@pytest.mark.asyncio
async def test_leaky_pending_task_of_its_own_loop(server):
    asyncio.create_task(asyncio.sleep(30), name="forgotten")


def test_leaky_unclosed_client(server):
    client = httpx.Client()
    CLIENTS.append(client)
    assert client.get(server).text == "hello"


def test_leaky_thread_blocking_on_a_queue():
    threading.Thread(target=JOBS.get, name="consumer", daemon=True).start()


def test_leaky_patch_never_stopped():
    mock.patch("httpx.get").start()
"""

CLEAN = {"test_get", "test_client_times_out_while_the_handler_runs", "test_async_client"}
LEAKY = {
    "test_leaky_pending_task_of_its_own_loop",
    "test_leaky_unclosed_client",
    "test_leaky_thread_blocking_on_a_queue",
    "test_leaky_patch_never_stopped",
}


@pytest.mark.parametrize("mode", list(MODES))
def test_a_server_loop_in_another_thread_blames_no_test_and_own_leaks_are_caught(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makeconftest(SERVER_CONFTEST)
    leak_project.makepyfile(test_server=TESTS)
    result = run_corpus(run, mode, "--leaks")
    assert_verdicts(
        result,
        leaky={f"test_server.py::{name}" for name in LEAKY},
        clean={f"test_server.py::{name}" for name in CLEAN},
    )
    result.stdout.fnmatch_lines_random(
        [
            "[[]tasks[]] task 'forgotten' running sleep() was still pending*",
            "[[]fds[]] fd *: socket tcp 127.0.0.1:* -> 127.0.0.1:* (ESTABLISHED) is still open",
            "[[]threads[]] thread 'consumer' (daemon=True, target=queue.Queue.get)"
            " is still running",
            "[[]patches[]] patch of httpx.get was started and never stopped",
        ]
    )
    result.stdout.no_fnmatch_line("*heartbeat*")
    result.stdout.no_fnmatch_line("*run_asgi*")
