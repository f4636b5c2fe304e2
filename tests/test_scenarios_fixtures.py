"""The scenario fixtures start real resources, stop them fully, and fail clearly.

The loopback server must keep HTTP/1.1 connections pooled (otherwise a leaked
client leaks nothing visible), must leave no thread behind when stopped even if a
client still holds a connection, and must name the resource when it cannot
start. The Chroma directory must be removed on exit and refused with a clear
message when it cannot be written.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

# fixtures/ and suites/ are top-level packages of the repository, not installed.
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fixtures.chroma_store import chroma_dir  # noqa: E402
from fixtures.errors import ResourceStartError  # noqa: E402
from fixtures.http_server import KeepAliveServer  # noqa: E402


def test_server_keeps_http11_connections_alive() -> None:
    with KeepAliveServer() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            for i in range(3):
                conn.request("POST", "/v1/complete", body=b"x" * i)
                response = conn.getresponse()
                assert response.version == 11
                assert response.getheader("Content-Length") is not None
                assert response.getheader("Connection") != "close"
                assert b"completion" in response.read()
            assert server.open_connections == 1  # one pooled connection served all three
        finally:
            conn.close()


def test_stop_drops_held_connections_and_joins_every_thread() -> None:
    before = set(threading.enumerate())
    with KeepAliveServer() as server:
        held = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # headers, then the JSON body
            chunk = held.recv(4096)
            assert chunk, f"connection closed mid-answer: {answer!r}"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
    try:
        assert set(threading.enumerate()) == before
        assert held.recv(1) == b""  # the server closed its end
    finally:
        held.close()


def test_port_in_use_is_named_and_nothing_is_left_running() -> None:
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        threads = set(threading.enumerate())
        fds = set(os.listdir("/proc/self/fd"))
        with pytest.raises(ResourceStartError) as info, KeepAliveServer(port=port):
            pass
        message = str(info.value)
        assert f"loopback HTTP server on 127.0.0.1:{port}" in message
        assert "Address already in use" in message
        assert set(threading.enumerate()) == threads
        assert set(os.listdir("/proc/self/fd")) <= fds
    finally:
        blocker.close()


def test_chroma_dir_is_removed_on_exit(tmp_path: Path) -> None:
    with chroma_dir(tmp_path) as path:
        assert path.is_dir() and path.parent == tmp_path
        (path / "chroma.sqlite3").write_bytes(b"data")
    assert not path.exists()


def test_unwritable_chroma_dir_is_named(tmp_path: Path) -> None:
    # Root may write anywhere, so "not writable" is made with a file where the
    # parent directory should be: creation fails for every user.
    not_a_dir = tmp_path / "occupied"
    not_a_dir.write_text("a file, not a directory")
    with pytest.raises(ResourceStartError) as info, chroma_dir(not_a_dir):
        pass
    message = str(info.value)
    assert f"Chroma directory under {not_a_dir}" in message
    assert "not writable" in message
    assert list(tmp_path.iterdir()) == [not_a_dir]
