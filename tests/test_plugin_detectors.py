"""``pytest --leaks`` catches each leak kind in ordinary test code, and the report says so.

For every detector owned by the plugin core (threads, tasks, patches, warnings)
a test that really leaks is paired with a clean twin that does the same work and
cleans up. The runs use ``-W error`` on top of ``filterwarnings = error``: the
plugin must not add a warning of its own to a run.
"""

from __future__ import annotations

import pytest

from conftest import Run

CASES: dict[str, tuple[str, str]] = {
    "threads": (
        """
        import threading

        STOP = threading.Event()


        def test_leaks():
            threading.Thread(target=STOP.wait, name="leaky-worker", daemon=True).start()


        def test_clean():
            worker = threading.Thread(target=STOP.wait, args=(0.01,), name="clean-worker")
            worker.start()
            worker.join()
        """,
        "[[]threads[]] thread 'leaky-worker' (daemon=True, target=threading.Event.wait)"
        " is still running",
    ),
    "tasks": (
        """
        import asyncio

        import pytest


        async def serve_forever():
            await asyncio.Event().wait()


        @pytest.mark.asyncio
        async def test_leaks():
            asyncio.create_task(serve_forever())


        @pytest.mark.asyncio
        async def test_clean():
            task = asyncio.create_task(serve_forever())
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        """,
        "[[]tasks[]] task 'Task-*' running serve_forever() was still pending"
        " when its event loop was closed",
    ),
    "patches": (
        """
        import os
        from unittest import mock


        def test_leaks():
            mock.patch("os.getcwd", return_value="/nowhere").start()


        def test_clean():
            patcher = mock.patch("os.getcwd", return_value="/nowhere")
            patcher.start()
            assert os.getcwd() == "/nowhere"
            patcher.stop()
        """,
        "[[]patches[]] patch of os.getcwd was started and never stopped",
    ),
    "warnings": (
        """
        import socket


        def test_leaks():
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            del sock


        def test_clean():
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
        """,
        "[[]warnings[]] ResourceWarning: unclosed <socket.socket *127.0.0.1*",
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_leaking_test_errors_at_teardown_naming_its_kind_and_its_clean_twin_passes(
    leak_project: pytest.Pytester, run: Run, kind: str
) -> None:
    source, leak_line = CASES[kind]
    leak_project.makepyfile(test_twins=source)
    result = run("--leaks", "-W", "error")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaks _*",
            f"leakbench: test_twins.py::test_leaks leaked 1 resource(s): {kind}",
            leak_line,
            f'Fix the test, or allow it with @pytest.mark.allow_leaks("{kind}", reason=...).',
            "*= leakbench: leaking tests by kind =*",
            f"{kind}: 1 leak(s) in 1 test(s)",
            "  test_twins.py::test_leaks: *",
            "*= short test summary info =*",
            "ERROR test_twins.py::test_leaks - leakbench: *",
        ]
    )
    result.stdout.no_fnmatch_line("*test_clean*leaked*")
    result.stdout.no_fnmatch_line("*warnings summary*")


def test_a_clean_suite_passes_under_every_detector_with_warnings_as_errors(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_clean_suite="""
        import asyncio
        import socket
        import subprocess
        import sys
        import threading
        import warnings
        from concurrent.futures import ThreadPoolExecutor
        from unittest import mock

        import pytest


        def test_threads_joined():
            with ThreadPoolExecutor(max_workers=2) as pool:
                assert list(pool.map(abs, [-1, -2])) == [1, 2]


        def test_files_and_sockets_closed(tmp_path):
            (tmp_path / "data.txt").write_text("data")
            with open(tmp_path / "data.txt") as fh, socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                assert fh.read() == "data"


        def test_process_waited():
            subprocess.run([sys.executable, "-c", "pass"], check=True)


        def test_patch_in_a_with_block():
            with mock.patch("sys.platform", "plan9"):
                assert sys.platform == "plan9"


        @pytest.mark.asyncio
        async def test_tasks_awaited():
            async with asyncio.TaskGroup() as group:
                group.create_task(asyncio.sleep(0))


        def test_event_loop_closed():
            asyncio.run(asyncio.sleep(0))


        def test_other_warnings_still_reach_pytest():
            with pytest.warns(UserWarning, match="expected"):
                warnings.warn("expected", UserWarning)
        """
    )
    result = run("--leaks=all", "-W", "error")
    result.assert_outcomes(passed=7)
    result.stdout.no_fnmatch_line("*leakbench: *")
    result.stdout.no_fnmatch_line("*warnings summary*")
