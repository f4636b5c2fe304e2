"""Corpus, pattern 2: ResourceWarnings go through the project's own warning filters.

A project that ignores a specific ResourceWarning (the ini's ``filterwarnings``, a
``@pytest.mark.filterwarnings`` mark, ``-W``) must not get it reported; a
ResourceWarning its filters do not ignore (here they turn every other warning into
an error) is still reported on the test that dropped the object. The objects are
real: an httpx client with a pooled connection to a uvicorn server on 127.0.0.1, a
file, a temporary directory.
"""

from __future__ import annotations

import pytest

from conftest import Run
from corpus import MODES, SERVER_CONFTEST, assert_verdicts, run_corpus

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    ignore:unclosed file:ResourceWarning
"""

TESTS = """
import pathlib
import tempfile

import httpx
import pytest


@pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")
def test_dropped_client_ignored_by_a_mark(server):
    client = httpx.Client()
    assert client.get(server).text == "hello"
    del client


def test_dropped_file_ignored_by_the_ini(tmp_path):
    handle = open(tmp_path / "notes.txt", "w")
    handle.write("x")
    del handle


def test_dropped_temporary_directory_ignored_by_the_command_line():
    folder = tempfile.TemporaryDirectory()
    (pathlib.Path(folder.name) / "data").write_text("x")
    del folder  # ResourceWarning: Implicitly cleaning up <TemporaryDirectory ...>


def test_leaky_dropped_client(server):
    client = httpx.Client()
    assert client.get(server).text == "hello"
    del client


@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
def test_leaky_dropped_client_under_another_ignore(server):
    client = httpx.Client()
    assert client.get(server).text == "hello"
    del client
"""

CLEAN = {
    "test_dropped_client_ignored_by_a_mark",
    "test_dropped_file_ignored_by_the_ini",
    "test_dropped_temporary_directory_ignored_by_the_command_line",
}
LEAKY = {"test_leaky_dropped_client", "test_leaky_dropped_client_under_another_ignore"}


@pytest.mark.parametrize("mode", list(MODES))
def test_resource_warnings_the_project_ignores_are_not_reported_and_others_are(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makeini(INI)
    leak_project.makeconftest(SERVER_CONFTEST)
    leak_project.makepyfile(test_filters=TESTS)
    result = run_corpus(run, mode, "--leaks", "-W", "ignore:Implicitly cleaning up:ResourceWarning")
    assert_verdicts(
        result,
        leaky={f"test_filters.py::{name}" for name in LEAKY},
        clean={f"test_filters.py::{name}" for name in CLEAN},
    )
    result.stdout.fnmatch_lines_random(
        ["[[]warnings[]] ResourceWarning: unclosed <socket.socket *127.0.0.1*"] * 2
    )
    result.stdout.no_fnmatch_line("*unclosed file*")
    result.stdout.no_fnmatch_line("*Implicitly cleaning up*")
