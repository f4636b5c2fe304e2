"""The detector protocol driven directly, without pytest's plugin: the registry, grace
periods, allowed finds, and the processes detector.

A grace period is observed, not timed: ``Detector.wait_grace`` is wrapped so that the
thing under test ends when (and only when) the detector starts waiting, and
``graces_spent`` counts the waits. So "not reported thanks to the grace period" is shown
by the same find reporting it without one, and "no grace spent" by the count. These run
in this process, so each test cleans up what it leaks on purpose.
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from leakbench.detectors import DEFAULT, OPT_IN, REGISTRY, activity, known
from leakbench.detectors.base import Detector, DetectorConfig
from leakbench.detectors.fds import FdsDetector
from leakbench.detectors.leak import Leak
from leakbench.detectors.processes import ProcessesDetector, read_stat
from leakbench.detectors.threads import ThreadsDetector
from leakbench.plugin.policy import allow_matcher

GRACE = 0.3
CONFIG = DetectorConfig(grace=GRACE)
LONG_GRACE = DetectorConfig(grace=10.0)
"""Ends as soon as what is waited for is gone: a loaded machine never runs out of it."""
NO_GRACE = DetectorConfig(grace=0.0)


def nothing_allowed(leak: Leak) -> bool:
    return False


def everything_allowed(leak: Leak) -> bool:
    return True


@pytest.fixture
def audit_counters() -> Iterator[None]:
    """Count spawns like the plugin does, and put the switch back afterwards."""
    was = activity.counters.enabled
    activity.enable()
    yield
    activity.counters.enabled = was


def end_during_grace(
    monkeypatch: pytest.MonkeyPatch, detector: Detector[Any], end: Callable[[], None]
) -> list[bool]:
    """Call ``end`` when ``detector`` starts a grace period; the list gets each wait's
    result (True: what it waited for went away)."""
    waits: list[bool] = []
    wait = detector.wait_grace

    def ending_wait(done: Callable[[], bool]) -> bool:
        end()
        waits.append(wait(done))
        return waits[-1]

    monkeypatch.setattr(detector, "wait_grace", ending_wait)
    return waits


# -- the registry ----------------------------------------------------------------


def test_the_default_and_opt_in_lists_split_the_registry_by_cost() -> None:
    assert set(DEFAULT).isdisjoint(OPT_IN)
    assert (*DEFAULT, *OPT_IN) == known() and set(known()) == set(REGISTRY)
    assert set(OPT_IN) == {"objects", "globals"}  # a heap census, module state: opt-in
    assert all(REGISTRY[name].description.strip() for name in known())


def test_the_detectors_say_which_of_them_a_traceback_keeps_alive_and_which_take_warnings() -> None:
    assert {n for n, cls in REGISTRY.items() if cls.kept_by_traceback} == {
        "fds",
        "warnings",
        "objects",
    }
    assert [n for n, cls in REGISTRY.items() if cls.receives_warnings] == ["warnings"]


# -- grace periods -----------------------------------------------------------------


def blocked_thread(release: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=release.wait, name="finishing-worker", daemon=True)
    thread.start()
    return thread


def test_a_thread_that_ends_during_the_grace_period_is_not_a_leak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detector = ThreadsDetector(LONG_GRACE)
    baseline = detector.snapshot()
    release = threading.Event()
    thread = blocked_thread(release)
    waits = end_during_grace(monkeypatch, detector, release.set)
    try:
        assert detector.find(baseline, nothing_allowed) == []
    finally:
        release.set()
        thread.join()
    assert waits == [True]


def test_without_a_grace_period_the_same_finishing_thread_is_a_leak() -> None:
    detector = ThreadsDetector(NO_GRACE)
    baseline = detector.snapshot()
    release = threading.Event()
    thread = blocked_thread(release)
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        release.set()
        thread.join()
    assert [leak.keys[0] for leak in leaks] == ["finishing-worker"]
    assert detector.graces_spent == 1


def test_an_fd_closed_during_the_grace_period_is_not_a_leak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detector = FdsDetector(LONG_GRACE)
    baseline = detector.snapshot()
    r, w = os.pipe()

    def close() -> None:
        os.close(r)
        os.close(w)

    waits = end_during_grace(monkeypatch, detector, close)
    assert detector.find(baseline, nothing_allowed) == []
    assert waits == [True]


def test_without_a_grace_period_the_same_open_pipe_is_a_leak() -> None:
    detector = FdsDetector(NO_GRACE)
    baseline = detector.snapshot()
    r, w = os.pipe()
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        os.close(r)
        os.close(w)
    assert [leak.summary.split(":")[0] for leak in leaks] == [f"fd {r}", f"fd {w}"]


def test_an_allowed_fd_is_dropped_before_any_grace_is_spent() -> None:
    detector = FdsDetector(LONG_GRACE)
    baseline = detector.snapshot()
    epoll = select.epoll()
    try:
        assert detector.find(baseline, everything_allowed) == []
        assert detector.graces_spent == 0
        assert len(FdsDetector(NO_GRACE).find(baseline, nothing_allowed)) == 1  # it was seen
    finally:
        epoll.close()


def test_a_child_that_exits_and_is_reaped_during_the_grace_period_is_not_a_leak(
    monkeypatch: pytest.MonkeyPatch, audit_counters: None
) -> None:
    detector = ProcessesDetector(LONG_GRACE)
    baseline = detector.snapshot()
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE)  # runs until its stdin closes

    def finish() -> None:
        proc.communicate()  # closes stdin, then reaps

    waits = end_during_grace(monkeypatch, detector, finish)
    try:
        assert detector.find(baseline, nothing_allowed) == []
    finally:
        proc.kill()
        proc.communicate()
    assert waits == [True]


def test_without_a_grace_period_the_same_running_child_is_a_leak(audit_counters: None) -> None:
    detector = ProcessesDetector(NO_GRACE)
    baseline = detector.snapshot()
    with subprocess.Popen(["cat"], stdin=subprocess.PIPE) as proc:
        try:
            leaks = detector.find(baseline, nothing_allowed)
        finally:
            proc.kill()
    assert [leak.summary for leak in leaks] == [f"process {proc.pid} (cat) is still running"]


def test_an_allowed_child_is_dropped_before_any_grace_is_spent(audit_counters: None) -> None:
    # Popen returns while the kernel is still finishing the child's exec (its command
    # line reads empty for a moment): many children, so that some are caught then.
    detector = ProcessesDetector(DetectorConfig(grace=5.0))
    allowed = allow_matcher(["processes:sleep *"])
    for _ in range(30):
        baseline = detector.snapshot()
        with subprocess.Popen(["sleep", "30"]) as proc:
            try:
                assert detector.find(baseline, allowed) == []
            finally:
                proc.kill()
    assert detector.graces_spent == 0


def wait_for_state(pid: int, states: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while read_stat(pid)[1] not in states:
        assert time.monotonic() < deadline, f"pid {pid} never reached state {states}"
        time.sleep(0.005)


def test_a_zombie_is_a_leak_at_once_without_waiting_for_the_grace_period(
    audit_counters: None,
) -> None:
    detector = ProcessesDetector(LONG_GRACE)
    baseline = detector.snapshot()
    proc = subprocess.Popen(["true"])
    try:
        wait_for_state(proc.pid, "Z")
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        proc.wait()
    assert detector.graces_spent == 0
    assert len(leaks) == 1
    assert leaks[0].summary.startswith(f"process {proc.pid} (true) exited but was never waited")
    assert detector.find(baseline, nothing_allowed) == []


# -- the processes detector ---------------------------------------------------------


def test_a_running_child_is_reported_with_its_command_line(audit_counters: None) -> None:
    detector = ProcessesDetector(CONFIG)
    baseline = detector.snapshot()
    proc = subprocess.Popen(["sleep", "5"])
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        proc.kill()
        proc.wait()
    assert [leak.summary for leak in leaks] == [f"process {proc.pid} (sleep 5) is still running"]
    assert leaks[0].keys == ("sleep 5", "sleep")
    # The creation stack is there when the plugin recorded it (origins installed).
    assert not leaks[0].details or leaks[0].details[0] == "started at:"
    assert detector.find(baseline, nothing_allowed) == []


def test_a_child_that_a_waiter_thread_reaps_during_the_grace_period_is_not_a_leak(
    audit_counters: None,
) -> None:
    detector = ProcessesDetector(LONG_GRACE)  # ends once the child is reaped
    baseline = detector.snapshot()
    # Popen.__del__ reaps nothing; a waiter thread does, like asyncio's child watcher.
    proc = subprocess.Popen(["sleep", "0.05"])
    loop = asyncio.new_event_loop()
    try:
        waiter = loop.run_in_executor(None, proc.wait)
        leaks = detector.find(baseline, nothing_allowed)
        loop.run_until_complete(waiter)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    assert leaks == []


def test_children_are_listed_again_only_after_something_was_spawned(
    audit_counters: None,
) -> None:
    detector = ProcessesDetector(CONFIG)
    baseline = detector.snapshot()
    scans = detector.scans
    for _ in range(5):
        assert detector.find(baseline, nothing_allowed) == []
        detector.snapshot()
    assert detector.scans == scans
    subprocess.run(["true"], check=True)
    assert detector.find(baseline, nothing_allowed) == []
    assert detector.scans == scans + 1


def test_a_child_started_by_a_wider_fixture_is_adopted(audit_counters: None) -> None:
    detector = ProcessesDetector(CONFIG)
    baseline = detector.snapshot()
    before = detector.snapshot()
    with subprocess.Popen(["sleep", "5"]) as proc:
        try:
            after = detector.snapshot()
            baseline = detector.adopt(baseline, before, after)
            assert detector.find(baseline, nothing_allowed) == []
        finally:
            proc.kill()
