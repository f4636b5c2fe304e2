"""Corpus, pattern 6: ``--leaks=all`` on an app factory that configures logging.

Frameworks run ``logging.config.dictConfig`` on every app creation; it replaces each
handler with an equivalent new object, which changes nothing a later test can see, so
the ``globals`` detector compares handlers by what they do. A handler a test adds and
never removes is still caught. The ``objects`` detector sizes what leaked objects
retain, not what they merely point to: 300 orders that each refer to one big shared
catalogue retain a few KiB, not 300 catalogues, and "held by" names the long-lived
holder.
"""

from __future__ import annotations

import re

import pytest

from conftest import Run
from corpus import MODES, assert_verdicts, run_corpus

CONFTEST = """
import logging.config

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {"app": {"handlers": ["console"], "level": "INFO"}},
}


async def home(request):
    logging.getLogger("app").info("home")
    return PlainTextResponse("home")


def create_app():
    logging.config.dictConfig(LOGGING)
    return Starlette(routes=[Route("/", home)])


create_app()  # the app module configures logging when it is imported
"""

TESTS = """
import io
import logging

from starlette.testclient import TestClient

from conftest import create_app

CATALOGUE = {f"sku-{n}": "x" * 100 for n in range(20000)}
ORDERS = []


class Order:
    def __init__(self, n, catalogue):
        self.n = n
        self.catalogue = catalogue


def test_each_app_creation_reapplies_the_logging_config():
    with TestClient(create_app()) as client:
        assert client.get("/").text == "home"


def test_another_app():
    create_app()


def test_leaky_adds_a_handler_and_leaves_it():
    logging.getLogger("app").addHandler(logging.StreamHandler(io.StringIO()))


def test_leaky_orders_that_refer_to_a_shared_catalogue():
    ORDERS.extend(Order(n, CATALOGUE) for n in range(300))
"""


@pytest.mark.parametrize("mode", list(MODES))
def test_dict_config_reapplied_is_no_change_and_object_sizes_are_what_is_retained(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makeconftest(CONFTEST)
    leak_project.makepyfile(test_app=TESTS)
    result = run_corpus(run, mode, "--leaks=all")
    assert_verdicts(
        result,
        leaky={
            "test_app.py::test_leaky_adds_a_handler_and_leaves_it",
            "test_app.py::test_leaky_orders_that_refer_to_a_shared_catalogue",
        },
        clean={
            "test_app.py::test_each_app_creation_reapplies_the_logging_config",
            "test_app.py::test_another_app",
        },
    )
    result.stdout.fnmatch_lines_random(
        [
            "[[]globals[]] logging changed: added 1 handler (app: StreamHandler(StringIO, NOTSET))",
            "[[]objects[]] 300 more test_app.Order objects alive after the test",
            "    held by a list of 300 items (global test_app.ORDERS)",
        ]
    )
    size = re.search(r"~([\d.]+) (B|KiB|MiB|GiB) retained \((\d+) objects", result.stdout.str())
    assert size is not None, result.stdout.str()
    assert size.group(2) in ("B", "KiB"), size.group(0)  # not 300 catalogues of ~2 MiB
