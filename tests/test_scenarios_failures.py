"""The real failure modes behind two leaks are reproduced, and absent when fixed.

* ``RuntimeError: Event loop is closed``: closing an ``httpx.AsyncClient`` on a
  second ``asyncio.run`` after the loop that owns its pooled connection closed.
* ``TypeError: object Mock can't be used in 'await' expression``: awaiting a plain
  ``Mock`` where an ``AsyncMock`` was needed, in a cleanup path.

Both are swallowed by the scenario's cleanup code (which is why they leak rather
than fail); they surface in its log and on the objects it keeps. Each scenario
runs in a fresh interpreter, so the sockets the leaky ones leave open do not
land in this test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# Runs one iteration; prints the log and a JSON line with what the objects recorded.
RUNNER = """
import json, logging, sys, warnings
warnings.simplefilter("ignore", ResourceWarning)  # the leaky variants drop sockets on purpose
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
from pathlib import Path
from leakbench.gate.scenarios import discover
import suites.httpx_provider as hp, suites.mocks as mk
errors = []
original = hp.Provider.close_sync
def close_sync(self):
    original(self)
    errors.extend(f"{type(e).__name__}: {e}" for e in self.close_errors)
hp.Provider.close_sync = close_sync
scenario = discover(root=Path.cwd())[sys.argv[1]]
with scenario.session() as iteration:
    iteration()
errors.extend(
    f"{type(u.close_error).__name__}: {u.close_error}" for u in mk.ACTIVE_UPLOADERS if u.close_error
)
print(json.dumps({"errors": errors, "open_uploaders": len(mk.ACTIVE_UPLOADERS)}))
"""

LOOP_CLOSED = "RuntimeError: Event loop is closed"
MOCK_AWAIT = "TypeError: object Mock can't be used in 'await' expression"


def run_once(name: str) -> tuple[dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, name],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{name} crashed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_httpx_closed_loop_raises_event_loop_is_closed() -> None:
    recorded, log = run_once("httpx.leaky.closed_loop")
    assert recorded["errors"] == [LOOP_CLOSED]
    assert f"closing the provider client failed: {LOOP_CLOSED}" in log


@pytest.mark.parametrize("name", ["httpx.clean", "httpx.leaky"])
def test_httpx_without_a_second_loop_has_no_closed_loop_error(name: str) -> None:
    recorded, log = run_once(name)
    assert recorded["errors"] == []
    assert "Event loop is closed" not in log


def test_awaiting_a_plain_mock_fails_and_leaves_the_socket_open() -> None:
    recorded, log = run_once("mocks.leaky.await")
    assert recorded["errors"] == [MOCK_AWAIT]
    assert recorded["open_uploaders"] == 1
    assert f"uploader cleanup failed: {MOCK_AWAIT}" in log


def test_autospec_async_mock_closes_cleanly() -> None:
    recorded, log = run_once("mocks.clean.await")
    assert recorded == {"errors": [], "open_uploaders": 0}
    assert "can't be used in 'await' expression" not in log
