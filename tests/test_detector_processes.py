"""``pytest --leaks`` on child processes, as ordinary test code leaks them.

Each case runs a small suite in a separate pytest process (the leaked children
must not belong to this one), with ``filterwarnings = error`` like strict suites.
"""

from __future__ import annotations

import pytest

INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


def run_with_leaks(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    return pytester.runpytest_subprocess("--leaks", "-p", "no:cacheprovider", *args, timeout=60)


def test_a_popen_left_running_in_a_module_global_is_reported_with_its_command_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_workers="""
        import atexit
        import subprocess

        WORKERS = []
        atexit.register(lambda: [worker.kill() for worker in WORKERS])


        def test_starts_a_worker_and_forgets_it():
            WORKERS.append(subprocess.Popen(["sleep", "5"]))


        def test_runs_a_worker_to_completion():
            with subprocess.Popen(["sleep", "0.01"]) as worker:
                pass
            assert worker.returncode == 0


        def test_waits_for_its_worker():
            worker = subprocess.Popen(["true"])
            assert worker.wait() == 0
        """
    )
    result = run_with_leaks(pytester)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_starts_a_worker_and_forgets_it leaked 1 resource(s): processes",
            "[[]processes[]] process * (sleep 5) is still running",
            "*started at:",
            '*test_workers.py", line *, in test_starts_a_worker_and_forgets_it',
        ]
    )
    result.stdout.no_fnmatch_line("*test_runs_a_worker_to_completion leaked*")
    result.stdout.no_fnmatch_line("*test_waits_for_its_worker leaked*")


def test_a_child_that_exited_but_was_never_waited_for_is_reported_as_a_zombie(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_commands="""
        import subprocess

        FINISHED = []


        def test_reads_a_commands_output_without_waiting():
            proc = subprocess.Popen(["echo", "hello"], stdout=subprocess.PIPE)
            FINISHED.append(proc)
            assert proc.stdout.read() == b"hello\\n"
            proc.stdout.close()


        def test_reads_a_commands_output_with_communicate():
            proc = subprocess.Popen(["echo", "hello"], stdout=subprocess.PIPE)
            FINISHED.append(proc)
            assert proc.communicate()[0] == b"hello\\n"
        """
    )
    # The grace ends as soon as the child has exited; a long one keeps a loaded
    # machine from catching echo still running.
    result = run_with_leaks(pytester, "--leaks-grace", "5")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_reads_a_commands_output_without_waiting leaked 1 resource(s): processes",
            "[[]processes[]] process * (echo) exited but was never waited for (a zombie*",
        ]
    )
    result.stdout.no_fnmatch_line("*test_reads_a_commands_output_with_communicate leaked*")
