"""The processes, fds and objects detectors driven directly, without pytest's plugin.

These run in this process, so each test cleans up what it leaks on purpose.
"""

from __future__ import annotations

import asyncio
import gc
import os
import select
import socket
import subprocess
import sys
import time
import unittest.mock
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakbench.detectors import DEFAULT, OPT_IN, REGISTRY, activity
from leakbench.detectors.base import DetectorConfig
from leakbench.detectors.fds import (
    FdsDetector,
    decode_address,
    list_fds,
    parse_inet_table,
    parse_unix_table,
)
from leakbench.detectors.leak import Leak
from leakbench.detectors.objects import ObjectsDetector, type_key
from leakbench.detectors.processes import ProcessesDetector, read_stat
from leakbench.plugin.options import allow_matcher

GRACE = 0.3
CONFIG = DetectorConfig(grace=GRACE)


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


def test_every_detector_of_the_default_and_opt_in_lists_is_registered() -> None:
    assert set(DEFAULT) | set(OPT_IN) <= set(REGISTRY)
    assert "objects" not in DEFAULT


# -- fds ---------------------------------------------------------------------


def test_kernel_socket_addresses_decode_to_host_and_port() -> None:
    assert decode_address("0100007F:1F90") == "127.0.0.1:8080"
    assert decode_address("00000000000000000000000001000000:0050") == "[::1]:80"
    assert decode_address("0000000000000000FFFF00000100007F:0050") == "127.0.0.1:80"


def test_the_tcp_table_gives_both_ends_and_the_state_of_a_socket() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode\n"
        "   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000"
        "     0        0 4242 1 0000000000000000 20 4 30 10 -1\n"
        "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
        "     0        0 4343 1 0000000000000000 100 0 0 10 0\n"
    )
    found = parse_inet_table("tcp", table, {"4242", "4343"})
    assert found["4242"].describe() == "socket tcp 127.0.0.1:40000 -> 127.0.0.1:8080 (ESTABLISHED)"
    assert found["4242"].keys() == ("socket:127.0.0.1:40000", "socket:127.0.0.1:8080")
    assert found["4343"].describe() == "socket tcp 0.0.0.0:8080 (LISTEN)"


def test_the_unix_table_gives_the_path_of_a_named_socket() -> None:
    table = (
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 777 /run/app.sock\n"
        "0000000000000000: 00000003 00000000 00000000 0001 03 778\n"
    )
    found = parse_unix_table(table, {"777", "778"})
    assert found["777"].describe() == "socket unix /run/app.sock (stream, UNCONNECTED)"
    assert found["777"].keys() == ("socket:/run/app.sock",)
    assert found["778"].describe() == "socket unix unnamed (stream, CONNECTED)"


def test_the_fd_listing_does_not_count_its_own_descriptor() -> None:
    before = list_fds()
    r, w = os.pipe()
    try:
        assert {str(r), str(w)} <= list_fds() - before
    finally:
        os.close(r)
        os.close(w)
    assert list_fds() == before


def test_a_file_left_open_is_reported_with_its_path_and_a_closed_one_is_not(
    tmp_path: Path,
) -> None:
    detector = FdsDetector(CONFIG)
    baseline = detector.snapshot()
    with open(tmp_path / "closed.txt", "w") as fh:
        fh.write("x")
    kept = open(tmp_path / "kept.txt", "w")  # noqa: SIM115 - the leak under test
    fd = kept.fileno()
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        kept.close()
    assert [leak.summary for leak in leaks] == [
        f"fd {fd}: file {tmp_path / 'kept.txt'} (open for write) is still open"
    ]
    assert leaks[0].kind == "fds"
    assert leaks[0].keys == (str(tmp_path / "kept.txt"),)
    assert detector.find(baseline, nothing_allowed) == []


def test_a_connected_socket_is_described_by_its_addresses_and_state() -> None:
    detector = FdsDetector(CONFIG)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        baseline = detector.snapshot()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        try:
            leaks = detector.find(baseline, nothing_allowed)
        finally:
            client.close()
            accepted.close()
    summaries = [leak.summary for leak in leaks]
    assert len(summaries) == 2
    assert any(f"-> 127.0.0.1:{port} (ESTABLISHED)" in s for s in summaries), summaries
    assert any(f"socket tcp 127.0.0.1:{port} -> " in s for s in summaries), summaries
    assert all(f"socket:127.0.0.1:{port}" in leak.keys for leak in leaks)


def test_an_unclosed_event_loop_shows_up_as_its_epoll_selector() -> None:
    detector = FdsDetector(CONFIG)
    baseline = detector.snapshot()
    loop = asyncio.new_event_loop()
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        loop.close()
    summaries = [leak.summary for leak in leaks]
    assert any("epoll (an event loop's selector that was never closed?)" in s for s in summaries)
    assert sum("socket unix unnamed" in s for s in summaries) == 2  # its self-pipe
    assert detector.find(baseline, nothing_allowed) == []


def test_pipe_ends_are_told_apart() -> None:
    detector = FdsDetector(CONFIG)
    baseline = detector.snapshot()
    r, w = os.pipe()
    try:
        summaries = [leak.summary for leak in detector.find(baseline, nothing_allowed)]
    finally:
        os.close(r)
        os.close(w)
    assert summaries[0].startswith(f"fd {r}: pipe read end (pipe:[")
    assert summaries[1].startswith(f"fd {w}: pipe write end (pipe:[")


def test_an_allowed_fd_is_dropped_before_any_grace_is_spent() -> None:
    detector = FdsDetector(DetectorConfig(grace=5.0))
    baseline = detector.snapshot()
    epoll = select.epoll()
    try:
        start = time.monotonic()
        assert detector.find(baseline, everything_allowed) == []
        assert time.monotonic() - start < 1.0
    finally:
        epoll.close()


def test_an_fd_closed_during_the_grace_period_is_not_a_leak() -> None:
    detector = FdsDetector(DetectorConfig(grace=5.0))  # ends as soon as the pipe closes
    baseline = detector.snapshot()
    r, w = os.pipe()

    def close_soon() -> None:
        time.sleep(0.05)
        os.close(r)
        os.close(w)

    loop = asyncio.new_event_loop()
    try:
        closer = loop.run_in_executor(None, close_soon)
        # find() blocks in the grace wait while the executor thread closes the pipe.
        leaks = detector.find(baseline, lambda leak: "pipe" not in leak.keys)
        loop.run_until_complete(closer)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    assert leaks == []


def test_socket_and_path_keys_match_allow_list_globs() -> None:
    allowed = allow_matcher(["fds:socket:*:5432", "fds:/var/log/*"])
    database = Leak(
        "fds", "fd 7: socket tcp ...", keys=("socket:10.0.0.1:40000", "socket:10.0.0.2:5432")
    )
    log = Leak("fds", "fd 8: file ...", keys=("/var/log/app.log",))
    other = Leak("fds", "fd 9: file ...", keys=("/tmp/x",))
    assert allowed(database) and allowed(log) and not allowed(other)


# -- processes -----------------------------------------------------------------


def wait_for_state(pid: int, states: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while read_stat(pid)[1] not in states:
        assert time.monotonic() < deadline, f"pid {pid} never reached state {states}"
        time.sleep(0.005)


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


def test_a_zombie_is_a_leak_at_once_without_waiting_for_the_grace_period(
    audit_counters: None,
) -> None:
    detector = ProcessesDetector(DetectorConfig(grace=5.0))
    baseline = detector.snapshot()
    proc = subprocess.Popen(["true"])
    try:
        wait_for_state(proc.pid, "Z")
        start = time.monotonic()
        leaks = detector.find(baseline, nothing_allowed)
        assert time.monotonic() - start < 1.0
    finally:
        proc.wait()
    assert len(leaks) == 1
    assert leaks[0].summary.startswith(f"process {proc.pid} (true) exited but was never waited")
    assert detector.find(baseline, nothing_allowed) == []


def test_a_child_that_finishes_within_the_grace_period_is_not_a_leak(
    audit_counters: None,
) -> None:
    detector = ProcessesDetector(DetectorConfig(grace=5.0))  # ends once the child is reaped
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


def test_an_allowed_child_is_dropped_before_any_grace_is_spent(audit_counters: None) -> None:
    detector = ProcessesDetector(DetectorConfig(grace=5.0))
    baseline = detector.snapshot()
    with subprocess.Popen(["sleep", "5"]) as proc:
        try:
            start = time.monotonic()
            allowed = allow_matcher(["processes:sleep *"])
            assert detector.find(baseline, allowed) == []
            assert time.monotonic() - start < 1.0
        finally:
            proc.kill()


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


# -- objects -------------------------------------------------------------------


class Widget:
    def __init__(self, n: int) -> None:
        self.n = n


def test_objects_kept_in_a_list_are_counted_sized_and_their_holder_named() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [Widget(n) for n in range(300)]
    leaks = detector.find(baseline, nothing_allowed)
    assert gc.get_freeze_count() == 0
    assert len(leaks) == 1
    assert leaks[0].kind == "objects"
    assert leaks[0].summary == f"300 more {__name__}.Widget objects alive after the test"
    assert leaks[0].keys == (f"{__name__}.Widget",)
    assert "retained" in leaks[0].details[0]
    assert leaks[0].details[1].startswith("held by a list of 300 items")
    del kept


def test_objects_that_die_are_not_counted() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    cycles = [[Widget(n)] for n in range(300)]
    for cycle in cycles:
        cycle.append(cycle)  # a reference cycle: only the collector frees these
    del cycles, cycle
    assert detector.find(baseline, nothing_allowed) == []


def test_growth_below_the_threshold_is_not_a_leak() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [Widget(n) for n in range(99)]
    assert detector.find(baseline, nothing_allowed) == []
    del kept


def test_mocks_are_grouped_under_their_class_and_their_parts_charged_to_them() -> None:
    assert type_key(type(unittest.mock.MagicMock())) == "unittest.mock.MagicMock"
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [unittest.mock.Mock() for _ in range(150)]
    for mock in kept:
        mock.ping()  # two child mocks each: ``ping`` and its return value
    leaks = detector.find(baseline, nothing_allowed)
    summaries = [leak.summary for leak in leaks]
    # One line: not 450 one-off subclasses, nor their call lists and dicts.
    assert summaries == ["450 more unittest.mock.Mock objects alive after the test"]
    del kept


def test_what_a_module_first_imported_during_the_test_creates_is_not_a_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "\n".join(
        f"class C{i}:\n    def m(self): return {i}\nTABLE{i} = {{'k': [{i}, ({i},)]}}"
        for i in range(200)
    )
    (tmp_path / "leakbench_fresh_module.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    __import__("leakbench_fresh_module")
    try:
        assert detector.find(baseline, nothing_allowed) == []
    finally:
        del sys.modules["leakbench_fresh_module"]


def test_what_a_wider_fixture_creates_inside_a_test_is_adopted() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    before = detector.snapshot()  # around a session fixture's setup: a census, no freeze
    fixture_value = [Widget(n) for n in range(300)]
    after = detector.snapshot()
    baseline = detector.adopt(baseline, before, after)
    test_leak = [Widget(n) for n in range(120)]
    leaks = detector.find(baseline, nothing_allowed)
    assert [leak.summary for leak in leaks] == [
        f"120 more {__name__}.Widget objects alive after the test"
    ]
    assert gc.get_freeze_count() == 0
    del fixture_value, test_leak


def test_the_heap_is_unfrozen_even_when_the_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    detector = ObjectsDetector(CONFIG)
    baseline = detector.snapshot()
    assert gc.get_freeze_count() > 0

    def broken() -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(gc, "get_objects", broken)
    with pytest.raises(RuntimeError):
        detector.find(baseline, nothing_allowed)
    assert gc.get_freeze_count() == 0


def test_an_allowed_type_is_not_reported() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [Widget(n) for n in range(300)]
    allowed = allow_matcher([f"objects:{__name__}.*"])
    assert detector.find(baseline, allowed) == []
    del kept
