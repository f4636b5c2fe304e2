"""Interrupts at known moments of real commands (issue 14, rows 7 to 11).

Each case starts ``python -m leakbench ...`` in its own session, stops it at a known point
(``LEAKBENCH_TEST_PAUSE``: the real code path waits there, see ``leakbench._util.signals``)
or at a progress line, sends SIGINT or SIGTERM to the whole process group (as a terminal's
Ctrl-C or a CI cancel does), and then checks: exit 130, one ``leakbench: interrupted`` line
and no traceback or click "Aborted!", files complete or untouched, no temp file, no
``leakbench-*`` folder in the run's own ``TMPDIR``, git's worktree list back to the main
worktree only, and no child process left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakbench._util.signals import deferred_signals
from leakbench.gate.git import listed_worktrees, remove_worktree
from leakbench.gate.results import load_results
from leakbench.gate.store import LATEST, RESULTS_DIR
from test_compare_support import KEY, memory, results, scenario, timing, write

SUITE = """
from contextlib import contextmanager
from leakbench.gate.scenarios import Scenario


@contextmanager
def session():
    yield lambda: None


SCENARIOS = [Scenario("tiny.clean", "tiny", "clean", (), session, bench_iterations=2)]
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

WAIT = 60.0
"""Seconds to wait for a pause point or an exit before the test fails (never a timing
assertion: a healthy run gets there in well under a second or two)."""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


class Run:
    """One leakbench process in its own session, with its own TMPDIR and pause file."""

    def __init__(self, cwd: Path, tmp: Path, args: list[str], pause: str | None = None) -> None:
        self.tmpdir = tmp / "tmpdir"
        self.tmpdir.mkdir(exist_ok=True)
        self.pause_file = tmp / "paused"
        self.pause_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "LEAKBENCH"))}
        env |= {**GIT_ENV, "TMPDIR": str(self.tmpdir)}
        if pause:
            env |= {
                "LEAKBENCH_TEST_PAUSE": pause,
                "LEAKBENCH_TEST_PAUSE_FILE": str(self.pause_file),
            }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leakbench", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def wait_paused(self) -> None:
        deadline = time.monotonic() + WAIT
        while not self.pause_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                _, err = self.proc.communicate()
                pytest.fail(f"never reached the pause (exit {self.proc.returncode}): {err}")
            time.sleep(0.01)

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)  # the whole group, as a terminal's Ctrl-C

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, out, err


def assert_interrupted(code: int, err: str, note: str = "") -> None:
    assert code == 130, err
    assert "Traceback" not in err and "Aborted!" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("leakbench: interrupted")]
    assert len(lines) == 1, err
    assert note in lines[0], lines[0]


def assert_no_temp_left(run: Run) -> None:
    assert sorted(p.name for p in run.tmpdir.glob("leakbench-*")) == []


def children_naming(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (a folder of this test)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


# ---------------------------------------------------------------------------------------
# baseline save, compare, report, and bench after "results written"
# ---------------------------------------------------------------------------------------


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A project with a latest run (large, so writing it takes a while) and an older
    baseline of the same environment."""
    root = tmp_path / "project"
    big = {f"s{i:04d}": scenario(memory(float(i)), timing(seed=i)) for i in range(300)}
    write(root / RESULTS_DIR / LATEST, results(big))
    write(root / "baselines" / f"{KEY}.json", results({"s0000": scenario(memory(), timing())}))
    return root


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", ["baseline-loaded", "atomic-write"])
def test_baseline_save_interrupted_keeps_the_old_baseline_and_no_temp_file(
    stored: Path, tmp_path: Path, signum: int, moment: str
) -> None:
    baselines = stored / "baselines"
    before = {p.name: p.read_bytes() for p in baselines.iterdir()}
    run = Run(stored, tmp_path, ["baseline", "save"], pause=moment)
    run.wait_paused()
    run.signal(signum)
    code, _, err = run.finish()
    assert_interrupted(code, err)
    assert {p.name: p.read_bytes() for p in baselines.iterdir()} == before  # no .tmp either


def test_baseline_save_that_is_not_interrupted_replaces_the_baseline(
    stored: Path, tmp_path: Path
) -> None:
    # The neighbour of the case above: the same save, left alone, does write.
    code, _, err = Run(stored, tmp_path, ["baseline", "save"]).finish()
    assert code == 0, err
    saved = load_results(stored / "baselines" / f"{KEY}.json")
    assert len(saved.scenarios) == 300
    assert sorted(p.name for p in (stored / "baselines").iterdir()) == [f"{KEY}.json"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_compare_interrupted_exits_130_not_aborted(
    stored: Path, tmp_path: Path, signum: int
) -> None:
    run = Run(stored, tmp_path, ["compare"], pause="compare-loaded")
    run.wait_paused()
    run.signal(signum)
    code, out, err = run.finish()
    assert_interrupted(code, err)
    assert out == ""


def test_report_interrupted_while_writing_leaves_no_report_and_no_temp_file(
    stored: Path, tmp_path: Path
) -> None:
    out_dir = stored / "report"
    run = Run(stored, tmp_path, ["report", "--html", str(out_dir / "index.html"),
                                 "--no-flamegraphs"], pause="atomic-write")  # fmt: skip
    run.wait_paused()
    run.signal(signal.SIGINT)
    code, _, err = run.finish()
    assert_interrupted(code, err)
    assert sorted(p.name for p in out_dir.iterdir()) == []


def write_tiny_suite(root: Path, package: str = "suites") -> None:
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "tiny.py").write_text(SUITE)


FAST = ["--memory-only", "--no-instructions"]


def test_bench_interrupted_after_results_written_exits_130_with_complete_files(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    write_tiny_suite(root)
    run = Run(root, tmp_path, ["bench", *FAST], pause="bench-written")
    run.wait_paused()
    run.signal(signal.SIGINT)
    code, out, err = run.finish()
    assert "results written to" in out
    assert_interrupted(code, err)
    kept = sorted((root / RESULTS_DIR).iterdir())
    assert [p.name for p in kept if p.name != LATEST] and all(p.suffix == ".json" for p in kept)
    for path in kept:
        assert "tiny.clean" in load_results(path).scenarios  # complete documents
    assert_no_temp_left(run)


def test_two_bench_runs_started_together_write_two_results_files(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write_tiny_suite(root)
    for i in range(2):
        (tmp_path / f"run{i}").mkdir()
    runs = [Run(root, tmp_path / f"run{i}", ["bench", "--no-compare", *FAST]) for i in range(2)]
    for run in runs:
        code, _, err = run.finish()
        assert code == 0, err
    files = sorted(p for p in (root / RESULTS_DIR).iterdir() if p.name != LATEST)
    assert len(files) == 2, files
    latest = (root / RESULTS_DIR / LATEST).read_bytes()
    assert latest in {p.read_bytes() for p in files}  # a copy of one complete run


# ---------------------------------------------------------------------------------------
# compare-branches: the temporary worktree under interrupts
# ---------------------------------------------------------------------------------------

FILES = 1500
"""Files in the test repository, so that ``git worktree add`` takes measurable time."""


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("branches") / "repo"
    write_tiny_suite(root)
    data = root / "data"
    for d in range(30):
        (data / f"d{d:02d}").mkdir(parents=True)
        for f in range(FILES // 30):
            (data / f"d{d:02d}" / f"f{f:03d}.txt").write_text(f"{d} {f}\n" * 20)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def assert_git_clean(repo: Path, run: Run) -> None:
    listed = [
        line for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]  # fmt: skip
    assert listed == [f"worktree {repo}"], listed
    assert not (repo / ".git" / "worktrees").exists() or not any(
        (repo / ".git" / "worktrees").iterdir()
    )
    assert_no_temp_left(run)
    assert children_naming(str(run.tmpdir)) == []  # no git (or measurement) child left


BRANCHES = ["compare-branches", "HEAD", *FAST, "--no-cache"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_during_worktree_add_leaves_no_worktree(
    big_repo: Path, tmp_path: Path, signum: int
) -> None:
    run = Run(big_repo, tmp_path, BRANCHES, pause="git-worktree-add")
    run.wait_paused()  # `git worktree add` is running (in its own session)
    run.signal(signum)
    code, _, err = run.finish()
    assert_interrupted(code, err, "removed (git worktree list agrees)")
    assert_git_clean(big_repo, run)


def test_an_interrupt_while_measuring_removes_the_worktree(big_repo: Path, tmp_path: Path) -> None:
    run = Run(big_repo, tmp_path, BRANCHES)
    assert run.proc.stderr is not None
    for line in run.proc.stderr:
        if "memory pass" in line:
            break
    run.signal(signal.SIGTERM)
    code, _, err = run.finish()
    assert_interrupted(code, err, "removed (git worktree list agrees)")
    assert_git_clean(big_repo, run)


def test_two_sigterms_during_cleanup_do_not_stop_it(big_repo: Path, tmp_path: Path) -> None:
    run = Run(big_repo, tmp_path, BRANCHES, pause="worktree-cleanup")
    run.wait_paused()  # measured; the worktree is about to be removed
    run.signal(signal.SIGTERM)
    run.signal(signal.SIGTERM)
    code, _, err = run.finish()
    assert_interrupted(code, err, "removed (git worktree list agrees)")
    assert_git_clean(big_repo, run)


def test_a_locked_worktree_is_removed_and_the_removal_checked(
    big_repo: Path, tmp_path: Path
) -> None:
    # What an interrupted `git worktree add` leaves is a locked worktree; the cleanup's
    # `remove --force --force` removes it, and git's own list confirms it.
    other = tmp_path / "locked"
    git(big_repo, "worktree", "add", "--detach", "--quiet", str(other), "HEAD")
    git(big_repo, "worktree", "lock", str(other))
    assert remove_worktree(big_repo, other) == ""
    assert not other.exists()
    assert other not in listed_worktrees(big_repo)


def test_a_worktree_cleanup_cannot_remove_is_named_with_the_commands(
    big_repo: Path, tmp_path: Path
) -> None:
    # A mount inside the checkout cannot be deleted: the message must say what is left.
    parent = tmp_path / "leakbench-base-x"
    path = parent / "worktree"
    git(big_repo, "worktree", "add", "--detach", "--quiet", str(path), "HEAD")
    busy = path / "busy"
    busy.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(busy)], capture_output=True,
                             text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        remove_worktree(big_repo, path, parent)
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        left = remove_worktree(big_repo, path, parent)
        assert f"the temporary worktree {path} is still" in left
        assert "on disk" in left and f"rm -rf {parent}" in left
        assert "git worktree prune" in left
    finally:
        subprocess.run(["umount", "-l", str(busy)], check=False)
        assert remove_worktree(big_repo, path, parent) == ""


def test_a_held_signal_arrives_after_the_step_not_inside_it() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals() as held:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(100):  # Python runs a pending handler between bytecodes
                steps.append("inside")
            assert held == [signal.SIGINT]
        steps.append("after")  # never reached: the interrupt comes at the block's end
    assert steps == ["inside"] * 100


def test_signals_dropped_while_exiting_are_not_delivered() -> None:
    with deferred_signals(deliver=False) as held:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):
            pass
    assert held == [signal.SIGINT]
