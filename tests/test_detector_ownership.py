"""The ownership rules, driven directly: who a task, a child, an fd, a warning, a
handler change or a grown object belongs to.

Each rule is shown on real objects in this process (a loop running in another thread,
a real ``multiprocessing`` spawn, a module-level singleton holding a pid and an fd, a
real ``dictConfig``), and what each test creates on purpose is cleaned up.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import multiprocessing
import os
import re
import sys
import threading
import types
import warnings
from collections.abc import Iterator

import pytest

from leakbench.detectors import activity, origins, ownership, warmup
from leakbench.detectors.base import DetectorConfig
from leakbench.detectors.globals_state import GlobalsDetector
from leakbench.detectors.leak import Leak
from leakbench.detectors.objects import lazily_bound_module_state, retained_size
from leakbench.detectors.resource_warnings import filter_action, project_filters
from leakbench.detectors.tasks import TasksDetector
from leakbench.plugin.policy import allow_matcher
from leakbench.plugin.text import allow_pattern, format_leak, summary_lines


def nothing_allowed(leak: Leak) -> bool:
    return False


# -- tasks: a loop running in another thread is that thread's owner's ------------------


@pytest.fixture
def loop_in_a_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_tasks_of_a_loop_running_in_another_thread_are_not_the_tests(
    loop_in_a_thread: asyncio.AbstractEventLoop,
) -> None:
    detector = TasksDetector(DetectorConfig())
    detector.start()
    try:
        baseline = detector.snapshot()
        started = threading.Event()

        async def serve() -> None:
            started.set()
            await asyncio.sleep(30)

        future = asyncio.run_coroutine_threadsafe(serve(), loop_in_a_thread)
        assert started.wait(10)
        own = asyncio.new_event_loop()
        own_task = own.create_task(asyncio.sleep(30), name="own-loop-task")
        own.run_until_complete(asyncio.sleep(0))  # started, still pending
        leaks = detector.find(baseline, nothing_allowed)
        assert [leak.keys[0] for leak in leaks] == ["own-loop-task"]
        future.cancel()
        own_task.cancel()
        own.run_until_complete(asyncio.sleep(0))
        own.close()
    finally:
        detector.stop()


def test_a_runner_closed_in_a_thread_the_test_did_not_start_is_not_the_tests() -> None:
    detector = TasksDetector(DetectorConfig())
    detector.start()
    origins.install()
    try:

        async def leave_a_task() -> None:
            asyncio.get_running_loop().create_task(asyncio.sleep(30), name="left")
            await asyncio.sleep(0)  # it starts, so its cancelling at close is clean

        baseline = detector.snapshot()  # a thread started now is the test's
        mine = threading.Thread(target=asyncio.run, args=(leave_a_task(),))
        mine.start()
        mine.join()
        assert [leak.keys[0] for leak in detector.find(baseline, nothing_allowed)] == ["left"]
        # The same in a thread started before the baseline: that thread's owner's.
        gate = threading.Event()
        before_thread = threading.Thread(target=lambda: (gate.wait(), asyncio.run(leave_a_task())))
        before_thread.start()
        baseline = detector.snapshot()
        gate.set()
        before_thread.join()
        assert detector.find(baseline, nothing_allowed) == []
    finally:
        origins.uninstall()
        detector.stop()


# -- processes and fds: what a library's module state holds ------------------------------


def test_a_pid_and_an_fd_held_by_a_library_singleton_are_the_modules() -> None:
    read_end, write_end = os.pipe()
    helper = types.SimpleNamespace(_pid=987654, _fd=write_end, retries=read_end)
    module = types.ModuleType("some_library_helpers")
    module.__file__ = "/site-packages/some_library_helpers.py"
    module._helper = helper  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        assert ownership.held_pids([987654, 123]) == {987654: "some_library_helpers._helper._pid"}
        # An int attribute counts only when its name says fd: `retries` is not one.
        assert ownership.held_fds([write_end, read_end]) == {
            write_end: "some_library_helpers._helper._fd"
        }
        ownership.add_test_files([module.__file__])
        assert ownership.held_pids([987654]) == {}  # a test module's global is the test's
    finally:
        del sys.modules[module.__name__]
        ownership._TEST_FILES.discard(module.__file__)
        os.close(read_end)
        os.close(write_end)


def test_multiprocessing_spawn_is_counted_as_a_spawn_and_its_tracker_is_module_state() -> None:
    was = activity.counters.enabled
    activity.enable()
    try:
        spawns = activity.counters.spawns
        worker = multiprocessing.get_context("spawn").Process(target=os.getpid)
        worker.start()
        worker.join()
        assert activity.counters.spawns > spawns  # no audit event: fork_exec is wrapped
    finally:
        activity.counters.enabled = was
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    pid = getattr(tracker, "_pid", None)
    assert pid is not None
    assert ownership.held_pids([pid]) == {
        pid: "multiprocessing.resource_tracker._resource_tracker._pid"
    }


# -- warnings: the project's filters decide ----------------------------------------------


def test_the_projects_ignore_filters_decide_and_pythons_default_ignore_does_not() -> None:
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("ignore", category=ResourceWarning)  # as Python's default
        python_only = project_filters(warnings.filters)
        warnings.filterwarnings("ignore", "unclosed file", ResourceWarning)  # the project's
        warnings.filterwarnings("error")
        project = project_filters(warnings.filters)
    assert filter_action(python_only, "unclosed file <x>", ResourceWarning, "t.py", 1) == "default"
    assert filter_action(project, "unclosed file <x>", ResourceWarning, "t.py", 1) == "error"
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("ignore", category=ResourceWarning)
        warnings.filterwarnings("error")
        warnings.filterwarnings("ignore", "unclosed file", ResourceWarning)
        project = project_filters(warnings.filters)
    assert filter_action(project, "unclosed file <x>", ResourceWarning, "t.py", 1) == "ignore"
    assert filter_action(project, "unclosed <socket>", ResourceWarning, "t.py", 1) == "error"


# -- event-loop implementations: one-time set-up outside any test -------------------------


def test_a_new_event_loop_implementation_is_warmed_once_before_the_baseline() -> None:
    created: list[int] = []

    class CountingLoop(asyncio.AbstractEventLoop):
        def __init__(self) -> None:
            created.append(1)

        def close(self) -> None:
            pass

    warmup.before_baseline()
    warmup.before_baseline()
    assert created == [1]
    assert CountingLoop in warmup.warmed()


# -- globals: logging handlers compared by what they do -----------------------------------


def test_dict_config_applied_again_is_no_change_and_an_added_handler_is() -> None:
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
        "loggers": {"leakbench.test.dictconfig": {"handlers": ["h"], "level": "INFO"}},
    }
    logger = logging.getLogger("leakbench.test.dictconfig")
    logging.config.dictConfig(config)
    try:
        detector = GlobalsDetector(DetectorConfig())
        baseline = detector.snapshot()
        logging.config.dictConfig(config)  # new, equivalent handler objects
        assert detector.find(baseline, nothing_allowed) == []
        logger.addHandler(logging.StreamHandler(sys.stdout))
        (leak,) = detector.find(baseline, nothing_allowed)
        assert leak.summary.startswith("logging changed: added 1 handler")
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


# -- objects: lazily set module state, and retained sizes -----------------------------------


def test_objects_a_module_global_was_set_to_are_module_state() -> None:
    module = types.ModuleType("lazily_set")
    module.TABLE = None  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        table = {"a": [1], "b": [2]}
        module.TABLE = table  # type: ignore[attr-defined]
        assert any(root is table for root in lazily_bound_module_state({id(table)}))
    finally:
        del sys.modules[module.__name__]


def test_retained_size_counts_new_objects_once_and_not_what_existed_before() -> None:
    shared = {n: "x" * 100 for n in range(5000)}  # "before the test": not in new_ids
    orders = [types.SimpleNamespace(n=n, shared=shared) for n in range(10)]
    new_ids = {id(o) for o in orders} | {id(vars(o)) for o in orders}
    size, count = retained_size(orders, new_ids)
    assert count >= 10
    assert size < sys.getsizeof(shared)  # the shared catalogue is not counted


# -- report text ----------------------------------------------------------------------------


def test_the_allow_pattern_of_a_library_leak_matches_it_and_skips_unstable_keys() -> None:
    cases = [
        Leak(
            "threads", "t", keys=("Thread-12 (_monitor)", "logging.handlers.QueueListener._monitor")
        ),
        Leak("tasks", "t", keys=("Task-3", "Server.serve")),
        Leak("fds", "f", keys=("socket:127.0.0.1:8000", "socket:127.0.0.1:54321", "socket:[1]")),
        Leak("warnings", "w", keys=("unclosed <socket.socket fd=5 at 0x7f00aa>",)),
        Leak("objects", "o", keys=("pkg.Thing[int]",)),
    ]
    patterns = [allow_pattern(leak) for leak in cases]
    assert patterns == [
        "threads:logging.handlers.QueueListener._monitor",
        "tasks:Server.serve",
        "fds:socket:127.0.0.1:*",
        "warnings:unclosed <socket.socket fd=5 at *>",
        "objects:pkg.Thing[[]int]",
    ]
    for leak, pattern in zip(cases, patterns, strict=True):
        assert allow_matcher([pattern])(leak), pattern
    assert allow_pattern(Leak("pipe", "p", keys=("pipe:[123]",))) == ""
    library = Leak("threads", "t", keys=("pool", "lib.run"), by_library=True)
    assert any("--leaks-allow='threads:pool'" in line for line in format_leak(library))
    assert not any(
        "--leaks-allow" in line for line in format_leak(Leak("threads", "t", keys=("x",)))
    )


def test_the_summary_is_capped_with_every_kind_header_kept() -> None:
    results = [(f"t.py::test_{n}", [Leak("patches", f"patch {n}")]) for n in range(10)]
    results += [("t.py::test_thread", [Leak("threads", "a thread")])]
    lines = summary_lines(results, json_path="out.json", limit=4)
    assert lines[0] == "patches: 10 leak(s) in 10 test(s)"
    assert "threads: 1 leak(s) in 1 test(s)" in lines
    assert sum(1 for line in lines if line.startswith("  ")) == 4
    assert (
        lines[-1] == "... and 7 more line(s) not shown; the full list is in out.json (--leaks-json)"
    )
    assert re.search("PATH", summary_lines(results, limit=4)[-1])
