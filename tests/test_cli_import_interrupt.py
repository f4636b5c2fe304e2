"""Ctrl-C while the command is still importing (click, rich, memray take a moment).

The group in ``leakbench.cli.main`` turns every interrupt into exit 130 and one
``leakbench: interrupted`` line, but it cannot catch one that arrives before it is imported.
These tests start the real command (the ``leakbench`` console script and ``python -m
leakbench``) in their own session, stop it at the ``entry-imports`` pause point (the first
thing ``leakbench.cli.entry.main`` does, see ``leakbench._util.signals.test_pause``), send
SIGINT to the group as a terminal's Ctrl-C does, and expect the same ending as everywhere
else: exit 130, that one line, no traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WAIT = 60.0
"""Seconds to wait for the pause point or the exit before the test fails (never a timing
assertion: a healthy start gets there well within a second or two)."""

SCRIPT = Path(sys.executable).with_name("leakbench")


def commands() -> list[list[str]]:
    """The two ways to start the command line; the console script only where installed."""
    found = [[sys.executable, "-m", "leakbench"]]
    if SCRIPT.is_file():
        found.append([str(SCRIPT)])
    return found


def start(command: list[str], tmp_path: Path, pause: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "LEAKBENCH"))}
    if pause:
        env |= {
            "LEAKBENCH_TEST_PAUSE": pause,
            "LEAKBENCH_TEST_PAUSE_FILE": str(tmp_path / "paused"),
        }
    return subprocess.Popen(
        [*command, "--version"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_paused(proc: subprocess.Popen[str], pause_file: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not pause_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"never reached the pause (exit {proc.returncode}): {err}")
        time.sleep(0.01)


@pytest.mark.parametrize("command", commands(), ids=lambda c: "script" if len(c) == 1 else "-m")
def test_ctrl_c_while_importing_exits_130_with_one_line(command: list[str], tmp_path: Path) -> None:
    proc = start(command, tmp_path, pause="entry-imports")
    wait_paused(proc, tmp_path / "paused")
    os.killpg(proc.pid, signal.SIGINT)  # the whole group, as a terminal's Ctrl-C
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.splitlines() == ["leakbench: interrupted"], err
    assert out == ""


@pytest.mark.parametrize("command", commands(), ids=lambda c: "script" if len(c) == 1 else "-m")
def test_the_same_start_left_alone_runs_the_command(command: list[str], tmp_path: Path) -> None:
    # The neighbour of the case above: the pause point asked for elsewhere changes nothing.
    proc = start(command, tmp_path, pause="some-other-point")
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert out.startswith("leakbench, version"), out
    assert not (tmp_path / "paused").exists()
