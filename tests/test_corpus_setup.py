"""Corpus, pattern 3: one-time, process-wide library set-up is blamed on no test.

uvloop (libuv) opens one pipe with the first loop of the process and never closes
it; ``mimetypes`` builds its tables on the first ``guess_type`` (here through
Starlette's ``FileResponse`` served by its ``TestClient``). Whichever test comes
first in a process (in each xdist worker: a different one from run to run) must not
be blamed, while a uvloop loop that is never closed, and a module-level cache that
grows, are still caught.
"""

from __future__ import annotations

import pytest

from conftest import Run
from corpus import MODES, assert_verdicts, run_corpus

UVLOOP_TESTS = """
import asyncio

import uvloop

LOOPS = []


def test_uvloop_loop_created_and_closed():
    loop = uvloop.new_event_loop()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def test_uvloop_run():
    uvloop.run(asyncio.sleep(0))


def test_uvloop_runner():
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.sleep(0))


def test_leaky_uvloop_loop_never_closed():
    LOOPS.append(uvloop.new_event_loop())
"""

MIMETYPES_TESTS = """
import mimetypes

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route
from starlette.testclient import TestClient

PAGE = {}
RECENT = []


class Order:
    def __init__(self, n):
        self.n = n


async def page(request):
    return FileResponse(PAGE["path"])


app = Starlette(routes=[Route("/page", page)])


def test_first_guess_type_builds_the_tables():
    assert mimetypes.guess_type("report.csv")[0] == "text/csv"


def test_file_response_through_the_test_client(tmp_path):
    PAGE["path"] = tmp_path / "index.html"
    PAGE["path"].write_text("<p>hi</p>")
    with TestClient(app) as client:
        response = client.get("/page")
    assert response.headers["content-type"].startswith("text/html")


def test_leaky_module_cache_that_grows():
    RECENT.extend(Order(n) for n in range(500))
"""


@pytest.mark.parametrize("mode", list(MODES))
def test_the_first_uvloop_loop_of_a_process_blames_no_test_and_an_unclosed_one_is_caught(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makepyfile(test_uvloop=UVLOOP_TESTS)
    result = run_corpus(run, mode, "--leaks")
    assert_verdicts(
        result,
        leaky={"test_uvloop.py::test_leaky_uvloop_loop_never_closed"},
        clean={
            f"test_uvloop.py::{name}"
            for name in (
                "test_uvloop_loop_created_and_closed",
                "test_uvloop_run",
                "test_uvloop_runner",
            )
        },
    )
    result.stdout.fnmatch_lines(
        ["[[]fds[]] fd *: epoll (an event loop's selector *) is still open"]
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_mimetypes_tables_built_on_first_use_are_not_growth_and_a_growing_cache_is(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makepyfile(test_mime=MIMETYPES_TESTS)
    result = run_corpus(run, mode, "--leaks=all")
    assert_verdicts(
        result,
        leaky={"test_mime.py::test_leaky_module_cache_that_grows"},
        clean={
            "test_mime.py::test_first_guess_type_builds_the_tables",
            "test_mime.py::test_file_response_through_the_test_client",
        },
    )
    result.stdout.fnmatch_lines(
        [
            "[[]objects[]] 500 more test_mime.Order objects alive after the test",
            "    ~* retained (* objects: the 500 and what only they hold, counted once)",
            "    held by a list of 500 items (global test_mime.RECENT)",
        ]
    )
