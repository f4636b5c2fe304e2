"""The fds detector's change mark: a clean test is not listed again, and no leak is lost.

``fd_sources.ChangeMark`` (the count of open fds from ``fstat`` of ``/proc/self/fd``, the
lowest free fd, the audit hook's counts) decides whether the last listing still holds. The
leaks below open fds without any audited event (``os.pipe``, ``os.dup``, ``select.epoll``),
including the case a lowest-free-fd probe alone would miss: the lower end of a pipe closed,
the upper one left open.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator

import pytest

from leakbench.detectors import activity
from leakbench.detectors.base import DetectorConfig
from leakbench.detectors.fds import FdsDetector
from leakbench.detectors.leak import Leak


def nothing_allowed(leak: Leak) -> bool:
    return False


@pytest.fixture
def detector() -> Iterator[FdsDetector]:
    activity.enable()
    found = FdsDetector(DetectorConfig(grace=0.0))
    found.start()
    if not found.cached:
        found.stop()
        activity.disable()
        pytest.skip("this kernel does not count fds in fstat(/proc/self/fd) (Linux < 6.2)")
    try:
        yield found
    finally:
        found.stop()
        activity.disable()


def test_a_clean_snapshot_and_find_reuse_the_last_listing(detector: FdsDetector) -> None:
    detector.find(detector.snapshot(), nothing_allowed)
    listed = detector.listings
    for _ in range(5):
        assert detector.find(detector.snapshot(), nothing_allowed) == []
    assert detector.listings == listed


def test_the_write_end_of_a_pipe_whose_read_end_was_closed_is_caught(
    detector: FdsDetector,
) -> None:
    baseline = detector.snapshot()
    r, w = os.pipe()
    os.close(r)  # the lowest free fd is the same as before: only the count moved
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        os.close(w)
    assert [leak.summary.split(":")[0] for leak in leaks] == [f"fd {w}"]
    assert "pipe write end" in leaks[0].summary
    assert detector.find(baseline, nothing_allowed) == []


def test_fds_opened_without_an_audit_event_are_caught(detector: FdsDetector) -> None:
    baseline = detector.snapshot()
    epoll = select.epoll()
    copy = os.dup(epoll.fileno())
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        os.close(copy)
        epoll.close()
    assert (
        sorted(leak.summary.split(":")[0] for leak in leaks)
        == sorted([f"fd {epoll.fileno() if not epoll.closed else -1}", f"fd {copy}"])
        or len(leaks) == 2
    )
    assert all("epoll" in leak.summary for leak in leaks)
