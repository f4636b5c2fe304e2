"""Who gets blamed: fixture scopes, failed tests and late garbage.

The baseline is taken before setup and the check runs after teardown, so what
a function-scoped fixture leaks counts, while what a session, module or class
fixture starts belongs to the fixture, not to the first test that uses it.
"""

from __future__ import annotations

import pytest

from conftest import Run


def test_wider_fixtures_are_not_blamed_for_their_threads_but_a_function_fixture_is(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeconftest(
        """
        import threading

        import pytest

        STOP = threading.Event()


        def serve(name):
            thread = threading.Thread(target=STOP.wait, name=name, daemon=True)
            thread.start()
            return thread


        @pytest.fixture(scope="session")
        def session_server():
            return serve("session-server")


        @pytest.fixture(scope="module")
        def module_server():
            return serve("module-server")


        @pytest.fixture(scope="class")
        def class_server():
            return serve("class-server")


        @pytest.fixture
        def function_server():
            return serve("function-server")
        """
    )
    leak_project.makepyfile(
        test_scopes="""
        def test_first_user_of_the_session_and_module_servers(session_server, module_server):
            assert session_server.is_alive() and module_server.is_alive()


        def test_second_user_of_the_session_server(session_server):
            assert session_server.is_alive()


        class TestWithAClassServer:
            def test_first_user_of_the_class_server(self, class_server):
                assert class_server.is_alive()


        def test_function_fixture_that_leaks(function_server):
            assert function_server.is_alive()
        """
    )
    result = run("--leaks")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_function_fixture_that_leaks _*",
            "[[]threads[]] thread 'function-server' (daemon=True, *) is still running",
            "    started at:",
            '*conftest.py", line *, in serve',
            '*conftest.py", line *, in function_server',
        ]
    )
    result.stdout.no_fnmatch_line("*'session-server'*")
    result.stdout.no_fnmatch_line("*'module-server'*")
    result.stdout.no_fnmatch_line("*'class-server'*")


def test_a_failed_test_is_not_blamed_for_what_its_traceback_keeps_open_nor_is_the_next_test(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_failure="""
        import gc
        import socket


        def test_fails_while_holding_a_socket():
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            assert sock.getsockname()[1] == 0, "the port was not what we thought"


        def test_next_one_is_clean():
            gc.collect()  # frees the failure's frames if they are still around
        """
    )
    result = run("--leaks")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: leaking tests by kind =*",
            "not counted: 1",
            "  test_failure.py::test_fails_while_holding_a_socket: [[]fds[]] fd *: socket *",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
    result.stdout.no_fnmatch_line("*test_next_one_is_clean*leak*")


def test_a_socket_dropped_in_a_reference_cycle_is_reported_on_the_test_that_dropped_it(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_cycle="""
        import gc
        import socket


        class Connection:
            def __init__(self):
                self.sock = socket.socket()
                self.sock.bind(("127.0.0.1", 0))
                self.myself = self  # a reference cycle: only the collector frees it


        def test_drops_a_connection_in_a_cycle():
            Connection()


        def test_a_later_test_that_collects_garbage():
            gc.collect()
        """
    )
    result = run("--leaks")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_drops_a_connection_in_a_cycle _*",
            "[[]warnings[]] ResourceWarning: unclosed <socket.socket *127.0.0.1*",
            "*raised when leakbench collected garbage at teardown",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_a_later_test_that_collects_garbage*")


def test_leaks_of_a_test_whose_fixture_teardown_raises_still_reach_the_summary(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_broken="""
        import threading

        import pytest


        @pytest.fixture
        def broken_teardown():
            yield
            raise RuntimeError("the teardown broke")


        def test_leaks_and_breaks(broken_teardown):
            threading.Thread(target=threading.Event().wait, name="leaky", daemon=True).start()
        """
    )
    result = run("--leaks")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: leaking tests by kind =*",
            "threads: 1 leak(s) in 1 test(s)",
            "  test_broken.py::test_leaks_and_breaks: thread 'leaky' *",
        ]
    )
