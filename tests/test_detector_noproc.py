"""Systems without ``/proc`` (macOS, Windows): every default detector works through psutil
or says once per run what it cannot check, and never crashes.

``/proc`` cannot be removed here, so ``leakbench._util.proc.PROC`` (the one root every
reader uses) is pointed at a missing folder. Linux's ``/dev/fd`` is a link into ``/proc``
and so is not used either; psutil keeps reading the real ``/proc`` (its own root), which is
what it does on Linux anyway and stands in for its macOS/Windows backends. The leaks are
real: files, sockets and child processes opened by the test and closed after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakbench._util import proc, process_tree
from leakbench.detectors import DEFAULT, REGISTRY, activity
from leakbench.detectors.base import DetectorConfig
from leakbench.detectors.fds import FdsDetector
from leakbench.detectors.leak import Leak
from leakbench.detectors.processes import ProcessesDetector
from leakbench.plugin.checker import unavailable_notes

CONFIG = DetectorConfig(grace=0.2)


def nothing_allowed(leak: Leak) -> bool:
    return False


@pytest.fixture
def no_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(proc, "PROC", str(tmp_path / "no-proc"))
    activity.enable()
    try:
        yield
    finally:
        activity.disable()


def test_a_file_left_open_is_caught_through_psutil_and_a_closed_one_is_not(
    no_proc: None, tmp_path: Path
) -> None:
    detector = FdsDetector(CONFIG)
    detector.start()
    try:
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
            f"fd {fd}: file {tmp_path / 'kept.txt'} is still open"
        ]
        assert leaks[0].keys == (str(tmp_path / "kept.txt"),)
        assert detector.find(baseline, nothing_allowed) == []
    finally:
        detector.stop()


def test_a_connected_socket_is_caught_through_psutil_with_its_addresses(no_proc: None) -> None:
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
    assert len(summaries) == 2, summaries
    assert any(f"-> 127.0.0.1:{port} (ESTABLISHED)" in s for s in summaries), summaries
    assert all(f"socket:127.0.0.1:{port}" in leak.keys for leak in leaks)


def test_without_proc_the_fds_detector_says_what_it_cannot_see_and_with_it_says_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert FdsDetector.unavailable_note() is None
    monkeypatch.setattr(proc, "PROC", str(tmp_path / "no-proc"))
    note = FdsDetector.unavailable_note()
    assert note is not None and note.startswith("fds: ") and "psutil" in note
    assert unavailable_notes(DEFAULT) == [note]  # the only default detector short of a source


def test_a_running_child_is_caught_through_psutil_with_its_command_line(no_proc: None) -> None:
    detector = ProcessesDetector(CONFIG)
    assert process_tree.children() is None  # no /proc: the detector must ask psutil
    baseline = detector.snapshot()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        leaks = detector.find(baseline, nothing_allowed)
    finally:
        child.kill()
        child.wait()
    assert [leak.summary for leak in leaks] == [
        f"process {child.pid} ({sys.executable} -c import time; time.sleep(30)) is still running"
    ]
    assert detector.find(baseline, nothing_allowed) == []  # waited for: gone


def test_every_default_detector_snapshots_and_finds_without_proc(no_proc: None) -> None:
    for name in DEFAULT:
        detector = REGISTRY[name](CONFIG)
        detector.start()
        try:
            assert detector.find(detector.snapshot(), nothing_allowed) == [], name
        finally:
            detector.stop()


def test_this_process_memory_is_read_through_psutil(no_proc: None) -> None:
    memory = proc.SelfMemory()
    try:
        rss, peak = memory.rss_and_peak()
        assert rss > 10 * 2**20 and peak == rss
        assert not memory.can_reset_peak
    finally:
        memory.close()
    assert proc.tree_rss(os.getpid()) > 0


def test_pytest_leaks_catches_a_leaked_file_and_says_once_what_it_cannot_check(
    no_proc: None, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(
        test_files="""
        import pytest

        _kept = []

        def test_reads_a_file_it_closes(tmp_path):
            (tmp_path / "a.txt").write_text("x")
            assert (tmp_path / "a.txt").read_text() == "x"

        def teardown_module():  # after the test's own check: the leak is the test's
            _kept.pop().close()

        def test_keeps_a_file_open(tmp_path):
            _kept.append(open(tmp_path / "kept.txt", "w"))

        @pytest.mark.parametrize("n", range(3))
        def test_does_nothing(n):
            assert n >= 0
        """
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest("--leaks", "-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=1)
    text = result.stdout.str()
    assert "ERROR at teardown of test_keeps_a_file_open" in text
    assert "kept.txt is still open" in text
    notes = [line for line in result.outlines if line.startswith("leakbench: fds: ")]
    assert len(notes) == 1, notes
