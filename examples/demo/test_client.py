"""Ordinary test code with ordinary leaks: run `pytest --leaks examples/demo`."""

import subprocess
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import httpx

POOL = ThreadPoolExecutor(max_workers=2)  # module-level, never shut down
CLIENTS: dict[str, httpx.Client] = {}  # a client cache nobody closes


def client_for(base_url: str) -> httpx.Client:
    return CLIENTS.setdefault(base_url, httpx.Client(base_url=base_url))


def test_fetch_status(http_server):
    assert client_for(http_server).get("/status").status_code == 200


def test_offload():
    assert POOL.submit(sum, [1, 2]).result() == 3


def test_git_version():
    proc = subprocess.Popen(["git", "--version"], stdout=subprocess.DEVNULL)
    assert proc.pid > 0  # never waited


def test_patched_clock():
    mock.patch("time.time", return_value=0.0).start()  # never stopped


def test_clean(http_server):
    with httpx.Client(base_url=http_server) as client:
        assert client.get("/status").status_code == 200
