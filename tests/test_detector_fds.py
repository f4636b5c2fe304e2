"""The fds detector: ``pytest --leaks`` on file descriptors as ordinary test code leaks
them, and the detector driven directly (the kernel's socket tables, descriptions, keys).

Each ``pytest --leaks`` case runs a small suite in a separate pytest process, with
``filterwarnings = error`` like strict suites. The HTTP cases talk to a real
HTTP/1.1 server (keep-alive, so a client that is never closed really keeps its
pooled connection) that a session-scoped fixture starts in the first test using
it: its listening socket and thread belong to the fixture and must not be blamed
on that test. The direct cases run in this process and close what they open. The
grace period and allowed fds are in ``test_detectors_unit.py``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from leakbench.detectors.base import DetectorConfig
from leakbench.detectors.fds import (
    FdsDetector,
    decode_address,
    list_fds,
    parse_inet_table,
    parse_unix_table,
)
from leakbench.detectors.leak import Leak
from leakbench.plugin.policy import allow_matcher

CONFIG = DetectorConfig(grace=0.3)


def nothing_allowed(leak: Leak) -> bool:
    return False


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


# -- the detector driven directly ----------------------------------------------


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


def test_socket_and_path_keys_match_allow_list_globs() -> None:
    allowed = allow_matcher(["fds:socket:*:5432", "fds:/var/log/*"])
    database = Leak(
        "fds", "fd 7: socket tcp ...", keys=("socket:10.0.0.1:40000", "socket:10.0.0.2:5432")
    )
    log = Leak("fds", "fd 8: file ...", keys=("/var/log/app.log",))
    other = Leak("fds", "fd 9: file ...", keys=("/tmp/x",))
    assert allowed(database) and allowed(log) and not allowed(other)
