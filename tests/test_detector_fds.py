"""``pytest --leaks`` on file descriptors, as ordinary test code leaks them.

Each case runs a small suite in a separate pytest process, with
``filterwarnings = error`` like strict suites. The HTTP cases talk to a real
HTTP/1.1 server (keep-alive, so a client that is never closed really keeps its
pooled connection) that a session-scoped fixture starts in the first test using
it: its listening socket and thread belong to the fixture and must not be blamed
on that test.
"""

from __future__ import annotations

import pytest

INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""

HTTP_SERVER_CONFTEST = """
import http.server
import threading

import pytest


class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools the connection

    def do_GET(self):
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, name="test-http-server")
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()
"""


def run_with_leaks(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    return pytester.runpytest_subprocess("--leaks", "-p", "no:cacheprovider", *args, timeout=60)


def test_an_httpx_client_never_closed_leaks_its_pooled_connection_and_a_closed_one_does_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(HTTP_SERVER_CONFTEST)
    pytester.makepyfile(
        test_api="""
        import httpx

        _client = None


        def shared_client(base_url):
            global _client
            if _client is None:
                _client = httpx.Client(base_url=base_url)
            return _client


        def test_fetches_with_a_client_it_closes(http_server):
            with httpx.Client(base_url=http_server) as client:
                assert client.get("/").text == "hello"


        def test_fetches_with_a_shared_client_nobody_closes(http_server):
            assert shared_client(http_server).get("/").text == "hello"
        """
    )
    # The clean test relies on the grace period while the server's handler thread
    # closes its end; a loaded machine needs more than the default half second.
    result = run_with_leaks(pytester, "--leaks-grace", "1.5")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_fetches_with_a_shared_client_nobody_closes leaked * resource(s): fds*",
            "[[]fds[]] fd *: socket tcp 127.0.0.1:* -> 127.0.0.1:* (ESTABLISHED) is still open",
        ]
    )
    # The session fixture set up inside the first test owns the listening socket
    # and the server thread: that test passes and nobody is blamed for them.
    result.stdout.no_fnmatch_line("*test_fetches_with_a_client_it_closes leaked*")
    result.stdout.no_fnmatch_line("*LISTEN*")
    result.stdout.no_fnmatch_line("*test-http-server*")


def test_an_event_loop_never_closed_leaks_its_epoll_selector_and_a_closed_one_does_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_sync_bridge="""
        import asyncio

        LOOPS = []


        async def answer():
            await asyncio.sleep(0)
            return 42


        def test_runs_a_coroutine_on_a_loop_it_keeps():
            loop = asyncio.new_event_loop()
            LOOPS.append(loop)
            assert loop.run_until_complete(answer()) == 42


        def test_runs_a_coroutine_on_a_loop_it_closes():
            loop = asyncio.new_event_loop()
            try:
                assert loop.run_until_complete(answer()) == 42
            finally:
                loop.close()
        """
    )
    result = run_with_leaks(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_runs_a_coroutine_on_a_loop_it_keeps leaked 3 resource(s): fds",
            "[[]fds[]] fd *: epoll (an event loop's selector that was never closed?) is still open",
            "[[]fds[]] fd *: socket unix unnamed (stream, CONNECTED) is still open",
        ]
    )
    result.stdout.no_fnmatch_line("*test_runs_a_coroutine_on_a_loop_it_closes leaked*")


def test_a_file_kept_open_in_a_module_global_is_reported_with_its_path_unless_allow_listed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_audit="""
        AUDIT_LOG = None
        CACHE = None


        def test_appends_to_an_audit_log_it_never_closes(tmp_path):
            global AUDIT_LOG
            AUDIT_LOG = open(tmp_path / "audit.log", "a")
            AUDIT_LOG.write("started\\n")


        def test_appends_to_an_audit_log_in_a_with_block(tmp_path):
            with open(tmp_path / "audit.log", "a") as log:
                log.write("started\\n")


        def test_keeps_a_cache_file_open_on_purpose(tmp_path):
            global CACHE
            CACHE = open(tmp_path / "cache.db", "wb")
        """
    )
    result = run_with_leaks(pytester, "--leaks-allow", "fds:*/cache.db")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_appends_to_an_audit_log_it_never_closes leaked 1 resource(s): fds",
            "[[]fds[]] fd *: file */audit.log (open for write) is still open",
        ]
    )
    result.stdout.no_fnmatch_line("*test_appends_to_an_audit_log_in_a_with_block leaked*")
    result.stdout.no_fnmatch_line("*test_keeps_a_cache_file_open_on_purpose leaked*")
